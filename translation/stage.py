"""The translation stage: schema rows addressed to a target language (lang = target, meta
translate_from = source) in, translated rows or reject records out.

Per batch: segment every message (translation.segment), look each prose segment up in the
shared cache, translate only the misses (one model load per worker, batches sorted by length
under a token budget), render the templates, check the output (translation.checks).

Counters: `stage.stats()` in-process; with `stats_dir=` each worker (Ray actor) also writes
its counters to `<stats_dir>/worker-<pid>-<uid>.json` after every batch, and
`collect_stats(stats_dir)` sums them (the build reports "0 model calls" on a rebuild).
"""
from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Callable

from mixkit import languages
from mixkit.schema import make_id, make_reject, meta_of, with_meta
from mixkit.stage import Resources, Stage, StageOutput
from translation.backends import TranslationModelError, make_backend, model_fingerprint
from translation.cache import TranslationCache
from translation.checks import OutputChecker
from translation.options import PSEUDO_MODELS, TranslateOptions
from translation.segment import Segmenter, Template, chars_estimate

STAGE = "translate"
_CJK_JOIN = {"Hans": "", "Hant": "", "Jpan": ""}
STAT_KEYS = ("rows_in", "rows_kept", "rows_rejected", "segments", "unique_segments", "cache_hits",
             "model_segments", "model_calls", "model_loads", "tokens_in", "tokens_out", "padded_tokens", "oom_retries")


def generation_settings(options: TranslateOptions) -> dict:
    """What, besides model and text, changes a translation (part of the cache key)."""
    out = {"backend": options.backend if options.model not in PSEUDO_MODELS else "cache",
           **options.generation.model_dump()}
    if options.backend == "ctranslate2" and options.model not in PSEUDO_MODELS:
        out["ct2_compute_type"] = options.ct2_compute_type   # int8 and float32 translate differently
    return out


def model_cache_id(options: TranslateOptions) -> str:
    return options.cache_model_id or model_fingerprint(options.model)


class TranslateStage(Stage):
    name = STAGE

    def __init__(self, options: TranslateOptions, cache_dir: str, stats_dir: str | None = None):
        self.options = options.model_copy(update={"cache_dir": str(cache_dir)})
        self.cache_dir = str(cache_dir)
        self.stats_dir = stats_dir
        self.resources = Resources(cpus=options.cpus_per_actor, gpus=options.gpus_per_actor,
                                   batch_size=options.batch_rows, actors=options.actors)
        self._counters: Counter = Counter()
        self._backend = None
        self._cache = None
        self._checker = None
        self._segmenter = None
        self._worker = None

    def __getstate__(self):        # ship options, not loaded models, to Ray actors
        d = dict(self.__dict__)
        d.update(_backend=None, _cache=None, _checker=None, _segmenter=None, _worker=None, _counters=Counter())
        return d

    def setup(self) -> None:
        if self._backend is not None:
            return
        o = self.options
        self._backend = make_backend(o)
        self._cache = TranslationCache(self.cache_dir, model_cache_id(o), generation_settings(o))
        self._checker = OutputChecker(o.checks)
        count = chars_estimate if o.model in PSEUDO_MODELS else self._count_tokens
        self._segmenter = Segmenter(o.keep_answers, o.max_input_tokens, count, o.split_sentences)
        self._worker = f"worker-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _count_tokens(self, text: str) -> int:
        if len(text) + 2 <= self.options.max_input_tokens:   # a token covers >= 1 character
            return len(text) + 2
        return self._backend.count_tokens(text)

    # -- counters ------------------------------------------------------------------------------
    def stats(self) -> dict:
        out = {k: self._counters.get(k, 0) for k in STAT_KEYS}
        if self._backend is not None:
            b = self._backend.stats
            out.update(model_calls=b.model_calls, model_loads=b.model_loads, tokens_in=b.tokens_in,
                       tokens_out=b.tokens_out, padded_tokens=b.padded_tokens, oom_retries=b.oom_retries)
        return out

    def _write_stats(self) -> None:
        if not self.stats_dir:
            return
        d = Path(self.stats_dir)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{self._worker}.tmp"
        tmp.write_text(json.dumps(self.stats()))
        os.replace(tmp, d / f"{self._worker}.json")

    # -- the batch -------------------------------------------------------------------------------
    def process_batch(self, rows: list[dict]) -> StageOutput:
        self.setup()
        o = self.options
        out = StageOutput()
        self._counters["rows_in"] += len(rows)
        work = []       # (row, src, tgt, templates per message or None)
        for row in rows:
            meta = meta_of(row)
            src = meta.get("translate_from") or o.source_lang
            try:
                tgt = languages.resolve(row["lang"])
                if not languages.get(tgt).nllb:
                    raise ValueError(f"{tgt} ({languages.get(tgt).name}) has no NLLB-200 code; it cannot be a "
                                     "translation target (fill it from native data or OCR synthesis)")
            except ValueError as e:
                out.rejected.append(make_reject(row, STAGE, "unsupported_language", str(e)))
                continue
            templates = [self._segmenter.segment(m["content"]) if m["role"] in o.roles else _literal(m["content"])
                         for m in row["messages"]]
            too_long = [s for t in templates for s in t.too_long]
            if too_long:
                out.rejected.append(make_reject(
                    row, STAGE, "segment_too_long",
                    f"a sentence of >{o.max_input_tokens} tokens has no clause break to split at: {too_long[0][:120]!r}"))
                continue
            work.append((row, src, tgt, templates))
        translations = self._translate_all(work)
        for row, src, tgt, templates in work:
            self._finish(row, src, tgt, templates, translations, out)
        self._counters["rows_kept"] += len(out.kept)
        self._counters["rows_rejected"] += len(out.rejected)
        self._write_stats()
        return out

    def _translate_all(self, work) -> dict[tuple[str, str, str], tuple[str, bool]]:
        needed: dict[tuple[str, str, str], None] = {}
        for _, src, tgt, templates in work:
            for t in templates:
                for s in t.segments:
                    self._counters["segments"] += 1
                    if src != tgt:
                        needed.setdefault((src, tgt, s))
        self._counters["unique_segments"] += len(needed)
        done: dict[tuple[str, str, str], tuple[str, bool]] = {}
        missing: dict[str, list[tuple[str, str, str]]] = {}
        for key in needed:
            hit = self._cache.get(*key)
            if hit is not None:
                done[key] = hit
                self._counters["cache_hits"] += 1
            else:
                missing.setdefault(key[0], []).append(key)
        for src, keys in missing.items():
            def cache_it(i, r, keys=keys):
                k = keys[i]
                self._cache.put(k[0], k[1], k[2], r.text, r.truncated)
                done[k] = (r.text, r.truncated)
            self._backend.translate([k[2] for k in keys], src, [k[1] for k in keys], on_result=cache_it)
            self._counters["model_segments"] += len(keys)
        self._cache.flush()
        return done

    def _finish(self, row, src, tgt, templates: list[Template], tr, out: StageOutput) -> None:
        o = self.options
        join = _CJK_JOIN.get(languages.get(tgt).script)
        new_messages, seg_info, literals_ok = [], [], True
        for m, t in zip(row["messages"], templates):
            outs = []
            for s in t.segments:
                text, trunc = tr[(src, tgt, s)] if src != tgt else (s, False)
                outs.append(text)
                seg_info.append((s, text, trunc))
            rendered = t.render(outs, join)
            # every protected literal must come back, in order (guards the template code itself)
            pos = 0
            for lit in t.literals:
                lit_core = lit.strip() if join is not None else lit
                i = rendered.find(lit_core, pos)
                if i < 0:
                    literals_ok = False
                    break
                pos = i + len(lit_core)
            new_messages.append({"role": m["role"], "content": rendered})
        if src == tgt:
            out.kept.append(with_meta(row, translate_from=src, translated_by=None))
            return
        res = self._checker.check(row["messages"], new_messages, seg_info, literals_ok, tgt)
        if not res.ok:
            out.rejected.append(make_reject(row, STAGE, res.reason, res.detail))
            return
        kept = dict(row, messages=new_messages)
        out.kept.append(with_meta(kept, translated_by=o.model, translate_from=src,
                                  translation_checks=res.info, translation_segments=len(seg_info)))


def _literal(text: str) -> Template:
    t = Template()
    t.lit(text)
    return t


def collect_stats(stats_dir: str | os.PathLike) -> dict:
    """Sum of the counters every worker wrote under stats_dir."""
    total = Counter()
    for p in sorted(Path(stats_dir).glob("worker-*.json")):
        total.update(json.loads(p.read_text()))
    return {k: total.get(k, 0) for k in STAT_KEYS}


# ---------------------------------------------------------------------------------------------
# `mixkit translate`: a file of English rows into several languages

def _read_rows(path: str, source_lang: str) -> tuple[list[dict], list[dict]]:
    """Schema rows from parquet/jsonl; anything else (caption records, WebDataset, LLaVA json)
    through mixkit.sources.read_source_file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if p.suffix in (".parquet", ".jsonl") and _has_messages(p):
        return _read_schema_rows(p), []
    try:
        from mixkit.sources import read_source_file
    except ImportError as e:
        raise ValueError(f"{p}: not a parquet/jsonl of schema rows (no 'messages' field)") from e
    rows, rejects = [], []
    fmt = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "llava", ".tar": "webdataset"}.get(p.suffix)
    for r, j in read_source_file(str(p), source=p.stem, format=fmt, task="caption", lang=source_lang):
        rows.extend(r)
        rejects.extend(j)
    return rows, rejects


def _has_messages(p: Path) -> bool:
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        return "messages" in pq.read_schema(p).names
    with open(p, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return "messages" in json.loads(line)
    return False


def _read_schema_rows(p: Path) -> list[dict]:
    import pyarrow.parquet as pq

    if p.suffix == ".parquet":
        recs = pq.read_table(p).to_pylist()
    elif p.suffix in (".jsonl", ".json"):
        recs = [json.loads(l) for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
    else:
        raise ValueError(f"{p}: expected .parquet or .jsonl of schema rows")
    from mixkit.schema import make_row

    rows = []
    for i, r in enumerate(recs):
        if "messages" not in r:
            raise ValueError(f"{p} row {i}: no 'messages' field; give schema rows (see mixkit/schema.py)")
        rows.append(make_row(source=r.get("source") or p.stem, origin_id=str(r.get("origin_id") or r.get("id") or i),
                             task=r.get("task") or "caption", lang=r.get("lang") or "eng_Latn",
                             messages=r["messages"], images=r.get("images") or [],
                             meta=json.loads(r["meta"]) if isinstance(r.get("meta"), str) else r.get("meta")))
    return rows


def translate_file(input_path: str, langs: list[str], out_dir: str, options: TranslateOptions,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Translate every row of `input_path` into every language of `langs`.

    Writes <out_dir>/translated.parquet (schema rows) and <out_dir>/rejects.parquet; returns
    {'rows_in', 'kept', 'rejected', 'by_lang', 'by_reason', 'stats', 'paths'}.
    """
    import pyarrow.parquet as pq
    from mixkit.schema import REJECT_SCHEMA, rows_to_table

    targets = []
    for code in langs:
        c = languages.resolve(code.strip())
        if not languages.get(c).nllb:
            raise TranslationModelError(
                f"{c} ({languages.get(c).name}) has no NLLB-200 language code and cannot be a translation target")
        targets.append(c)
    if not targets:
        raise ValueError("no target languages given (e.g. --langs swh_Latn,hin_Deva)")
    src_rows, read_rejects = _read_rows(input_path, options.source_lang)
    work = []
    for r in src_rows:
        src = r["lang"]
        for t in targets:
            work.append(with_meta(dict(r, lang=t, id=make_id(r["source"], r["origin_id"], t, r["task"])),
                                  translate_from=src, input_id=r["id"]))
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    stage = TranslateStage(options, cache_dir=options.cache_dir or str(out_path / "translation_cache"))
    stage.setup()
    result = StageOutput()
    bs = stage.resources.batch_size
    for i in range(0, len(work), bs):
        result.extend(stage.process_batch(work[i:i + bs]))
        if progress:
            progress(min(i + bs, len(work)), len(work))
    rejected = read_rejects + result.rejected
    pq.write_table(rows_to_table(result.kept), out_path / "translated.parquet")
    pq.write_table(rows_to_table(rejected, REJECT_SCHEMA), out_path / "rejects.parquet")
    return {
        "rows_in": len(src_rows), "kept": len(result.kept), "rejected": len(rejected),
        "by_lang": dict(sorted(Counter(r["lang"] for r in result.kept).items())),
        "by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
        "stats": stage.stats(),
        "paths": {"translated": str(out_path / "translated.parquet"), "rejects": str(out_path / "rejects.parquet")},
    }
