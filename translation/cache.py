"""Content-addressed translation cache: one small JSON file per entry in a sharded directory.

Key = sha256(model id, generation settings, source lang, target lang, source text). Files, not
a database, so that many processes and Ray workers on several machines can share one path
(NFS, Lustre, a mounted bucket): a writer writes a unique temporary file in the entry's
directory and renames it into place (atomic on POSIX, also on NFS within one directory); a
reader sees a whole entry or none. Two writers of the same key write the same content, so the
last rename winning is harmless. Corrupt or foreign files read as misses.

Layout: <cache_dir>/v1/<key[:2]>/<key>.json (256 directories: ~4k files each per million).
Writes go to a small thread pool (a create+rename costs ~1-3 ms on network or busy disks) so
they overlap with the next model batch; `flush()` waits for them (the stage flushes before it
returns a batch, so a finished batch's translations are on disk).
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

VERSION = "v1"


def cache_key(model_id: str, settings: dict, src_lang: str, tgt_lang: str, text: str) -> str:
    blob = json.dumps([model_id, settings, src_lang, tgt_lang, text], ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class TranslationCache:
    def __init__(self, cache_dir: str | os.PathLike, model_id: str, settings: dict):
        self.root = Path(cache_dir) / VERSION
        self.model_id = model_id
        self.settings = settings
        self._mem: dict[str, tuple[str, bool]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._dirs: set[Path] = set()

    def key(self, src_lang: str, tgt_lang: str, text: str) -> str:
        return cache_key(self.model_id, self.settings, src_lang, tgt_lang, text)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, src_lang: str, tgt_lang: str, text: str) -> tuple[str, bool] | None:
        """(translation, truncated) or None."""
        k = self.key(src_lang, tgt_lang, text)
        if k in self._mem:
            return self._mem[k]
        try:
            with open(self._path(k), encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        if entry.get("src") != text or entry.get("tgt_lang") != tgt_lang:   # collision or foreign file
            return None
        self._mem[k] = (entry["translation"], bool(entry.get("truncated", False)))
        return self._mem[k]

    def put(self, src_lang: str, tgt_lang: str, text: str, translation: str, truncated: bool = False) -> None:
        # the raw output is cached even when a check later rejects it: checks rerun on every
        # build (cheap), so changed thresholds need no model call
        k = self.key(src_lang, tgt_lang, text)
        self._mem[k] = (translation, truncated)
        entry = {"model": self.model_id, "settings": self.settings, "src_lang": src_lang, "tgt_lang": tgt_lang,
                 "src": text, "translation": translation, "truncated": truncated}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tcache")
        self._pending.append(self._pool.submit(self._write, k, entry))

    def _write(self, k: str, entry: dict) -> None:
        path = self._path(k)
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        tmp = path.parent / f".{k}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(entry, f, ensure_ascii=False)
        os.replace(tmp, path)

    def flush(self) -> None:
        """Wait until every put is on disk; re-raises a write error (disk full, permissions)."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def __len__(self) -> int:
        self.flush()
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0
