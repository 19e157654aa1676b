"""CTranslate2 backend (optional extra `ctranslate2`): the same NLLB checkpoint, converted once
with `ctranslate2.converters.TransformersConverter` and run by `ctranslate2.Translator`
(int8 on CPU, int8_float16 on GPU by default).

Tokenisation, language-code checks, batching by token budget, OOM back-off and the budget /
truncation rules are those of TransformersBackend (inherited); only model loading and
generation differ. PITFALLS (ctranslate2 4.8.5): translate_batch defaults to beam 2 (we always
pass beam_size); min/max_decoding_length count the target-language prefix token; the converter
pads the vocabulary with `madeupwordN` (mapped to <unk> here); it loads a tokenizer from the
model folder.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from translation.backends import Result, TransformersBackend, TranslationModelError, _load_error, token_budget
from translation.options import TranslateOptions


def _import_ct2():
    try:
        import ctranslate2
    except ImportError as e:
        raise TranslationModelError(
            "backend 'ctranslate2' needs the ctranslate2 package: `pip install ctranslate2` "
            "(or use backend: transformers)") from e
    return ctranslate2


def resolve_compute_type(options: TranslateOptions, device: str) -> str:
    ct = options.ct2_compute_type
    if ct == "auto":
        ct = "int8_float16" if device == "cuda" else "int8"
    return ct


def converted_dir(options: TranslateOptions, compute_type: str) -> Path:
    """Where the converted model lives: `<model>-ct2-<type>` beside a local checkpoint, or
    `<cache_dir>/../ct2_models/<id>-ct2-<type>` for a hub id (one conversion, then reused)."""
    p = Path(options.model)
    if p.is_dir():
        return p.parent / f"{p.name}-ct2-{compute_type}"
    if not options.cache_dir:
        raise TranslationModelError(
            f"backend 'ctranslate2' with hub id {options.model!r} needs a cache_dir to hold the converted "
            "model; set steps.translate.cache_dir or point model at a local checkpoint directory")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "--", options.model)
    return Path(options.cache_dir).resolve().parent / "ct2_models" / f"{safe}-ct2-{compute_type}"


def ensure_converted(options: TranslateOptions, compute_type: str) -> Path:
    """Convert the transformers checkpoint once; concurrent workers (Ray actors on a shared path)
    each convert into a temp folder and the first rename wins, so nobody reads a half-written model."""
    target = converted_dir(options, compute_type)
    if (target / "model.bin").exists():
        return target
    _import_ct2()
    from ctranslate2.converters import TransformersConverter

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # weights stored in the compute type's precision (int8 files are 4x smaller than float32)
        TransformersConverter(options.model).convert(str(tmp / "m"), quantization=compute_type, force=True)
        try:
            os.rename(tmp / "m", target)
        except OSError:
            if not (target / "model.bin").exists():
                raise
    except TranslationModelError:
        raise
    except Exception as e:   # noqa: BLE001 - hub/network/format errors of the converter
        raise _load_error(options.model, e) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class CTranslate2Backend(TransformersBackend):
    def __init__(self, options: TranslateOptions):
        super().__init__(options)
        self.compute_type = None
        self.model_dir = None

    def _pick_device(self) -> str:
        ct2 = _import_ct2()
        dev = self.options.device
        if dev == "auto":
            dev = "cuda" if ct2.get_cuda_device_count() > 0 else "cpu"
        return dev

    def load_model(self):
        if self.model is not None:
            return self.model
        ct2 = _import_ct2()
        self.load_tokenizer()
        dev = self._pick_device()
        ct = resolve_compute_type(self.options, dev)
        if ct not in ct2.get_supported_compute_types(dev):
            raise TranslationModelError(
                f"ct2_compute_type {ct!r} is not supported on {dev} here "
                f"(supported: {sorted(ct2.get_supported_compute_types(dev))})")
        self.model_dir = ensure_converted(self.options, ct)
        # one OpenMP thread per CPU the worker was given (TranslateStage.threads; Ray reserves that many)
        threads = max(1, int(getattr(self, "threads", 1)))
        try:
            self.model = ct2.Translator(str(self.model_dir), device=dev, compute_type=ct,
                                        inter_threads=1, intra_threads=threads)
        except Exception as e:   # noqa: BLE001
            raise TranslationModelError(f"could not load the converted model at {self.model_dir}: {e}") from e
        self.device, self.compute_type = dev, ct
        self.stats.model_loads += 1
        return self.model

    def _generate(self, ids: list[list[int]], tgt_langs: list[str], gen=None) -> list[Result]:
        model = self.load_model()
        tok = self.tok
        gen = gen or self.options.generation
        budgets = [token_budget(len(x), gen) for x in ids]
        # +1: ctranslate2 counts the target-language prefix in the decoding length
        max_len = max(budgets) + 1
        kwargs = dict(beam_size=gen.num_beams, repetition_penalty=gen.repetition_penalty,
                      no_repeat_ngram_size=gen.no_repeat_ngram_size, length_penalty=gen.length_penalty,
                      max_decoding_length=max_len, max_input_length=0, return_end_token=True)
        if gen.fixed_new_tokens:
            kwargs["min_decoding_length"] = gen.fixed_new_tokens + 1
        for l in set(tgt_langs):
            self.code_id(l)                          # clear error for a code the tokenizer lacks
        source = [tok.convert_ids_to_tokens(x) for x in ids]
        self.stats.model_calls += 1
        self.stats.tokens_in += sum(len(x) for x in ids)
        self.stats.padded_tokens += len(ids) * max(len(x) for x in ids)
        res = model.translate_batch(source, target_prefix=[[l] for l in tgt_langs], **kwargs)
        eos, unk = tok.eos_token, tok.unk_token_id
        results = []
        for r, lang, budget in zip(res, tgt_langs, budgets):
            body = list(r.hypotheses[0])
            if body and body[0] == lang:
                body = body[1:]
            if gen.fixed_new_tokens:
                body, truncated = [t for t in body if t != eos][:budget], False
            elif eos in body and body.index(eos) + 1 <= budget:
                body, truncated = body[:body.index(eos)], False
            else:                                    # hit its budget: never keep a cut translation
                body, truncated = body[:budget], True
            # output tokens through the tokenizer; converter padding (madeupwordN) becomes <unk>
            out_ids = [i if i is not None else unk for i in tok.convert_tokens_to_ids(body)]
            self.stats.tokens_out += len(out_ids)
            results.append(Result(tok.decode(out_ids, skip_special_tokens=True).strip(), truncated, len(out_ids)))
        return results
