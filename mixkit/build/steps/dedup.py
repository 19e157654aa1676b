"""dedup over the whole dataset as distributed stages (mixkit.dedup.stages): signatures per
partition, pairs per bucket and per range, clusters from the pairs in the driver, removal per
partition. A row step: the kept rows become the current rows, so no step after dedup sees a
duplicate."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mixkit.build.steps.base import BuildContext, BuildStep, RowsResult, count_rows
from mixkit.core.storage import URLPath
from mixkit.runtime.partitions import is_done, mark_done


@dataclass
class DedupResult(RowsResult):
    duplicates_path: Path | URLPath | None = None  # order, id, reason, duplicate_of, cluster_id, detail per removed row
    stats: dict = field(default_factory=dict)  # rows, bands, signature records, candidates, pairs, files (stats.json)


class Dedup(BuildStep):
    name = "dedup"
    row_step = True

    def run(self, ctx: BuildContext) -> DedupResult:
        import json

        from mixkit.dedup.stages import DUPLICATES, STATS, run_dedup

        src, d = ctx.rows_dir, self.dir
        if not is_done(d):
            run_dedup(ctx.engine, src, d, ctx.recipe.steps.dedup, progress=ctx.progress.update)
            mark_done(d)
        ctx.rows_dir = d
        return DedupResult(rows_in=count_rows(src), rows_out=count_rows(d), dir=d, duplicates_path=d / DUPLICATES,
                           stats=json.loads((d / STATS).read_text()))
