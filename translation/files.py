"""`mixkit translate`: a file of rows into several languages through TranslateStage, or a dry
run that writes what the model would receive. The input, the output folder and the cache may be
local paths or URLs (s3://...: mixkit.core.storage)."""
from __future__ import annotations

import json
from collections import Counter
from typing import Callable

from mixkit.core import storage
from mixkit.lang import languages
from mixkit.core.schema import make_id, meta_of, with_meta
from mixkit.runtime.partitions import parquet_file, read_table, write_table_atomic
from mixkit.runtime.stage import StageOutput
from translation.answers import ShortAnswer
from translation.backends import TranslationModelError
from translation.cache import compact_cache, prepare_cache
from translation.options import TranslateOptions
from translation.segment import Segmenter, chars_estimate
from translation.stage import TranslateStage
from translation.summary import SegmentationSummary


def _read_rows(path: str, source_lang: str) -> tuple[list[dict], list[dict]]:
    """(rows, rejects) of an input file. Schema rows (parquet/jsonl with a `messages` field) keep
    their ids, source and language; anything else (caption records, LLaVA json, WebDataset)
    is read as a source by mixkit.sources (format by the registry, mixkit.sources.FORMATS)."""
    from mixkit.sources import detect_format, read_source_file

    p = storage.path(path)
    if not p.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    fmt = detect_format(str(p))
    if fmt in ("parquet", "jsonl") and _has_messages(p, fmt):
        return _read_schema_rows(p, fmt)
    rows, rejects = [], []
    for r, j in read_source_file(str(p), source=p.stem, format=fmt, task="caption", lang=source_lang):
        rows.extend(r)
        rejects.extend(j)
    return rows, rejects


def _has_messages(p, fmt: str) -> bool:
    if fmt == "parquet":
        return "messages" in parquet_file(p).schema_arrow.names
    from mixkit.sources.formats.jsonl import json_lines

    first = next((line.record for line in json_lines(str(p)) if line.reason is None), None)
    return isinstance(first, dict) and "messages" in first


def _read_schema_rows(p, fmt: str) -> tuple[list[dict], list[dict]]:
    """Schema rows as written (source, origin id, task, lang, meta kept); lines are read and
    messages checked as a source reads them (mixkit.sources: JSON Lines by the spec, roles by
    mixkit.core.schema.ROLE_NAMES). A line or row that cannot be used becomes a reject that
    names it."""
    from mixkit.core.schema import make_reject
    from mixkit.sources.formats.jsonl import json_lines
    from mixkit.sources.records import Reject

    if fmt == "parquet":
        records = [(f"row {i}", r, None) for i, r in enumerate(read_table(p).to_pylist())]
    else:
        records = [(f"line {line.number}", line.record, None if line.reason is None else Reject(line.reason, line.detail))
                   for line in json_lines(str(p))]
    rows, rejects = [], []
    for i, (pos, rec, problem) in enumerate(records):
        source, origin_id, task, lang = _identity(rec, i, p.stem)
        try:
            if problem is not None:
                raise problem
            rows.append(_schema_row(rec, source, origin_id, task, lang))
        except Reject as e:
            stub = {"id": make_id(source, origin_id, lang, task), "origin_id": origin_id, "source": source, "lang": lang}
            rejects.append(make_reject(stub, step="read", reason=e.reason, detail=f"{p} {pos}: {e.detail}"))
    return rows, rejects


def _identity(rec, index: int, default_source: str) -> tuple[str, str, str, str]:
    """(source, origin_id, task, lang) of a schema row; defaults for what it lacks."""
    r = rec if isinstance(rec, dict) else {}
    return (r.get("source") or default_source, str(r.get("origin_id") or r.get("id") or index),
            r.get("task") or "caption", r.get("lang") or "eng_Latn")


def _schema_row(rec, source: str, origin_id: str, task: str, lang: str) -> dict:
    from mixkit.core.schema import make_row
    from mixkit.sources.records import Reject, messages_of

    if not isinstance(rec, dict) or rec.get("messages") is None:
        raise Reject("bad_record", "no 'messages' field; give schema rows (see mixkit/core/schema.py)")
    meta = rec.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError as e:
            raise Reject("bad_json", f"meta is a string that is not JSON ({e.msg})") from None
    return make_row(source=source, origin_id=origin_id, task=task, lang=lang, messages=messages_of(rec),
                    images=rec.get("images") or [], meta=meta)


def dry_run(rows: list[dict], out_dir: str, options: TranslateOptions) -> dict:
    """What the model would receive, translating nothing: <out_dir>/segments.jsonl, one line per
    (row, message): {"id", "message", "segments"} (+ "short_answer" when the message is one
    that the per-language table answers, "too_long" for sentences that would be rejected), and
    <out_dir>/summary.json (translation.summary: share of characters sent, protected pieces by
    kind, rows with nothing to translate), also returned under "summary"."""
    out = storage.path(out_dir)
    stage = TranslateStage(options, cache_dir=options.cache_dir or str(out / "translation_cache"))
    stage.setup()
    path = out / "segments.jsonl"
    n_seg = n_lines = 0
    summary = SegmentationSummary()
    estimate = False            # the tokenizer failed to load once: estimate from then on, every source

    def estimating(src: str) -> Segmenter:
        return Segmenter(options.keep_answers, options.max_input_tokens, chars_estimate, options.split_sentences,
                         lang=src)

    with storage.AtomicWrite(path) as f:          # appears whole, when complete
        for r in rows:
            src = meta_of(r).get("translate_from") or r.get("lang") or options.source_lang
            if estimate and src not in stage._segmenters:
                stage._segmenters[src] = estimating(src)
            try:
                plan = stage.plan_messages(r["messages"], src)
            except TranslationModelError:       # the tokenizer cannot load: estimate token counts
                estimate = True
                stage._segmenters = {src: estimating(src)}
                plan = stage.plan_messages(r["messages"], src)
            summary.add(r.get("origin_id") or r["id"], r["messages"], plan)
            for i, t in enumerate(plan):
                rec = {"id": r["id"], "message": i}
                if isinstance(t, ShortAnswer):
                    rec.update(segments=[], short_answer=t.key)
                else:
                    rec["segments"] = t.segments
                    if t.too_long:
                        rec["too_long"] = t.too_long
                n_seg += len(rec["segments"])
                n_lines += 1
                f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    summary_path = out / "summary.json"
    storage.write_text(summary_path, json.dumps(summary.as_dict(), indent=1, ensure_ascii=False) + "\n")
    return {"rows_in": len(rows), "messages": n_lines, "segments": n_seg, "summary": summary.as_dict(),
            "paths": {"segments": str(path), "summary": str(summary_path)}}


WORK_ROWS_PER_PART = 256     # progress and resume granularity of `mixkit translate`


def translate_file(input_path: str, langs: list[str], out_dir: str, options: TranslateOptions,
                   progress: Callable[[int, int], None] | None = None, dry: bool = False,
                   say: Callable[[str], None] | None = None) -> dict:
    """Translate every row of `input_path` into every language of `langs`.

    Writes <out_dir>/translated.parquet (schema rows) and <out_dir>/rejects.parquet; returns
    {'rows_in', 'kept', 'rejected', 'by_lang', 'by_reason', 'stats', 'paths'}. dry=True
    translates nothing and writes <out_dir>/segments.jsonl instead (see dry_run). `say` tells
    the user about the cache (a one-time conversion of an old cache folder).
    """
    from mixkit.runtime.engines import LocalEngine
    from mixkit.runtime.partitions import parts, rejects_table, write_rows_partitioned
    from mixkit.core.schema import REJECT_SCHEMA, rows_to_table

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
    if dry:
        return dry_run(src_rows, out_dir, options)
    work = []
    for r in src_rows:
        src = r["lang"]
        for t in targets:
            work.append(with_meta(dict(r, lang=t, id=make_id(r["source"], r["origin_id"], t, r["task"])),
                                  translate_from=src, input_id=r["id"]))
    out_path = storage.path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    cache_dir = options.cache_dir or str(out_path / "translation_cache")
    prepare_cache(cache_dir, say=say)
    stage = TranslateStage(options, cache_dir=cache_dir)
    # The one executor: partitions of work through the stage on LocalEngine (one process: one
    # model in memory); the cache makes a rerun cheap, so the work folder is rebuilt each time.
    work_dir = out_path / "work"
    storage.remove_tree(work_dir)
    write_rows_partitioned(work, work_dir / "in", WORK_ROWS_PER_PART)
    LocalEngine(workers=1).run_stage(stage, work_dir / "in", work_dir / "out", on_partition=progress)
    kept = [r for p in parts(work_dir / "out") for r in read_table(p).to_pylist()]
    result = StageOutput(kept=kept, rejected=rejects_table(work_dir / "out").to_pylist())
    storage.remove_tree(work_dir)
    compact_cache(cache_dir)            # this run's loose cache files -> per-prefix files
    rejected = read_rejects + result.rejected
    write_table_atomic(rows_to_table(result.kept), out_path / "translated.parquet")
    write_table_atomic(rows_to_table(rejected, REJECT_SCHEMA), out_path / "rejects.parquet")
    return {
        "rows_in": len(src_rows), "kept": len(result.kept), "rejected": len(rejected),
        "by_lang": dict(sorted(Counter(r["lang"] for r in result.kept).items())),
        "by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
        "stats": stage.stats(),
        "paths": {"translated": str(out_path / "translated.parquet"), "rejects": str(out_path / "rejects.parquet")},
    }
