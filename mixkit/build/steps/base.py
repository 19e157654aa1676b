"""What every step shares: the context, the step base class, the result base class."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.build.folder import BuildFolder
from mixkit.build.recipe import Recipe
from mixkit.core.schema import REJECT_SCHEMA
from mixkit.runtime.partitions import parts, rejects_table

ROWS_PER_PART = 2000


def empty_rejects() -> pa.Table:
    return REJECT_SCHEMA.empty_table()


def count_rows(directory: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts(directory))


# ---------------------------------------------------------------------------------------------
# the context every step sees, and the step base class

@dataclass
class BuildContext:
    recipe: Recipe
    engine: Any                           # mixkit.runtime.engines.Engine or LocalEngine
    folder: BuildFolder
    progress: Any                         # mixkit.runtime.progress.Progress
    rows_dir: Path | None = None          # the current source rows (set by row steps)
    results: dict[str, Any] = field(default_factory=dict)

    def result(self, kind: type):
        """The result of the latest step that produced a `kind` (e.g. PlanResult)."""
        for r in reversed(list(self.results.values())):
            if isinstance(r, kind):
                return r
        raise LookupError(f"no earlier step produced a {kind.__name__}: check the order of the build's steps")


class BuildStep:
    """One step of a build. `dir` is its folder (set by the build before `run`).

    A row step (`row_step = True`: read, filters, dedup, any StageStep) only removes rows: its kept
    rows become the current rows (`ctx.rows_dir`) and every row it drops is a reject. A dry run runs
    the leading row steps and reports what they would remove.
    """

    name: str = "step"
    row_step: bool = False
    dir: Path

    def run(self, ctx: BuildContext):
        raise NotImplementedError

    def enabled(self, recipe: Recipe) -> bool:
        return True


@dataclass
class StepResult:
    rows_in: int = 0
    rows_out: int = 0

    def rejects(self) -> pa.Table:
        """The reject records this step produced (rows it removed, with step and reason)."""
        return empty_rejects()

    def accounting_problem(self) -> str | None:
        """Why this step's rows do not add up (rows lost or made from nothing), or None."""
        return None


@dataclass
class RowsResult(StepResult):
    """A row step's result: its kept rows are in `dir` (part-*.parquet), its rejects beside them."""
    dir: Path | None = None

    def rejects(self) -> pa.Table:
        return rejects_table(self.dir)

    def accounting_problem(self) -> str | None:
        rejected = self.rejects().num_rows
        if self.rows_in != self.rows_out + rejected:
            return (f"{self.rows_in} rows in, {self.rows_out} kept and {rejected} rejected: "
                    f"{self.rows_in - self.rows_out - rejected:+d} rows unaccounted for")
        return None
