"""Parquet partitions and completion markers: the unit of work and of resume.

A folder of `part-NNNNN.parquet` files is a dataset; each file appears under its final name only
when complete (written as NAME.tmp and renamed on a disk; one committed upload on object storage),
so a file that exists is complete. A folder's `_SUCCESS` marker says every partition it should
hold is there. Folders are local paths or URLs (mixkit.core.storage.path): the same code serves both.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from mixkit.core import storage
from mixkit.core.schema import REJECT_SCHEMA, rows_to_table

DONE = "_SUCCESS"
# Bytes fetched ahead of each read of a remote Arrow file: its readers fetch a footer, then a batch
# of a file that holds many (one per destination); a big read-ahead would fetch the others too.
ARROW_READ_BLOCK = 64 << 10


def is_done(directory) -> bool:
    return (storage.path(directory) / DONE).exists()


def mark_done(directory) -> None:
    d = storage.path(directory)
    d.mkdir(parents=True, exist_ok=True)
    storage.write_text(d / DONE, "ok\n")


def write_table_atomic(table: pa.Table, path, **options) -> None:
    """`options` (pyarrow.parquet.write_table's) replace the defaults."""
    with atomic_target(path) as sink:
        pq.write_table(table, sink, **{"compression": "zstd", "row_group_size": 256,   # small groups: bounded reads
                                       **options})


@contextmanager
def atomic_target(path):
    """Where to write a file that must appear under `path` only when complete, for pyarrow's
    writers: on a disk a NAME.tmp path (written natively), renamed when the block ends; on object
    storage a `storage.AtomicWrite` committed when it ends. An exception leaves nothing under `path`."""
    path = storage.path(path)
    if not isinstance(path, Path):
        with storage.AtomicWrite(path) as f:
            yield f
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield str(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextmanager
def arrow_writer(path, schema: pa.Schema, **options):
    """An Arrow IPC file writer (`options`: pyarrow.ipc.IpcWriteOptions'); the file appears under
    `path`, whole, when the block ends without an exception."""
    with atomic_target(path) as sink, ipc.new_file(sink, schema, options=ipc.IpcWriteOptions(**options)) as w:
        yield w


@contextmanager
def open_arrow(path):
    """An Arrow IPC file's reader, to read batches of at random, closed when the block ends:
    memory-mapped on a disk; on object storage a seekable stream that fetches the footer and the
    batches read, not the whole file."""
    path = storage.path(path)
    if isinstance(path, Path):
        src = pa.memory_map(str(path))
    else:
        src = pa.PythonFile(storage.open_read(path, block_size=ARROW_READ_BLOCK), mode="r")
    with src:
        yield ipc.open_file(src)


def parquet_file(path, **options) -> pq.ParquetFile:
    """A parquet file to read from a path or a URL (streamed in range requests, not downloaded)."""
    path = storage.path(path)
    return pq.ParquetFile(path if isinstance(path, Path) else storage.open_read(path), **options)


def read_table(path, columns: list[str] | None = None, filters: list | None = None) -> pa.Table:
    """A whole parquet file, or its rows that pass `filters` (pyarrow's; row groups outside are
    skipped). Without filters through pq.ParquetFile: pq.read_table imports pandas, 1.3 s per process."""
    if filters is None:
        return parquet_file(path).read(columns=columns)
    path = storage.path(path)
    return pq.read_table(path if isinstance(path, Path) else storage.open_read(path), columns=columns, filters=filters)


def parts(directory, prefix: str = "part-") -> list:
    return sorted(storage.path(directory).glob(f"{prefix}*.parquet"))


def rejects_table(directory) -> pa.Table:
    tables = [read_table(p) for p in parts(directory, "rejects-")]
    return pa.concat_tables(tables).cast(REJECT_SCHEMA) if tables else REJECT_SCHEMA.empty_table()


def write_rows_partitioned(rows: Iterable[dict], out_dir, rows_per_part: int, prefix: str = "part-",
                           start: int = 0) -> int:
    """Write rows into out_dir/part-00000.parquet, ...; returns the number of parts written."""
    out_dir = storage.path(out_dir)
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
