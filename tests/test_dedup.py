"""Planted duplicates (text: Latin, Chinese, Japanese, Thai; images: same bytes, resized,
re-encoded), each caught with the right reason and pointing at the kept row; nothing else removed.
The distributed stages give the same result as one process for any number of buckets, ranges
and workers, on Ray too, with their folders on a disk or in an S3 bucket, and resume after a
kill without redoing finished partitions."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pydantic import ValidationError

from mixkit.core import storage
from mixkit.core.schema import make_row, rows_to_table
from mixkit.dedup import (Bands, DedupOptions, MinHasher, compute_signatures, deduplicate_rows, find_duplicates,
                          image_dhash, image_lsh_params, image_recall, lsh_params, run_dedup, shingle_hashes,
                          text_jaccard, text_recall)
from mixkit.dedup import stages
from mixkit.dedup.bands import image_band_keys
from mixkit.dedup.pairs import candidate_pairs
from mixkit.dedup.signatures import NEAR_IMAGE, SIGNATURE_SCHEMA
from mixkit.runtime.engines import LocalEngine
from mixkit.runtime.partitions import read_table

ROOT = Path(__file__).resolve().parents[1]


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
WORDS = ("a the dog cat man woman child street car tree sky cloud beach sea wave sand red blue green yellow "
         "white black old young small large tall running sitting standing walking holding looking next to near "
         "under over behind front with and on in at wooden table window door kitchen building city park grass "
         "flower light shadow sunny rainy morning evening bicycle bus train boat bird horse").split()


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
    details = {by_id[r["id"]]: r["detail"] for r in out.rejected}
    assert details["long_near"].startswith("jaccard=0.") and details["img_q60"].startswith("hamming h=")


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


def test_first_row_is_kept():
    a, b = row("a", DISTINCT[0]), row("b", DISTINCT[0])
    d = find_duplicates([b, a], DedupOptions()).to_pylist()
    assert d[0]["id"] == a["id"] and d[0]["duplicate_of"] == b["id"] and d[0]["cluster_id"] == "text-" + b["id"]
    assert d[0]["order"] == 1


def test_near_text_cluster_is_transitive_and_deterministic():
    words = LONG.split()
    chain = [" ".join(words[:i] + ["x"] + words[i + 1:]) for i in (3, 20, 40)]
    rows = [row(f"c{i}", t) for i, t in enumerate(chain)]
    out = deduplicate_rows(rows, DedupOptions())
    assert [r["origin_id"] for r in out.kept] == ["c0"]
    assert {r["duplicate_of"] for r in out.rejected} == {rows[0]["id"]}


def test_an_exact_group_whose_first_row_went_earlier_keeps_its_next_row():
    """Exact image pass after exact text: x's text copies y (y removed first); x and z share an
    image with y; the image group keeps x (lowest remaining), removes z."""
    img = encode(picture(5))
    x = row("x", DISTINCT[0], image=encode(picture(6)))
    y = row("y", DISTINCT[0], image=img)                  # text copy of x
    z = row("z", DISTINCT[1], image=img)                  # image copy of y
    w = row("w", DISTINCT[2], image=img)
    out = deduplicate_rows([x, y, z, w], DedupOptions(image_phash={"enabled": False}))
    got = {r["origin_id"]: (r["reason"], r["duplicate_of"]) for r in out.rejected}
    assert got == {"y": ("exact_duplicate_text", x["id"]), "w": ("exact_duplicate_image", z["id"])}


def test_disabled_passes(planted):
    rows, expect = planted
    opts = DedupOptions(near_text={"enabled": False}, image_phash={"enabled": False})
    out = deduplicate_rows(rows, opts)
    assert {r["reason"] for r in out.rejected} == {"exact_duplicate_text", "exact_duplicate_image"}
    opts_all = DedupOptions(image_tasks=None)        # images in every task: the instruct row goes too
    got = {r["origin_id"] for r in deduplicate_rows(rows, opts_all).kept}
    assert "img_q" not in got
    assert len(deduplicate_rows(rows, DedupOptions(enabled=False)).kept) == len(rows)


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


def _grams(t: str, n: int = 5) -> set[str]:
    return {t[i:i + n] for i in range(len(t) - n + 1)} if len(t) >= n else {t}


def test_text_jaccard_is_the_exact_set_jaccard():
    rng = np.random.default_rng(4)
    a = [" ".join(rng.choice(WORDS, int(rng.integers(1, 40)))) for _ in range(300)] + ["ab", "東京"]
    b = [" ".join(rng.choice(WORDS, int(rng.integers(1, 40)))) for _ in range(300)] + ["ab", "東京都"]
    b[:100] = [t.replace(" the ", " a ", 1) for t in a[:100]]
    want = [len(_grams(x) & _grams(y)) / len(_grams(x) | _grams(y)) for x, y in zip(a, b)]
    got = text_jaccard(a, b, 5, chunk=64)
    assert np.allclose(got, want, atol=1e-6)
    assert got[-2] == 1.0 and got[-1] == 0          # texts shorter than n: one padded shingle each


def test_lsh_params_reach_the_recall_at_the_threshold():
    assert lsh_params(0.8, 128) == (13, 7)                 # was 9 x 13: 40% of pairs at 0.8 found
    assert text_recall(0.8, 13, 7) >= 0.95 and text_recall(0.8, 9, 13) < 0.41
    for t in (0.5, 0.7, 0.8, 0.9, 0.95):
        for perm in (64, 128, 256):
            for rec in (0.9, 0.95, 0.99):
                b, r = lsh_params(t, perm, rec)
                assert b * r <= perm and text_recall(t, b, r) >= rec
                # r is the largest possible: r + 1 rows per band need more than num_perm values
                b1 = next(x for x in range(1, 10 ** 6) if text_recall(t, x, r + 1) >= rec)
                assert b1 * (r + 1) > perm
    with pytest.raises(ValidationError, match="num_perm >= "):
        DedupOptions(near_text={"threshold": 0.1, "num_perm": 8, "recall": 0.99})


def test_image_lsh_finds_pairs_at_the_threshold():
    for n in (100, 50_000, 200_000, 5_000_000):
        b, r = image_lsh_params(6, n)
        assert image_recall(12, b, r) >= 0.95 and n * b <= 4 * 2 ** r


def _random_image_signatures(n: int, n_pairs: int, seed: int):
    """n random dHashes plus n_pairs copies each differing in exactly 6 bits of h and 6 of v."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2 ** 63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
    v = rng.integers(0, 2 ** 63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)

    def flip(x):
        m = np.zeros(len(x), np.uint64)
        for i in range(len(x)):
            for bit in rng.choice(64, 6, replace=False):
                m[i] |= np.uint64(1) << np.uint64(bit)
        return x ^ m

    h = np.concatenate((h, flip(h[:n_pairs])))
    v = np.concatenate((v, flip(v[:n_pairs])))
    b, r = image_lsh_params(6, len(h))
    keys = image_band_keys(h, v, b, r)
    order = np.repeat(np.arange(len(h)), b)
    return pa.table({"kind": pa.array(np.full(keys.size, NEAR_IMAGE, np.uint8)), "key": pa.array(keys.ravel()),
                     "order": pa.array(order), "h": pa.array(np.repeat(h, b)), "v": pa.array(np.repeat(v, b))},
                    schema=SIGNATURE_SCHEMA)


def test_image_candidates_per_row_stay_bounded_as_rows_grow():
    """Random hashes: the old pigeonhole split gave ~N/512 candidates per row and chunk (7 chunks);
    bit-sampling bands whose width grows with log2(N) give about the same few at 4x the rows."""
    per_row, found = [], []
    for n in (20_000, 80_000):
        sig = _random_image_signatures(n, 400, seed=n)
        cand = candidate_pairs(sig)
        pairs = {(a, b) for a, b in zip(cand["a"].to_pylist(), cand["b"].to_pylist())}
        per_row.append(len(pairs) / (n + 400))
        found.append(sum((i, n + i) in pairs for i in range(400)) / 400)
    assert max(per_row) < 3 and per_row[1] < 1.6 * per_row[0], per_row
    assert min(found) >= 0.9, found                   # pairs at exactly (6, 6): 0.95 expected


def test_near_text_recall_on_planted_pairs_between_080_and_090():
    rng = np.random.default_rng(7)
    rows, pairs = [], []
    while len(pairs) < 150:
        base = " ".join(rng.choice(WORDS, 60))
        words = base.split()
        for j in rng.choice(60, 3, replace=False):
            words[j] = str(rng.choice(WORDS))
        near = " ".join(words)
        j = len(_grams(base) & _grams(near)) / len(_grams(base) | _grams(near))
        if 0.80 <= j < 0.90:
            pairs.append((len(rows), len(rows) + 1))
            rows += [row(f"p{len(rows)}", base, image=b""), row(f"p{len(rows) + 1}", near, image=b"")]
    for r in rows:
        r["images"] = []
    dups = find_duplicates(rows, DedupOptions())
    removed = set(dups["order"].to_pylist())
    recall = sum(b in removed for _, b in pairs) / len(pairs)
    assert recall >= 0.95
    assert removed <= {b for _, b in pairs}           # nothing else removed


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


def test_signatures_do_not_depend_on_batching(planted):
    rows, _ = planted
    opts, bands = DedupOptions(), Bands.choose(DedupOptions(), 1000)
    whole = compute_signatures(rows, opts, range(len(rows)), bands)
    parts = pa.concat_tables([compute_signatures(rows[i:i + 5], opts, range(i, min(i + 5, len(rows))), bands)
                              for i in range(0, len(rows), 5)])
    key = [("kind", "ascending"), ("key", "ascending"), ("order", "ascending")]
    assert whole.sort_by(key).equals(parts.sort_by(key))


# ---------------------------------------------------------------------------------------------
# the distributed stages

def _mixed_rows(n: int = 240, seed: int = 0) -> list[dict]:
    """Captions with planted exact and near copies, images shared, re-encoded and resized, in 3 languages."""
    rng = np.random.default_rng(seed)
    pics = [picture(1000 + i, 48, 36) for i in range(40)]
    rows = []
    for i in range(n):
        lang = ("eng_Latn", "deu_Latn", "fra_Latn")[i % 3]
        if i > 10 and rng.random() < 0.25:
            src = rows[int(rng.integers(len(rows)))]
            words = src["messages"][1]["content"].split()
            for j in rng.choice(len(words), int(rng.integers(0, 3)), replace=False):
                words[j] = str(rng.choice(WORDS))
            text, lang = " ".join(words), src["lang"]
        else:
            text = " ".join(rng.choice(WORDS, 30))
        pic = pics[int(rng.integers(len(pics)))]
        kind = int(rng.integers(3))
        image = encode(pic, quality=90) if kind == 0 else encode(pic.resize((96, 72)), quality=60) if kind == 1 \
            else encode(pic, "PNG")
        rows.append(row(f"m{i}", text, lang=lang, image=image))
    return rows


def _write_partitions(rows: list[dict], d: Path, size: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(range(0, len(rows), size)):
        pq.write_table(rows_to_table(rows[s:s + size]), d / f"part-{k:05d}.parquet")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    rows = _mixed_rows()
    src = tmp_path_factory.mktemp("dedup_src")
    _write_partitions(rows, src, 37)              # 7 partitions of unequal sizes
    want = find_duplicates(rows, DedupOptions())
    assert set(want["reason"].to_pylist()) == {"exact_duplicate_text", "near_duplicate_text",
                                               "exact_duplicate_image", "near_duplicate_image"}
    return rows, src, want


def _outputs(d) -> tuple[list[dict], list[dict], list[dict]]:
    """Kept rows, rejects, duplicates of a dedup folder (a Path or a storage.URLPath)."""
    kept = pa.concat_tables([read_table(p) for p in sorted(d.glob("part-*.parquet"))]).to_pylist()
    rej = pa.concat_tables([read_table(p) for p in sorted(d.glob("rejects-*.parquet"))]).to_pylist()
    return kept, rej, read_table(d / "duplicates.parquet").to_pylist()


class RecordingEngine(LocalEngine):
    """A LocalEngine that notes each task it is given: (task name, job)."""

    def __init__(self, workers: int):
        super().__init__(workers)
        self.tasks: list[tuple[str, dict]] = []

    def map_tasks(self, fn, items, **kw):
        items = list(items)
        self.tasks += [(fn.__name__, job) for job in items]
        return super().map_tasks(fn, items, **kw)

    def ran(self, task: str, key: str) -> list:
        return [job[key] for name, job in self.tasks if name == task]


def _kill_midway(d) -> None:
    """As if killed after the signatures of all partitions but one (part-00003), the first file of
    every later stage and two kept partitions, before the clusters: those files deleted."""
    (d / "signatures" / "part-00003.arrow").unlink()
    for sub in ("buckets", "pairs", "joined", "verified"):
        for p in sorted((d / sub).glob("*.arrow"))[1:]:
            p.unlink()
    (d / "duplicates.parquet").unlink()
    for p in sorted(d.glob("part-*.parquet"))[:2]:
        p.unlink()


@pytest.mark.parametrize("rows_per_task,workers", [(10 ** 6, 1), (60, 2), (25, 2)])
def test_stages_give_the_same_duplicates_as_one_process(mixed, tmp_path, monkeypatch, rows_per_task, workers):
    rows, src, want = mixed
    monkeypatch.setattr(stages, "ROWS_PER_BUCKET", rows_per_task)
    monkeypatch.setattr(stages, "ROWS_PER_RANGE", rows_per_task)
    d = tmp_path / "dedup"
    st = run_dedup(LocalEngine(workers), src, d, DedupOptions())
    kept, rej, dups = _outputs(d)
    assert dups == want.to_pylist()
    assert st["removed"] == len(dups) and st["rows"] == len(rows)
    if rows_per_task == 25:
        assert st["buckets"] == 10 and st["ranges"] == 7
    # every row is kept or rejected once, in input order, with the duplicates' records
    assert [r["id"] for r in kept] == [r["id"] for r in rows if r["id"] not in {x["id"] for x in dups}]
    assert sorted((r["id"], r["duplicate_of"], r["reason"]) for r in rej) == \
        sorted((x["id"], x["duplicate_of"], x["reason"]) for x in dups)
    assert all(r["step"] == "dedup" for r in rej)


def test_stages_on_ray_match(mixed, ray_engine, tmp_path, monkeypatch):
    rows, src, want = mixed
    monkeypatch.setattr(stages, "ROWS_PER_BUCKET", 50)
    monkeypatch.setattr(stages, "ROWS_PER_RANGE", 50)
    run_dedup(ray_engine, src, tmp_path / "ray", DedupOptions())
    _, _, dups = _outputs(tmp_path / "ray")
    assert dups == want.to_pylist()


def test_stages_resume_only_what_is_missing(mixed, tmp_path, monkeypatch):
    rows, src, want = mixed
    monkeypatch.setattr(stages, "ROWS_PER_BUCKET", 60)
    monkeypatch.setattr(stages, "ROWS_PER_RANGE", 60)
    d = tmp_path / "dedup"
    stats = run_dedup(LocalEngine(1), src, d, DedupOptions())
    first = _outputs(d)
    sig = sorted((d / "signatures").glob("*.arrow"))
    before = {p: p.stat().st_mtime_ns for p in sig}
    _kill_midway(d)
    time.sleep(0.01)
    run_dedup(LocalEngine(1), src, d, DedupOptions())
    assert _outputs(d) == first
    after = {p: p.stat().st_mtime_ns for p in sig}
    assert [p.name for p in sig if after[p] != before[p]] == [sig[3].name]
    # killed after duplicates.parquet, before stats.json: the clusters are redone, no task
    (d / "stats.json").unlink()
    engine = RecordingEngine(1)
    assert run_dedup(engine, src, d, DedupOptions()) == stats and engine.tasks == []
    assert _outputs(d) == first


@pytest.mark.parametrize("where", ["local", "s3"])
def test_batch_files_appear_whole_and_are_read_by_range(where, s3_env, tmp_path, monkeypatch):
    """A stage's IPC file is there complete or not at all; a task reads its batch of a remote
    file without fetching the others."""
    d = storage.path(str(tmp_path) if where == "local" else "s3://mix/dedup-batches")
    schema = pa.schema([("x", pa.int64())])
    rng = np.random.default_rng(0)
    tables = [pa.table({"x": rng.integers(0, 2 ** 62, 100_000)}) for _ in range(8)]
    with pytest.raises(pa.ArrowInvalid):            # killed halfway: batches 0-7 written, then a bad one
        stages.write_batches(d / "bad.arrow", tables + [pa.table({"x": ["not a number"]})], schema)
    stages.write_batches(d / "good.arrow", tables, schema, {"records": 800_000})
    assert [p.name for p in d.iterdir()] == ["good.arrow"]                 # no bad.arrow, no .tmp
    fetched = []
    open_read = storage.open_read

    def recording_open_read(url, **kw):
        f = open_read(url, **kw)
        fetched.append(f.raw.cache)
        return f

    monkeypatch.setattr(storage, "open_read", recording_open_read)
    assert stages.read_batch([d / "good.arrow"] * 2, 5, schema).equals(pa.concat_tables([tables[5]] * 2))
    assert stages.file_stats(d / "good.arrow") == {"records": 800_000}
    if where == "s3":
        size = (d / "good.arrow").stat().st_size
        assert len(fetched) == 3 and all(c.total_requested_bytes < size / 3 for c in fetched), size
    else:
        assert fetched == []                            # memory-mapped


def _files(d) -> dict[str, bytes]:
    """Every file under a folder (a Path or a bucket prefix), by its path relative to it."""
    if isinstance(d, Path):
        return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    return {storage.path(u).relative_to(d).as_posix(): storage.read_bytes(u) for u in storage.find(d)}


def test_stages_in_a_bucket_give_the_files_of_a_disk_and_resume(mixed, tmp_path, monkeypatch, s3_env):
    """The source partitions and the step folder on s3:// (a cluster without a shared disk), two
    worker processes: the same kept rows, duplicates and stats as on a disk, every file byte for
    byte, no temporary object left; a rerun after a kill redoes only the missing tasks."""
    rows, src, want = mixed
    monkeypatch.setattr(stages, "ROWS_PER_BUCKET", 60)
    monkeypatch.setattr(stages, "ROWS_PER_RANGE", 60)
    local = tmp_path / "dedup"
    local_stats = run_dedup(LocalEngine(1), src, local, DedupOptions())
    bucket_src = storage.path("s3://mix/dedup-stages/src")
    for p in sorted(src.glob("*.parquet")):
        (bucket_src / p.name).write_bytes(p.read_bytes())
    d = storage.path("s3://mix/dedup-stages/dedup")
    engine = RecordingEngine(2)
    stats = run_dedup(engine, str(bucket_src), str(d), DedupOptions())
    assert all(job["out"].startswith("s3://mix/dedup-stages/dedup/") for _, job in engine.tasks if "out" in job)
    assert stats == local_stats and stats["ranges"] == 4 and stats["buckets"] == 4
    kept, rej, dups = _outputs(d)
    assert dups == want.to_pylist() and (kept, rej, dups) == _outputs(local)
    on_disk, in_bucket = _files(local), _files(d)
    assert sorted(in_bucket) == sorted(on_disk) and in_bucket == on_disk      # no .tmp, no stray object

    _kill_midway(d)
    assert not (d / "duplicates.parquet").exists()
    engine = RecordingEngine(2)
    assert run_dedup(engine, str(bucket_src), str(d), DedupOptions()) == stats
    assert engine.ran("_signature_task", "part") == [3]
    assert engine.ran("_bucket_task", "bucket") == [1, 2, 3]
    assert engine.ran("_pairs_task", "range") == engine.ran("_verify_task", "range") == [1, 2, 3]
    assert [storage.name(p) for p in engine.ran("_remove_task", "path")] == ["part-00000.parquet",
                                                                            "part-00001.parquet"]
    assert _files(d) == on_disk


def test_stages_disabled_keep_every_row(mixed, tmp_path):
    rows, src, _ = mixed
    st = run_dedup(LocalEngine(1), src, tmp_path / "off", DedupOptions(enabled=False))
    kept, rej, dups = _outputs(tmp_path / "off")
    assert [r["id"] for r in kept] == [r["id"] for r in rows] and rej == dups == [] and st["enabled"] is False


def test_stages_refuse_a_folder_of_other_options(mixed, tmp_path):
    rows, src, _ = mixed
    d = tmp_path / "dedup"
    run_dedup(LocalEngine(1), src, d, DedupOptions())
    with pytest.raises(RuntimeError, match="delete that folder"):
        run_dedup(LocalEngine(1), src, d, DedupOptions(text_key="assistant"))


# ---------------------------------------------------------------------------------------------
# a real build killed during dedup

def _kill_recipe(tmp_path: Path) -> Path:
    """8 source files of 1,500 captions (8 partitions) with small images and planted copies."""
    rng = np.random.default_rng(0)
    first: list[str] = []
    for f in range(8):
        caps = [" ".join(rng.choice(WORDS, 14)) + f" number {f}-{i}" for i in range(1500)]
        if f:
            caps[::50] = first[::50]                 # 30 exact copies of the first file's captions
        else:
            first = caps
        imgs = [encode(picture(f * 1500 + i, 48, 36), quality=85) for i in range(1500)]
        pq.write_table(pa.table({"id": [f"f{f}-{i}" for i in range(1500)], "caption": caps, "image": imgs}),
                       tmp_path / f"caps-{f}.parquet")
    recipe = tmp_path / "kill.yaml"
    recipe.write_text(f"""
name: kill-dedup
total: 300
english_share: 1.0
languages: [eng_Latn]
sources: [{{name: caps, path: "{tmp_path}/caps-*.parquet", task: caption}}]
steps:
  filters: {{lid: {{enabled: false}}, script: {{enabled: false}}}}
  translate: {{enabled: false}}
  ocr: {{enabled: false}}
""")
    return recipe


def _cli(args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "mixkit.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    """The recipe, and its build run to the end (local processes)."""
    tmp = tmp_path_factory.mktemp("kill")
    recipe = _kill_recipe(tmp)
    ref = _cli(["build", str(recipe), "--out", str(tmp / "ref"), "--quiet", "--backend", "local"])
    log, _ = ref.communicate(timeout=900)
    assert ref.returncode == 0, log
    return recipe, tmp / "ref"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "ray"])
def test_build_killed_during_dedup_resumes_without_redoing_partitions(kill_reference, tmp_path, backend):
    recipe, ref = kill_reference
    out = tmp_path / "killed"
    args = ["build", str(recipe), "--out", str(out), "--quiet", "--backend", backend]
    proc = _cli(args, start_new_session=True)
    sig_dir = out / "steps" / "03_dedup" / "signatures"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not list(sig_dir.glob("*.arrow")):
        time.sleep(0.01)
    assert proc.poll() is None, "build finished before it could be killed: " + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in sig_dir.glob("*.arrow")}
    assert 1 <= len(done_before) < 8, sorted(done_before)       # killed inside the signature stage
    assert not (out / "steps" / "03_dedup" / "_SUCCESS").exists()

    again = _cli(args)
    log, _ = again.communicate(timeout=900)
    assert again.returncode == 0, log
    after = {p.name: p.stat().st_mtime_ns for p in sig_dir.glob("*.arrow")}
    assert len(after) == 8 and all(after[n] == t for n, t in done_before.items())   # not redone
    for shard in sorted((ref / "shards").glob("*.tar")):
        assert (out / "shards" / shard.name).read_bytes() == shard.read_bytes(), shard.name
    ref_dups = pq.read_table(ref / "steps" / "03_dedup" / "duplicates.parquet")
    assert ref_dups.num_rows >= 7 * 30 and ref_dups.equals(pq.read_table(out / "steps" / "03_dedup" / "duplicates.parquet"))
