"""Export mixkit shards for the trainers people already use, through the one tar reader.

    export_shards("runs/demo/shards", "out/llava", format="llava")
    export_shards("runs/demo/shards", "out/pq", format="parquet")

llava    DIR/data.json: a JSON list of {"id", "image" (path relative to DIR; a list when a
         sample has several images; absent for text-only samples), "conversations":
         [{"from": "human"|"gpt"|"system", "value"}], "lang", "task", "source"}, the `<image>`
         placeholders kept where the conversation has them; images under
         DIR/images/SHARD/KEY.jpg (KEY.0.jpg, KEY.1.png ... for several). The layout LLaVA
         (--data_path DIR/data.json --image_folder DIR), LLaMA-Factory (sharegpt formatting;
         DIR/dataset_info.json is written for it) and prismatic read.
parquet  DIR/part-00000.parquet ... (one per shard): columns id, origin_id, source, task, lang,
         messages (list of {role, content}), images (list of Hugging Face Image structs
         {bytes, path}: the encoded bytes, never decoded), meta (JSON string). Loads with
         `datasets.load_dataset("parquet", data_dir=DIR)`.

Every sample the reader yields is exported or counted in `skipped` by reason (samples the
reader refused, corrupt json, foreign layouts without `messages`, messages that are not
{role, content} strings (bad_record), `<image>` placeholders that do not match the images
(placeholder_mismatch), repeated ids); nothing is dropped silently.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mixkit.core.schema import image_count
from mixkit.core.shard_format import SampleError, TarSample, expand_shards, image_ext, iter_tar

FORMATS = ("llava", "parquet")
LLAVA_FROM = {"user": "human", "assistant": "gpt", "system": "system"}
LLAVA_FILE = "data.json"
IMAGES_DIR = "images"
_PARQUET_ROW_GROUP = 256          # rows per row group: bounds memory with image bytes inline


@dataclass
class ExportResult:
    out_dir: Path
    format: str
    samples: int = 0
    images: int = 0
    files: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)      # shards that could not be opened

    def summary(self) -> str:
        skipped = ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped.items())) or "none"
        return (f"{self.samples:,} samples, {self.images:,} images -> {self.out_dir} ({self.format}); "
                f"skipped: {skipped}" + "".join(f"\n  cannot read {e}" for e in self.errors))


def export_shards(shards: str | os.PathLike | list, out_dir: str | os.PathLike, *, format: str,
                  progress: bool = False) -> ExportResult:
    """Write the samples of `shards` (dir, glob, brace pattern or list) to `out_dir` as `format`."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    paths = expand_shards(shards)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    res = ExportResult(out, format)
    seen: set[str] = set()
    writer = _LlavaWriter(out, res) if format == "llava" else _ParquetWriter(out, res)
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
        fh = open(path, "rb")
    except OSError as e:
        res.skipped["unreadable_shard"] += 1
        res.errors.append(f"{path}: {e.strerror or e}")
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


class _LlavaWriter:
    def __init__(self, out: Path, res: ExportResult):
        self.out, self.res = out, res
        self.tmp = out / (LLAVA_FILE + ".tmp")
        self.fh = open(self.tmp, "w", encoding="utf-8")
        self.fh.write("[")
        self.first = True
        self.used: set[str] = set()

    def begin_shard(self, index: int, path: str) -> None:
        # One image folder per shard: no folder grows to millions of files, no name clashes
        # (train.0000.tar -> train.0000; a name met before, from another folder, gets the index).
        name = _shard_stem(path)
        if name in self.used:
            name = f"{name}-{index:05d}"
        self.used.add(name)
        self.rel = f"{IMAGES_DIR}/{name}"
        (self.out / self.rel).mkdir(parents=True, exist_ok=True)

    def add(self, sample: TarSample, doc: dict) -> None:
        key = _safe_key(sample.key)
        images = sample.images()
        names = [f"{self.rel}/{key}.{image_ext(b)}" if len(images) == 1 else f"{self.rel}/{key}.{i}.{image_ext(b)}"
                 for i, b in enumerate(images)]
        for name, data in zip(names, images):
            (self.out / name).write_bytes(data)
        rec: dict = {"id": str(doc.get("id") or sample.key)}
        if names:
            rec["image"] = names[0] if len(names) == 1 else names
        rec["conversations"] = [{"from": LLAVA_FROM.get(m.get("role"), str(m.get("role"))), "value": m.get("content", "")}
                                for m in doc["messages"]]
        rec.update({k: str(doc.get(k) or "") for k in ("lang", "task", "source")})
        self.fh.write(("\n" if self.first else ",\n") + json.dumps(rec, ensure_ascii=False))
        self.first = False
        self.res.images += len(names)

    def end_shard(self) -> None:
        pass

    def close(self) -> None:
        self.fh.write("\n]\n")
        self.fh.close()
        os.replace(self.tmp, self.out / LLAVA_FILE)
        # LLaMA-Factory reads this beside the data (dataset_dir=DIR, dataset=mixkit).
        info = {"mixkit": {"file_name": LLAVA_FILE, "formatting": "sharegpt",
                           "columns": {"messages": "conversations", "images": "image"},
                           "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                    "assistant_tag": "gpt", "system_tag": "system"}}}
        (self.out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        self.res.files += [LLAVA_FILE, "dataset_info.json"]


def _safe_key(key: str) -> str:
    """A key as one file name (foreign shards may have folders in keys); a key that had to be
    changed gets a hash of itself, so `d/a.b/0` and `d/a_b/0` do not overwrite each other."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
    if safe == key:
        return key
    return f"{safe}-{hashlib.sha1(key.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def _shard_stem(path: str) -> str:
    """A shard's file name without its tar suffix, as one safe folder name."""
    name = Path(path).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.lower().endswith(suffix):
            name = name[:-len(suffix)]
            break
    if name and not name.startswith(".") and all(c.isalnum() or c in "-_." for c in name):
        return name
    return _safe_key(name) if name else "shard"


class _ParquetWriter:
    def __init__(self, out: Path, res: ExportResult):
        self.out, self.res = out, res
        self.schema = _parquet_schema()
        self.writer = None

    def begin_shard(self, index: int, path: str) -> None:
        import pyarrow.parquet as pq

        self.name = f"part-{index:05d}.parquet"
        self.writer = pq.ParquetWriter(self.out / (self.name + ".tmp"), self.schema)
        self.rows: list[dict] = []

    def add(self, sample: TarSample, doc: dict) -> None:
        images = sample.image_members()
        self.rows.append({
            "id": str(doc.get("id") or sample.key), "origin_id": str(doc.get("origin_id") or ""),
            "source": str(doc.get("source") or ""), "task": str(doc.get("task") or ""), "lang": str(doc.get("lang") or ""),
            "messages": [{"role": m.get("role"), "content": m.get("content")} for m in doc["messages"]],
            "images": [{"bytes": data, "path": sample.name(ext)} for ext, data in images],
            "meta": doc["meta"] if isinstance(doc.get("meta"), str) else json.dumps(doc.get("meta") or {}),
        })
        self.res.images += len(images)
        if len(self.rows) >= _PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def end_shard(self) -> None:
        self._flush()
        self.writer.close()
        os.replace(self.out / (self.name + ".tmp"), self.out / self.name)
        self.res.files.append(self.name)

    def close(self) -> None:
        pass


def _parquet_schema():
    """The arrow schema with Hugging Face feature metadata, so `datasets` sees Image columns."""
    from datasets import Features, Image, Value

    s = Value("string")
    return Features({"id": s, "origin_id": s, "source": s, "task": s, "lang": s,
                     "messages": [{"role": s, "content": s}], "images": [Image()], "meta": s}).arrow_schema


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
