"""Hugging Face `datasets`: a save_to_disk directory (Dataset or DatasetDict, every split in name
order) or a single .arrow file. Image columns stay {bytes, path} structs, never decoded."""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

from mixkit.core import storage
from mixkit.sources.base import SourceFormat
from mixkit.sources.records import Pair, ReadContext, SourceError, normalise_batches


def is_dataset_dir(path: str) -> bool:
    """A save_to_disk directory: one dataset, however many files it holds."""
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, n)) for n in ("state.json", "dataset_dict.json"))


def read(ctx: ReadContext, batch_rows: int) -> Iterator[Pair]:
    if os.path.isdir(ctx.file):
        yield from _read_dir(ctx, batch_rows)
    else:
        yield from _read_arrow_file(ctx, batch_rows)


def _read_arrow_file(ctx: ReadContext, batch_rows: int) -> Iterator[Pair]:
    import pyarrow as pa

    # a URL through a seekable stream (open_file reads the footer first); a local file mapped
    src = pa.PythonFile(storage.open_read(ctx.file), mode="r") if storage.is_remote(ctx.file) else pa.memory_map(ctx.file)
    try:  # HF datasets writes the IPC stream format; other tools the file format.
        reader: Any = pa.ipc.open_stream(src)
        batches: Iterable = reader
    except pa.ArrowInvalid:
        try:
            reader = pa.ipc.open_file(src)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid as e:
            raise SourceError(f"source {ctx.source!r}: {ctx.file} is not an Arrow file ({e})") from e
    yield from normalise_batches(ctx, (b2 for b in batches for b2 in pa.Table.from_batches([b]).to_batches(batch_rows)),
                                 ctx.base)


def _read_dir(ctx: ReadContext, batch_rows: int) -> Iterator[Pair]:
    import datasets

    ds = datasets.load_from_disk(ctx.file)
    splits = [(name, ds[name]) for name in sorted(ds)] if isinstance(ds, datasets.DatasetDict) else [("", ds)]
    for name, d in splits:
        # Arrow format: image columns stay {bytes, path} structs, never decoded to PIL.
        label = f"{ctx.base}/{name}" if name else ctx.base
        tables = d.with_format("arrow").iter(batch_size=batch_rows)
        yield from normalise_batches(ctx, (t for t in tables), label)


FORMAT = SourceFormat("hf", (".arrow",), read, priority=40, is_dataset_dir=is_dataset_dir)
