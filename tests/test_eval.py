"""SMPQA-style generation (plots, questions, labels, coverage, shards) and the evaluation harness
(SMPQA accuracy + language fidelity) on a tiny model trained here."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixkit.lang import languages
from mixkit.evaluation.smpqa import (GROUNDING, MIN_POOL, PAPER_LANGS, PROMPT_SUFFIX, READING, SmpqaError,
                                     SmpqaOptions, coverage_report, generate_smpqa, label_pool, normalize_answer,
                                     plot_labels, plot_specs, questions, read_smpqa)
from mixkit.core.schema import meta_of

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(width=(320, 360))


def test_normalize_answer():
    assert normalize_answer("  Yes. ") == "yes" == normalize_answer("YES!")
    assert normalize_answer("Costa-Rica-Colón") == normalize_answer("costa rica colón")
    assert normalize_answer("ＡＢＣ") == "abc"                 # NFKC full-width
    assert normalize_answer("ไทย।") == "ไทย"
    assert normalize_answer("Köln") != normalize_answer("Koln")


def test_plots_are_identical_across_languages_except_labels():
    o = SmpqaOptions()
    specs = plot_specs(7, o)
    assert specs == plot_specs(7, o) and specs != plot_specs(8, o)
    assert [s.kind for s in specs] == ["bar"] * 50 + ["pie"] * 50
    assert all(4 <= s.n <= 8 and len(set(s.values)) == s.n and 30 <= min(s.values) and max(s.values) <= 100
               for s in specs)
    assert {s.orientation for s in specs[:50]} == {"vertical", "horizontal"}
    assert any(s.explode is not None for s in specs[50:]) and any(s.explode is None for s in specs[50:])
    de, th = label_pool("deu_Latn")[0], label_pool("tha_Thai")[0]
    for spec in specs[:10] + specs[50:60]:
        (ld, ad), (lt, at) = plot_labels(de, spec, 7, "deu_Latn"), plot_labels(th, spec, 7, "tha_Thai")
        assert len(ld) == len(lt) == spec.n and ad not in ld and at not in lt
        rd, gd = questions(spec, ld, ad, 7)
        rt, gt = questions(spec, lt, at, 7)
        # the same questions with each label replaced by its position: identical in both languages
        def shape(qs, labels, absent):
            names = {l: f"L{i}" for i, l in enumerate(labels)} | {absent: "ABSENT"}
            out = []
            for q in qs:
                text, ans = q["question"], q["answer"]
                for l, tag in sorted(names.items(), key=lambda kv: -len(kv[0])):
                    text = text.replace(f"'{l}'", tag)
                out.append((q["type"], text, names.get(ans, ans)))
            return out
        assert shape(rd + gd, ld, ad) == shape(rt + gt, lt, at)


def test_questions_answers_are_right_and_grounding_balanced():
    spec = plot_specs(0, SmpqaOptions(per_kind=3))[1]
    labels = [f"w{i}" for i in range(spec.n)]
    reading, grounding = questions(spec, labels, "absent", 0)
    assert len(reading) == 5 and len(grounding) == 8
    vals = list(spec.values)
    by_type = {q["type"]: q["answer"] for q in reading}
    assert by_type["biggest"] == labels[vals.index(max(vals))]
    assert by_type["smallest"] == labels[vals.index(min(vals))]
    assert by_type["second_biggest"] == labels[vals.index(sorted(vals)[-2])]
    assert [q["answer"] for q in grounding].count("yes") == 4 == [q["answer"] for q in grounding].count("no")
    big = labels[vals.index(max(vals))]
    assert {"question": f"Is the bar with label '{big}' the biggest?", "answer": "yes", "type": "biggest"} in grounding
    assert any("'absent'" in q["question"] and q["answer"] == "no" for q in grounding)


def test_labels_of_all_100_languages_pass_the_ocr_coverage_check():
    # Every label that any of the 100 plots would use, in every language, through ocr_synth.fonts.renderable.
    # Asserted as properties: the word lists come from installed packages (wordfreq, Babel's CLDR) whose
    # data changes between releases; a language whose sources run dry must fail with a way out, not crash.
    rep = coverage_report("all")
    assert len(rep) == 100 and set(rep) == {l.code for l in languages.centurio_languages()}
    ok = {c: v for c, v in rep.items() if "error" not in v}
    assert {c: v["failing"] for c, v in ok.items() if v["failing"]} == {}
    for c, v in rep.items():
        if "error" in v:
            assert f"--labels {c}.txt" in v["error"], v["error"]       # says how to give labels
        else:       # a real pool: every plot's labels are drawn from it, and plots reuse few of them
            assert MIN_POOL <= v["labels"] <= v["pool"], (c, v)
            assert v["source"].split(":")[0] in {"wordfreq", "udhr", "cldr"}, (c, v["source"])
    assert len(ok) >= 95, sorted(set(rep) - set(ok))
    # where wordfreq has the language, its list is used (not CLDR names), and never another language's list
    assert rep["deu_Latn"]["source"].startswith("wordfreq:de ")
    assert rep["tgl_Latn"]["source"].startswith("wordfreq:fil ")
    assert not rep["zul_Latn"]["source"].startswith("wordfreq")     # wordfreq would hand out English for 'zu'


def test_paper_languages_get_frequency_word_labels():
    from mixkit.evaluation.smpqa import resolve_smpqa_langs
    from mixkit.evaluation.smpqa_labels import less_frequent_half, ranked_words

    assert resolve_smpqa_langs("paper", SmpqaOptions()) == list(PAPER_LANGS) and len(PAPER_LANGS) == 11
    assert less_frequent_half([f"w{i}" for i in range(10)], 6) == ["w3", "w4", "w5"]
    assert ranked_words(["Der Hund, der Hund.", "ein Haus"]) == ["der", "hund", "ein", "haus"]
    import wordfreq
    for lang in PAPER_LANGS:
        pool, info = label_pool(lang)
        assert len(pool) >= 100, (lang, info)
        script = languages.get(lang).script
        from mixkit.evaluation.smpqa_labels import in_own_script
        assert all(in_own_script(t, script) for t in pool), lang          # no 'of' in the Chinese pool
        if info["source"].startswith("wordfreq:"):
            code = info["source"].split(":")[1].split()[0]
            top = wordfreq.top_n_list(code, 1000)
            assert set(pool) <= set(top[500:]), lang                      # the less frequent half only
            assert not set(pool) & set(top[:500])


def test_charts_are_unambiguous():
    specs = plot_specs(0, SmpqaOptions())
    for s in specs:
        v = sorted(s.values)
        assert all(b >= a * 1.15 for a, b in zip(v, v[1:])), s.values       # every rank has a clear winner
        assert 30 <= v[0] and v[-1] <= 100
    # pies are drawn without numbers: the biggest slice is visibly bigger than the second (>= 4 degrees)
    for s in (s for s in specs if s.kind == "pie"):
        v = sorted(s.values)
        assert 360 * (v[-1] - v[-2]) / sum(v) >= 4, s.values
    with pytest.raises(ValueError, match="too narrow"):
        SmpqaOptions(values=(30, 60), bars=(4, 8))


def test_grounding_matches_whole_labels_only(tmp_path):
    from mixkit.evaluation.smpqa import has_label, part_of

    assert not has_label(["Tlhakole", "Labone"], "Tlh") and has_label(["Tlhakole"], "tlhakole")
    assert part_of("Tlh", "Tlhakole") and not part_of("Labone", "Tlhakole")
    # a user pool full of prefixes: no plot ever holds a label and a part of it, absent label included
    words = ["Tlh", "Tlhakole", "Tlhakola", "Labo", "Labone", "Laboraro", "Mosupologo", "Labobedi", "Sontaga",
             "Matlhatso", "Ngwanatsele", "Seetebosigo", "Phukwi", "Phatwe", "Lwetse", "Diphalane", "Ngwanaatsele"]
    f = tmp_path / "tsn_Latn.txt"
    f.write_text("\n".join(words) + "\n", encoding="utf-8")
    opts = SmpqaOptions(label_files=[str(f)])
    pool, _ = label_pool("tsn_Latn", opts)
    for spec in plot_specs(0, opts):
        labels, absent = plot_labels(pool, spec, 0, "tsn_Latn")
        group = labels + [absent]
        assert not any(part_of(a, b) for i, a in enumerate(group) for b in group[i + 1:]), group
        _, grounding = questions(spec, labels, absent, 0)
        present = [q for q in grounding if q["type"] == "present"]
        assert [q["answer"] for q in present] == ["yes", "no"] and f"'{absent}'" in present[1]["question"]
    f.write_text("\n".join(["Tlh", "Tlhakole", "Tlhakolen"] + [f"Tlhakole{c}" for c in "bcdefgh"]) + "\n",
                 encoding="utf-8")
    pool, _ = label_pool("tsn_Latn", opts)
    with pytest.raises(SmpqaError, match="not part of one another"):
        plot_labels(pool, plot_specs(0, opts)[0], 0, "tsn_Latn")


def test_render_one_language_per_script(tmp_path):
    from ocr_synth.fonts import fonts_for_lang

    by_script = {}
    for l in languages.centurio_languages():
        by_script.setdefault(l.script, l.code)
    langs = sorted(by_script.values())
    index = generate_smpqa(langs, tmp_path, seed=3, options=SmpqaOptions(per_kind=1, **SMALL), progress=False)
    assert set(index["languages"]) == set(langs) | {"eng_Latn"}
    rows = read_smpqa(tmp_path)
    assert len(rows) == 2 * 2 * len(index["languages"])
    for r in rows:
        m = meta_of(r)
        primary = fonts_for_lang(r["lang"])[0].label
        assert m["render"]["fonts"] == [primary], (r["lang"], m["render"]["fonts"])   # drawn in the script's own font
        assert r["images"][0][:3] == b"\xff\xd8\xff"


def test_user_labels_that_fail_coverage_are_an_error(tmp_path):
    f = tmp_path / "tha_Thai.txt"
    f.write_text("\n".join(["แมว", "สุนัข", "ཀ་ཏཱར", "ช้าง"]) + "\n", encoding="utf-8")   # one Tibetan word
    with pytest.raises(SmpqaError, match="coverage.*ཀ་ཏཱར"):
        label_pool("tha_Thai", SmpqaOptions(label_files=[str(f)]))
    f.write_text("\n".join(["แมว", "สุนัข", "ช้าง"]) + "\n", encoding="utf-8")
    with pytest.raises(SmpqaError, match="only 3 usable labels"):
        generate_smpqa(["tha_Thai"], tmp_path / "out", options=SmpqaOptions(label_files=[str(f)]), progress=False)
    assert not (tmp_path / "out").exists()                     # checked before anything is written


def test_smpqa_shards_index_and_determinism(tmp_path):
    opts = SmpqaOptions(per_kind=2, **SMALL)
    a = generate_smpqa(["deu_Latn", "arb_Arab"], tmp_path / "a", seed=1, options=opts, progress=False)
    b = generate_smpqa(["arb_Arab", "deu_Latn"], tmp_path / "b", seed=1, options=opts, progress=False)
    for lang in ("deu_Latn", "arb_Arab", "eng_Latn"):
        (sa,), (sb,) = a["languages"][lang]["shards"], b["languages"][lang]["shards"]
        assert hashlib.sha256((tmp_path / "a" / sa).read_bytes()).digest() == \
            hashlib.sha256((tmp_path / "b" / sb).read_bytes()).digest()
    assert a["languages"]["arb_Arab"]["questions"] == {READING: 20, GROUNDING: 32}
    assert a["prompt"] == "{QUESTION}\nAnswer the question using a single word or phrase."
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["counts"]["total"] == 24 and manifest["counts"]["by_task"] == {READING: 12, GROUNDING: 12}
    assert index["control_lang"] == "eng_Latn"
    rows = read_smpqa(tmp_path / "a", ["arb_Arab"])
    assert len({r["id"] for r in rows}) == len(rows) == 8
    r = next(r for r in rows if r["task"] == GROUNDING)
    m = meta_of(r)
    assert r["messages"][0]["content"].startswith("<image>\n") and r["messages"][0]["content"].endswith(PROMPT_SUFFIX)
    assert [x["answer"] for x in m["questions"]] == [x["content"] for x in r["messages"][1::2]]
    assert all(l in m["labels"] or l == m["absent_label"]
               for q in m["questions"] for l in [q["question"].split("'")[1]])
    with pytest.raises(SmpqaError, match="no SMPQA data for"):
        read_smpqa(tmp_path / "a", ["tha_Thai"])


def test_cli_smpqa(tmp_path):
    from mixkit.cli import app

    res = CliRunner().invoke(app, ["smpqa", "--langs", "hin_Deva", "--out", str(tmp_path), "--per-lang", "2",
                                   "--width", "320,320", "--no-control"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "hin_Deva" in res.output and json.loads((tmp_path / "index.json").read_text())["languages"].keys() == {"hin_Deva"}
    res = CliRunner().invoke(app, ["smpqa", "--langs", "xx_nope", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown language" in res.output


def test_scoring_exact_match_and_fidelity_with_real_lid():
    from mixkit.evaluation.fidelity import score_fidelity
    from mixkit.evaluation.harness import score_smpqa

    items = {"deu_Latn": [{"task": READING, "answer": "Köln", "prompt": "q"},
                          {"task": GROUNDING, "answer": "yes", "prompt": "q"},
                          {"task": GROUNDING, "answer": "no", "prompt": "q"}]}
    s = score_smpqa(items, {"deu_Latn": ["köln.", "Yes", "yes"]})
    assert s["by_lang"]["deu_Latn"]["reading"] == 1.0 and s["by_lang"]["deu_Latn"]["grounding"] == 0.5
    # relaxed accuracy as in the paper: the answer starts or ends with the label
    s = score_smpqa(items, {"deu_Latn": ["Die Antwort ist Köln.", "Yes, it is.", "Köln"]})
    d = s["by_lang"]["deu_Latn"]
    assert (d["reading"], d["reading_relaxed"]) == (0.0, 1.0) and (d["grounding"], d["grounding_relaxed"]) == (0.0, 0.5)
    assert s["mean"]["reading_relaxed"] == 1.0
    from mixkit.evaluation.harness import relaxed_match
    assert relaxed_match("Köln", "Köln") and not relaxed_match("In Köln liegt es", "Köln")
    assert not relaxed_match("", "no") and not relaxed_match("anything", "")
    answers = {"deu_Latn": ["Ein Hund läuft über eine grüne Wiese neben dem Haus.",
                            "A dog runs across a green meadow next to the house."],
               "zul_Latn": ["Inja igijima otshanini eduze kwendlu enkulu."]}
    prompts = {"deu_Latn": ("Beschreibe das Bild.", "native"), "zul_Latn": ("Briefly describe the image in Zulu.", "named")}
    f = score_fidelity(["deu_Latn"], answers, prompts)
    assert f["by_lang"]["deu_Latn"]["fidelity"] == 0.5 and f["by_lang"]["deu_Latn"]["checked"]
    assert f["mean"] == 0.5 and f["unchecked"] == []

    # a language the check cannot judge is reported as unchecked, never as 0 or 1
    from mixkit.lang.lid import LanguageIdentifier

    class NoZulu(LanguageIdentifier):
        def can_check(self, code):
            return code != "zul_Latn" and super().can_check(code)

    f = score_fidelity(["deu_Latn", "zul_Latn"], answers, prompts, lid=NoZulu())
    assert f["by_lang"]["zul_Latn"]["fidelity"] is None and f["unchecked"] == ["zul_Latn"] and f["mean"] == 0.5


@pytest.mark.slow
def test_mixkit_eval_on_a_tiny_trained_checkpoint(tmp_path):
    from mixkit.cli import app
    from mixkit.train import load_config, train
    from mixkit.train.tiny import write_tiny_shards

    write_tiny_shards(tmp_path / "shards", n=40, samples_per_shard=20)
    cfg = load_config(ROOT / "configs" / "tiny.yaml")
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every, cfg.data.num_workers = 3, 1, 100, 0
    summary = train(cfg, shards=str(tmp_path / "shards" / "*.tar"), out_dir=str(tmp_path / "run"), resume=False)
    final = summary["final_dir"]
    data = tmp_path / "smpqa"
    generate_smpqa(["deu_Latn", "tha_Thai"], data, options=SmpqaOptions(per_kind=1, **SMALL), progress=False)
    out = tmp_path / "res.json"
    res = CliRunner().invoke(app, ["eval", final, "--suite", "all", "--langs", "deu_Latn,tha_Thai,zul_Latn",
                                   "--data", str(data), "--json", str(out), "--max-samples", "4",
                                   "--max-new-tokens", "6", "--device", "cpu"], env={"COLUMNS": "200"})
    # zul_Latn has no SMPQA set in --data: a clear error, not a crash
    assert res.exit_code == 2 and "no SMPQA data for ['zul_Latn']" in res.output
    res = CliRunner().invoke(app, ["eval", final, "--suite", "all", "--langs", "deu_Latn,tha_Thai",
                                   "--data", str(data), "--json", str(out), "--max-samples", "4",
                                   "--max-new-tokens", "6", "--device", "cpu"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "SMPQA exact-match accuracy" in res.output and "Language fidelity" in res.output
    r = json.loads(out.read_text())
    for lang in ("deu_Latn", "tha_Thai"):
        s = r["smpqa"]["by_lang"][lang]
        assert s["n_reading"] == 2 and s["n_grounding"] == 2 and 0 <= s["reading"] <= 1 and 0 <= s["grounding"] <= 1
        f = r["fidelity"]["by_lang"][lang]
        assert f["checked"] and f["n"] == 4 and 0 <= f["fidelity"] <= 1
    assert r["fidelity"]["by_lang"]["deu_Latn"]["prompt_kind"] == "native"
    assert r["fidelity"]["by_lang"]["tha_Thai"]["prompt"] == "Briefly describe the image in Thai."
    # the Python API: fidelity only (every language has a language check)
    from mixkit.evaluation import evaluate
    r2 = evaluate(final, suite="fidelity", langs=["zul_Latn"], max_samples=2, max_new_tokens=4, progress=False)
    assert r2["fidelity"]["by_lang"]["zul_Latn"]["n"] == 2 and "smpqa" not in r2


@pytest.mark.slow
def test_eval_runs_a_multiscale_checkpoint(tmp_path):
    """A multi-scale final/ (projector wider than Llava's own) evaluates with its global view + tiles."""
    from mixkit.evaluation import evaluate
    from mixkit.evaluation.harness import _multiscale_views, load_model
    from mixkit.train import load_config, train
    from mixkit.train.tiny import write_tiny_shards

    write_tiny_shards(tmp_path / "shards", n=24, samples_per_shard=12)
    cfg = load_config(ROOT / "configs" / "tiny-multiscale.yaml")
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every, cfg.data.num_workers = 2, 1, 100, 0
    final = train(cfg, shards=str(tmp_path / "shards" / "*.tar"), out_dir=str(tmp_path / "run"), resume=False)["final_dir"]
    model, processor = load_model(final, device="cpu")
    views = _multiscale_views(model, processor)
    assert views is not None and views.n_views == 5
    from PIL import Image

    assert tuple(views(Image.new("RGB", (50, 30))).shape[:2]) == (5, 3)
    r = evaluate(final, suite="fidelity", langs=["deu_Latn"], max_samples=2, max_new_tokens=4, progress=False)
    assert r["fidelity"]["by_lang"]["deu_Latn"]["n"] == 2
