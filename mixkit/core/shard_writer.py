"""WebDataset shard writer (atomic, bounded by samples and bytes, byte-deterministic).

The sample format (which members a row becomes) and the manifest schema live in
mixkit.core.shard_format; this module writes the tar bytes. Tar headers carry no time, user or
host, so the same rows in the same order give the same bytes (and sha256).
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections import Counter
from typing import Iterable

from mixkit.core import storage
from mixkit.core.shard_format import counts_dict, sample_members, write_manifest  # noqa: F401 (re-exported)


def sample_size(row: dict) -> int:
    """Bytes a sample takes in a tar (headers + padded payloads): used to bound shards."""
    return sum(512 + (len(data) + 511) // 512 * 512 for _, data in sample_members(row))


def _padded(payload: int) -> int:
    """Final tar size for `payload` bytes of members: two zero end blocks, padded to a 10 KiB record."""
    rec = tarfile.RECORDSIZE
    return (payload + 1024 + rec - 1) // rec * rec


class _HashingFile(io.RawIOBase):
    def __init__(self, fh):
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.sha.update(b)
        self.n += len(b)
        return self.fh.write(b)

    def tell(self) -> int:
        return self.n


class ShardWriter:
    """Write rows into shard-00000.tar, shard-00001.tar, ... under out_dir (a folder or a URL).

    Each shard appears under its name only when complete (storage.AtomicWrite: `NAME.tar.tmp`
    renamed on disk; on object storage the upload is completed only then), so a killed build never
    leaves a truncated `.tar` behind. `close()` returns one dict per shard: path, samples, bytes,
    sha256. `counts` tallies samples by lang, source and task.
    """

    def __init__(self, out_dir: str | os.PathLike, *, max_samples: int = 1000, max_bytes: int = 256 << 20,
                 prefix: str = "shard", start_index: int = 0):
        self.out_dir = os.fspath(out_dir)
        storage.makedirs(self.out_dir)
        self.max_samples, self.max_bytes, self.prefix = max_samples, max_bytes, prefix
        self.index = start_index
        self.infos: list[dict] = []
        self.counts = {"by_lang": Counter(), "by_source": Counter(), "by_task": Counter()}
        self._hf = None

    def _open(self) -> None:
        self._name = f"{self.prefix}-{self.index:05d}.tar"
        self._fh = storage.AtomicWrite(storage.join(self.out_dir, self._name))
        self._hf = _HashingFile(self._fh)
        self._samples = 0
        self._size = 0

    def _finish(self) -> None:
        if self._hf is None:
            return
        # End of archive as tarfile writes it: two zero blocks, padded to a full record.
        self._hf.write(b"\0" * (_padded(self._size) - self._size))
        self._fh.commit()     # what makes a shard visible: never half-written
        self.infos.append({"path": self._name, "samples": self._samples, "bytes": self._hf.n,
                           "sha256": self._hf.sha.hexdigest()})
        self._hf = None
        self.index += 1

    def write(self, row: dict) -> None:
        members = sample_members(row)
        size = sum(512 + (len(d) + 511) // 512 * 512 for _, d in members)
        if self._hf is not None and (self._samples >= self.max_samples
                                      or _padded(self._size + size) > self.max_bytes):
            self._finish()
        if self._hf is None:
            self._open()
        # Headers and payloads written directly (what tarfile.addfile writes, minus its copy loop).
        chunks = []
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            chunks.append(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
            chunks.append(data)
            if len(data) % 512:
                chunks.append(b"\0" * (512 - len(data) % 512))
        self._hf.write(b"".join(chunks))
        self._samples += 1
        self._size += size
        for field, key in (("by_lang", "lang"), ("by_source", "source"), ("by_task", "task")):
            self.counts[field][row[key]] += 1

    def write_all(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.write(row)

    def close(self) -> list[dict]:
        self._finish()
        return self.infos

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        elif self._hf is not None:            # leave no half-written shard (or temp file) behind
            self._hf = None
            self._fh.discard()
