"""Dedup over a folder of parquet partitions as distributed stages (tasks through the engine's
`map_tasks`: Ray tasks, or local processes), in the way of datatrove's minhash steps and NeMo
Curator's buckets -> connected components. The driver plans, then holds only pairs.

| stage | one task per | reads | writes (under the step folder) |
|---|---|---|---|
| 1 signatures | input partition | the partition's rows | `signatures/part-*.arrow`: records, one batch per bucket |
| 2 buckets | bucket (key % K) | that batch of every signature file | `buckets/bucket-NNNNN.arrow`: pairs, one batch per range of the lower row |
| 3 pairs | range of rows | that batch of every bucket file, texts of its rows | `pairs/range-NNNNN.arrow` (exact and near-image pairs, unique), `joined/range-NNNNN.arrow` (near-text candidates with the lower row's text, one batch per range of the higher row) |
| 4 verify | range of rows | that batch of every joined file, texts of its rows | `verified/range-NNNNN.arrow`: near-text pairs with exact Jaccard >= threshold |
| clusters | (driver) | all pairs | `duplicates.parquet`, sorted by order |
| 5 removal | input partition | the partition, its slice of duplicates.parquet | `part-*.parquet` (kept rows), `rejects-*.parquet` |

A range is a run of consecutive input partitions. Files grow with partitions + buckets + ranges,
never with their product (a file holds one Arrow IPC batch per destination). The folders are
local paths or URLs (`storage.path`: s3://... for a cluster without a shared disk). Each output
appears under its final name only when complete (a temporary name renamed on a disk, one
committed upload on object storage), so a killed run resumes with the tasks whose output is
missing; `stats.json`, written after `duplicates.parquet`, marks the clusters done. `dedup.json`
fixes the run's shape (partitions, buckets, ranges, LSH bands) on the first run; a resumed run
reads it back. Results do not depend on the number of buckets, ranges or workers: a key lands
in exactly one bucket, a pair's check depends only on the pair.
"""
from __future__ import annotations

import json
from math import ceil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.core import storage
from mixkit.dedup.bands import Bands
from mixkit.dedup.hashing import sorted_unique
from mixkit.dedup.options import DedupOptions
from mixkit.runtime.partitions import arrow_writer, atomic_target, open_arrow, parquet_file, read_table

ROWS_PER_BUCKET = 25_000     # input rows per bucket task (about 35-80 signature records each)
ROWS_PER_RANGE = 25_000      # input rows per range task
MAX_TASKS = 256              # buckets and ranges at most: a bucket task opens every signature file
DUPLICATES_ROW_GROUP = 65_536
PLAN = "dedup.json"
STATS = "stats.json"
DUPLICATES = "duplicates.parquet"
PathOrURL = Path | storage.URLPath      # a file or folder on a disk or at a URL (storage.path)


# ---------------------------------------------------------------------------------------------
# files: one Arrow IPC batch per destination, written atomically, with the task's counts

def write_batches(path: PathOrURL, tables: list[pa.Table], schema: pa.Schema, stats: dict | None = None) -> None:
    """One IPC file with one record batch per table (empty ones too), under `path` only when complete."""
    schema = schema.with_metadata({"stats": json.dumps(stats or {})})
    with arrow_writer(path, schema, compression="zstd") as w:
        for t in tables:
            t = t.cast(schema.remove_metadata()) if t.schema != schema.remove_metadata() else t
            w.write_batch(pa.record_batch([c.combine_chunks() for c in t.columns], schema=schema))


def read_batch(paths: list[PathOrURL], i: int, schema: pa.Schema) -> pa.Table:
    """Batch i of each file, as one table."""
    batches = []
    for p in paths:
        with open_arrow(p) as f:
            batches.append(f.get_batch(i))
    return pa.Table.from_batches(batches, schema=schema.remove_metadata()) if batches else schema.empty_table()


def file_stats(path: PathOrURL) -> dict:
    with open_arrow(path) as f:
        return json.loads(f.schema.metadata[b"stats"])


def read_order_range(path: PathOrURL, lo: int, hi: int) -> pa.Table:
    """The rows of a parquet file sorted by `order` with lo <= order < hi, reading only the row
    groups whose statistics overlap."""
    f = parquet_file(path)
    col = f.schema_arrow.get_field_index("order")
    groups = []
    for g in range(f.metadata.num_row_groups):
        st = f.metadata.row_group(g).column(col).statistics
        if st is None or not st.has_min_max or (st.max >= lo and st.min < hi):
            groups.append(g)
    t = f.read_row_groups(groups) if groups else f.schema_arrow.empty_table()
    o = t["order"]
    return t.filter(pc.and_(pc.greater_equal(o, lo), pc.less(o, hi)))


def split(table: pa.Table, slot: np.ndarray, n: int) -> list[pa.Table]:
    """table's rows by destination slot 0..n-1 (row order kept within a slot)."""
    idx = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[idx], np.arange(n + 1))
    t = table.take(pa.array(idx))
    return [t.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# the run's shape, fixed on the first run

class Plan:
    """Partitions and their first orders, buckets K, ranges R (of consecutive partitions), LSH bands."""

    def __init__(self, d: dict):
        self.d = d
        self.parts: list[str] = d["parts"]
        self.offsets = np.asarray(d["offsets"], np.int64)          # P + 1
        self.buckets: int = d["buckets"]
        self.range_parts = np.asarray(d["range_parts"], np.int64)  # R + 1 partition indices
        self.bands = Bands.from_dict(d["bands"])
        self.options = DedupOptions.model_validate(d["options"])

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    @property
    def ranges(self) -> int:
        return len(self.range_parts) - 1

    @property
    def range_starts(self) -> np.ndarray:
        return self.offsets[self.range_parts]

    def range_of(self, orders: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.range_starts, orders, side="right") - 1

    @classmethod
    def make(cls, partitions: list[PathOrURL], options: DedupOptions) -> "Plan":
        counts = [parquet_file(p).metadata.num_rows for p in partitions]
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        n, p = int(offsets[-1]), len(partitions)
        k = max(1, min(MAX_TASKS, ceil(n / ROWS_PER_BUCKET)))
        r = max(1, min(p, MAX_TASKS, ceil(n / ROWS_PER_RANGE)))
        return cls({"parts": [x.name for x in partitions], "offsets": offsets.tolist(),
                    "buckets": k, "range_parts": [i * p // r for i in range(r + 1)],
                    "bands": Bands.choose(options, n).to_dict(), "options": options.model_dump()})

    @classmethod
    def load_or_make(cls, d: PathOrURL, partitions: list[PathOrURL], options: DedupOptions) -> "Plan":
        path = d / PLAN
        if path.exists():
            plan = cls(json.loads(path.read_text()))
            if plan.parts != [x.name for x in partitions] or plan.options != options:
                raise RuntimeError(f"{storage.display(d)} holds dedup work for other input rows or options; "
                                   f"delete that folder to redo dedup")
            return plan
        plan = cls.make(partitions, options)
        storage.write_text(path, json.dumps(plan.d))
        return plan


def _plan(step_dir: str) -> Plan:
    return Plan(json.loads((storage.path(step_dir) / PLAN).read_text()))


def _signature_path(d: PathOrURL, part: str) -> PathOrURL:
    return d / "signatures" / (Path(part).stem + ".arrow")


def _texts_at(plan: Plan, src: PathOrURL, orders: np.ndarray) -> list[str]:
    """The dedup texts of the rows at sorted `orders`, read from their partitions (messages column only)."""
    from mixkit.dedup.minhash import dedup_text

    out: list[str] = []
    part = np.searchsorted(plan.offsets, orders, side="right") - 1
    for p in sorted_unique(part):
        pos = orders[part == p] - plan.offsets[p]
        t = read_table(src / plan.parts[p], ["messages"]).take(pa.array(pos))
        out += [dedup_text(r, plan.options.text_key) for r in t.to_pylist()]
    return out


def _texts_for(plan: Plan, src: PathOrURL, orders: np.ndarray) -> list[str]:
    """Texts for any (unsorted, repeated) orders."""
    uniq = sorted_unique(orders)
    texts = _texts_at(plan, src, uniq)
    return [texts[i] for i in np.searchsorted(uniq, orders)]


# ---------------------------------------------------------------------------------------------
# the tasks (module functions: Ray and process pools pickle them by name)

def _signature_task(job: dict) -> None:
    from mixkit.dedup.signatures import SIGNATURE_SCHEMA, compute_signatures

    plan = _plan(job["dir"])
    p = job["part"]
    src = storage.path(job["src"]) / plan.parts[p]
    tables, offset = [], int(plan.offsets[p])
    for batch in parquet_file(src).iter_batches(batch_size=512):      # bounded memory for any partition size
        rows = batch.to_pylist()
        tables.append(compute_signatures(rows, plan.options, np.arange(offset, offset + len(rows)), plan.bands))
        offset += len(rows)
    sig = pa.concat_tables(tables) if tables else SIGNATURE_SCHEMA.empty_table()
    slot = (sig["key"].to_numpy() % np.uint64(plan.buckets)).astype(np.int64)
    kinds = np.bincount(sig["kind"].to_numpy(), minlength=4).tolist()
    write_batches(storage.path(job["out"]), split(sig, slot, plan.buckets), SIGNATURE_SCHEMA,
                  {"records": sig.num_rows, "records_by_kind": kinds})


def _bucket_task(job: dict) -> None:
    from mixkit.dedup.pairs import PAIR_SCHEMA, bucket_pairs
    from mixkit.dedup.signatures import SIGNATURE_SCHEMA

    plan = _plan(job["dir"])
    d = storage.path(job["dir"])
    sig = read_batch([_signature_path(d, p) for p in plan.parts], job["bucket"], SIGNATURE_SCHEMA)
    pairs = bucket_pairs(sig, plan.options.image_phash.max_hamming)
    slot = plan.range_of(pairs["a"].to_numpy())
    write_batches(storage.path(job["out"]), split(pairs, slot, plan.ranges), PAIR_SCHEMA,
                  {"records": sig.num_rows, "pairs": pairs.num_rows})


def _pairs_task(job: dict) -> None:
    """Unique pairs of one range; near-text candidates get the lower row's text and go on by the higher row's range."""
    from mixkit.dedup.pairs import PAIR_SCHEMA, unique_pairs
    from mixkit.dedup.signatures import NEAR_TEXT

    plan = _plan(job["dir"])
    d = storage.path(job["dir"])
    r = job["range"]
    pairs = unique_pairs(read_batch([d / "buckets" / f"bucket-{k:05d}.arrow" for k in range(plan.buckets)], r,
                                    PAIR_SCHEMA))
    is_text = pc.equal(pairs["kind"], NEAR_TEXT) if pairs.num_rows else pa.array([], pa.bool_())
    cand = pairs.filter(is_text).select(["a", "b"])
    final = pairs.filter(pc.invert(is_text))
    a = cand["a"].to_numpy()
    joined = cand.append_column("text_a", pa.array(_texts_for(plan, storage.path(job["src"]), a), pa.string()))
    write_batches(d / "joined" / f"range-{r:05d}.arrow", split(joined, plan.range_of(cand["b"].to_numpy()), plan.ranges),
                  JOINED_SCHEMA, {"candidates": cand.num_rows})
    write_batches(storage.path(job["out"]), [final], PAIR_SCHEMA,        # last: its presence marks the range done
                  {"pairs": final.num_rows, "by_kind": np.bincount(final["kind"].to_numpy(), minlength=4).tolist()})


JOINED_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("text_a", pa.string())])


def _verify_task(job: dict) -> None:
    from mixkit.dedup.pairs import PAIR_SCHEMA, verify_text_pairs

    plan = _plan(job["dir"])
    d = storage.path(job["dir"])
    r = job["range"]
    cand = read_batch([d / "joined" / f"range-{q:05d}.arrow" for q in range(plan.ranges)], r, JOINED_SCHEMA)
    texts_b = _texts_for(plan, storage.path(job["src"]), cand["b"].to_numpy())
    nt = plan.options.near_text
    verified = verify_text_pairs(cand, cand["text_a"].to_pylist(), texts_b, nt.threshold, nt.ngram)
    write_batches(storage.path(job["out"]), [verified], PAIR_SCHEMA,
                  {"candidates": cand.num_rows, "pairs": verified.num_rows})


def _remove_task(job: dict) -> None:
    """One partition without its duplicates; a reject (reason, duplicate_of, cluster) for each."""
    from mixkit.core.schema import REJECT_SCHEMA, rows_to_table
    from mixkit.dedup.removal import duplicate_rejects
    from mixkit.runtime.partitions import write_table_atomic

    src, out = storage.path(job["path"]), storage.path(job["out_dir"])
    table = read_table(src)
    dups = read_order_range(storage.path(job["duplicates"]), job["lo"], job["hi"])
    split_rows = duplicate_rejects(table.to_pylist(), dups.to_pylist())
    write_table_atomic(rows_to_table(split_rows.rejected, REJECT_SCHEMA), out / src.name.replace("part-", "rejects-"))
    write_table_atomic(rows_to_table(split_rows.kept), out / src.name)      # last: its presence marks it done


# ---------------------------------------------------------------------------------------------
# the driver

def _run(engine, fn: Callable, jobs: list[dict], label: str, progress) -> None:
    if jobs:
        engine.map_tasks(fn, jobs, on_done=(lambda n, t: progress(label, n, t)) if progress else None)


def _write_duplicates(plan: Plan, src: PathOrURL, path: PathOrURL) -> dict:
    """Clusters from all pairs (the driver's only per-pair work), then duplicates.parquet with ids,
    written partition by partition (ids are read per partition, never all at once)."""
    from mixkit.dedup.components import resolve
    from mixkit.dedup.pairs import PAIR_SCHEMA
    from mixkit.dedup.removal import DUPLICATES_SCHEMA, duplicates_table, ids_at

    d = path.parent
    files = sorted((d / "pairs").glob("range-*.arrow")) + sorted((d / "verified").glob("range-*.arrow"))
    pairs = pa.concat_tables([read_batch([f], 0, PAIR_SCHEMA) for f in files]) if files else PAIR_SCHEMA.empty_table()
    n_pairs = pairs.num_rows
    rem = resolve(pairs)
    del pairs
    # the kept rows' ids, partition by partition (a cluster's kept row is at or before its removed rows)
    reps = sorted_unique(rem.rep)
    rep_ids: list[pa.Array] = []
    for p in range(len(plan.parts)):
        lo, hi = np.searchsorted(reps, plan.offsets[p:p + 2])
        if hi > lo:
            ids = read_table(src / plan.parts[p], ["id"])["id"].combine_chunks()
            rep_ids.append(ids.take(pa.array(reps[lo:hi] - plan.offsets[p])))
    rep_ids_all = pa.concat_arrays(rep_ids) if rep_ids else pa.array([], pa.string())
    with atomic_target(path) as sink, pq.ParquetWriter(sink, DUPLICATES_SCHEMA, compression="zstd") as w:
        buf: list[pa.Table] = []       # row groups of DUPLICATES_ROW_GROUP rows: few statistics for the removal tasks to scan
        for p in range(len(plan.parts)):
            part = rem.slice(int(plan.offsets[p]), int(plan.offsets[p + 1]))
            if len(part):
                ids = read_table(src / plan.parts[p], ["id"])["id"].combine_chunks()
                of = rep_ids_all.take(pa.array(np.searchsorted(reps, part.rep))).to_pylist()
                buf.append(duplicates_table(part, ids_at(ids, part.order - plan.offsets[p]), of))
            if buf and (p == len(plan.parts) - 1 or sum(t.num_rows for t in buf) >= DUPLICATES_ROW_GROUP):
                w.write_table(pa.concat_tables(buf), row_group_size=DUPLICATES_ROW_GROUP)
                buf = []
    return {"pairs": n_pairs, "removed": len(rem), "clusters": len(reps),
            "removed_by_kind": np.bincount(rem.kind, minlength=4).tolist()}


def _find_duplicates(engine, plan: Plan, src: PathOrURL, d: PathOrURL, progress) -> dict:
    """Stages 1-4 (each task whose output is missing), then the clusters into duplicates.parquet."""
    jobs = [{"dir": str(d), "src": str(src), "part": p, "out": str(_signature_path(d, name))}
            for p, name in enumerate(plan.parts)]
    _run(engine, _signature_task, _todo(jobs, d / "signatures"), "dedup: signatures", progress)
    jobs = [{"dir": str(d), "src": str(src), "bucket": k, "out": str(d / "buckets" / f"bucket-{k:05d}.arrow")}
            for k in range(plan.buckets)]
    _run(engine, _bucket_task, _todo(jobs, d / "buckets"), "dedup: buckets", progress)
    jobs = [{"dir": str(d), "src": str(src), "range": r, "out": str(d / "pairs" / f"range-{r:05d}.arrow")}
            for r in range(plan.ranges)]
    _run(engine, _pairs_task, _todo(jobs, d / "pairs"), "dedup: pairs", progress)
    jobs = [{"dir": str(d), "src": str(src), "range": r, "out": str(d / "verified" / f"range-{r:05d}.arrow")}
            for r in range(plan.ranges)]
    _run(engine, _verify_task, _todo(jobs, d / "verified"), "dedup: verify", progress)
    return _write_duplicates(plan, src, d / DUPLICATES)


def _todo(jobs: list[dict], folder: PathOrURL, output: Callable[[dict], str] = lambda job: job["out"]
          ) -> list[dict]:
    """The jobs whose output is not in `folder` yet: a file there under its final name is complete.
    One listing of the folder, not a request per file on object storage."""
    there = {p.name for p in folder.iterdir()}
    return [j for j in jobs if storage.name(output(j)) not in there]


def run_dedup(engine, src: str | PathOrURL, d: str | PathOrURL, options: DedupOptions,
              progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Deduplicate the partitions of `src` into `d` (kept rows as part-*.parquet, rejects beside
    them, duplicates.parquet); each a local path or a URL. Resumes whatever an earlier run
    finished. Returns the run's counts."""
    from mixkit.runtime.partitions import parts, write_table_atomic

    src, d = storage.path(src), storage.path(d)
    partitions = parts(src)
    for sub in ("signatures", "buckets", "pairs", "joined", "verified"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    plan = Plan.load_or_make(d, partitions, options)
    dups, stats = d / DUPLICATES, d / STATS
    if not (dups.exists() and stats.exists()):       # stats.json is written last
        if options.enabled:
            clusters = _find_duplicates(engine, plan, src, d, progress)
            storage.write_text(stats, json.dumps(_stats(plan, d, clusters), indent=1) + "\n")
        else:
            from mixkit.dedup.removal import empty_duplicates

            write_table_atomic(empty_duplicates(), dups)
            storage.write_text(stats, json.dumps({"rows": plan.rows, "enabled": False}) + "\n")
    jobs = [{"path": str(p), "out_dir": str(d), "duplicates": str(dups), "lo": int(plan.offsets[i]),
             "hi": int(plan.offsets[i + 1])} for i, p in enumerate(partitions)]
    _run(engine, _remove_task, _todo(jobs, d, lambda job: job["path"]), "dedup: remove", progress)
    return json.loads(stats.read_text())


def _stats(plan: Plan, d: PathOrURL, clusters: dict) -> dict:
    """What the run held and made: per-row records, candidates, pairs, files."""
    sig = [file_stats(p) for p in sorted((d / "signatures").glob("*.arrow"))]
    joined = [file_stats(p) for p in sorted((d / "joined").glob("*.arrow"))]
    verified = [file_stats(p) for p in sorted((d / "verified").glob("*.arrow"))]
    by_kind = np.sum([s["records_by_kind"] for s in sig], axis=0).tolist() if sig else [0] * 4
    files = sum(1 for sub in ("signatures", "buckets", "pairs", "joined", "verified") for _ in (d / sub).glob("*.arrow"))
    return {"rows": plan.rows, "partitions": len(plan.parts), "buckets": plan.buckets, "ranges": plan.ranges,
            "bands": plan.bands.to_dict(), "signature_records": sum(s["records"] for s in sig),
            "signature_records_by_kind": by_kind,
            "text_candidates": sum(s["candidates"] for s in joined),
            "text_pairs_verified": sum(s["pairs"] for s in verified), "files": files,
            "bytes": sum(p.stat().st_size for sub in ("signatures", "buckets", "pairs", "joined", "verified")
                         for p in (d / sub).glob("*.arrow")), **clusters}
