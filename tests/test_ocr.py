"""OCR synthesis: fonts, shaping, renderers, tasks, determinism, the standalone run."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image, ImageFont

from mixkit.lang.languages import COMPLEX_SCRIPTS, centurio_languages, get
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


def test_every_language_renders_its_own_text_shaped_and_covered():
    ok, msg = shaping_support()
    assert ok, msg
    fonts = PilFonts()
    assert len(LANGS) == 100
    stage = OcrRenderStage(OcrOptions(enabled=True))
    stage.setup()
    for lang in LANGS:
        text = stage.text(lang)
        assert text.blocks or text.words, f"{lang}: no text"
        chain = fonts_for_lang(lang)
        jpeg, params, lines = render_document(text.words, lang, chain, fonts, job_rng(0, lang, 0), 480, 360,
                                              augment=False, blocks=text.blocks or None)
        assert lines and jpeg[:3] == b"\xff\xd8\xff", lang
        if get(lang).script in COMPLEX_SCRIPTS:
            assert params["layout_engine"] == "raqm", lang
        assert "skipped_lines" not in params, (lang, params.get("skipped_lines"))


def test_95_languages_get_running_text_and_the_rest_cldr_words_of_their_own():
    from mixkit.lang import udhr

    stage = OcrRenderStage(OcrOptions(enabled=True))
    no_udhr = {"arz_Arab", "asm_Beng", "azb_Arab", "kik_Latn", "snd_Arab"}
    assert set(LANGS) - set(udhr.available()) == no_udhr
    for lang in LANGS:
        t = stage.text(lang)
        if lang in no_udhr:
            assert not t.blocks and len(t.words) >= 50, lang
        else:
            assert len(t.blocks) >= 60 and any(k == "h" for k, _ in t.blocks), lang
            assert sum(len(x) for _, x in t.blocks) >= 2000, lang      # Chinese: ~2.7k characters


def test_no_language_gets_another_languages_text():
    # Samoan used to get Tongan CLDR names, Waray Cebuano ones, azb Persian ones.
    for lang in ("smo_Latn", "war_Latn"):
        assert cldr_locale(lang) == (None, "none") and cldr_strings(lang) == ()
    t = OcrRenderStage(OcrOptions(enabled=True)).text("smo_Latn")
    assert t.origin == ["udhr:smo"]
    azb = set(cldr_strings("azb_Arab"))        # only shared loanwords (Braille, Hiragana...), no Persian supplement
    assert len(azb & set(cldr_strings("pes_Arab"))) < 0.1 * len(azb)
    # Haitian: no English day names or root-locale dates ("2024 M01 5, Fri") left
    assert not [s for s in cldr_strings("hat_Latn") if "M01" in s or any(d in s for d in ("Mon", "Fri", "Tue"))]
    # a different variety is said plainly
    loc, how = cldr_locale("arz_Arab")
    assert loc == "ar_EG" and how.startswith("variety:") and "different variety" in how


def test_missing_text_fails_with_how_to_or_is_skipped(tmp_path):
    from ocr_synth.options import ocr_plan
    from ocr_synth.text_sources import MissingTextError

    o = OcrOptions(enabled=True, text_sources=["text_files"], scale=0.001)
    with pytest.raises(MissingTextError, match=r"deu_Latn.*ocr.text_files.*on_missing_text: skip"):
        ocr_plan(o, ["deu_Latn"])
    with pytest.raises(MissingTextError):          # the build and the planner ask ocr_quotas
        ocr_quotas(o, ["deu_Latn"])
    (tmp_path / "deu_Latn.txt").write_text("Ein Absatz.\n\nNoch einer.\n", encoding="utf-8")
    o2 = OcrOptions(enabled=True, text_sources=["text_files"], text_files=[str(tmp_path / "deu_Latn.txt")],
                    on_missing_text="skip", scale=0.001)
    q, skipped = ocr_plan(o2, ["deu_Latn", "fra_Latn"])
    assert q["deu_Latn"] > 0 and q["fra_Latn"] == 0 and list(skipped) == ["fra_Latn"]
    assert ocr_quotas(o2, ["deu_Latn", "fra_Latn"]) == q
    out = OcrRenderStage(o2).run(make_jobs({"deu_Latn": 2}, 0, o2))     # only the user's text is drawn
    assert not out.rejected and all("Absatz" in r["messages"][1]["content"] or "einer" in r["messages"][1]["content"]
                                    for r in out.kept if r["task"] == "ocr")


def test_user_corpora_txt_jsonl_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ocr_synth.text_sources import load_text_files

    (tmp_path / "yor_Latn.txt").write_text("Ìpínrọ̀ kìíní.\nÌpínrọ̀ kejì.\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"lang": "de", "text": "Erster Absatz.\\nZweiter."}\n', encoding="utf-8")
    pq.write_table(pa.table({"lang": ["fr"], "text": ["Premier.\nDeuxième."]}), tmp_path / "w.parquet")
    pq.write_table(pa.table({"text": ["Ɛyɛ nokware."]}), tmp_path / "twi_Latn.parquet")
    got = load_text_files([str(tmp_path / n) for n in ("yor_Latn.txt", "c.jsonl", "w.parquet", "twi_Latn.parquet")])
    assert got == {"yor_Latn": ["Ìpínrọ̀ kìíní.", "Ìpínrọ̀ kejì."], "deu_Latn": ["Erster Absatz.", "Zweiter."],
                   "fra_Latn": ["Premier.", "Deuxième."], "twi_Latn": ["Ɛyɛ nokware."]}
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="'text' column"):
        load_text_files([str(tmp_path / "bad.parquet")])


def _norm(s: str) -> str:
    return "".join(s.split())


@pytest.mark.parametrize("lang", ["deu_Latn", "arb_Arab", "tha_Thai", "jpn_Jpan", "amh_Ethi", "khm_Khmr", "bod_Tibt"])
def test_documents_are_a_passage_of_running_text_in_reading_order(lang):
    """The lines, read in order, are one contiguous passage of the language's text: wrapped
    paragraphs and headings, nothing shuffled (two columns read column by column)."""
    import unicodedata

    stage = OcrRenderStage(OcrOptions(enabled=True))
    t = stage.text(lang)
    fonts = PilFonts()
    doc = _norm("".join(x for _, x in t.blocks))
    for i, layout in enumerate(("page", "two_column")):
        _, params, lines = render_document(t.words, lang, fonts_for_lang(lang), fonts, job_rng(3, lang, i), 900, 900,
                                           augment=False, blocks=t.blocks, layout=layout)
        assert params["layout"] == layout and len(lines) >= 5
        assert _norm("".join(lines)) in doc, lang
        for line in lines:                     # wrapped by word or grapheme cluster: no orphaned mark
            assert not unicodedata.category(line[0]).startswith("M"), (lang, line)
            assert line[0] not in "\u0f0b\u0f0d፡", (lang, line)      # a tsheg or ፡ stays with its syllable/word
            assert line[-1] not in "เแโใไເແໂໃໄ", (lang, line)          # a preposed vowel stays with its consonant
        boxes = [b["box"] for b in params["lines"]]
        if layout == "page":                   # one column: top to bottom
            assert all(b2[1] > b1[1] for b1, b2 in zip(boxes, boxes[1:]))


def test_spaceless_scripts_wrap_by_grapheme_cluster():
    from ocr_synth.line_breaking import break_units, wrap

    # a Thai/Lao preposed vowel is read after its consonant: it never ends a line on its own
    assert break_units("ก้าวไป", "Thai") == ["ก้", "า", "ว", "ไป"]
    assert break_units("ประโยชน์และ", "Thai") == ["ป", "ร", "ะ", "โย", "ช", "น์", "แล", "ะ"]
    assert break_units("ສະເພາະ", "Laoo") == ["ສ", "ະ", "ເພ", "າ", "ະ"]
    assert all(not l.endswith(("โ", "แ")) for l in wrap("ประโยชน์และประโยชน์และ", "Thai", 3, len))
    assert break_units("ሰላም፡ዓለም", "Ethi") == ["ሰላም፡", "ዓለም"]
    lines = wrap("ស្វាគមន៍មកកាន់ប្រទេសកម្ពុជា", "Khmr", 5, len)
    assert "".join(lines) == "ស្វាគមន៍មកកាន់ប្រទេសកម្ពុជា" and len(lines) > 1
    assert wrap("alpha beta gamma", "Latn", 10, len) == ["alpha beta", "gamma"]


def test_rtl_runs_keep_punctuation_by_its_word():
    # Noto Sans Hebrew has no ',' or '.': they are drawn in Noto Sans as runs of their own. A run of
    # neutrals laid out left to right put the comma's space on the wrong side ("זכאי ,עד").
    from PIL import ImageDraw

    from ocr_synth.document import _draw_runs
    from ocr_synth.fonts import font_runs, text_width

    chain, fonts = fonts_for_lang("heb_Hebr"), PilFonts()
    runs = font_runs(chain, "זכאי, עד")
    assert [r for _, r in runs] == ["זכאי", ", ", "עד"]
    img = Image.new("L", (400, 60), 255)
    _draw_runs(ImageDraw.Draw(img), runs, fonts.get(chain[0], 40, 400), chain[0], fonts, 40, 400, 0, 390, 5, 0, True)
    right = 390 - text_width(runs[0][0], runs[0][1], 40, 400)          # the comma run spans [left, right]
    left = right - text_width(runs[1][0], runs[1][1], 40, 400)
    ink = np.nonzero((np.asarray(img)[:, int(left):int(right)] < 128).any(axis=0))[0]
    assert len(ink) and ink.min() >= (right - left) / 2, ink            # the comma sits right, by its word


def test_headings_measure_their_runs_in_their_own_weight(monkeypatch):
    # Headings are bold: their fallback-font runs (the '.' of "סעיף יא.") were placed by the body
    # weight's narrower advances, and the period was drawn under the heading's last letter.
    import ocr_synth.document as document

    calls = []
    real = document._draw_runs
    monkeypatch.setattr(document, "_draw_runs", lambda *a: calls.append(a) or real(*a))
    stage = OcrRenderStage(OcrOptions(enabled=True))
    t = stage.text("heb_Hebr")
    heads = []
    for i in range(6):
        calls.clear()
        _, params, _ = render_document(t.words, "heb_Hebr", fonts_for_lang("heb_Hebr"), PilFonts(),
                                       job_rng(5, "heb_Hebr", i), 900, 900, augment=False, blocks=t.blocks)
        heads += [a for a in calls if a[5] != params["font_size"]]          # (draw, runs, f, spec, fonts, px, weight, ...)
    assert heads and all(a[6] == 700 for a in heads)


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


def test_cldr_locales_are_recorded():
    assert cldr_locale("tgl_Latn")[1].startswith("variety:Filipino")
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


def test_mixkit_ocr_into_a_bucket_writes_the_files_it_writes_on_disk(s3_env, tmp_path):
    """`mixkit ocr --out s3://...`: shards, rejects, manifest and contact sheet in the bucket, byte
    for byte the files of the same command on disk."""
    import hashlib

    from mixkit.core import storage

    kw = dict(seed=1, workers=1, progress=False, options=OcrOptions(enabled=True, **SMALL))
    render_ocr(["hin_Deva", "fra_Latn"], 2, str(tmp_path / "disk"), **kw)
    res = render_ocr(["hin_Deva", "fra_Latn"], 2, "s3://mix/ocr-cmd", **kw)
    assert res["out_dir"] == "s3://mix/ocr-cmd" and res["contact_sheet"] == "s3://mix/ocr-cmd/contact_sheet.png"
    disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "disk").iterdir()}
    bucket = {storage.name(u): hashlib.sha256(storage.read_bytes(u)).hexdigest() for u in storage.find("s3://mix/ocr-cmd")}
    assert bucket == disk and {"manifest.json", "rejects.parquet", "contact_sheet.png", "shard-00000.tar"} <= set(disk)
    assert not (tmp_path / "s3:").exists()
    with pytest.raises(storage.StorageError, match=r"^s3://nobucket/ocr: bucket 'nobucket' does not exist"):
        render_ocr(["fra_Latn"], 1, "s3://nobucket/ocr", **kw)                # before any rendering


@pytest.mark.slow
def test_every_languages_ocr_text_is_identified_as_that_language_by_the_project_check():
    """The OCR answers (what a model learns to read) pass mixkit's own language check in all 100
    languages: 'ok', or 'close' for a known close pair (Bosnian read as Croatian)."""
    from mixkit.lang.lid import LanguageIdentifier

    lid = LanguageIdentifier()
    out = _run(LANGS, 3, 0, tasks={"ocr": 1}, width=(640, 640))
    assert not out.rejected, out.rejected[:3]
    by_lang: dict[str, list[str]] = {}
    for r in out.kept:
        by_lang.setdefault(r["lang"], []).append(r["messages"][1]["content"])
    assert sorted(by_lang) == sorted(LANGS)
    bad = {}
    for lang, texts in by_lang.items():
        res = lid.check(texts, [lang] * len(texts))
        if sum(r["status"] in ("ok", "close") for r in res) < 2:
            bad[lang] = [(r["status"], r["pred"]) for r in res]
    assert not bad, bad


def test_render_ocr_fails_or_skips_a_language_without_text(tmp_path):
    from ocr_synth.text_sources import MissingTextError

    only_files = dict(SMALL, enabled=True, text_sources=["text_files"])
    with pytest.raises(MissingTextError, match="fra_Latn"):
        render_ocr(["fra_Latn"], 1, str(tmp_path / "a"), workers=1, progress=False, options=OcrOptions(**only_files))
    (tmp_path / "deu_Latn.txt").write_text("Ein Absatz über das Recht auf Bildung.\n", encoding="utf-8")
    o = OcrOptions(**only_files, text_files=[str(tmp_path / "deu_Latn.txt")], on_missing_text="skip",
                   tasks={"ocr": 1})
    res = render_ocr(["deu_Latn", "fra_Latn"], 1, str(tmp_path / "b"), workers=1, progress=False, options=o)
    assert res["skipped_no_text"] == ["fra_Latn"] and res["total"] == 1
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert "fra_Latn" in json.dumps(man["skipped_no_text"]) and man["text_sources"]["deu_Latn"]["origin"] == "text_files"


def test_grounding_never_asks_a_phrase_split_over_two_lines_as_absent():
    stage = OcrRenderStage(OcrOptions(enabled=True))
    templates = {"ocr_grounding": ["Is '{x}' in the image?"], "yes": "Yes", "no": "No"}
    lines = ["Everyone has the right", "to life and liberty"]
    for nth in (1, 3, 5):                       # odd: the job wants a "no" question
        params: dict = {}
        _, answer = stage._document_qa("ocr_grounding", lines, ["right to life", "freedom of movement"],
                                       np.random.default_rng(nth), templates, nth, params)
        assert params["grounding"] == {"query": "freedom of movement", "present": False} and answer == "No"
