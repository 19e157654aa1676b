"""What every step shares: the context, the step base class, the result base class."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mixkit.build.folder import BuildFolder
from mixkit.build.recipe import Recipe
from mixkit.core.schema import REJECT_SCHEMA
from mixkit.runtime.partitions import parquet_file, parts, read_table

ROWS_PER_PART = 2000
# A shuffle block (engine.group_apply batches its items up to these): small rows (ids, keys,
# entries) by count, sample rows by bytes.
SHUFFLE_ROWS = 500_000
SHUFFLE_BYTES = 256 << 20


def empty_rejects() -> pa.Table:
    return REJECT_SCHEMA.empty_table()


def count_rows(directory: Path, prefix: str = "part-") -> int:
    return file_rows(parts(directory, prefix))


def file_rows(files: list[Path]) -> int:
    """Rows in parquet files, from their footers (no data read)."""
    return sum(rows_of(files))


def rows_of(files: list[Path]) -> list[int]:
    return [parquet_file(p).metadata.num_rows for p in files]


def _tally_task(job: tuple[str, list[str]]) -> list[list]:
    path, columns = job
    t = read_table(path, columns=columns)
    return [[g[c] for c in columns] + [g["count_all"]] for g in t.group_by(columns).aggregate([([], "count_all")]).to_pylist()]


def tally(engine, files: list[Path], columns: list[str]) -> Counter:
    """How many rows of `files` have each combination of `columns` (counted by workers, one task
    per file): e.g. rejects by (step, reason)."""
    out: Counter = Counter()
    for rows in engine.map_tasks(_tally_task, [(str(p), columns) for p in files]):
        for *key, n in rows:
            out[tuple(key)] += n
    return out


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

    def reject_files(self) -> list[Path]:
        """Parquet files (REJECT_SCHEMA) of the rows this step removed, with step and reason."""
        return []

    def rejected(self) -> int:
        return file_rows(self.reject_files())

    def rejects(self) -> pa.Table:
        """The reject records in one table (tests, small builds; a build counts them in workers)."""
        tables = [read_table(p) for p in self.reject_files()]
        return pa.concat_tables(tables).cast(REJECT_SCHEMA) if tables else empty_rejects()

    def accounting_problem(self) -> str | None:
        """Why this step's rows do not add up (rows lost or made from nothing), or None."""
        return None


@dataclass
class RowsResult(StepResult):
    """A row step's result: its kept rows are in `dir` (part-*.parquet), its rejects beside them."""
    dir: Path | None = None

    def reject_files(self) -> list[Path]:
        return parts(self.dir, "rejects-") if self.dir else []

    def accounting_problem(self) -> str | None:
        rejected = self.rejected()
        if self.rows_in != self.rows_out + rejected:
            return (f"{self.rows_in} rows in, {self.rows_out} kept and {rejected} rejected: "
                    f"{self.rows_in - self.rows_out - rejected:+d} rows unaccounted for")
        return None
