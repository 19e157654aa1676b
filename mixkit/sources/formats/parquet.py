"""Parquet files, streamed in record batches (images stay the bytes stored)."""
from __future__ import annotations

from typing import Iterator

from mixkit.core import storage
from mixkit.sources.base import SourceFormat
from mixkit.sources.records import Pair, ReadContext, SourceError, normalise_batches


def read(ctx: ReadContext, batch_rows: int) -> Iterator[Pair]:
    import pyarrow.parquet as pq

    with storage.open_read(ctx.file) as fh:        # a URL is read in range requests, never whole first
        try:
            pf = pq.ParquetFile(fh)
        except storage.StorageError:
            raise
        except Exception as e:
            raise SourceError(f"source {ctx.source!r}: {ctx.file} is not a readable parquet file ({e}); "
                              "re-export it or remove it from the source") from e
        yield from normalise_batches(ctx, pf.iter_batches(batch_size=batch_rows), ctx.base)


FORMAT = SourceFormat("parquet", (".parquet",), read, priority=10)
