"""Reading a source: its files (a file, a directory, a glob or WebDataset brace notation) and
each file's records as batches of schema rows and rejects."""
from __future__ import annotations

import glob as globlib
import os
from typing import Iterator

from mixkit.core import storage
from mixkit.lang import languages
from mixkit.sources.formats import FORMATS, check_format, dataset_dir_format, detect_format
from mixkit.sources.records import ReadContext, SourceError


def _expand(path: str) -> list[tuple[str, bool]]:
    """(existing path, came from a pattern) for each expansion of braces and globs. A URL's glob
    matches objects (mixkit.core.storage), a local one files and directories."""
    import braceexpand  # a webdataset dependency; expands 'data/{00000..00009}.tar'
    out: list[tuple[str, bool]] = []
    remote = storage.is_remote(path)
    for p in braceexpand.braceexpand(path if remote else os.path.expanduser(storage.local_path(path))):
        if globlib.has_magic(p):
            out.extend((g, True) for g in (storage.glob(p) if remote else globlib.glob(p, recursive=True)))
        elif storage.exists(p):
            out.append((p, False))
    return out


def _matches(path: str, fmt: str | None) -> bool:
    """Whether `path` is of format `fmt` (None: of any known format)."""
    return any(f.matches(path) for f in FORMATS.values()) if fmt is None else FORMATS[fmt].matches(path)


def list_source_files(path: str, format: str | None = None, *, source: str = "") -> list[str]:
    """Files of a source: `path` is a file, a directory, a glob or WebDataset brace notation, on
    disk or at a URL (s3://, gs://, hf://, file://: anything mixkit.core.storage opens).

    A directory is searched recursively for files of `format` (or of any known format when
    format is None/'auto'); a dataset directory (HF save_to_disk) is one entry. A file named
    directly is taken whatever its extension when `format` is given. Sorted, deterministic.
    """
    fmt = check_format(format, source)
    files: set[str] = set()
    for p, from_pattern in _expand(path):
        if storage.is_remote(p):
            if not from_pattern and storage.is_dir(p):      # a prefix: every object under it of the format
                files.update(f for f in storage.find(p) if _matches(f, fmt))
            elif _matches(p, fmt) or (fmt is not None and not from_pattern):   # glob hits are objects
                files.add(p)
            continue
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                kind = dataset_dir_format(root)
                if kind is not None:            # a dataset directory is one entry, whatever it holds
                    if fmt in (None, kind):
                        files.add(root)
                    dirs[:] = []
                    continue
                files.update(os.path.join(root, n) for n in names if _matches(os.path.join(root, n), fmt))
        elif os.path.isfile(p) and (_matches(p, fmt) or (fmt is not None and not from_pattern)):
            files.add(p)
    if not files:
        storage.raise_if_no_bucket(path)
        what = f"{fmt} files" if fmt else "files of a known format (" + ", ".join(FORMATS) + ")"
        where = ("the URL" if storage.is_remote(path) else
                 f"the path (relative paths are relative to the working directory {os.getcwd()!r})")
        raise SourceError(
            f"source {source!r}: no files match {storage.display(path)!r} (looked for {what}); check {where}, "
            f"the glob or brace pattern, and the source's `format:`")
    return sorted(files)


def read_source_file(file: str, *, source: str, format: str | None, task: str, lang: str = "eng_Latn",
                     image_root: str | None = None, batch_rows: int = 512
                     ) -> Iterator[tuple[list[dict], list[dict]]]:
    """Stream one file (or dataset directory) as (rows, rejects) batches of schema rows.

    Every record of the file yields exactly one row or one reject (step "read").
    `format` None or 'auto' detects it from the name. `image_root` resolves relative image
    paths (default: the file's directory, then the cwd).
    """
    fmt = check_format(format, source) or detect_format(file)
    if not storage.exists(file):
        raise SourceError(f"source {source!r}: {file!r} does not exist; check the source's path")
    try:
        ctx = ReadContext(file, source, task, lang, image_root)
    except languages.UnknownLanguageError as e:
        raise SourceError(f"source {source!r}: {e}") from e
    rows: list[dict] = []
    rejects: list[dict] = []
    for row, rej in FORMATS[fmt].read(ctx, batch_rows):
        if row is not None:
            rows.append(row)
        else:
            rejects.append(rej)
        if len(rows) + len(rejects) >= batch_rows:
            yield rows, rejects
            rows, rejects = [], []
    if rows or rejects:
        yield rows, rejects


def read_source(path: str, *, source: str, format: str | None = None, task: str, lang: str = "eng_Latn",
                image_root: str | None = None, batch_rows: int = 512) -> Iterator[tuple[list[dict], list[dict]]]:
    """All files of a source in order (list_source_files + read_source_file)."""
    for f in list_source_files(path, format, source=source):
        yield from read_source_file(f, source=source, format=format, task=task, lang=lang,
                                    image_root=image_root, batch_rows=batch_rows)
