"""dedup over the whole dataset: signatures per partition (tasks), clusters in the driver."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.build.steps.base import BuildContext, BuildStep, StepResult, empty_rejects, count_rows
from mixkit.core.schema import REJECT_SCHEMA, rows_to_table
from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic


@dataclass
class DedupResult(StepResult):
    rows_dir: Path | None = None
    duplicates_path: Path | None = None

    def duplicate_ids(self) -> pa.Array:
        return pq.read_table(self.duplicates_path, columns=["id"])["id"]

    def rejects(self) -> pa.Table:
        from mixkit.dedup import duplicate_rejects

        dups = pq.read_table(self.duplicates_path)
        if dups.num_rows == 0:
            return empty_rejects()
        rows = []
        for p in parts(self.rows_dir):
            rows += pq.read_table(p, columns=["id", "origin_id", "source", "lang"]).to_pylist()
        return rows_to_table(duplicate_rejects(rows, dups.to_pylist()).rejected, REJECT_SCHEMA)


def _signature_task(job: dict):
    from mixkit.dedup import DedupOptions, compute_signatures

    rows = pq.read_table(job["path"]).to_pylist()
    opts = DedupOptions.model_validate(job["options"])
    return compute_signatures(rows, opts, list(range(job["offset"], job["offset"] + len(rows))))


class Dedup(BuildStep):
    name = "dedup"

    def run(self, ctx: BuildContext) -> DedupResult:
        src, d = ctx.rows_dir, self.dir
        path = d / "duplicates.parquet"
        if not is_done(d):
            from mixkit.dedup import empty_duplicates, find_duplicates

            d.mkdir(parents=True, exist_ok=True)
            jobs, offset = [], 0
            for p in parts(src):
                n = pq.ParquetFile(p).metadata.num_rows
                jobs.append({"path": str(p), "offset": offset, "options": ctx.recipe.steps.dedup.model_dump()})
                offset += n
            sigs = ctx.engine.map_tasks(_signature_task, jobs, on_done=lambda n, t: ctx.progress.update("dedup", n, t))
            sigs = [s for s in sigs if s is not None and s.num_rows]
            dups = find_duplicates(pa.concat_tables(sigs), ctx.recipe.steps.dedup) if sigs else empty_duplicates()
            write_table_atomic(dups, path)
            mark_done(d)
        n_in = count_rows(src)
        return DedupResult(rows_in=n_in, rows_out=n_in - pq.ParquetFile(path).metadata.num_rows,
                           rows_dir=src, duplicates_path=path)
