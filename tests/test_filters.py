"""Planted bad rows, each caught by the right filter; every other row kept (real fastText, real images)."""
from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from mixkit.filters import FilterOptions, FilterStage, build_filter_stage, tokens_of
from mixkit.core.schema import caption_of, make_row, meta_of, text_of


def jpeg(w=128, h=96, seed=0, quality=90) -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr).resize((w, h), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def row(key: str, lang: str, caption: str, images=None, prompt="<image>\nDescribe the image.", task="caption"):
    images = [jpeg(seed=zlib.crc32(key.encode()) % 1000)] if images is None else images
    return make_row(source="t", origin_id=key, task=task, lang=lang, images=images,
                    messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": caption}])


GOOD = {
    "en1": ("eng_Latn", "A brown dog is running along the beach next to the sea."),
    "en2": ("eng_Latn", "Two children are playing football in a green park on a sunny afternoon."),
    "de1": ("deu_Latn", "Ein brauner Hund läuft am Strand entlang neben dem Meer."),
    "ru1": ("rus_Cyrl", "Коричневая собака бежит по пляжу рядом с морем."),
    "zh1": ("zho_Hans", "一只棕色的狗沿着海边的沙滩奔跑，这个画面很美。"),
    "ja1": ("jpn_Jpan", "茶色の犬が海のそばの浜辺を走っています。"),
    "th1": ("tha_Thai", "สุนัขสีน้ำตาลกำลังวิ่งไปตามชายหาดข้างทะเล"),
    # Zulu: lid.176 has no label for it -> the n-gram model checks it (Xhosa would count as close)
    "zu1": ("zul_Latn", "Inja ensundu igijima ogwini eduze kolwandle."),
}


def planted() -> tuple[list[dict], dict[str, str]]:
    """All rows, and the expected reason for each planted bad row (by origin id)."""
    rows = [row(k, lang, text) for k, (lang, text) in GOOD.items()]
    bad = {
        "short": (row("short", "eng_Latn", "Dog", prompt="<image>"), "text_too_short"),
        "empty": (row("empty", "eng_Latn", "  ", prompt="<image>"), "empty_text"),
        "long": (row("long", "eng_Latn", "word " * 5000), "text_too_long"),
        "digits": (row("digits", "eng_Latn", "12 34 56 78 90 ## %% 11 22 33 44 !!! 55 66"), "too_many_non_letters"),
        "loop": (row("loop", "eng_Latn", "A cat sitting on a red mat near the window. " * 6), "repeated_ngrams"),
        "run": (row("run", "eng_Latn", "The dog is very very very very very very very happy."), "repeated_ngrams"),
        "zhloop": (row("zhloop", "zho_Hans", "一只狗在海边奔跑" * 6), "repeated_ngrams"),
        # Russian written in Latin letters: wrong whatever LID says
        "translit": (row("translit", "rus_Cyrl", "Korichnevaya sobaka bezhit po plyazhu ryadom s morem."), "wrong_script"),
        # Chinese row written in Traditional characters though marked Simplified
        "hant": (row("hant", "zho_Hans", "一隻棕色的狗沿著海邊的沙灘奔跑，這個畫面很美。"), "wrong_script"),
        # German row that is French
        "french": (row("french", "deu_Latn", "Un chien brun court le long de la plage au bord de la mer."), "wrong_language"),
        "tiny": (row("tiny", "eng_Latn", "A small picture of a red apple on a table.", images=[jpeg(16, 16)]), "image_too_small"),
        "corrupt": (row("corrupt", "eng_Latn", "A picture of a yellow taxi in a busy street.",
                        images=[jpeg(seed=5)[:300]]), "undecodable_image"),
        "garbage": (row("garbage", "eng_Latn", "A picture of a white boat on a calm lake.",
                        images=[b"this is not an image at all"]), "undecodable_image"),
        "wide": (row("wide", "eng_Latn", "A long banner with text on a white wall.", images=[jpeg(640, 64)]),
                 "aspect_ratio"),
        "noimg": (row("noimg", "eng_Latn", "A photo of a horse standing in a field.", images=[]), "placeholder_mismatch"),
        "badlang": (row("badlang", "xx_Nope", "A photo of a horse standing in a field."), "unknown_language"),
    }
    expect = {}
    for k, (r, reason) in bad.items():
        rows.append(r)
        expect[k] = reason
    return rows, expect


@pytest.fixture(scope="module")
def result():
    rows, expect = planted()
    stage = build_filter_stage(FilterOptions())
    return rows, expect, stage.run(rows)


def test_each_planted_row_rejected_with_its_reason(result):
    from mixkit.filters import REJECT_REASONS

    rows, expect, out = result
    by_origin = {r["origin_id"]: r for r in out.rejected}
    got = {k: by_origin[k]["reason"] for k in by_origin}
    assert got == expect
    assert set(expect.values()) == set(REJECT_REASONS)          # every declared reason is planted once
    assert all(r["step"] == "filter" and r["detail"] for r in out.rejected)


def test_nothing_else_removed(result):
    rows, expect, out = result
    assert sorted(r["origin_id"] for r in out.kept) == sorted(GOOD)
    assert len(out.kept) + len(out.rejected) == len(rows)


def test_lid_meta_on_kept_rows(result):
    _, _, out = result
    meta = {r["origin_id"]: meta_of(r) for r in out.kept}
    assert meta["zu1"]["lid"]["pred"] in ("zul_Latn", "xho_Latn") and "lid_unchecked" not in meta["zu1"]
    assert meta["de1"]["lid"]["pred"] == "deu_Latn" and meta["de1"]["lid"]["prob"] > 0.5


def test_filter_interface_single_row():
    from mixkit.filters import build_filters

    fs = {f.name: f for f in build_filters(FilterOptions())}
    bad = row("x", "rus_Cyrl", "Korichnevaya sobaka bezhit po plyazhu ryadom s morem.")
    assert fs["script"].check(bad) == "wrong_script"
    assert fs["lid"].check(row("y", "deu_Latn", "Ein brauner Hund läuft am Strand entlang.")) is None
    assert fs["text_length"].check_detail(row("z", "eng_Latn", "", prompt="<image>")).reason == "empty_text"


def test_filters_can_be_disabled_and_exempted():
    rows, _ = planted()
    opts = FilterOptions(lid={"enabled": False}, script={"enabled": False}, images={"enabled": False},
                         repetition={"enabled": False}, text_length={"min_chars": 0, "max_chars": None},
                         non_letters={"enabled": False}, placeholders={"enabled": False})
    out = FilterStage(opts).run(rows)
    assert {r["reason"] for r in out.rejected} == {"empty_text", "unknown_language"}
    # exempting a task from a filter
    opts2 = FilterOptions(exempt_tasks={"lid": ["caption"]})
    out2 = FilterStage(opts2).run([row("french", "deu_Latn", "Un chien brun court le long de la plage.")])
    assert len(out2.kept) == 1


def test_per_language_threshold():
    # Short German caption under an English prompt: lid.176 says en 0.50, de only 0.05.
    r = row("de", "deu_Latn", "Ein Hund am Strand.")
    out = FilterStage(FilterOptions()).run([r])
    assert out.rejected[0]["reason"] == "wrong_language" and "deu_Latn" in out.rejected[0]["detail"]
    loose = FilterOptions(lid={"thresholds": {"de": 0.02}})     # aliases resolve to deu_Latn
    assert len(FilterStage(loose).run([r]).kept) == 1
    # the filter's verdict is the language check's (mixkit.lang.lid.LanguageIdentifier.check), not a copy of it
    from mixkit.filters import LanguageFilter, LidOptions
    f = LanguageFilter(LidOptions())
    rows = [r, row("en", "deu_Latn", "A brown dog runs along the beach at sunset."),
            row("ok", "deu_Latn", "Ein brauner Hund läuft am Strand entlang.")]
    got = [rej.reason if rej else None for rej, _ in f.check_batch_meta(rows)]
    statuses = [c["status"] for c in f.lid.check([text_of(x) for x in rows], ["deu_Latn"] * 3)]
    assert got == ["wrong_language" if s == "wrong" else None for s in statuses] == ["wrong_language"] * 2 + [None]


def test_options_reject_unknown_fields_and_bad_values():
    with pytest.raises(ValidationError):
        FilterOptions(min_chars=3)
    with pytest.raises(ValidationError, match="unknown filter name"):
        FilterOptions(exempt_tasks={"nonsense": ["caption"]})
    with pytest.raises(ValidationError):
        FilterOptions(lid={"thresholds": {"deu_Latn": 1.5}})
    with pytest.raises(ValidationError, match="max_chars"):
        FilterOptions(text_length={"min_chars": 100, "max_chars": 10})


def test_every_filter_has_one_switch_and_old_keys_still_read():
    """One on/off style: every filter with options has `enabled`; the keys of mixkit <= 0.2 are
    read into the new blocks with a warning naming the new key."""
    from mixkit.filters import FILTERS

    opts = FilterOptions()
    for name, cls in FILTERS.items():
        if cls.Options is not None:
            assert getattr(opts, name).enabled is True, name
    with pytest.warns(FutureWarning) as warned:
        old = FilterOptions(max_non_letter_ratio=None, min_text_chars=0, max_text_chars=None, placeholder_check=False)
    assert sorted(str(w.message).split(" is now ")[1].split(" (")[0] for w in warned) == [
        "steps.filters.non_letters.enabled: false", "steps.filters.placeholders.enabled",
        "steps.filters.text_length.max_chars", "steps.filters.text_length.min_chars"]
    assert not old.non_letters.enabled and not old.placeholders.enabled
    assert (old.text_length.min_chars, old.text_length.max_chars) == (0, None)
    with pytest.warns(FutureWarning, match="non_letters.max_ratio"):
        assert FilterOptions(max_non_letter_ratio=0.3).non_letters.max_ratio == 0.3
    rows, _ = planted()
    new = FilterOptions(non_letters={"enabled": False}, text_length={"min_chars": 0, "max_chars": None},
                        placeholders={"enabled": False})
    # the same rejects, details included: no object address in an image's error (same input, same bytes)
    assert FilterStage(old).run(rows).rejected == FilterStage(new).run(rows).rejected


def test_the_filter_list_comes_from_the_classes():
    """A Filter subclass with a name is registered: it runs (last, with its defaults when it came
    after FilterOptions was made), can be exempted, and must declare the reasons it rejects with."""
    from mixkit.filters import FILTERS, Filter, Rejection, build_filters

    class Shouting(Filter):
        name = "test_shouting"
        reasons = {"shouting": "all capitals"}

        def check_detail(self, row):
            return Rejection("shouting") if caption_of(row).isupper() else None

    class Sloppy(Filter):
        name = "test_sloppy"
        Options = None

        def check_detail(self, row):
            return Rejection("not_declared")

    shout = row("s", "eng_Latn", "A RED CAR NEXT TO A TREE.")
    try:
        assert [f.name for f in build_filters(FilterOptions())][-2:] == ["test_shouting", "test_sloppy"]
        stage = FilterStage(FilterOptions(lid={"enabled": False}, exempt_tasks={"test_sloppy": ["caption"]}))
        assert [r["reason"] for r in stage.run([shout]).rejected] == ["shouting"]
        with pytest.raises(ValueError, match="add it to Sloppy.reasons"):     # undeclared: fails loudly
            FilterStage(FilterOptions(lid={"enabled": False})).run([row("x", "eng_Latn", "A calm caption here.")])
        with pytest.raises(ValueError, match="two filters are named"):
            type("Again", (Filter,), {"name": "test_shouting"})
    finally:
        del FILTERS["test_shouting"], FILTERS["test_sloppy"]
    assert [f.name for f in build_filters(FilterOptions())][-1] == "images"


def test_caption_of_is_the_answer_text():
    r = row("c", "eng_Latn", "A red <image> door.", prompt="<image>\nDescribe the image.")
    assert caption_of(r) == "A red  door." and text_of(r) == "Describe the image.\nA red  door."
    multi = make_row(source="t", origin_id="m", task="instruct", lang="eng_Latn",
                     messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
                               {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
                               {"role": "assistant", "content": "A2"}])
    assert caption_of(multi) == "A1\nA2"


def test_stage_pickles_without_model():
    import pickle

    stage = build_filter_stage(FilterOptions())
    stage.setup()
    clone = pickle.loads(pickle.dumps(stage))
    out = clone.run([row("de", "deu_Latn", "Ein brauner Hund läuft am Strand entlang neben dem Meer.")])
    assert len(out.kept) == 1


def test_tokens_for_unspaced_scripts():
    assert tokens_of("一只狗") == ["一", "只", "狗"]
    assert tokens_of("A dog, a cat.") == ["a", "dog", "a", "cat"]
