"""export_shards: shards through the one tar reader (mixkit.core.shard_format.iter_tar) into a
format's writer (mixkit.export.formats).

Every sample the reader yields is exported or counted in `skipped` by reason (samples the
reader refused, corrupt json, foreign sample formats without `messages`, messages that are not
{role, content} strings (bad_record), `<image>` placeholders that do not match the images
(placeholder_mismatch), repeated ids); nothing is dropped silently.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from mixkit.core import storage
from mixkit.core.schema import image_count
from mixkit.core.shard_format import SampleError, TarSample, expand_shards, iter_tar
from mixkit.export.base import ExportResult
from mixkit.export.formats import FORMATS


def export_shards(shards: str | os.PathLike | list, out_dir: str | os.PathLike, *, format: str,
                  progress: bool = False) -> ExportResult:
    """Write the samples of `shards` (dir, glob, brace pattern or list; paths or URLs) to `out_dir`
    (a local folder) as `format`."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    paths = expand_shards(shards)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    res = ExportResult(out, format)
    seen: set[str] = set()
    writer = FORMATS[format](out, res)
    with _progress(len(paths), progress) as advance:
        for i, path in enumerate(paths):
            writer.begin_shard(i, path)
            for sample, doc in _samples(path, res, seen):
                writer.add(sample, doc)
                res.samples += 1
            writer.end_shard()
            advance(res.samples)
    writer.close()
    return res


def _samples(path: str, res: ExportResult, seen: set[str]) -> Iterator[tuple[TarSample, dict]]:
    """Readable mixkit samples of one shard; the rest counted in res.skipped by reason."""
    try:
        fh = storage.open_read(path)                  # a URL is streamed, never downloaded whole
    except storage.StorageError:
        raise                                         # credentials or bucket: every shard would fail
    except OSError as e:
        res.skipped["unreadable_shard"] += 1
        res.errors.append(f"{storage.display(path)}: {e.strerror or e}")
        return
    with fh:
        yield from _readable(iter_tar(fh, name=path), res, seen)


def _readable(items, res: ExportResult, seen: set[str]) -> Iterator[tuple[TarSample, dict]]:
    for item in items:
        if not isinstance(item, TarSample):
            res.skipped[item.reason] += 1
            continue
        if item.reject is not None:
            res.skipped[item.reject[0]] += 1
            continue
        try:
            doc = item.doc()
            n_images = len(item.image_members())
        except SampleError as e:
            res.skipped[e.reason] += 1
            continue
        messages = doc.get("messages")
        if not isinstance(messages, list):
            res.skipped["not_a_mixkit_sample"] += 1          # img2dataset/llava tars: read them as a source
            continue
        if not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                   for m in messages):
            res.skipped["bad_record"] += 1                   # the formats need {role: str, content: str}
            continue
        if image_count(messages) != n_images:
            res.skipped["placeholder_mismatch"] += 1         # e.g. a key split apart in an unsorted tar
            continue
        sid = str(doc.get("id") or item.key)
        if sid in seen:
            res.skipped["duplicate_id"] += 1
            continue
        seen.add(sid)
        yield item, doc


class _progress:
    """rich progress over shards (stderr); a no-op when disabled."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled

    def __enter__(self):
        if not self.enabled:
            return lambda samples: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("export"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"),
                          TextColumn("{task.fields[samples]:,} samples"), TimeElapsedColumn(),
                          console=Console(stderr=True))
        self.p.__enter__()
        task = self.p.add_task("export", total=self.total, samples=0)
        return lambda samples: self.p.update(task, advance=1, samples=samples)

    def __exit__(self, *exc):
        if self.enabled:
            self.p.__exit__(*exc)
