"""Planted duplicates (text: Latin, Chinese, Japanese, Thai; images: same bytes, resized,
re-encoded), each caught with the right reason and pointing at the kept row; nothing else removed."""
from __future__ import annotations

import io
import zlib

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from pydantic import ValidationError

from mixkit.dedup import (DedupOptions, MinHasher, compute_signatures, deduplicate_rows, find_duplicates,
                          image_dhash, lsh_params, shingle_hashes)
from mixkit.core.schema import make_row


def picture(seed: int, w=160, h=120) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = (rng.random((6, 8, 3)) * 255).astype(np.uint8)     # smooth random picture
    return Image.fromarray(arr).resize((w, h), Image.Resampling.BICUBIC)


def encode(im: Image.Image, fmt="JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def row(key, text, lang="eng_Latn", image=None, task="caption", prompt="<image>\nDescribe the image in detail."):
    image = encode(picture(zlib.crc32(key.encode()) % 10_000)) if image is None else image
    return make_row(source="t", origin_id=key, task=task, lang=lang, images=[image],
                    messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": text}])


LONG = ("A wide street in an old European town on a bright morning, with cobblestones shining after rain, "
        "a red tram passing in front of a bakery, two cyclists waiting at the crossing, flower boxes under "
        "every window, and a church tower rising behind the roofs against a pale blue sky with thin clouds.")
ZH = ("在一个阳光明媚的早晨，古老的欧洲小镇里有一条宽阔的街道，雨后的鹅卵石闪闪发光，一辆红色的电车从面包店前驶过，"
      "两个骑自行车的人在路口等候，每扇窗户下都有花箱，教堂的塔楼在屋顶后面高高耸立，背景是淡蓝色的天空和薄薄的云。")
JA = ("晴れた朝、古いヨーロッパの町の広い通りでは、雨上がりの石畳が輝き、赤い路面電車がパン屋の前を通り過ぎ、"
      "二人の自転車に乗った人が交差点で待っていて、どの窓の下にも花箱があり、屋根の向こうに教会の塔がそびえている。")
TH = ("ในเช้าวันที่อากาศแจ่มใส ถนนกว้างในเมืองเก่าของยุโรปมีหินกรวดที่เป็นประกายหลังฝนตก รถรางสีแดงแล่นผ่านหน้าร้านเบเกอรี่ "
      "มีคนปั่นจักรยานสองคนรออยู่ที่ทางแยก และมีกระถางดอกไม้อยู่ใต้หน้าต่างทุกบาน")

DISTINCT = [
    "A brown dog runs along the beach next to the sea while waves roll onto the sand.",
    "Two children play football in a green park on a sunny afternoon near a pond.",
    "A bowl of ramen with a boiled egg, green onions and slices of pork on a wooden table.",
    "An old man reads a newspaper on a bench under a large oak tree in autumn.",
    "A city skyline at night with lights reflected in the river and a bridge in the foreground.",
    "A cat sleeps curled up on a red sofa next to a stack of books and a lamp.",
]


@pytest.fixture(scope="module")
def planted():
    base_img = picture(1, 320, 240)
    shared = encode(base_img, quality=92)
    rows = [row(f"d{i}", t) for i, t in enumerate(DISTINCT)]
    rows += [row("long", LONG), row("zh", ZH, "zho_Hans"), row("ja", JA, "jpn_Jpan"), row("th", TH, "tha_Thai"),
             row("img", "A bright yellow taxi waits at a traffic light in the rain.", image=shared)]
    # A caption sharing half its words with `long` is not a near duplicate (Jaccard ~0.5).
    rows.append(row("half", LONG[: len(LONG) // 2] + " Nothing else in this photo is the same as in the other one, "
                    "neither the people nor the shops nor the weather nor the colours."))
    # The same image in another language (translations share images) and an instruct row asking
    # about the shared image: neither is a duplicate.
    rows.append(row("img_de", "Ein gelbes Taxi wartet im Regen an einer Ampel.", "deu_Latn", image=shared))
    rows.append(row("img_q", "Yes, the taxi is yellow.", image=shared, task="instruct",
                    prompt="<image>\nIs the taxi yellow?"))
    expect = {}

    def dup(r, reason, of):
        rows.append(r)
        expect[r["origin_id"]] = (reason, of)

    dup(row("d0_exact", "  a BROWN dog runs along the beach next to the sea   while waves roll onto the sand. "),
        "exact_duplicate_text", "d0")
    dup(row("d1_full", "Ｔｗｏ children play football in a green park on a sunny afternoon near a pond."),   # NFKC
        "exact_duplicate_text", "d1")
    dup(row("long_near", LONG.replace("two cyclists", "three cyclists").replace("pale blue", "pale grey")),
        "near_duplicate_text", "long")
    dup(row("zh_near", ZH.replace("红色", "蓝色"), "zho_Hans"), "near_duplicate_text", "zh")
    dup(row("ja_near", JA.replace("赤い", "青い"), "jpn_Jpan"), "near_duplicate_text", "ja")
    dup(row("th_near", TH.replace("สีแดง", "สีฟ้า"), "tha_Thai"), "near_duplicate_text", "th")
    dup(row("img_same", "A dog on a skateboard in a parking lot.", image=shared), "exact_duplicate_image", "img")
    dup(row("img_small", "A view of a quiet harbour with boats.", image=encode(base_img.resize((160, 120)), quality=92)),
        "near_duplicate_image", "img")
    dup(row("img_q60", "Fresh vegetables at a market stall.", image=encode(base_img, quality=55)),
        "near_duplicate_image", "img")
    dup(row("img_png", "A snowy mountain path at dusk.", image=encode(base_img.resize((400, 300)), "PNG")),
        "near_duplicate_image", "img")
    return rows, expect


def test_planted_duplicates_caught_and_nothing_else(planted):
    rows, expect = planted
    out = deduplicate_rows(rows, DedupOptions())
    by_id = {r["id"]: r["origin_id"] for r in rows}
    got = {by_id[r["id"]]: (r["reason"], by_id[r["duplicate_of"]]) for r in out.rejected}
    assert got == expect
    assert sorted(r["origin_id"] for r in out.kept) == sorted(r["origin_id"] for r in rows if r["origin_id"] not in expect)
    assert all(r["step"] == "dedup" for r in out.rejected)


def test_identical_prompts_do_not_make_duplicates(planted):
    rows, _ = planted
    for key in ("conversation", "assistant"):
        out = deduplicate_rows(rows[:6], DedupOptions(text_key=key))
        assert len(out.kept) == 6


def test_assistant_key_ignores_prompt_differences():
    a = row("a", DISTINCT[0], prompt="<image>\nWhat do you see?")
    b = row("b", DISTINCT[0], prompt="<image>\nDescribe this photo.")
    assert len(deduplicate_rows([a, b], DedupOptions()).kept) == 2           # conversation key
    out = deduplicate_rows([a, b], DedupOptions(text_key="assistant"))
    assert [r["reason"] for r in out.rejected] == ["exact_duplicate_text"]


def test_global_across_batches_and_order_independent(planted):
    rows, expect = planted
    opts = DedupOptions()
    half = len(rows) // 2
    sigs = pa.concat_tables([compute_signatures(rows[half:], opts, list(range(half, len(rows)))),
                             compute_signatures(rows[:half], opts, list(range(half)))])
    d1 = find_duplicates(sigs, opts)
    shuffled = sigs.take(pa.array(np.random.default_rng(0).permutation(sigs.num_rows)))
    d2 = find_duplicates(shuffled, opts)
    assert d1.to_pylist() == d2.to_pylist()
    by_id = {r["id"]: r["origin_id"] for r in rows}
    assert {by_id[i] for i in d1["id"].to_pylist()} == set(expect)
    assert set(d1.column_names) >= {"id", "reason", "duplicate_of", "cluster_id"}


def test_lowest_order_is_kept():
    a, b = row("a", DISTINCT[0]), row("b", DISTINCT[0])
    opts = DedupOptions()
    d = find_duplicates(compute_signatures([a, b], opts, [7, 3]), opts).to_pylist()
    assert d[0]["id"] == a["id"] and d[0]["duplicate_of"] == b["id"] and d[0]["cluster_id"].endswith(b["id"])


def test_near_text_cluster_is_transitive_and_deterministic():
    words = LONG.split()
    chain = [" ".join(words[:i] + ["x"] + words[i + 1:]) for i in (3, 20, 40)]
    rows = [row(f"c{i}", t) for i, t in enumerate(chain)]
    out = deduplicate_rows(rows, DedupOptions())
    assert [r["origin_id"] for r in out.kept] == ["c0"]
    assert {r["duplicate_of"] for r in out.rejected} == {rows[0]["id"]}


def test_disabled_passes(planted):
    rows, expect = planted
    opts = DedupOptions(near_text={"enabled": False}, image_phash={"enabled": False})
    out = deduplicate_rows(rows, opts)
    assert {r["reason"] for r in out.rejected} == {"exact_duplicate_text", "exact_duplicate_image"}
    opts_all = DedupOptions(image_tasks=None)        # images in every task: the instruct row goes too
    got = {r["origin_id"] for r in deduplicate_rows(rows, opts_all).kept}
    assert "img_q" not in got


def test_minhash_estimates_jaccard_without_bias():
    rng = np.random.default_rng(3)
    vocab = "the a dog cat runs on beach sea red blue man tree sky car street".split()
    errs = []
    for it in range(150):
        a = rng.choice(vocab, 80).tolist()
        b = list(a)
        for j in rng.choice(80, rng.integers(1, 40), replace=False):
            b[j] = "zz" + rng.choice(vocab)
        ta, tb = " ".join(a), " ".join(b)
        sa = {ta[i:i + 5] for i in range(len(ta) - 4)}
        sb = {tb[i:i + 5] for i in range(len(tb) - 4)}
        h, st = shingle_hashes([ta, tb], 5)
        s = MinHasher(128, seed=it).signatures(h, st)
        errs.append((s[0] == s[1]).mean() - len(sa & sb) / len(sa | sb))
    assert abs(np.mean(errs)) < 0.015 and np.std(errs) < 0.06


def test_short_texts_and_lsh_params():
    h, st = shingle_hashes(["ab", "abcdef", "ab"], 5)
    assert list(st) == [0, 1, 3]                 # "ab" is one (padded) shingle
    assert h[0] == h[3]
    b, r = lsh_params(0.8, 128)
    assert b * r <= 128 and (b, r) == (9, 13)     # same as datasketch's optimum


def test_dhash_robust_to_resize_and_distinct_for_other_images():
    im = picture(11, 400, 300)
    h0 = image_dhash(encode(im))
    h1 = image_dhash(encode(im.resize((133, 100)), quality=70))
    h2 = image_dhash(encode(picture(12, 400, 300)))
    pop = lambda x, y: bin(x ^ y).count("1")
    assert pop(h0[0], h1[0]) <= 6 and pop(h0[1], h1[1]) <= 6
    assert pop(h0[0], h2[0]) > 12
    assert image_dhash(b"not an image") is None


def test_options_strict():
    with pytest.raises(ValidationError):
        DedupOptions(near_text={"treshold": 0.7})
    with pytest.raises(ValidationError):
        DedupOptions(partition_by=["colour"])
