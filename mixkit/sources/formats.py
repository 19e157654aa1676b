"""The one table of source formats: name -> how a file of it is recognised -> its reader.

The recipe's `format:` choices, format detection, the directory walk and the readers all come
from FORMATS. A new format is a module with `read(ctx, batch_rows)` (yielding one
`(row, None)` or `(None, reject)` per input record, see mixkit.sources.records) and one line
here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

from mixkit.sources import hf, jsonl, llava, parquet, webdataset
from mixkit.sources.records import Pair, ReadContext, SourceError


@dataclass(frozen=True)
class SourceFormat:
    name: str
    extensions: tuple[str, ...]                         # lower-case file name endings
    read: Callable[[ReadContext, int], Iterator[Pair]]  # (context, batch_rows) -> one pair per record
    is_dataset_dir: Callable[[str], bool] | None = None  # a directory that is one dataset of this format

    def matches(self, path: str) -> bool:
        """Whether `path` is of this format: a dataset directory of it, or a file named so."""
        if self.is_dataset_dir is not None and os.path.isdir(path):
            return self.is_dataset_dir(path)
        return path.lower().endswith(self.extensions)


FORMATS: dict[str, SourceFormat] = {f.name: f for f in (
    SourceFormat("parquet", (".parquet",), parquet.read),
    SourceFormat("jsonl", (".jsonl", ".jsonlines", ".ndjson"), jsonl.read),
    SourceFormat("llava", (".json",), llava.read),
    SourceFormat("hf", (".arrow",), hf.read, is_dataset_dir=hf.is_dataset_dir),
    SourceFormat("webdataset", (".tar", ".tar.gz", ".tgz"), webdataset.read),
)}
AUTO = "auto"                   # the recipe's default: detect the format of each file
FORMAT_CHOICES = (AUTO, *FORMATS)


def dataset_dir_format(path: str) -> str | None:
    """The format of a directory that is one dataset (HF save_to_disk), else None."""
    return next((f.name for f in FORMATS.values() if f.is_dataset_dir is not None and f.is_dataset_dir(path)), None)


def detect_format(file: str) -> str:
    """Format of one file (from its name) or dataset directory (from what it holds)."""
    fmt = dataset_dir_format(file) or next(
        (f.name for f in FORMATS.values() if file.lower().endswith(f.extensions)), None)
    if fmt is not None:
        return fmt
    raise SourceError(
        f"cannot tell the format of {file!r} from its name; give the source a `format:` "
        f"({', '.join(FORMATS)}) or use one of the extensions "
        + ", ".join(e for f in FORMATS.values() for e in f.extensions))


def check_format(format: str | None, source: str = "") -> str | None:
    """A format name given by a user (None or 'auto': detect per file); SourceError when unknown."""
    if format in (None, AUTO):
        return None
    if format not in FORMATS:
        raise SourceError(f"source {source!r}: unknown format {format!r}; use one of {', '.join(FORMAT_CHOICES)}")
    return format
