"""The source formats, one module each; this file gathers them into FORMATS, the one table.

A new format is one module in this folder, and nothing else: the module declares

    FORMAT = SourceFormat("csv", (".csv",), read, priority=60)

(mixkit.sources.base.SourceFormat) with a `read(ctx, batch_rows)` that yields one `(row, None)`
or `(None, reject)` per input record (see mixkit.sources.records, which every format shares).
The recipe's `format:` choices, detection, the directory walk, `mixkit translate` and the
readers all come from FORMATS. Modules are found with pkgutil; a module whose name starts
with `_` is a helper, not a format. FORMATS is ordered by `priority`: detection tries the
formats in that order, and choices and error messages list them so.
"""
from __future__ import annotations

import importlib
import pkgutil

from mixkit.sources.base import SourceFormat
from mixkit.sources.records import SourceError

AUTO = "auto"                   # the recipe's default: detect the format of each file


def discover_formats(package: str) -> dict[str, SourceFormat]:
    """The FORMAT of every module of `package` that is not a helper, ordered by priority."""
    by_name: dict[str, str] = {}        # format name -> module that declares it
    by_priority: dict[int, str] = {}    # priority -> format name
    found: list[SourceFormat] = []
    folder = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(folder):       # sorted by name, so the import order is fixed
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if not isinstance(fmt, SourceFormat):
            raise TypeError(f"{module.__file__} declares no `FORMAT = SourceFormat(...)`: every module in "
                            f"{package} is a source format (start a helper's name with _)")
        if fmt.name == AUTO or fmt.name in by_name:
            raise ValueError(f"source format {fmt.name!r} of {info.name}.py is taken (by "
                             f"{by_name.get(fmt.name, 'the recipe default')}); rename it")
        if fmt.priority in by_priority:
            raise ValueError(f"source formats {by_priority[fmt.priority]!r} and {fmt.name!r} have the same priority "
                             f"{fmt.priority}; give each its own (it orders detection)")
        by_name[fmt.name], by_priority[fmt.priority] = f"{info.name}.py", fmt.name
        found.append(fmt)
    return {f.name: f for f in sorted(found, key=lambda f: f.priority)}


FORMATS: dict[str, SourceFormat] = discover_formats(__name__)
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
