"""SMPQA-style generation (plots, questions, labels, coverage, shards) and the evaluation harness
(SMPQA accuracy + language fidelity) on a tiny model trained here."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixkit import languages
from mixkit.evaluation.smpqa import (GROUNDING, PROMPT_SUFFIX, READING, SmpqaError, SmpqaOptions, coverage_report,
                                     generate_smpqa, label_pool, normalize_answer, plot_labels, plot_specs, questions,
                                     read_smpqa)
from mixkit.schema import meta_of

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
    # every label that any of the 100 plots would use, in every language, through ocr_synth.fonts.renderable
    rep = coverage_report("all")
    assert len(rep) == 100 and set(rep) == {l.code for l in languages.centurio_languages()}
    assert {c: v["failing"] for c, v in rep.items() if v["failing"]} == {}
    assert min(v["labels"] for v in rep.values()) >= 35        # 100 plots x 4-8 labels drawn from a real pool (ssw: 39)
    assert rep["bod_Tibt"]["source"].startswith("cldr:") and rep["tgl_Latn"]["source"] == "cldr:fil"


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
    answers = {"deu_Latn": ["Ein Hund läuft über eine grüne Wiese neben dem Haus.",
                            "A dog runs across a green meadow next to the house."],
               "zul_Latn": ["Inja igijima otshanini."]}
    prompts = {"deu_Latn": ("Beschreibe das Bild.", "native"), "zul_Latn": ("Briefly describe the image in Zulu.", "named")}
    f = score_fidelity(["deu_Latn", "zul_Latn"], answers, prompts)
    assert f["by_lang"]["deu_Latn"]["fidelity"] == 0.5 and f["by_lang"]["deu_Latn"]["checked"]
    assert f["by_lang"]["zul_Latn"]["fidelity"] is None and f["unchecked"] == ["zul_Latn"]
    assert f["mean"] == 0.5


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
    # the Python API: fidelity only, a language LID cannot check is reported as unchecked
    from mixkit.evaluation import evaluate
    r2 = evaluate(final, suite="fidelity", langs=["zul_Latn"], max_samples=2, max_new_tokens=4, progress=False)
    assert r2["fidelity"]["unchecked"] == ["zul_Latn"] and "smpqa" not in r2
