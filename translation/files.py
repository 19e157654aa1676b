"""`mixkit translate`: a file of rows into several languages through TranslateStage, or a dry
run that writes what the model would receive."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable

from mixkit.lang import languages
from mixkit.core.schema import make_id, meta_of, with_meta
from mixkit.runtime.stage import StageOutput
from translation.answers import ShortAnswer
from translation.backends import TranslationModelError
from translation.options import TranslateOptions
from translation.segment import Segmenter, chars_estimate
from translation.stage import TranslateStage
from translation.summary import SegmentationSummary


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
    from mixkit.core.schema import make_row

    rows = []
    for i, r in enumerate(recs):
        if "messages" not in r:
            raise ValueError(f"{p} row {i}: no 'messages' field; give schema rows (see mixkit/core/schema.py)")
        rows.append(make_row(source=r.get("source") or p.stem, origin_id=str(r.get("origin_id") or r.get("id") or i),
                             task=r.get("task") or "caption", lang=r.get("lang") or "eng_Latn",
                             messages=r["messages"], images=r.get("images") or [],
                             meta=json.loads(r["meta"]) if isinstance(r.get("meta"), str) else r.get("meta")))
    return rows


def dry_run(rows: list[dict], out_dir: str, options: TranslateOptions) -> dict:
    """What the model would receive, translating nothing: <out_dir>/segments.jsonl, one line per
    (row, message): {"id", "message", "segments"} (+ "short_answer" when the message is one
    that the per-language table answers, "too_long" for sentences that would be rejected), and
    <out_dir>/summary.json (translation.summary: share of characters sent, protected pieces by
    kind, rows with nothing to translate), also returned under "summary"."""
    stage = TranslateStage(options, cache_dir=options.cache_dir or str(Path(out_dir) / "translation_cache"))
    stage.setup()
    path = Path(out_dir) / "segments.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    n_seg = n_lines = 0
    summary = SegmentationSummary()
    estimate = False            # the tokenizer failed to load once: estimate from then on, every source

    def estimating(src: str) -> Segmenter:
        return Segmenter(options.keep_answers, options.max_input_tokens, chars_estimate, options.split_sentences,
                         lang=src)

    with open(path, "w", encoding="utf-8") as f:
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
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    summary_path = Path(out_dir) / "summary.json"
    summary_path.write_text(json.dumps(summary.as_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"rows_in": len(rows), "messages": n_lines, "segments": n_seg, "summary": summary.as_dict(),
            "paths": {"segments": str(path), "summary": str(summary_path)}}


WORK_ROWS_PER_PART = 256     # progress and resume granularity of `mixkit translate`


def translate_file(input_path: str, langs: list[str], out_dir: str, options: TranslateOptions,
                   progress: Callable[[int, int], None] | None = None, dry: bool = False) -> dict:
    """Translate every row of `input_path` into every language of `langs`.

    Writes <out_dir>/translated.parquet (schema rows) and <out_dir>/rejects.parquet; returns
    {'rows_in', 'kept', 'rejected', 'by_lang', 'by_reason', 'stats', 'paths'}. dry=True
    translates nothing and writes <out_dir>/segments.jsonl instead (see dry_run).
    """
    import shutil

    import pyarrow.parquet as pq

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
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    stage = TranslateStage(options, cache_dir=options.cache_dir or str(out_path / "translation_cache"))
    # The one executor: partitions of work through the stage on LocalEngine (one process: one
    # model in memory); the cache makes a rerun cheap, so the work folder is rebuilt each time.
    work_dir = out_path / "work"
    if work_dir.exists():
        shutil.rmtree(work_dir)
    write_rows_partitioned(work, work_dir / "in", WORK_ROWS_PER_PART)
    LocalEngine(workers=1).run_stage(stage, work_dir / "in", work_dir / "out", on_partition=progress)
    kept = [r for p in parts(work_dir / "out") for r in pq.read_table(p).to_pylist()]
    result = StageOutput(kept=kept, rejected=rejects_table(work_dir / "out").to_pylist())
    shutil.rmtree(work_dir)
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
