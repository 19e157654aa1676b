"""The translation stage on the real transformers code path, with a tiny random NLLB checkpoint
built locally (tests/tiny_nllb.py). Random weights produce junk: tests assert structure,
rejections, caching and NLLB mechanics, not translation quality."""
from __future__ import annotations

import json
import pickle

import pyarrow.parquet as pq
import pytest

from mixkit.core.schema import IMAGE_TOKEN, make_row, meta_of, rows_to_table
from tiny_nllb import tiny_nllb_path
from translation.backends import TransformersBackend, TranslationModelError
from translation.options import TranslateOptions
from translation.files import translate_file
from translation.stage import TranslateStage, collect_stats


@pytest.fixture(scope="session")
def model_dir():
    return str(tiny_nllb_path())


def row(i, messages, lang="swh_Latn", src="eng_Latn"):
    return make_row(source="t", origin_id=str(i), task="instruct", lang=lang, messages=messages,
                    images=[b"\xff\xd8\xff fake"], meta={"translate_from": src})


def conv(*turns):
    return [{"role": r, "content": c} for r, c in turns]


TRICKY = [
    conv(("user", "<image>\nDescribe the image in detail."), ("assistant", "A dog runs across a green field.")),
    conv(("user", "<image>\nQuestion: How many birds are on the branch?\nOptions:\nA. one\nB. two\nC. three\n"
                  "Answer with the option's letter from the given choices directly."), ("assistant", "B")),
    conv(("user", "<image><image>\nCompare the two pictures.  Which is bigger?"), ("assistant", "The left one.")),
    conv(("user", "<image>\nWhat is written on the sign?"), ("assistant", "42")),
    conv(("system", "You are a helpful assistant."), ("user", "<image>\nIs this a good place to swim?"),
         ("assistant", "Yes"), ("user", "Why?"), ("assistant", "The water is calm and clear.")),
    conv(("user", "<image>\nVisit https://example.com/museum?id=7 for details. What do you see?"),
         ("assistant", "## Summary\n1. A red barn.\n- **Two** people at a table.\n```\nx = 3\n```\nUse `grep -r` to search.")),
    conv(("user", "Read the table.\n| Item | Price |\n|---|---|\n| Apples | 3 |\n<image>"),
         ("assistant", "Apples cost 3 dollars; oranges cost 5 dollars.")),
    conv(("user", "<image>\n\n\nDescribe it.\n"), ("assistant", "(C)")),
]


def test_tiny_tokenizer_maps_every_code(model_dir):
    from transformers import AutoTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = [tok.convert_tokens_to_ids(c) for c in FAIRSEQ_LANGUAGE_CODES]
    assert tok.unk_token_id not in ids and len(set(ids)) == len(ids)
    assert tok.unk_token_id not in tok("What color is the car?")["input_ids"]


def test_forced_bos_and_mixed_language_batches(model_dir):
    b = TransformersBackend(TranslateOptions(model=model_dir, generation={"max_new_tokens": 8}))
    tok = b.load_tokenizer()
    seen = []
    model = b.load_model()
    real = model.generate

    def spy(**kw):
        out = real(**kw)
        seen.append((kw, out))
        return out
    model.generate = spy
    texts = ["A dog runs.", "Two cats sleep on the sofa.", "What color is the car?"]
    one = b.translate(texts, "eng_Latn", ["hin_Deva"] * 3)
    kw, out = seen[-1]
    assert kw["forced_bos_token_id"] == tok.convert_tokens_to_ids("hin_Deva")
    assert (out[:, 1] == tok.convert_tokens_to_ids("hin_Deva")).all()
    assert kw["max_new_tokens"] >= 8
    # mixed targets in one batch decode like one batch per language
    mixed = b.translate(texts, "eng_Latn", ["hin_Deva", "swh_Latn", "hin_Deva"])
    kw, out = seen[-1]
    prefix = kw["decoder_input_ids"]
    assert (out[:, :2] == prefix).all() and tok.convert_tokens_to_ids("swh_Latn") in prefix[:, 1].tolist()
    sw = b.translate([texts[1]], "eng_Latn", ["swh_Latn"])
    assert [m.text for m in mixed] == [one[0].text, sw[0].text, one[2].text]
    assert b.stats.model_loads == 1


def test_tricky_cases_keep_structure(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir, checks={"enabled": False}, generation={"max_new_tokens": 12})
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "cache"))
    fed = []
    stage.setup()
    real = stage._backend.translate
    stage._backend.translate = lambda texts, s, t, **kw: fed.extend(texts) or real(texts, s, t, **kw)
    rows = [row(i, m, lang) for i, m in enumerate(TRICKY) for lang in ("swh_Latn", "hin_Deva", "zho_Hans")]
    out = stage.run(rows)
    assert not out.rejected and len(out.kept) == len(rows)
    for src, dst in zip(rows, out.kept):
        assert dst["id"] == src["id"] and dst["images"] == src["images"] and dst["lang"] == src["lang"]
        assert [m["role"] for m in dst["messages"]] == [m["role"] for m in src["messages"]]
        for a, b in zip(src["messages"], dst["messages"]):
            assert b["content"].count(IMAGE_TOKEN) == a["content"].count(IMAGE_TOKEN)
            assert b["content"].count("\n") == a["content"].count("\n")
            for keep in ("https://example.com/museum?id=7", "`grep -r`", "```\nx = 3\n```", "\nA. ", "\nB. ",
                         "\nC. ", "## ", "\n1. ", "|---|---|", "| 3 |"):
                assert a["content"].count(keep) == b["content"].count(keep), (keep, b["content"])
            # emphasis inside a sentence: back around the same words, or dropped and counted
            lost = a["content"].count("**") - b["content"].count("**")
            assert lost % 2 == 0 and lost // 2 <= meta_of(dst).get("emphasis_dropped", 0)
        fixed = {"B", "42", "(C)"}
        if src["messages"][-1]["content"] in fixed:
            assert dst["messages"][-1]["content"] == src["messages"][-1]["content"]
        meta = meta_of(dst)
        assert meta["translated_by"] == model_dir and meta["translate_from"] == "eng_Latn"
    # the model never sees structure: no placeholders, newlines, URLs, code or option letters
    assert fed and all("<" not in t and "\n" not in t and "http" not in t and "`" not in t for t in fed)
    assert "B" not in fed and "42" not in fed


def test_junk_rejected_and_second_run_all_cache_hits(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir)
    rows = [row(i, m, lang) for i, m in enumerate(TRICKY[:4]) for lang in ("swh_Latn", "hin_Deva")]
    first = TranslateStage(opts, cache_dir=str(tmp_path / "c"))
    out1 = first.run(rows)
    # random weights never emit </s>: every row is rejected, none kept cut short
    assert not out1.kept and {r["reason"] for r in out1.rejected} == {"output_truncated"}
    assert {r["step"] for r in out1.rejected} == {"translate"}
    s1 = first.stats()
    assert s1["model_calls"] >= 1 and s1["cache_hits"] == 0 and s1["tokens_out"] > 0
    second = TranslateStage(opts, cache_dir=str(tmp_path / "c"))
    out2 = second.run(rows)
    s2 = second.stats()
    assert s2["model_calls"] == 0 and s2["model_loads"] == 0 and s2["cache_hits"] == s1["unique_segments"]
    assert [r["reason"] for r in out2.rejected] == [r["reason"] for r in out1.rejected]


def test_checks_on_real_outputs_with_budget(model_dir, tmp_path):
    # generous budget: the junk is judged by the content checks (repetition / script)
    opts = TranslateOptions(model=model_dir, generation={"fixed_new_tokens": 40})
    out = TranslateStage(opts, cache_dir=str(tmp_path / "c")).run(
        [row(0, TRICKY[0], "hin_Deva"), row(1, TRICKY[0], "swh_Latn")])
    reasons = {r["lang"]: r["reason"] for r in out.rejected}
    assert not out.kept
    assert set(reasons.values()) <= {"repetition_loop", "wrong_language", "length_ratio"}
    assert reasons["hin_Deva"] in {"repetition_loop", "wrong_language"}


def test_oom_halves_batch_and_retries(model_dir, tmp_path):
    import torch

    texts = [f"The {i} red houses stand near the river." for i in range(8)]
    ref = TransformersBackend(TranslateOptions(model=model_dir, generation={"max_new_tokens": 6}))
    expected = [r.text for r in ref.translate(texts, "eng_Latn", ["swh_Latn"] * 8)]
    b = TransformersBackend(TranslateOptions(model=model_dir, generation={"max_new_tokens": 6}))
    real = b._generate

    def flaky(ids, langs, gen=None):
        if len(ids) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ids, langs, gen)
    b._generate = flaky
    got = [r.text for r in b.translate(texts, "eng_Latn", ["swh_Latn"] * 8)]
    assert got == expected and b.stats.oom_retries == 3       # 8 -> 4+4 -> 2+2+2+2


def test_unsplittable_segment_rejected_not_truncated(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir, max_input_tokens=16, checks={"enabled": False},
                            generation={"max_new_tokens": 6})
    long_clauses = "A dog runs, a cat sleeps, a bird sings, two people drink coffee, the car is red."
    unsplittable = "Thequickbrownfoxjumpsoverthelazydogandkeepsrunningacrossthefield for hours."
    out = TranslateStage(opts, cache_dir=str(tmp_path / "c")).run(
        [row(0, conv(("user", long_clauses))), row(1, conv(("user", unsplittable)))])
    assert len(out.kept) == 1 and out.kept[0]["origin_id"] == "0"
    assert meta_of(out.kept[0])["translation_segments"] > 1
    assert [r["reason"] for r in out.rejected] == ["segment_too_long"]


def test_language_code_errors(model_dir, tmp_path):
    b = TransformersBackend(TranslateOptions(model=model_dir))
    with pytest.raises(TranslationModelError, match="xyz_Latn"):
        b.code_id("xyz_Latn")
    out = TranslateStage(TranslateOptions(model=model_dir), cache_dir=str(tmp_path)).run([row(0, TRICKY[0], "lat_Latn")])
    assert out.rejected[0]["reason"] == "unsupported_language" and "NLLB" in out.rejected[0]["detail"]


def test_offline_hub_id_says_use_local_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    b = TransformersBackend(TranslateOptions(model="mixkit-test/no-such-nllb"))
    with pytest.raises(TranslationModelError, match="local path"):
        b.load_model()


def test_stage_pickles_and_worker_stats(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir, checks={"enabled": False}, generation={"max_new_tokens": 6, "retry": False})
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "c"), stats_dir=str(tmp_path / "stats"))
    stage.run([row(0, TRICKY[0])])
    clone = pickle.loads(pickle.dumps(stage))          # what Ray ships to an actor: no model inside
    assert clone._backend is None
    clone.run([row(1, TRICKY[2])])
    total = collect_stats(tmp_path / "stats")
    assert total["rows_in"] == 2 and total["model_calls"] == 2 and total["model_loads"] == 2


def test_translate_file_and_cli(model_dir, tmp_path):
    import typer
    from typer.testing import CliRunner

    from mixkit.cli.translate import register

    src = tmp_path / "in.parquet"
    rows = [make_row(source="s", origin_id=str(i), task="caption", lang="eng_Latn", messages=m)
            for i, m in enumerate(TRICKY[:3])]
    pq.write_table(rows_to_table(rows), src)
    opts = TranslateOptions(model=model_dir, checks={"enabled": False}, generation={"max_new_tokens": 6})
    res = translate_file(str(src), ["swh_Latn", "hi"], str(tmp_path / "out"), opts)
    assert res["rows_in"] == 3 and res["kept"] == 6 and res["by_lang"] == {"hin_Deva": 3, "swh_Latn": 3}
    got = pq.read_table(tmp_path / "out" / "translated.parquet").to_pylist()
    assert {r["lang"] for r in got} == {"swh_Latn", "hin_Deva"} and len({r["id"] for r in got}) == 6
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["translate", str(src), "--langs", "swh_Latn", "--out", str(tmp_path / "cli"),
                                 "--model", model_dir])
    assert r.exit_code == 0, r.output
    assert "3 input rows" in r.output and (tmp_path / "cli" / "rejects.parquet").exists()
    r = CliRunner().invoke(app, ["translate", str(src), "--langs", "lat_Latn", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 1 and "no NLLB-200 language code" in r.output


def test_demo_phrasebook_cache_zero_model_calls(tmp_path):
    from translation.demo_cache import DEMO_MODEL, seed_cache_from_phrasebook

    book = tmp_path / "phrasebook.jsonl"
    pairs = [("Describe the image in detail.", "spa_Latn", "Describe la imagen en detalle."),
             ("A dog runs across a green field.", "spa_Latn", "Un perro corre por un campo verde."),
             ("Describe the image in detail.", "rus_Cyrl", "Опишите изображение подробно."),
             ("A dog runs across a green field.", "rus_Cyrl", "Собака бежит по зелёному полю.")]
    book.write_text("".join(json.dumps({"english": e, "lang": l, "translation": t}, ensure_ascii=False) + "\n"
                            for e, l, t in pairs), encoding="utf-8")
    opts = TranslateOptions(model=DEMO_MODEL)
    assert seed_cache_from_phrasebook(str(book), str(tmp_path / "cache"), opts) == 4
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "cache"))
    out = stage.run([row(0, TRICKY[0], "spa_Latn"), row(0, TRICKY[0], "rus_Cyrl")])
    assert not out.rejected, out.rejected
    assert out.kept[0]["messages"][0]["content"] == "<image>\nDescribe la imagen en detalle."
    assert out.kept[1]["messages"][1]["content"] == "Собака бежит по зелёному полю."
    assert stage.stats()["model_calls"] == 0 and stage.stats()["cache_hits"] == 4
    with pytest.raises(TranslationModelError, match="arb_Arab"):
        TranslateStage(opts, cache_dir=str(tmp_path / "cache")).run([row(0, TRICKY[0], "arb_Arab")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"english": "<image>\nTwo sentences. Here.", "lang": "spa_Latn", "translation": "x"}) + "\n")
    with pytest.raises(ValueError, match="not one translatable segment"):
        seed_cache_from_phrasebook(str(bad), str(tmp_path / "cache2"), opts)


DEMO = __import__("pathlib").Path(__file__).resolve().parents[1] / "recipes" / "demo_data"


@pytest.mark.skipif(not (DEMO / "phrasebook.jsonl").exists(), reason="demo data not generated")
def test_demo_captions_fully_covered_by_phrasebook(tmp_path):
    """Every prose segment of the bundled English captions is a phrasebook sentence: the demo's
    translated languages build with no weights and no model call."""
    from mixkit.core.schema import make_id, with_meta
    from mixkit.sources import read_source_file
    from translation.demo_cache import DEMO_MODEL, seed_cache_from_phrasebook

    rows = [r for rs, _ in read_source_file(str(DEMO / "captions_en.parquet"), source="captions", format="parquet",
                                            task="caption") for r in rs][:150]
    opts = TranslateOptions(model=DEMO_MODEL)
    assert seed_cache_from_phrasebook(str(DEMO / "phrasebook.jsonl"), str(tmp_path), opts) > 0
    work = [with_meta(dict(r, lang=l, id=make_id(r["source"], r["origin_id"], l, r["task"])), translate_from="eng_Latn")
            for r in rows for l in ("spa_Latn", "rus_Cyrl", "arb_Arab")]
    stage = TranslateStage(opts, cache_dir=str(tmp_path))
    out = stage.run(work)
    assert not out.rejected and len(out.kept) == len(work)
    assert stage.stats()["model_calls"] == 0 and stage.stats()["model_loads"] == 0


# -- issue 15: protected spans, loops, short answers, cache key ---------------------------------

from test_translation_corpus import CORPUS, corpus_rows   # noqa: E402


def test_tiny_model_keeps_every_protected_span_byte_identical(model_dir, tmp_path):
    """Random weights never copy a placeholder: every unit with spans takes the fallback (cut at
    its spans) and the spans still come back byte for byte."""
    opts = TranslateOptions(model=model_dir, checks={"enabled": False}, generation={"max_new_tokens": 8, "retry": False})
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "c"))
    rows = corpus_rows("swh_Latn")
    out = stage.run(rows)
    assert not out.rejected and len(out.kept) == len(rows)
    for (conv_, protected, _), src, dst in zip(CORPUS, rows, out.kept):
        for a, b in zip(src["messages"], dst["messages"]):
            assert b["content"].count("\n") == a["content"].count("\n") and b["content"].count("\r") == a["content"].count("\r")
            for p in protected:
                assert b["content"].count(p) == a["content"].count(p), (p, b["content"])
    assert stage.stats()["fallback_units"] > 0


class Scripted(TransformersBackend):
    """The tiny model's tokenizer with scripted outputs: `fn(text, generation) -> output`."""

    def __init__(self, options, fn):
        super().__init__(options)
        self.fn, self.calls = fn, []

    def translate(self, texts, src_lang, tgt_langs, on_result=None, generation=None):
        from translation.backends import Result

        gen = generation or self.options.generation
        self.calls.append((list(texts), gen))
        self.stats.model_calls += 1
        out = [Result(self.fn(t, gen), False, 3) for t in texts]
        for i, r in enumerate(out):
            if on_result:
                on_result(i, r)
        return out


def scripted_stage(model_dir, tmp_path, fn, **opts):
    stage = TranslateStage(TranslateOptions(model=model_dir, **opts), cache_dir=str(tmp_path / "c"))
    stage.setup()
    stage._backend = Scripted(stage.options, fn)
    return stage


def test_placeholders_copied_keep_the_sentence_whole(model_dir, tmp_path):
    # a model that copies [k] (what NLLB is asked to do): one unit, no fallback, spans in place
    fn = lambda t, g: t.replace("Use", "Tumia").replace("to search the files", "kutafuta faili")  # noqa: E731
    stage = scripted_stage(model_dir, tmp_path, fn, checks={"enabled": False})
    out = stage.run([row(0, conv(("user", "Use `grep -r` to search the files.")))])
    assert out.kept[0]["messages"][0]["content"] == "Tumia `grep -r` kutafuta faili."
    assert stage._backend.calls[0][0] == ["Use [1] to search the files."] and stage.stats()["fallback_units"] == 0


LOOPS = {
    "fra_Latn": "le chat noir dort sur le canapé " * 4,
    "tha_Thai": "สุนัขวิ่งข้ามทุ่งหญ้า" * 3,
    "deu_Latn": " ".join("der kleine Hund läuft schnell über die grüne Wiese neben der alten roten Scheune am "
                         "Fluss und bellt".split()[:20]) * 2,
}


@pytest.mark.parametrize("lang", sorted(LOOPS))
def test_loops_retried_with_stronger_settings_then_rejected(model_dir, tmp_path, lang):
    stage = scripted_stage(model_dir, tmp_path, lambda t, g: LOOPS[lang])
    out = stage.run([row(0, TRICKY[0], lang)])
    assert [r["reason"] for r in out.rejected] == ["repetition_loop"]
    gens = [g for _, g in stage._backend.calls]
    assert len(gens) == 2 and gens[0].no_repeat_ngram_size == 0
    assert gens[1].no_repeat_ngram_size == 4 and gens[1].repetition_penalty == 1.3 and not gens[1].retry
    assert stage.stats()["retried_segments"] == 2


def test_loop_fixed_by_the_retry_is_kept_and_cached(model_dir, tmp_path):
    good = {"Describe the image in detail.": "Eleza picha kwa undani.",
            "A dog runs across a green field.": "Mbwa anakimbia katika shamba la kijani."}
    fn = lambda t, g: good[t] if g.no_repeat_ngram_size else "mbwa mbwa mbwa mbwa mbwa mbwa mbwa"  # noqa: E731
    stage = scripted_stage(model_dir, tmp_path, fn, checks={"lid_threshold": 1.0})
    out = stage.run([row(0, TRICKY[0], "swh_Latn")])
    assert not out.rejected, out.rejected
    assert out.kept[0]["messages"][1]["content"] == "Mbwa anakimbia katika shamba la kijani."
    again = scripted_stage(model_dir, tmp_path, fn, checks={"lid_threshold": 1.0})
    assert again.run([row(0, TRICKY[0], "swh_Latn")]).kept[0]["messages"] == out.kept[0]["messages"]
    assert again._backend.calls == []                      # both passes came from the cache


def test_retry_uses_repetition_settings_in_generate(model_dir, tmp_path):
    stage = TranslateStage(TranslateOptions(model=model_dir, generation={"max_new_tokens": 6}), cache_dir=str(tmp_path))
    stage.setup()
    model = stage._backend.load_model()
    seen, real = [], model.generate
    model.generate = lambda **kw: seen.append(kw) or real(**kw)
    stage.run([row(0, conv(("user", "A dog runs across a green field.")))])
    # random weights run to their budget: first pass, then the retry with the stronger settings
    assert [(k["no_repeat_ngram_size"], k["repetition_penalty"]) for k in seen] == [(0, 1.0), (4, 1.3)]


SW = {"Yes.": "Ndiyo.", "No.": "Hapana.", "True.": "Kweli.", "False.": "Si kweli.", "Correct.": "Sahihi.",
      "Incorrect.": "Si sahihi.", "Left.": "Kushoto.", "Right.": "Kulia.", "Up.": "Juu.", "Down.": "Chini.",
      "Top.": "Juu kabisa.", "Bottom.": "Chini kabisa.", "None.": "Hakuna.", "Both.": "Zote mbili.",
      "Unknown.": "Haijulikani.", "Maybe.": "Labda.",
      "Is it raining?": "Je, mvua inanyesha?", "Is the door open now?": "Je, mlango uko wazi sasa?"}


def test_short_answers_come_from_the_table_built_once(model_dir, tmp_path):
    stage = scripted_stage(model_dir, tmp_path, lambda t, g: SW[t], checks={"lid_threshold": 1.0})
    rows = [row(i, conv(("user", q), ("assistant", a)))
            for i, (q, a) in enumerate([("Is it raining?", "Yes"), ("Is the door open now?", "no."),
                                        ("Is it raining?", "YES!")])]
    out = stage.run(rows[:2]) 
    out.extend(stage.run(rows[2:]))
    assert not out.rejected, out.rejected
    assert [r["messages"][1]["content"] for r in out.kept] == ["Ndiyo", "hapana.", "NDIYO!"]
    fed = [t for texts, _ in stage._backend.calls for t in texts]
    assert fed.count("Yes.") == 1 and "Yes" not in fed and "no." not in fed      # the table, once
    assert meta_of(out.kept[0])["short_answers"] == 1


def test_inconsistent_table_entry_rejects_instead_of_guessing(model_dir, tmp_path):
    same = dict(SW, **{"No.": "Ndiyo."})                     # yes and no collapse into one word
    stage = scripted_stage(model_dir, tmp_path, lambda t, g: same[t], checks={"lid_threshold": 1.0})
    out = stage.run([row(0, conv(("user", "Is it raining?"), ("assistant", "No"))),
                     row(1, conv(("user", "Is it raining?"), ("assistant", "Maybe")))])
    assert [r["reason"] for r in out.rejected] == ["short_answer"] and "both translate to" in out.rejected[0]["detail"]
    assert out.kept[0]["messages"][1]["content"] == "Labda"


def test_native_digits_count_as_the_same_number():
    from translation.checks import OutputChecker
    from translation.options import CheckOptions

    ch = OutputChecker(CheckOptions(lid_threshold=1.0))
    src = "There are 3 dogs and 12 cats in the garden today."
    for out, tgt in (("বাগানে আজ ৩টি কুকুর এবং ১২টি বিড়াল আছে।", "ben_Beng"),
                     ("في الحديقة اليوم ٣ كلاب و ١٢ قطة.", "arb_Arab"),
                     ("आज बगीचे में ३ कुत्ते और १२ बिल्लियाँ हैं।", "hin_Deva")):
        r = ch.check([{"role": "user", "content": src}], [{"role": "user", "content": out}], [(src, out, False)], True, tgt)
        assert r.reason != "lost_placeholder", r
    bad = "বাগানে আজ ৪টি কুকুর এবং ১২টি বিড়াল আছে।"
    r = ch.check([{"role": "user", "content": src}], [{"role": "user", "content": bad}], [(src, bad, False)], True, "ben_Beng")
    assert r.reason == "lost_placeholder"


def test_cache_key_has_revision_dtype_and_compute_type(model_dir, tmp_path):
    import shutil

    from translation.stage import generation_settings, model_cache_id

    fp32 = TranslateOptions(model=model_dir, dtype="float32", device="cpu")
    bf16 = TranslateOptions(model=model_dir, dtype="bfloat16", device="cpu")
    assert generation_settings(fp32)["dtype"] == "float32" and generation_settings(bf16)["dtype"] == "bfloat16"
    assert generation_settings(TranslateOptions(model=model_dir, device="cpu"))["dtype"] == "float32"   # auto, resolved
    ct2 = TranslateOptions(model=model_dir, backend="ctranslate2", device="cpu")
    assert generation_settings(ct2)["compute_type"] == "int8"
    # a retrained checkpoint at the same path is another model
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    before = model_cache_id(TranslateOptions(model=str(copy)))
    import torch
    from safetensors.torch import load_file, save_file

    w = load_file(copy / "model.safetensors")
    k = next(iter(w))
    w[k] = w[k] + 1
    save_file(w, copy / "model.safetensors", metadata={"format": "pt"})
    assert model_cache_id(TranslateOptions(model=str(copy))) != before
    # hub ids: the pinned (or locally cached) revision is part of the identity
    assert model_cache_id(TranslateOptions(model="org/nllb", model_revision="abc123")) == "org/nllb@abc123"
    stage_a = TranslateStage(fp32, cache_dir=str(tmp_path / "k"))
    stage_b = TranslateStage(bf16, cache_dir=str(tmp_path / "k"))
    assert stage_a.caches[0].key("eng_Latn", "swh_Latn", "A dog.") != stage_b.caches[0].key("eng_Latn", "swh_Latn", "A dog.")


def test_emphasis_goes_back_around_the_translated_words(model_dir, tmp_path):
    words = {"This is very important.": "Hii ni muhimu sana.", "very": "sana",
             "The dog is black.": "Mbwa ni mweusi.", "black": "cheusi"}
    stage = scripted_stage(model_dir, tmp_path, lambda t, g: words[t], checks={"enabled": False})
    out = stage.run([row(0, conv(("user", "This is **very** important."), ("assistant", "The dog is *black*.")))])
    msgs = out.kept[0]["messages"]
    assert msgs[0]["content"] == "Hii ni muhimu **sana**."                  # found through its own translation
    assert msgs[1]["content"] == "Mbwa ni mweusi." and meta_of(out.kept[0])["emphasis_dropped"] == 1
    assert stage._backend.calls[0][0] == ["This is very important.", "The dog is black."]   # whole sentences
