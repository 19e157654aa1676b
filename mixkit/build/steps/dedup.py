"""dedup over the whole dataset: signatures per partition (tasks), clusters in the driver, then
removal per partition (tasks). A row step: the kept rows become the current rows, so no step
after dedup sees a duplicate."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.build.steps.base import BuildContext, BuildStep, RowsResult, count_rows
from mixkit.core.schema import REJECT_SCHEMA, rows_to_table
from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic


@dataclass
class DedupResult(RowsResult):
    duplicates_path: Path | None = None      # id, reason, duplicate_of, cluster_id, detail of each removed row


def _signature_task(job: dict):
    from mixkit.dedup import DedupOptions, compute_signatures

    rows = pq.read_table(job["path"]).to_pylist()
    opts = DedupOptions.model_validate(job["options"])
    return compute_signatures(rows, opts, list(range(job["offset"], job["offset"] + len(rows))))


def _remove_task(job: dict) -> None:
    """One partition without its duplicates; a reject (reason, duplicate_of, cluster) for each."""
    from mixkit.dedup import duplicate_rejects

    src, out = Path(job["path"]), Path(job["out_dir"])
    table = pq.read_table(src)
    dups = pq.read_table(job["duplicates"])
    dups = dups.filter(pc.is_in(dups["id"], value_set=table["id"]))
    split = duplicate_rejects(table.to_pylist(), dups.to_pylist())
    write_table_atomic(rows_to_table(split.rejected, REJECT_SCHEMA), out / src.name.replace("part-", "rejects-"))
    write_table_atomic(rows_to_table(split.kept), out / src.name)      # last: its presence marks it done


class Dedup(BuildStep):
    name = "dedup"
    row_step = True

    def run(self, ctx: BuildContext) -> DedupResult:
        src, d = ctx.rows_dir, self.dir
        path = d / "duplicates.parquet"
        if not is_done(d):
            d.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                from mixkit.dedup import empty_duplicates, find_duplicates

                jobs, offset = [], 0
                for p in parts(src):
                    n = pq.ParquetFile(p).metadata.num_rows
                    jobs.append({"path": str(p), "offset": offset, "options": ctx.recipe.steps.dedup.model_dump()})
                    offset += n
                sigs = ctx.engine.map_tasks(_signature_task, jobs,
                                            on_done=lambda n, t: ctx.progress.update("dedup", n, t))
                sigs = [s for s in sigs if s is not None and s.num_rows]
                dups = find_duplicates(pa.concat_tables(sigs), ctx.recipe.steps.dedup) if sigs else empty_duplicates()
                write_table_atomic(dups, path)
            jobs = [{"path": str(p), "out_dir": str(d), "duplicates": str(path)} for p in parts(src)
                    if not (d / p.name).exists()]
            if jobs:
                ctx.engine.map_tasks(_remove_task, jobs,
                                     on_done=lambda n, t: ctx.progress.update("dedup: remove", n, t))
            mark_done(d)
        ctx.rows_dir = d
        return DedupResult(rows_in=count_rows(src), rows_out=count_rows(d), dir=d, duplicates_path=path)
