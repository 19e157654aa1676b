"""The optional CTranslate2 backend on the tiny random NLLB checkpoint (tests/tiny_nllb.py):
converted once, structure preserved through TranslateStage, and in float32 with greedy (and
beam) decoding the very same outputs as the transformers backend."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from mixkit.core.schema import IMAGE_TOKEN, make_row, meta_of
from tiny_nllb import tiny_nllb_path
from translation.backends import TransformersBackend, TranslationModelError, make_backend
from translation.ct2_backend import CTranslate2Backend, converted_dir
from translation.options import TranslateOptions
from translation.stage import TranslateStage

TEXTS = ["A dog runs.", "Two cats sleep on the sofa.", "What color is the car?",
         "Describe the image in detail. Mention every object you can see.", "Yes"]


@pytest.fixture(scope="module")
def model_dir():
    return str(tiny_nllb_path())


def row(i, messages, lang):
    return make_row(source="t", origin_id=str(i), task="instruct", lang=lang, messages=messages,
                    images=[b"\xff\xd8\xff fake"], meta={"translate_from": "eng_Latn"})


CONVS = [
    [{"role": "user", "content": "<image>\nQuestion: How many birds are on the branch?\nOptions:\nA. one\nB. two\n"
                                 "Answer with the option's letter from the given choices directly."},
     {"role": "assistant", "content": "B"}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "<image><image>\nCompare the two pictures.  Which is bigger?"},
     {"role": "assistant", "content": "The left one."}, {"role": "user", "content": "Why?"},
     {"role": "assistant", "content": "## Summary\n1. A red barn.\nUse `grep -r` to search https://example.com/x?id=7"}],
]


@pytest.mark.parametrize("gen", [{"max_new_tokens": 8}, {"fixed_new_tokens": 12}, {"max_new_tokens": 6, "num_beams": 3}])
@pytest.mark.parametrize("targets", [["hin_Deva"] * 5, ["hin_Deva", "swh_Latn", "fra_Latn", "hin_Deva", "zho_Hans"]])
def test_same_outputs_as_transformers_in_float32(model_dir, gen, targets):
    hf = TransformersBackend(TranslateOptions(model=model_dir, generation=gen))
    ct = CTranslate2Backend(TranslateOptions(model=model_dir, generation=gen, ct2_compute_type="float32"))
    a = hf.translate(TEXTS, "eng_Latn", targets)
    b = ct.translate(TEXTS, "eng_Latn", targets)
    # text, truncation flag and number of generated tokens, segment by segment
    assert b == a
    assert all(r.tokens_out > 0 for r in b)
    assert ct.stats.tokens_out == hf.stats.tokens_out and ct.stats.model_calls == hf.stats.model_calls
    if "fixed_new_tokens" in gen:
        assert {r.tokens_out for r in b} == {12} and not any(r.truncated for r in b)
    else:   # random weights never emit </s>: every segment hits its budget and is flagged
        assert all(r.truncated for r in b)


def test_converted_once_and_reused(model_dir):
    opts = TranslateOptions(model=model_dir, backend="ctranslate2", device="cpu")
    b = make_backend(opts)
    assert isinstance(b, CTranslate2Backend)
    b.load_model()
    assert b.compute_type == "int8"                  # default on CPU
    target = converted_dir(opts, "int8")
    assert b.model_dir == target and target.name.endswith("-ct2-int8") and target.parent == Path(model_dir).parent
    stamp = (target / "model.bin").stat().st_mtime_ns
    again = make_backend(opts)
    again.load_model()
    assert (target / "model.bin").stat().st_mtime_ns == stamp
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]   # no temp folder left
    res = again.translate(TEXTS[:3], "eng_Latn", ["swh_Latn"] * 3)
    assert len(res) == 3 and all(r.tokens_out > 0 for r in res)


def test_stage_keeps_structure_and_caches(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir, backend="ctranslate2", checks={"enabled": False},
                            generation={"max_new_tokens": 12})
    rows = [row(i, m, lang) for i, m in enumerate(CONVS) for lang in ("swh_Latn", "hin_Deva", "zho_Hans")]
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "cache"))
    out = stage.run(rows)
    assert not out.rejected and len(out.kept) == len(rows)
    for src, dst in zip(rows, out.kept):
        assert [m["role"] for m in dst["messages"]] == [m["role"] for m in src["messages"]]
        for a, b in zip(src["messages"], dst["messages"]):
            assert b["content"].count(IMAGE_TOKEN) == a["content"].count(IMAGE_TOKEN)
            assert b["content"].count("\n") == a["content"].count("\n")
            for keep in ("\nA. ", "\nB. ", "## ", "\n1. ", "`grep -r`", "https://example.com/x?id=7"):
                assert a["content"].count(keep) == b["content"].count(keep), (keep, b["content"])
            # an option letter is kept as it is; prose goes through the model
            assert (b["content"] == "B") if a["content"] == "B" else (b["content"] != a["content"])
        assert meta_of(dst)["translated_by"] == model_dir
    s1 = stage.stats()
    assert s1["model_loads"] == 1 and s1["model_calls"] >= 1
    second = TranslateStage(opts, cache_dir=str(tmp_path / "cache"))
    out2 = second.run(rows)
    assert second.stats()["model_calls"] == 0 and second.stats()["cache_hits"] == s1["unique_segments"]
    assert [r["messages"] for r in out2.kept] == [r["messages"] for r in out.kept]


def test_clear_errors(model_dir, tmp_path, monkeypatch):
    with pytest.raises(TranslationModelError, match="cache_dir"):
        converted_dir(TranslateOptions(model="facebook/nllb-200-distilled-600M"), "int8")
    # offline hub id: the conversion fails with the 'point at a local path' message
    b = CTranslate2Backend(TranslateOptions(model="facebook/nllb-200-distilled-600M", device="cpu",
                                            cache_dir=str(tmp_path / "cache")))
    b.load_tokenizer = lambda: None
    with pytest.raises(TranslationModelError, match="local"):
        b.load_model()
    with pytest.raises(TranslationModelError, match="not supported"):
        CTranslate2Backend(TranslateOptions(model=model_dir, device="cpu", ct2_compute_type="float16")).load_model()
    import builtins

    real = builtins.__import__

    def no_ct2(name, *a, **kw):
        if name == "ctranslate2" or name.startswith("ctranslate2."):
            raise ImportError("no ctranslate2")
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_ct2)
    with pytest.raises(TranslationModelError, match="pip install ctranslate2"):
        CTranslate2Backend(TranslateOptions(model=model_dir)).load_model()


def test_retry_passes_repetition_settings_to_translate_batch(model_dir, tmp_path):
    opts = TranslateOptions(model=model_dir, backend="ctranslate2", generation={"max_new_tokens": 6})
    stage = TranslateStage(opts, cache_dir=str(tmp_path / "cache"))
    stage.setup()
    model = stage._backend.load_model()

    class Spy:                                    # ctranslate2.Translator's attributes are read-only
        def __init__(self, real):
            self.real, self.seen = real, []

        def translate_batch(self, source, **kw):
            self.seen.append(kw)
            return self.real.translate_batch(source, **kw)
    spy = stage._backend.model = Spy(model)
    out = stage.run([row(0, [{"role": "user", "content": "A dog runs across a green field."},
                             {"role": "assistant", "content": "It is sunny."}], "swh_Latn")])
    # random weights run to their budget: first pass, then one retry with the stronger settings
    assert [(k["no_repeat_ngram_size"], k["repetition_penalty"]) for k in spy.seen] == [(0, 1.0), (4, 1.3)]
    assert [r["reason"] for r in out.rejected] == ["output_truncated"]
    assert stage.caches[0].key("eng_Latn", "swh_Latn", "It is sunny.") != \
        stage.caches[1].key("eng_Latn", "swh_Latn", "It is sunny.")
