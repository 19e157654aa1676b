"""OCR synthesis: fonts, shaping, renderers, tasks, determinism, the standalone run."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image, ImageFont

from mixkit.languages import COMPLEX_SCRIPTS, centurio_languages, get
from ocr_synth.charts import render_chart
from ocr_synth.document import render_document
from ocr_synth.fonts import (PilFonts, fonts_for_lang, pick_font, renderable, shaping_problem, shaping_support,
                             text_width)
from ocr_synth.jobs import job_rng, make_jobs
from ocr_synth.options import OcrOptions, ocr_quotas
from ocr_synth.stage import OcrRenderStage, render_ocr
from ocr_synth.text_sources import cldr_locale, cldr_strings

LANGS = [l.code for l in centurio_languages()]
SMALL = dict(width=(256, 256), aspect=(0.75, 0.75), augment=False)


def test_every_language_renders_one_string_shaped_and_covered():
    ok, msg = shaping_support()
    assert ok, msg
    fonts = PilFonts()
    assert len(LANGS) == 100
    for lang in LANGS:
        items, _ = renderable(list(cldr_strings(lang))[:60], lang)
        assert items, f"{lang}: no renderable CLDR text"
        text = max(items[:50], key=len)
        chain = fonts_for_lang(lang)
        spec, why = pick_font(chain, text, lang)
        assert spec == chain[0], f"{lang}: {text!r} not rendered by its script font ({why})"
        assert shaping_problem(spec, text, lang) == ""
        jpeg, params, lines = render_document([text], lang, chain, fonts, job_rng(0, lang, 0), 320, 120,
                                              max_lines=1, augment=False, layout="lines")
        assert lines and jpeg[:3] == b"\xff\xd8\xff"
        if get(lang).script in COMPLEX_SCRIPTS:
            assert params["layout_engine"] == "raqm", lang


def test_cjk_faces_differ_per_language():
    idx = {l: fonts_for_lang(l)[0].index for l in ("jpn_Jpan", "kor_Hang", "zho_Hant", "zho_Hans")}
    assert len(set(idx.values())) == 4 and all(fonts_for_lang(l)[0].path.endswith(".ttc") for l in idx)


def test_raqm_shapes_arabic_unlike_basic_layout():
    spec = fonts_for_lang("arb_Arab")[0]
    text = "مرحبا بالعالم"
    imgs = []
    for engine in (ImageFont.Layout.RAQM, ImageFont.Layout.BASIC):
        f = ImageFont.truetype(spec.path, 32, layout_engine=engine)
        im = Image.new("L", (400, 60), 0)
        from PIL import ImageDraw
        ImageDraw.Draw(im).text((10, 5), text, font=f, fill=255)
        imgs.append(np.asarray(im))
    assert (imgs[0] != imgs[1]).mean() > 0.01   # joined, right-to-left vs isolated forms
    assert abs(ImageFont.truetype(spec.path, 32).getlength(text) - text_width(spec, text, 32)) < 1.0


def test_uncoverable_and_broken_strings_are_refused():
    chain = fonts_for_lang("tha_Thai")
    assert pick_font(chain, "ሰላም", "tha_Thai") == (None, "font_coverage")      # Ethiopic in a Thai chain
    deva = fonts_for_lang("hin_Deva")[0]
    assert "dotted circle" in shaping_problem(deva, "\u093f", "hin_Deva")         # lone vowel sign
    assert pick_font((deva,), "\u093f", "hin_Deva") == (None, "shaping_failed")


def test_cldr_fallbacks_are_recorded():
    assert cldr_locale("tgl_Latn")[1].startswith("fallback:fil")
    assert cldr_locale("arz_Arab") == ("ar_EG", "override")
    assert cldr_locale("deu_Latn") == ("de", "exact")
    assert not any("-" in s and s.split()[-1].islower() and "length" in s for s in cldr_strings("ssw_Latn"))


def test_quotas_follow_the_study_and_overrides():
    o = OcrOptions()
    q = ocr_quotas(o, ["eng_Latn", "deu_Latn", "hin_Deva"])
    assert q == {"eng_Latn": 500_000, "deu_Latn": 5_000, "hin_Deva": 10_000}
    q = ocr_quotas(OcrOptions(variant="latin_down", scale=0.01, per_lang={"hi": 7}), ["de", "ar", "hi"])
    assert q == {"deu_Latn": 25, "arb_Arab": 100, "hin_Deva": 7}
    with pytest.raises(ValueError):
        OcrOptions(colour="red")
    with pytest.raises(ValueError):
        OcrOptions(tasks={"ocr": 1, "dance": 1})


def test_jobs_are_deterministic_and_follow_the_task_mix():
    o = OcrOptions(tasks={"ocr": 0.5, "chart_qa": 0.5})
    a = make_jobs({"deu_Latn": 200, "hin_Deva": 3}, 7, o)
    assert a == make_jobs({"hin_Deva": 3, "deu_Latn": 200}, 7, o)
    assert len(a) == 203 and len({r["id"] for r in a}) == 203
    tasks = [r["task"] for r in a if r["lang"] == "deu_Latn"]
    assert 60 < tasks.count("chart_qa") < 140 and set(tasks) == {"ocr", "chart_qa"}
    assert json.loads(a[0]["meta"])["ocr_job"]["seed"] == 7 and a[0]["messages"] == []


def _run(langs, n, seed, **opt):
    o = OcrOptions(enabled=True, **{**SMALL, **opt})
    return OcrRenderStage(o).run(make_jobs({l: n for l in langs}, seed, o))


def test_stage_output_is_byte_identical_for_a_seed():
    a = _run(["arb_Arab", "tha_Thai"], 4, 3, augment=True)
    b = _run(["arb_Arab", "tha_Thai"], 4, 3, augment=True)
    c = _run(["arb_Arab", "tha_Thai"], 4, 4, augment=True)
    assert not a.rejected and len(a.kept) == 8
    assert [r["images"] for r in a.kept] == [r["images"] for r in b.kept]
    assert [r["images"] for r in a.kept] != [r["images"] for r in c.kept]


def test_tasks_answers_match_what_was_drawn():
    out = _run(["deu_Latn", "kor_Hang"], 12, 0, tasks={"ocr": 1, "ocr_line": 1, "ocr_grounding": 1, "chart_qa": 1},
               prompts_in_target_language=True)
    assert not out.rejected
    yes_no = []
    for r in out.kept:
        meta = json.loads(r["meta"])
        render, ans = meta["render"], r["messages"][1]["content"]
        assert r["messages"][0]["content"].startswith("<image>\n") and len(r["images"]) == 1
        assert meta["prompt_lang"] == r["lang"]
        lines = [b["text"] for b in render.get("lines", [])]
        if r["task"] == "ocr":
            assert ans == "\n".join(lines)
        elif r["task"] == "ocr_line":
            assert ans == lines[render["asked_line"] - 1]
        elif r["task"] == "ocr_grounding":
            g = render["grounding"]
            assert (g["query"] in "\n".join(lines)) == g["present"]
            yes_no.append(g["present"])
        else:
            assert ans == render["labels"][int(np.argmax(render["values"]))]
            assert 4 <= len(render["labels"]) <= 8 and all(30 <= v <= 100 for v in render["values"])
    assert yes_no and any(yes_no) and not all(yes_no)


def test_render_chart_api_and_bad_labels():
    rng = np.random.default_rng(0)
    jpeg, p = render_chart(["ሰላም", "ቤት", "ውሃ", "ከተማ"], [40, 90, 55, 70], "bar", "amh_Ethi", rng, width=320, height=240)
    assert Image.open(io.BytesIO(jpeg)).size == (320, 240) and p["kind"] == "bar"
    jpeg2, _ = render_chart(["ሰላም", "ቤት", "ውሃ", "ከተማ"], [40, 90, 55, 70], "bar", "amh_Ethi",
                            np.random.default_rng(0), width=320, height=240)
    assert jpeg == jpeg2
    with pytest.raises(ValueError, match="font_coverage"):
        render_chart(["กขค", "ሰላም"], [50, 60], "pie", "tha_Thai", rng)


def test_render_ocr_writes_shards_manifest_and_contact_sheet(tmp_path):
    res = render_ocr(["hin_Deva", "zho_Hant", "fra_Latn"], 2, str(tmp_path), seed=1, workers=1, progress=False,
                     options=OcrOptions(enabled=True, **SMALL))
    assert res["total"] == 6 and res["languages"] == 3 and res["rejected"] == 0
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["counts"]["by_lang"] == {"fra_Latn": 2, "hin_Deva": 2, "zho_Hant": 2}
    assert Image.open(tmp_path / "contact_sheet.png").size[0] > 0
    with tarfile.open(tmp_path / man["shards"][0]["path"]) as t:
        names = t.getnames()
    assert sum(n.endswith(".jpg") for n in names) == 6 and sum(n.endswith(".json") for n in names) == 6
