"""LLaVA-style export: DIR/data.json, a JSON list of {"id", "image" (path relative to DIR; a list
when a sample has several images; absent for text-only samples), "conversations":
[{"from": "human"|"gpt"|"system", "value"}], "lang", "task", "source"}, the `<image>`
placeholders kept where the conversation has them; images under DIR/images/SHARD/KEY.jpg
(KEY.0.jpg, KEY.1.png ... for several). What LLaVA (--data_path DIR/data.json
--image_folder DIR), LLaMA-Factory (sharegpt formatting; DIR/dataset_info.json is written for
it) and prismatic read."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mixkit.core import storage
from mixkit.core.shard_format import TarSample, image_ext
from mixkit.export.base import ExportResult, ExportWriter

LLAVA_FROM = {"user": "human", "assistant": "gpt", "system": "system"}
LLAVA_FILE = "data.json"
IMAGES_DIR = "images"


class LlavaWriter(ExportWriter):
    name = "llava"
    about = "data.json + images/ (LLaVA, LLaMA-Factory, prismatic)"

    def __init__(self, out: Path, res: ExportResult):
        super().__init__(out, res)
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
    name = storage.name(path)                       # a path or a URL
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.lower().endswith(suffix):
            name = name[:-len(suffix)]
            break
    if name and not name.startswith(".") and all(c.isalnum() or c in "-_." for c in name):
        return name
    return _safe_key(name) if name else "shard"
