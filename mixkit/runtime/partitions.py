"""Parquet partitions and completion markers: the unit of work and of resume.

A folder of `part-NNNNN.parquet` files is a dataset; each file is written under a temporary name
and renamed into place, so a file that exists is complete. A folder's `_SUCCESS` marker says every
partition it should hold is there.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.core.schema import REJECT_SCHEMA, rows_to_table

DONE = "_SUCCESS"


def is_done(directory: Path) -> bool:
    return (Path(directory) / DONE).exists()


def mark_done(directory: Path) -> None:
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / DONE).write_text("ok\n")


def write_table_atomic(table: pa.Table, path: Path, **options) -> None:
    """`options` (pyarrow.parquet.write_table's) replace the defaults."""
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, **{"compression": "zstd", "row_group_size": 256,   # small groups: bounded reads
                                  **options})
    os.replace(tmp, path)


def parts(directory: Path, prefix: str = "part-") -> list[Path]:
    return sorted(p for p in Path(directory).glob(f"{prefix}*.parquet"))


def rejects_table(directory: Path) -> pa.Table:
    tables = [pq.read_table(p) for p in parts(directory, "rejects-")]
    return pa.concat_tables(tables).cast(REJECT_SCHEMA) if tables else REJECT_SCHEMA.empty_table()


def write_rows_partitioned(rows: Iterable[dict], out_dir: Path, rows_per_part: int, prefix: str = "part-",
                           start: int = 0) -> int:
    """Write rows into out_dir/part-00000.parquet, ...; returns the number of parts written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buf, n = [], start
    for r in rows:
        buf.append(r)
        if len(buf) >= rows_per_part:
            write_table_atomic(rows_to_table(buf), out_dir / f"{prefix}{n:05d}.parquet")
            buf, n = [], n + 1
    if buf:
        write_table_atomic(rows_to_table(buf), out_dir / f"{prefix}{n:05d}.parquet")
        n += 1
    return n - start
