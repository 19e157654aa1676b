"""What a source format is: the SourceFormat every module in mixkit/sources/formats/ declares.

It lives here, outside the formats package, so a format module can import it without
importing the registry that imports the format modules (mixkit/sources/formats/__init__.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

from mixkit.sources.records import Pair, ReadContext


@dataclass(frozen=True)
class SourceFormat:
    """One input format: its `format:` name, how a file of it is recognised, and its reader.

    `priority` orders the formats: detection tries them in that order (lower first), and the
    `format:` choices and error messages list them so. Two formats may claim the same
    extension; the one with the lower priority is detected, the other must be named.
    """

    name: str
    extensions: tuple[str, ...]                         # lower-case file name endings
    read: Callable[[ReadContext, int], Iterator[Pair]]  # (context, batch_rows) -> one pair per record
    priority: int                                       # detection order, unique across formats
    is_dataset_dir: Callable[[str], bool] | None = None  # a directory that is one dataset of this format

    def matches(self, path: str) -> bool:
        """Whether `path` is of this format: a dataset directory of it, or a file named so."""
        if self.is_dataset_dir is not None and os.path.isdir(path):
            return self.is_dataset_dir(path)
        return path.lower().endswith(self.extensions)
