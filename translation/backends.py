"""Model backends: given prose segments, source language and a target language per segment,
return translations. Batching by token budget, OOM back-off and NLLB's quirks live here.

TransformersBackend (default) loads any NLLB/M2M100 checkpoint by hub id or local path.
CTranslate2Backend (translation.ct2_backend, optional package) runs the same checkpoint converted.
CacheOnlyBackend stands for the pseudo models (the offline demo): every miss is an error.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mixkit.lang import languages
from translation.options import PSEUDO_MODELS, TranslateOptions


class TranslationModelError(RuntimeError):
    """The model cannot be loaded or cannot translate what was asked; the message says what to do."""


@dataclass
class Result:
    text: str
    truncated: bool = False      # reached its max_new_tokens budget without </s>
    tokens_out: int = 0


@dataclass
class BackendStats:
    model_calls: int = 0         # generate() calls
    model_loads: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    oom_retries: int = 0
    padded_tokens: int = 0       # input tokens including padding (waste = padded - tokens_in)


def hub_revision(model: str, revision: str | None = None) -> str | None:
    """Commit of a hub model: the pinned revision, else the snapshot in the local Hugging Face
    cache (no network). None when neither is known."""
    if revision:
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(model, "config.json")
    except Exception:   # noqa: BLE001 - not a repo id, or no hub library
        return None
    if isinstance(path, str):
        return Path(path).parent.name          # .../snapshots/<commit>/config.json
    try:                                       # not downloaded yet: ask the hub once (no retries)
        from huggingface_hub import HfApi

        return HfApi().model_info(model, timeout=10).sha
    except Exception:   # noqa: BLE001 - offline, unknown repo
        return None


def model_fingerprint(model: str, revision: str | None = None) -> str:
    """Cache identity of a model: for a hub id `id@<commit>` (the local snapshot's, or the pinned
    revision; `id` alone before the first download), for a local directory its name plus a
    hash of its config and the size and edges of its weight files (a copy elsewhere keeps its
    cache; retrained weights do not)."""
    p = Path(model)
    if not p.is_dir():
        if model in PSEUDO_MODELS or model == "identity":
            return model
        rev = hub_revision(model, revision)
        if not rev:
            raise TranslationModelError(
                f"cannot tell which revision of {model!r} translations would come from (not in the local "
                "Hugging Face cache, hub unreachable): set steps.translate.model_revision (or --model-revision), "
                "or point model at a local checkpoint directory")
        return f"{model}@{rev}"
    h = hashlib.sha256()
    for name in sorted(os.listdir(p)):
        f = p / name
        if not f.is_file():
            continue
        if name.endswith(".json") and "config" in name or name in ("tokenizer.json", "sentencepiece.bpe.model"):
            h.update(name.encode() + f.read_bytes())
        elif name.endswith((".safetensors", ".bin")):
            size = f.stat().st_size
            with open(f, "rb") as fh:
                head = fh.read(1 << 20)
                fh.seek(max(0, size - (1 << 20)))
                tail = fh.read(1 << 20)
            h.update(f"{name}:{size}".encode() + head + tail)
    return f"local:{p.name}:{h.hexdigest()[:16]}"


def check_target(code: str) -> str:
    """Canonical code of a translation target, or a clear error (Latin has no NLLB code)."""
    lang = languages.get(code)
    if not lang.nllb:
        raise TranslationModelError(
            f"{lang.code} ({lang.name}) has no NLLB-200 language code, so it cannot be a translation "
            "target; fill it from native sources or OCR synthesis (the planner must not assign it to translation)."
        )
    return lang.code


def precision(options: TranslateOptions) -> dict:
    """What besides model and settings changes the numbers: dtype (transformers) or compute
    type (CTranslate2), resolved ('auto' becomes what this machine runs)."""
    if options.model in PSEUDO_MODELS or options.backend == "identity":
        return {}
    if options.backend == "ctranslate2":
        from translation.ct2_backend import resolve_compute_type

        dev = options.device
        if dev == "auto":
            try:
                import ctranslate2

                dev = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
            except ImportError:
                dev = "cpu"
        return {"compute_type": resolve_compute_type(options, dev)}
    return {"dtype": resolve_device_dtype(options)[1]}


def resolve_device_dtype(options: TranslateOptions) -> tuple[str, str]:
    import torch

    dev = options.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    dt = options.dtype
    if dt == "auto":
        dt = ("bfloat16" if torch.cuda.is_bf16_supported() else "float16") if dev == "cuda" else "float32"
    return dev, dt


def token_budget(n_in: int, gen) -> int:
    if gen.fixed_new_tokens:
        return gen.fixed_new_tokens
    return max(4, min(gen.max_new_tokens, int(n_in * gen.max_new_tokens_ratio) + gen.max_new_tokens_slack))


def make_batches(lengths: list[int], batch_tokens: int, max_segments: int) -> list[list[int]]:
    """Indices grouped so that (segments x longest) <= batch_tokens, longest first (an OOM shows
    up on the first batch), neighbours of similar length together (little padding)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        longest = lengths[cur[0]] if cur else lengths[i]
        if cur and ((len(cur) + 1) * longest > batch_tokens or len(cur) >= max_segments):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def _is_oom(e: BaseException) -> bool:
    import torch

    if isinstance(e, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(e, RuntimeError) and "out of memory" in str(e).lower()


class Backend:
    stats: BackendStats

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def translate(self, texts: list[str], src_lang: str, tgt_langs: list[str],
                  on_result: Callable[[int, Result], None] | None = None, generation=None) -> list[Result]:
        """on_result(i, result) is called as each model batch finishes (the caller caches early);
        generation: decoding settings for this call (the retry's), default the options'."""
        raise NotImplementedError


class _NoModel(Backend):
    """A backend without weights: no tokenizer, token counts estimated."""

    def __init__(self, options: TranslateOptions):
        self.options = options
        self.stats = BackendStats()

    def count_tokens(self, text: str) -> int:
        from translation.segment import chars_estimate

        return chars_estimate(text)


class CacheOnlyBackend(_NoModel):
    """A pseudo model (e.g. the demo's phrasebook): translations exist only in the cache."""

    def translate(self, texts, src_lang, tgt_langs, on_result=None, generation=None):
        sample = "; ".join(f"{t!r} -> {l}" for t, l in list(zip(texts, tgt_langs))[:3])
        raise TranslationModelError(
            f"model {self.options.model!r} is a cache-only pseudo model and the translation cache at "
            f"{self.options.cache_dir or '<build>/translation_cache'} has no entry for {len(texts)} segment(s), e.g. "
            f"{sample}. Add them to the phrasebook and reseed the cache (translation.demo_cache), or set "
            "steps.translate.model to an NLLB checkpoint (a local directory works offline)."
        )


class TransformersBackend(Backend):
    def __init__(self, options: TranslateOptions):
        self.options = options
        self.stats = BackendStats()
        self.tok = None
        self.model = None
        self.device = None
        self._code_ids: dict[str, int] = {}

    # -- loading ---------------------------------------------------------------------------
    def load_tokenizer(self):
        if self.tok is not None:
            return self.tok
        from transformers import AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(self.options.model, revision=self.options.model_revision)
        except Exception as e:   # noqa: BLE001 - hub/network/format errors all end here
            raise _load_error(self.options.model, e) from e
        unk = self.tok.unk_token_id
        ids = {}
        for code in ("eng_Latn", "spa_Latn"):
            ids[code] = self.tok.convert_tokens_to_ids(code)
        if any(i is None or i == unk for i in ids.values()) or len(set(ids.values())) != len(ids):
            raise TranslationModelError(
                f"tokenizer of {self.options.model!r} does not map NLLB language codes to their own ids "
                f"({ids}); with transformers>=5 rebuild it with NllbTokenizer.from_pretrained(dir, "
                "extra_special_tokens=FAIRSEQ_LANGUAGE_CODES) and save_pretrained (see PITFALLS.md)."
            )
        return self.tok

    def code_id(self, code: str) -> int:
        if code not in self._code_ids:
            tok = self.load_tokenizer()
            i = tok.convert_tokens_to_ids(code)
            if i is None or i == tok.unk_token_id:
                raise TranslationModelError(
                    f"language code {code!r} maps to <unk> in the tokenizer of {self.options.model!r}: "
                    "this checkpoint cannot translate into it (is it an NLLB-200 tokenizer with all 202 codes?)"
                )
            if i in self._code_ids.values():
                raise TranslationModelError(f"language code {code!r} shares token id {i} with another code")
            self._code_ids[code] = i
        return self._code_ids[code]

    def _pick(self):
        import torch

        dev, dt = resolve_device_dtype(self.options)
        return dev, getattr(torch, dt)

    def load_model(self):
        if self.model is not None:
            return self.model
        from transformers import AutoModelForSeq2SeqLM

        self.load_tokenizer()
        dev, dtype = self._pick()
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(self.options.model, dtype=dtype,
                                                          revision=self.options.model_revision)
        except Exception as e:   # noqa: BLE001
            raise _load_error(self.options.model, e) from e
        self.model = model.to(dev).eval()
        self.device = dev
        self.stats.model_loads += 1
        return self.model

    # -- translation -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.load_tokenizer()(text, add_special_tokens=True)["input_ids"])

    def translate(self, texts: list[str], src_lang: str, tgt_langs: list[str],
                  on_result: Callable[[int, Result], None] | None = None, generation=None) -> list[Result]:
        if not texts:
            return []
        gen = generation or self.options.generation
        tok = self.load_tokenizer()
        self.code_id(src_lang)
        tok.src_lang = src_lang
        enc = tok(texts, add_special_tokens=True)["input_ids"]
        lens = [len(e) for e in enc]
        out: list[Result | None] = [None] * len(texts)
        for batch in make_batches(lens, self.options.batch_tokens, self.options.max_batch_segments):
            self._run(batch, enc, tgt_langs, out, gen)
            if on_result:
                for i in batch:
                    on_result(i, out[i])
        return out  # type: ignore[return-value]

    def _run(self, batch: list[int], enc: list[list[int]], tgt_langs: list[str], out: list, gen=None) -> None:
        """Generate for `batch`; on CUDA out-of-memory halve it and retry (one segment that does
        not fit is a real error)."""
        try:
            res = self._generate([enc[i] for i in batch], [tgt_langs[i] for i in batch], gen)
        except Exception as e:   # noqa: BLE001
            if not _is_oom(e) or len(batch) == 1:
                raise
            import torch

            self.stats.oom_retries += 1
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(batch) // 2
            self._run(batch[:half], enc, tgt_langs, out, gen)
            self._run(batch[half:], enc, tgt_langs, out, gen)
            return
        for i, r in zip(batch, res):
            out[i] = r

    def _generate(self, ids: list[list[int]], tgt_langs: list[str], gen=None) -> list[Result]:
        import torch

        model = self.load_model()
        tok = self.tok
        gen = gen or self.options.generation
        padded = tok.pad({"input_ids": ids}, return_tensors="pt")
        longest = max(len(x) for x in ids)
        budgets = [token_budget(len(x), gen) for x in ids]
        kwargs = dict(max_new_tokens=max(budgets), num_beams=gen.num_beams, do_sample=False,
                      repetition_penalty=gen.repetition_penalty, no_repeat_ngram_size=gen.no_repeat_ngram_size,
                      length_penalty=gen.length_penalty)
        if gen.fixed_new_tokens:
            kwargs["min_new_tokens"] = gen.fixed_new_tokens
        codes = sorted(set(tgt_langs))
        if len(codes) == 1:
            # the forced language token is itself a new token: one more than the budget
            kwargs["forced_bos_token_id"] = self.code_id(codes[0])
            kwargs["max_new_tokens"] += 1
            if "min_new_tokens" in kwargs:
                kwargs["min_new_tokens"] += 1
        else:
            # Several targets in one batch: start each decoder with </s> <lang> (what
            # forced_bos_token_id does for one language), so batches need not split per language.
            start = model.config.decoder_start_token_id
            kwargs["decoder_input_ids"] = torch.tensor([[start, self.code_id(l)] for l in tgt_langs],
                                                       device=self.device)
        self.stats.model_calls += 1
        self.stats.tokens_in += sum(len(x) for x in ids)
        self.stats.padded_tokens += len(ids) * longest
        with torch.inference_mode():
            seqs = model.generate(input_ids=padded["input_ids"].to(self.device),
                                  attention_mask=padded["attention_mask"].to(self.device), **kwargs)
        seqs = seqs.cpu().tolist()
        eos = tok.eos_token_id
        results = []
        for row, budget in zip(seqs, budgets):
            body = row[2:]                          # [decoder start </s>, <lang>, tokens..., </s>, <pad>...]
            if gen.fixed_new_tokens:
                body, truncated = body[:budget], False
            elif eos in body and body.index(eos) + 1 <= budget:
                body, truncated = body[:body.index(eos)], False
            else:                                   # hit its budget: never keep a cut translation
                body, truncated = body[:budget], True
            self.stats.tokens_out += len(body)
            results.append(Result(tok.decode(body, skip_special_tokens=True).strip(), truncated, len(body)))
        return results


def _load_error(model: str, e: Exception) -> TranslationModelError:
    local = Path(model).exists()
    if local:
        return TranslationModelError(f"could not load the NLLB checkpoint at {model}: {type(e).__name__}: {e}")
    return TranslationModelError(
        f"could not load model {model!r} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
        "If this machine is offline, download it where there is network "
        f"(`huggingface-cli download {model} --local-dir nllb`), copy the directory here and set "
        "steps.translate.model (or --model) to that local path."
    )


class IdentityBackend(_NoModel):
    """Returns every input unchanged (`--backend identity`): shows segmentation and reassembly
    without a model; the stage then runs structural checks only."""

    def translate(self, texts, src_lang, tgt_langs, on_result=None, generation=None):
        out = [Result(t, False, 0) for t in texts]
        if on_result:
            for i, r in enumerate(out):
                on_result(i, r)
        return out


def make_backend(options: TranslateOptions) -> Backend:
    if options.model in PSEUDO_MODELS:
        return CacheOnlyBackend(options)
    if options.backend == "identity":
        return IdentityBackend(options)
    if options.backend == "ctranslate2":
        from translation.ct2_backend import CTranslate2Backend   # optional package, imported on use

        return CTranslate2Backend(options)
    return TransformersBackend(options)
