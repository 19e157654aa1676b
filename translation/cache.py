"""Translation cache: parquet files appended by each writer, compacted by key prefix.

Key = sha256(model id, generation settings, source lang, target lang, source text). Files, not
a database, so that many processes and Ray workers on several machines can share one path
(NFS, Lustre, a mounted bucket) or one URL (s3://bucket/cache/translation, through
mixkit.core.storage: machines that share no disk). Layout under <cache_dir>/v2/:

  loose/<stamp>-<uid>-n<rows>.parquet       what one writer process flushed at once (a worker
                                            flushes after each batch it translated something in)
  compact/p<bits>-n<rows>-<stamp>-<uid>.parquet
                                            the entries whose key starts with the bits <bits>
                                            (a binary prefix of the sha256), sorted by key;
                                            2,048-4,096 entries a file (one file if fewer)
  compact/q<bits>-...                       the same for the entries added since the p files
                                            were last rewritten (at most 1/RATIO of theirs), so
                                            a few new entries do not rewrite a large cache
  converted-v1/, converted-v1.json          markers of the one-time conversion of the old layout

What makes it safe on a shared file system without locks:
- Every file has a unique name and one writer. It is written under a temporary name (`*.tmp`,
  ignored by readers) and renamed into place in its own folder, so a reader sees whole files;
  on object storage the upload is completed under its name (atomic per object: no rename).
- Nothing is ever modified. Compaction writes the merged files first and only then deletes
  the files it has read, so every entry is in some live file at every moment; a compaction
  killed halfway leaves duplicates, which the next one merges.
- A reader lists the folders once, and lists again when a file it listed has gone.
- The same key written twice (two builds translating the same segment at once) normally holds
  the same value. If the values differ, readers and compaction both take the smallest
  (translation, truncated), so the result does not depend on file names, timing or on which
  compaction ran.

Lookup is one join per batch: the batch's keys -> their prefixes -> the key column of those
compacted files (indexed in memory per process: the first 8 bytes of each key, sorted,
KEY_CACHE_ENTRIES at most), plus an in-memory index of the loose files -> then only the row
groups (ROW_GROUP rows) that hold hits are read, and each hit's whole key is compared.

When compaction runs (`compact_cache`): after every session that wrote entries: each
translate round of a build, `mixkit translate`; and when a session starts (`prepare_cache`)
with COMPACT_AT_LOOSE_FILES or more loose files (a killed or a concurrent build left them).
It is safe while others read or write: files written after it listed the folder are left for
the next one. Its tasks hold a bounded amount of data (MERGE_BYTES of files; more are split
by key prefix first, into tasks that run as Ray tasks in a build).

An old cache (<cache_dir>/v1/<xx>/<key>.json, one file per entry) is converted once by
`prepare_cache` (per subfolder, resumable), and left in place for the user to delete.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.core import storage
from mixkit.core.storage import URLPath
from mixkit.runtime.partitions import parquet_file, read_table, write_table_atomic

VERSION = "v2"
LEGACY = "v1"                      # one JSON file per entry (mixkit before the parquet cache)
FILE_ENTRIES = 2048                # a compacted file holds FILE_ENTRIES to 2 * FILE_ENTRIES entries
COMPACT_AT_LOOSE_FILES = 256       # a session that starts with this many loose files compacts first
MERGE_BYTES = 64 << 20             # file bytes one compaction task merges
RATIO = 8                          # the RECENT level is merged into MAIN at 1/RATIO of its entries
FLUSH_ENTRIES = 50_000             # a writer's buffer is written at this size (the stage flushes each batch)
KEY_CACHE_ENTRIES = 32_000_000     # keys of compacted files indexed per process (8 bytes each)
RECENT_ENTRIES = 100_000           # values looked up or written lately, kept per process
STALE_SECONDS = 6 * 3600           # temporary files older than this were left by a killed writer
ROW_GROUP = 64                     # rows read for one hit
OPEN_FILES = 256                   # files a process keeps open for reading
OPEN_REMOTE_FILES = 64             # on object storage: files kept whole in memory (~1 MB each)

SCHEMA = pa.schema([
    pa.field("key", pa.binary(32)),          # sha256 of model, settings, languages and text
    pa.field("src_lang", pa.string()),
    pa.field("tgt_lang", pa.string()),
    pa.field("src", pa.string()),
    pa.field("translation", pa.string()),
    pa.field("truncated", pa.bool_()),
    pa.field("model", pa.string()),
    pa.field("settings", pa.string()),       # JSON, sorted keys
])
LOOSE_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}-n(\d+)\.parquet$")
COMPACT_NAME = re.compile(r"^([pq])([01]*)-n(\d+)-\d{8}T\d{12}Z-[0-9a-f]{12}\.parquet$")
MAIN, RECENT = "p", "q"            # compacted files: the main level, and entries since its last rewrite

log = logging.getLogger(__name__)


def cache_key(model_id: str, settings: dict, src_lang: str, tgt_lang: str, text: str) -> str:
    """Hex sha256 of the entry's identity (the same as the old one-file-per-entry cache's)."""
    blob = json.dumps([model_id, settings, src_lang, tgt_lang, text], ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# -- files and keys ----------------------------------------------------------------------------

Where = Path | URLPath              # a cache folder or file: a local path or a URL (storage.path)


@dataclass
class CacheFile:
    path: Where
    rows: int
    size: int
    prefix: str = ""           # compacted files: the key prefix, in bits
    level: str = ""            # compacted files: MAIN or RECENT


def _unique_suffix() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:12]


def _scan(folder: Where, compacted: bool) -> list[CacheFile]:
    pattern = COMPACT_NAME if compacted else LOOSE_NAME
    out = []
    for path, size in _sized_files(folder, pattern):
        m = pattern.match(path.name)
        if compacted:
            out.append(CacheFile(path, int(m.group(3)), size, m.group(2), m.group(1)))
        else:
            out.append(CacheFile(path, int(m.group(1)), size))
    return sorted(out, key=lambda f: f.path.name)


def _sized_files(folder: Where, pattern: re.Pattern) -> list[tuple[Where, int]]:
    """(path, bytes) of the files in `folder` whose name matches; none when it does not exist
    (on object storage one listing request, which brings the sizes)."""
    return [(storage.path(u), size) for u, size in storage.file_sizes(folder) if pattern.match(storage.name(u))]


def _key_matrix(col) -> np.ndarray:
    """(n, 32) uint8 view of a binary(32) column."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if len(arr) == 0:
        return np.zeros((0, 32), np.uint8)
    data = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
    return data[arr.offset * 32:(arr.offset + len(arr)) * 32].reshape(-1, 32)


def _heads(m: np.ndarray) -> np.ndarray:
    """First 8 bytes of each key as big-endian uint64 (sorted keys give sorted heads): what the
    in-memory indexes hold; a row they point to is checked against the whole key when read."""
    return m[:, :8].copy().view(">u8").ravel().astype(np.uint64)


def _read_heads(pf: pq.ParquetFile, close: bool = True) -> np.ndarray:
    """Heads of a file's key column (then closes it, unless told not to)."""
    try:
        return _heads(_key_matrix(pf.read(columns=["key"], use_threads=False)["key"]))
    finally:
        if close:
            pf.close()


def _in_memory(data: bytes) -> pq.ParquetFile:
    return pq.ParquetFile(pa.BufferReader(data), pre_buffer=False)


def _heads_of(keys: list[bytes]) -> np.ndarray:
    return np.array([int.from_bytes(k[:8], "big") for k in keys], dtype=np.uint64)


def _row_group_starts(md: pq.FileMetaData) -> np.ndarray:
    return np.cumsum([0] + [md.row_group(g).num_rows for g in range(md.num_row_groups)])


def _write(table: pa.Table, path: Where) -> None:
    """Small row groups (a hit reads one), no statistics (nothing filters on them: a small
    footer); what a hit reads in LZ4 (decodes ~2.5x faster than zstd), the hashes as they are."""
    compression = {name: "zstd" for name in SCHEMA.names}
    compression.update(key="none", translation="lz4", truncated="lz4")
    write_table_atomic(table, path, row_group_size=ROW_GROUP, write_statistics=False, compression=compression)


def _prefix_codes(m: np.ndarray, depth: int) -> np.ndarray:
    """The first `depth` bits (<= 32) of each key, as integers."""
    if depth == 0:
        return np.zeros(len(m), np.int64)
    return m[:, :4].copy().view(">u4").ravel().astype(np.int64) >> (32 - depth)


def _bits(code: int, depth: int) -> str:
    return format(code, f"0{depth}b") if depth else ""


def _depth_for(entries: int) -> int:
    """Prefix length that gives FILE_ENTRIES to 2 * FILE_ENTRIES entries a file."""
    return int(math.floor(math.log2(entries / FILE_ENTRIES))) if entries >= 2 * FILE_ENTRIES else 0


def _read_entries(path: Where, bucket: str = "") -> pa.Table | None:
    """The file's entries (only those whose key starts with `bucket`), or None when it has gone
    (another compaction took it) or cannot be read (then a warning: it is left alone)."""
    try:
        t = read_table(path).select(SCHEMA.names).cast(SCHEMA)
    except FileNotFoundError:
        return None
    except (pa.ArrowException, OSError, KeyError) as e:
        log.warning("translation cache: skipping unreadable file %s (%s)", path, e)
        return None
    if bucket:
        t = t.filter(pa.array(_prefix_codes(_key_matrix(t["key"]), len(bucket)) == int(bucket, 2)))
    return t


def _smallest_per_key(t: pa.Table) -> pa.Table:
    """One entry per key, sorted by key; of differing values the smallest (translation, truncated)."""
    if t.num_rows == 0:
        return t
    t = t.sort_by([("key", "ascending"), ("translation", "ascending"), ("truncated", "ascending")])
    m = _key_matrix(t["key"])
    first = np.ones(len(m), bool)
    first[1:] = (m[1:] != m[:-1]).any(axis=1)
    return t.filter(pa.array(first))


# -- one process's reader and writer -----------------------------------------------------------

def _positions(sorted_heads: np.ndarray, q_heads: np.ndarray):
    """(query number, position) of each position of `sorted_heads` equal to a query's head."""
    lo, hi = np.searchsorted(sorted_heads, q_heads, "left"), np.searchsorted(sorted_heads, q_heads, "right")
    for i in np.nonzero(hi > lo)[0]:
        for j in range(lo[i], hi[i]):
            yield int(i), int(j)


class _LooseIndex:
    """Key heads of the loose files this process knows, sorted, so a batch's keys are found
    without opening every file (16 bytes an entry)."""

    def __init__(self):
        self.paths: list[Where] = []
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []    # heads, file ids, rows: by head

    def add(self, path: Where, heads: np.ndarray) -> None:
        order = np.argsort(heads, kind="stable")
        self.parts.append((heads[order], np.full(len(heads), len(self.paths), np.int32), order.astype(np.int32)))
        self.paths.append(path)
        if len(self.parts) > 8:            # merge: lookups search few sorted arrays
            heads, fids, rows = (np.concatenate(x) for x in zip(*self.parts))
            order = np.argsort(heads, kind="stable")
            self.parts = [(heads[order], fids[order], rows[order])]

    def find(self, q_heads: np.ndarray) -> list[tuple[int, Where, int]]:
        """(query number, file, row) of each entry whose head equals a query's."""
        return [(i, self.paths[fids[j]], int(rows[j])) for heads, fids, rows in self.parts
                for i, j in _positions(heads, q_heads)]


class CacheFolder:
    """One process's access to a cache folder: lookups (one join per batch) and its own loose
    files. Each process (Ray actor) opens its own; the folder is shared through files only.

    The folder may be a URL (s3://...): then files are fetched whole (a compacted file is about
    1 MB), all those a batch needs at once, and kept in memory (OPEN_REMOTE_FILES), so a batch
    costs one round of concurrent requests, not one request per file and row group."""

    def __init__(self, cache_dir: "str | os.PathLike | URLPath", warn_unconverted: bool = True):
        self.dir = storage.path(cache_dir)
        self.root = self.dir / VERSION
        self.remote = isinstance(self.dir, URLPath)
        self._buffer: dict[bytes, tuple] = {}
        self._recent: dict[bytes, tuple[str, bool]] = {}
        self._file_index: OrderedDict[Where, tuple] = OrderedDict()     # compacted file -> keys, rows, footer
        self._open: OrderedDict[Where, tuple[pq.ParquetFile, np.ndarray]] = OrderedDict()
        self._indexed = 0
        self._listed = False
        self._compact: dict[int, dict[int, list[Where]]] = {}          # depth -> prefix code -> files
        self._loose = _LooseIndex()
        self.files_written = 0
        if warn_unconverted:
            _warn_if_unconverted(self.dir)

    # -- reading -------------------------------------------------------------------------------
    def lookup(self, keys: Iterable[bytes]) -> dict[bytes, tuple[str, bool]]:
        """key -> (translation, truncated) for the keys found (a hit is an equal sha256)."""
        keys = list(dict.fromkeys(keys))
        found = {k: self._recent[k] for k in keys if k in self._recent}
        rest = [k for k in keys if k not in found]
        if not rest:
            return found
        if not self._listed:
            self._list()
        for _ in range(5):
            try:
                cands = self._candidates(rest)
                break
            except FileNotFoundError:          # a compaction replaced a file we listed: list again
                self._list()
        else:
            raise RuntimeError(f"translation cache {self.root}: files keep disappearing while reading; "
                               "is something deleting the cache folder?")
        cands += [(k, *self._buffer[k][3:5]) for k in rest if k in self._buffer]
        best: dict[bytes, tuple[str, bool]] = {}
        for k, translation, truncated in cands:
            v = (translation, bool(truncated))
            if k not in best or v < best[k]:
                best[k] = v
        self._remember(best)
        found.update(best)
        return found

    def _list(self) -> None:
        """List the folders and index the loose files; again if a file vanished meanwhile (a
        compaction wrote its replacement before deleting it, so the second listing has it)."""
        for _ in range(5):
            loose = _scan(self.root / "loose", compacted=False)
            compact = _scan(self.root / "compact", compacted=True)
            index, vanished = _LooseIndex(), False
            fetched = self._fetch_many([f.path for f in loose])
            for f in loose:
                try:
                    index.add(f.path, _read_heads(self._parquet(f.path, fetched.get(f.path))))
                except FileNotFoundError:
                    vanished = True
                except (pa.ArrowException, OSError) as e:
                    log.warning("translation cache: skipping unreadable file %s (%s)", f.path, e)
            if not vanished:
                break
        self._loose = index
        self._compact = {}
        for f in compact:
            self._compact.setdefault(len(f.prefix), {}).setdefault(int(f.prefix or "0", 2), []).append(f.path)
        live = {f.path for f in compact}
        for p in [p for p in self._file_index if p not in live]:
            self._indexed -= len(self._file_index.pop(p)[0])
        while self._open:
            self._open.popitem()[1][0].close()
        self._listed = True

    def _candidates(self, keys: list[bytes]) -> list[tuple]:
        """(key, translation, truncated) of every stored entry with one of `keys`."""
        q_heads = _heads_of(keys)
        hits = self._loose.find(q_heads)                          # (query number, file, row)
        per_file: dict[Where, list[np.ndarray]] = {}              # compacted file -> query numbers
        tops = (q_heads >> np.uint64(32)).astype(np.int64)
        for depth, by_code in self._compact.items():
            codes = tops >> (32 - depth)
            order = np.argsort(codes, kind="stable")
            uniq, first = np.unique(codes[order], return_index=True)
            for code, lo, hi in zip(uniq.tolist(), first, np.r_[first[1:], len(order)]):
                for path in by_code.get(code, ()):
                    per_file.setdefault(path, []).append(order[lo:hi])
        if self.remote:                   # every file this batch needs, in one round of requests
            self._fetch(list(per_file) + [path for _, path, _ in hits])
        for path, parts in per_file.items():
            try:
                heads, rows, _, _ = self._index_of(path)
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError) as e:      # corrupt: its entries are misses from now on
                log.warning("translation cache: skipping unreadable file %s (%s)", path, e)
                for by_code in self._compact.values():
                    for files in by_code.values():
                        if path in files:
                            files.remove(path)
                continue
            idx = np.concatenate(parts)
            hits += [(int(idx[i]), path, j if rows is None else int(rows[j])) for i, j in _positions(heads, q_heads[idx])]
        by_file: dict[Where, list[tuple[int, int]]] = {}
        for i, path, row in hits:
            by_file.setdefault(path, []).append((i, row))
        out = []
        for path, found in by_file.items():
            for (i, _), entry in zip(found, self._read_rows(path, [row for _, row in found])):
                if entry[0] == keys[i]:            # the whole key, not only its head
                    out.append(entry)
        return out

    def _index_of(self, path: Where) -> tuple[np.ndarray, np.ndarray | None, pq.FileMetaData, np.ndarray]:
        """A compacted file's key heads (sorted), their rows (None: the file is sorted by key), its
        footer and row-group starts, kept per process (files never change) up to
        KEY_CACHE_ENTRIES keys."""
        if path in self._file_index:
            self._file_index.move_to_end(path)
            return self._file_index[path]
        pf = self._reader(path)[0] if self.remote else pq.ParquetFile(path, pre_buffer=False)
        md = pf.metadata
        heads = _read_heads(pf, close=not self.remote)          # in memory (remote): kept for the rows
        rows = None
        if len(heads) > 1 and bool((heads[1:] < heads[:-1]).any()):     # not written by compaction
            rows = np.argsort(heads, kind="stable").astype(np.int32)
            heads = heads[rows]
        entry = (heads, rows, md, _row_group_starts(md))
        self._file_index[path] = entry
        self._indexed += len(heads)
        while self._indexed > KEY_CACHE_ENTRIES and len(self._file_index) > 1:
            self._indexed -= len(self._file_index.popitem(last=False)[1][0])
        return entry

    def _reader(self, path: Where) -> tuple[pq.ParquetFile, np.ndarray]:
        """An open file and its row-group starts, kept (OPEN_FILES at most; OPEN_REMOTE_FILES
        whole files from object storage): opening costs more than reading a row group."""
        if path in self._open:
            self._open.move_to_end(path)
            return self._open[path]
        if self.remote:
            self._keep_open(path, self._parquet(path))
        else:
            indexed = self._file_index.get(path)
            self._keep_open(path, pq.ParquetFile(path, metadata=indexed[2] if indexed else None, pre_buffer=False))
        return self._open[path]

    def _keep_open(self, path: Where, pf: pq.ParquetFile) -> None:
        indexed = self._file_index.get(path)
        self._open[path] = (pf, indexed[3] if indexed else _row_group_starts(pf.metadata))
        while len(self._open) > (OPEN_REMOTE_FILES if self.remote else OPEN_FILES):
            self._open.popitem(last=False)[1][0].close()

    def _fetch(self, paths: list[Where]) -> None:
        """Object storage: the files not in memory yet, fetched at once and kept."""
        todo = list(dict.fromkeys(p for p in paths if p not in self._open))[-OPEN_REMOTE_FILES:]
        for path, data in self._fetch_many(todo).items():
            try:
                self._keep_open(path, _in_memory(data))
            except (pa.ArrowException, OSError):
                pass                     # not parquet: said when _index_of reads it on its own

    def _fetch_many(self, paths: list[Where]) -> dict[Where, bytes]:
        """Object storage: the files, fetched whole and concurrently (one round of requests).
        {} on a disk, or when one has gone (then each is read on its own: the gone one is found)."""
        if not self.remote or not paths:
            return {}
        try:
            return dict(zip(paths, storage.read_many([str(p) for p in paths])))
        except FileNotFoundError:
            return {}

    def _parquet(self, path: Where, data: bytes | None = None) -> pq.ParquetFile:
        """A file to read: on a disk opened; on object storage fetched whole (unless `data`)."""
        if not self.remote:
            return pq.ParquetFile(path, pre_buffer=False)
        return _in_memory(storage.read_bytes(path) if data is None else data)

    def _read_rows(self, path: Where, rows: list[int]) -> list[tuple[bytes, str, bool]]:
        """(key, translation, truncated) of `rows`, reading only the row groups that hold them."""
        pf, starts = self._reader(path)
        group_of = (np.searchsorted(starts, rows, "right") - 1).tolist()
        groups = sorted(set(group_of))
        # no thread pool: a few small groups read faster in this thread
        t = pf.read_row_groups(groups, columns=["key", "translation", "truncated"], use_threads=False)
        offset, at = {}, 0
        for g in groups:                      # where each group starts in the table read
            offset[g] = at
            at += int(starts[g + 1] - starts[g])
        t = t.take(pa.array([offset[g] + r - int(starts[g]) for r, g in zip(rows, group_of)], pa.int64()))
        return list(zip(*(c.to_pylist() for c in t.columns)))

    def _remember(self, entries: dict[bytes, tuple[str, bool]]) -> None:
        if len(self._recent) + len(entries) > RECENT_ENTRIES:
            self._recent = {}
        self._recent.update(entries)

    # -- writing -------------------------------------------------------------------------------
    def add(self, key: bytes, row: tuple) -> None:
        """row: (src_lang, tgt_lang, src, translation, truncated, model, settings JSON)."""
        old = self._buffer.get(key)
        if old is None or (row[3], row[4]) < (old[3], old[4]):
            self._buffer[key] = row
        if len(self._recent) >= RECENT_ENTRIES:
            self._recent = {}
        self._recent[key] = self._buffer[key][3:5]
        if len(self._buffer) >= FLUSH_ENTRIES:
            self.flush()

    def flush(self) -> None:
        """Write the buffered entries as one loose file (whole or not at all); re-raises a
        write error (disk full, permissions)."""
        if not self._buffer:
            return
        keys = sorted(self._buffer)
        cols = list(zip(*(self._buffer[k] for k in keys)))
        table = pa.Table.from_arrays([pa.array(keys, pa.binary(32))] + [pa.array(c, f.type) for c, f in
                                                                         zip(cols, list(SCHEMA)[1:])], schema=SCHEMA)
        folder = self.root / "loose"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_unique_suffix()}-n{len(keys)}.parquet"
        _write(table, path)
        self.files_written += 1
        self._buffer = {}
        if self._listed:                     # this process finds its own entries without listing again
            self._loose.add(path, _heads(_key_matrix(table["key"])))

    def count(self) -> int:
        """Distinct keys stored (reads every key column: tests and tools, not the hot path)."""
        self.flush()
        mats = []
        for f in _scan(self.root / "loose", False) + _scan(self.root / "compact", True):
            t = _read_entries(f.path)
            if t is not None:
                mats.append(_key_matrix(t["key"]))
        if not mats:
            return 0
        return len(np.unique(np.concatenate(mats).view(np.dtype((np.void, 32)))))


class TranslationCache:
    """The entries of one (model, generation settings) in a cache folder. Several share one
    CacheFolder (the stage's first pass and retry), so a batch writes one file."""

    def __init__(self, cache_dir: str | os.PathLike, model_id: str, settings: dict,
                 folder: CacheFolder | None = None):
        self.folder = folder or CacheFolder(cache_dir)
        self.model_id = model_id
        self.settings = settings
        self._settings_json = json.dumps(settings, ensure_ascii=False, sort_keys=True)

    def key(self, src_lang: str, tgt_lang: str, text: str) -> str:
        return cache_key(self.model_id, self.settings, src_lang, tgt_lang, text)

    def get_many(self, items: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[str, bool]]:
        """(src lang, tgt lang, text) -> (translation, truncated) for those cached: one join."""
        keys = {bytes.fromhex(self.key(*it)): it for it in items}
        return {keys[k]: v for k, v in self.folder.lookup(keys).items()}

    def get(self, src_lang: str, tgt_lang: str, text: str) -> tuple[str, bool] | None:
        """(translation, truncated) or None."""
        return self.get_many([(src_lang, tgt_lang, text)]).get((src_lang, tgt_lang, text))

    def put(self, src_lang: str, tgt_lang: str, text: str, translation: str, truncated: bool = False) -> None:
        # the raw output is cached even when a check later rejects it: checks rerun on every
        # build (cheap), so changed thresholds need no model call
        self.folder.add(bytes.fromhex(self.key(src_lang, tgt_lang, text)),
                        (src_lang, tgt_lang, text, translation, bool(truncated), self.model_id, self._settings_json))

    def flush(self) -> None:
        self.folder.flush()

    def __len__(self) -> int:
        return self.folder.count()


# -- compaction --------------------------------------------------------------------------------

MapTasks = Callable[[Callable, list], list]


def _run_here(fn: Callable, items: list) -> list:
    return [fn(it) for it in items]


def cache_files(cache_dir: str | os.PathLike) -> dict:
    """What the folder holds: loose and compacted files, entries (as the names say) and bytes."""
    root = storage.path(cache_dir) / VERSION
    loose, compact = _scan(root / "loose", False), _scan(root / "compact", True)
    return {"loose_files": len(loose), "compacted_files": len(compact),
            "entries": sum(f.rows for f in loose + compact), "bytes": sum(f.size for f in loose + compact)}


def _entries(files: list[CacheFile]) -> int:
    """Entries in one level's files; files at one prefix, or at several prefix lengths, overlap
    (an interrupted run left them): the largest set is counted."""
    per_prefix: dict[str, int] = {}
    for f in files:
        per_prefix[f.prefix] = max(per_prefix.get(f.prefix, 0), f.rows)
    per_depth: dict[int, int] = {}
    for p, rows in per_prefix.items():
        per_depth[len(p)] = per_depth.get(len(p), 0) + rows
    return max(per_depth.values(), default=0)


def _settled(files: list[CacheFile]) -> bool:
    """One file per prefix, all of one length: nothing to merge."""
    return len({len(f.prefix) for f in files}) <= 1 and len({f.prefix for f in files}) == len(files)


def compact_cache(cache_dir: str | os.PathLike, map_tasks: MapTasks | None = None) -> dict:
    """Merge the loose files into per-prefix files, in two levels so that a few new entries do
    not rewrite a large cache: new entries go to the RECENT level (rewritten whole: it is
    small) until it holds 1/RATIO of the MAIN level's entries; then both are merged into MAIN,
    which is rewritten only where entries arrive. `map_tasks` (e.g. Engine.map_tasks) runs the
    merge tasks; default: here, one after the other. Returns what it did:
    {'loose_files', 'entries_in', 'level', 'files_written', 'files_removed', 'depth', 'seconds'}."""
    t0 = time.monotonic()
    run = map_tasks or _run_here
    root = storage.path(cache_dir) / VERSION
    _remove_stale(root)
    loose, compact = _scan(root / "loose", False), _scan(root / "compact", True)
    main = [f for f in compact if f.level == MAIN]
    recent = [f for f in compact if f.level == RECENT]
    report = {"loose_files": len(loose), "entries_in": sum(f.rows for f in loose), "level": None,
              "files_written": 0, "files_removed": 0, "depth": None, "seconds": 0.0}
    if not loose and _settled(main) and _settled(recent):
        return report
    new = sum(f.rows for f in loose) + _entries(recent)
    if new * RATIO >= _entries(main):                          # everything into MAIN
        level, old, entries = MAIN, compact, new + _entries(main)
    else:
        level, old, entries = RECENT, recent, new
    depth = max([len(f.prefix) for f in old] + [_depth_for(entries)])
    work = sum(f.size for f in loose + old)
    split = min(depth, math.ceil(math.log2(work / MERGE_BYTES))) if work > MERGE_BYTES else 0
    spill = root / f".compact-{_unique_suffix()}"
    read_loose: list[str] = []
    if split:       # more than one task's worth: first split the loose files by their first `split` bits
        chunks, size = [[]], 0
        for f in loose:
            if size + f.size > MERGE_BYTES and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append(str(f.path))
            size += f.size
        for done in run(_split_loose, [(str(spill), c, split) for c in chunks]):
            read_loose += done
    jobs = []
    for b in range(2 ** split):
        bucket = _bits(b, split)
        files = [(str(f.path), f.prefix) for f in old if f.prefix.startswith(bucket) or bucket.startswith(f.prefix)]
        sources = [str(spill / f"b{bucket}")] if split else [str(f.path) for f in loose]
        jobs.append((str(root), level, bucket, depth, sources, files, bool(split)))
    superseded = []
    for res in run(_merge_bucket, jobs):
        report["files_written"] += res["written"]
        superseded += res["superseded"]
        read_loose += res["read_new"]
    for p in sorted(set(superseded) | set(read_loose)):      # only after every merged file is written
        storage.remove(p)
        report["files_removed"] += 1
    if split:
        storage.remove_tree(spill)
    report.update(level=level, depth=depth, seconds=round(time.monotonic() - t0, 3))
    return report


def _split_loose(job: tuple[str, list[str], int]) -> list[str]:
    """Compaction task: loose files -> one file per key prefix of `split` bits under `spill`.
    Returns the loose files it read (deleted once the whole compaction is written)."""
    spill, paths, split = job
    tables, read = [], []
    for p in paths:
        t = _read_entries(storage.path(p))
        if t is not None:
            tables.append(t)
            read.append(p)
    if not tables:
        return read
    t = pa.concat_tables(tables)
    codes = _prefix_codes(_key_matrix(t["key"]), split)
    order = np.argsort(codes, kind="stable")
    t, codes = t.take(pa.array(order)), codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(codes)]):
        folder = storage.path(spill) / f"b{_bits(int(codes[lo]), split)}"
        folder.mkdir(parents=True, exist_ok=True)
        _write(t.slice(lo, hi - lo), folder / f"{_unique_suffix()}.parquet")
    return read


def _merge_bucket(job: tuple) -> dict:
    """Compaction task for the keys starting with `bucket`: each group of compacted files under
    one prefix (normally one file) that receives new entries, or is not yet one file at
    `depth`, is read with its new entries, merged, and written again as one file of `level` per
    prefix of `depth` bits. Returns the files it replaced (deleted by the caller once all are
    written)."""
    root, level, bucket, depth, new_sources, old, from_split = job
    sources = (sorted(storage.path(new_sources[0]).glob("*.parquet")) if from_split
               else [storage.path(p) for p in new_sources])
    tables, read_new = [], []
    for p in sources:
        t = _read_entries(p, bucket)
        if t is not None:
            tables.append(t)
            if not from_split:
                read_new.append(str(p))
    new = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    # units: the files under the shortest prefix among them (overlaps only after an interrupted run)
    prefixes = {p for _, p in old}
    units: dict[str, list[str]] = {}
    for path, p in old:
        top = next(p[:i] for i in range(len(p) + 1) if p[:i] in prefixes)
        units.setdefault(top, []).append(path)
    # each new entry goes to the unit whose prefix its key starts with, else to its own prefix
    m = _key_matrix(new["key"])
    unit_of = np.full(len(m), -1, np.int64)
    names = sorted(units)
    for length in sorted({len(u) for u in names}):
        codes = np.array([int(u or "0", 2) for u in names if len(u) == length], np.int64)
        ids = np.array([i for i, u in enumerate(names) if len(u) == length], np.int64)
        order = np.argsort(codes)
        codes, ids = codes[order], ids[order]
        key_codes = _prefix_codes(m, length)
        pos = np.clip(np.searchsorted(codes, key_codes), 0, len(codes) - 1)
        match = codes[pos] == key_codes
        unit_of[match] = ids[pos[match]]
    free = np.flatnonzero(unit_of < 0)
    own = _prefix_codes(m[free], depth)
    for code in np.unique(own):
        names.append(_bits(int(code), depth))
        unit_of[free[own == code]] = len(names) - 1
    written, superseded = 0, []
    members = np.argsort(unit_of, kind="stable")
    bounds = np.searchsorted(unit_of[members], np.arange(len(names) + 1))
    for i, u in enumerate(names):
        rows = members[bounds[i]:bounds[i + 1]]
        files = units.get(u, [])
        settled = len(files) == 1 and len(u) == depth
        if not len(rows) and settled:
            continue                                  # nothing new: the file stays as it is
        parts, read = [new.take(pa.array(rows))], []
        for path in files:
            t = _read_entries(storage.path(path), bucket if len(u) < len(bucket) else "")
            if t is not None:
                parts.append(t)
                read.append(path)
        merged = _smallest_per_key(pa.concat_tables(parts))
        codes = _prefix_codes(_key_matrix(merged["key"]), depth)
        cuts = np.flatnonzero(np.diff(codes)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(codes)]):
            if hi > lo:
                name = f"{level}{_bits(int(codes[lo]), depth)}-n{hi - lo}-{_unique_suffix()}.parquet"
                compacted = storage.path(root) / "compact"
                compacted.mkdir(parents=True, exist_ok=True)
                _write(merged.slice(lo, hi - lo), compacted / name)
                written += 1
        superseded += read
    return {"written": written, "superseded": superseded, "read_new": read_new}


SPILL_NAME = re.compile(r"^\.compact-(\d{8}T\d{12})Z-[0-9a-f]{12}$")


def _remove_stale(root: Where) -> None:
    """Temporary files and split folders left by killed writers or compactions (old enough that
    no running one can own them). A split folder's age is the time in its name (object storage
    has no folder times); `*.tmp` files exist only on a disk (an upload to object storage that
    was never completed leaves no object: the bucket's lifecycle rule for incomplete multipart
    uploads frees its parts), so only a disk is searched for them, by modification time."""
    cutoff = time.time() - STALE_SECONDS
    if isinstance(root, Path):
        for folder in (root / "loose", root / "compact"):
            for p in folder.glob("*.tmp") if folder.is_dir() else ():
                try:
                    if p.stat().st_mtime < cutoff:
                        p.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
    for p in storage.list_entries(root):
        m = SPILL_NAME.match(storage.name(p))
        if m and datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc).timestamp() < cutoff:
            storage.remove_tree(p)


# -- a session's start: the old layout, leftovers ----------------------------------------------

def _legacy_marker(cache_dir: Path) -> Path:
    return cache_dir / VERSION / "converted-v1.json"


_WARNED: set[Path] = set()


def _warn_if_unconverted(cache_dir: Where) -> None:
    if isinstance(cache_dir, URLPath):            # the old layout was only ever written to a disk
        return
    if (cache_dir / LEGACY).is_dir() and not _legacy_marker(cache_dir).exists() and cache_dir not in _WARNED:
        _WARNED.add(cache_dir)
        log.warning("translation cache %s holds an old one-file-per-entry cache (%s) that is not converted yet, "
                    "so its entries are not used: run translation.cache.prepare_cache(%r) once (a build and "
                    "`mixkit translate` do)", cache_dir, cache_dir / LEGACY, str(cache_dir))


def prepare_cache(cache_dir: str | os.PathLike, map_tasks: MapTasks | None = None,
                  say: Callable[[str], None] | None = None) -> dict:
    """Before a session writes: convert an old one-file-per-entry cache (once), and compact if
    COMPACT_AT_LOOSE_FILES or more loose files were left. `say` tells the user (default: log)."""
    say = say or log.warning
    converted = convert_legacy_cache(cache_dir, map_tasks, say)
    report = {"converted": converted}
    if converted or cache_files(cache_dir)["loose_files"] >= COMPACT_AT_LOOSE_FILES:
        report["compaction"] = compact_cache(cache_dir, map_tasks)
    return report


def convert_legacy_cache(cache_dir: str | os.PathLike, map_tasks: MapTasks | None = None,
                         say: Callable[[str], None] | None = None) -> int:
    """Read <cache_dir>/v1 (one JSON file per entry) into loose parquet files, one task per
    subfolder; a subfolder's marker is written after its files, so an interrupted conversion
    redoes only unfinished subfolders (duplicates merge). The old folder is never changed.
    Returns the entries converted (0 when there was nothing to do). The old layout was only
    ever written to a disk: a cache on object storage (a URL) has none, and is not searched."""
    say = say or log.warning
    cache_dir = storage.path(cache_dir)
    if isinstance(cache_dir, URLPath):
        return 0
    old, marker = cache_dir / LEGACY, _legacy_marker(cache_dir)
    if not old.is_dir() or marker.exists():
        return 0
    done_dir = cache_dir / VERSION / "converted-v1"
    subdirs = sorted(e.name for e in os.scandir(old) if e.is_dir())
    todo = [d for d in subdirs if not (done_dir / d).exists()]
    say(f"translation cache: converting the old cache {old} (one JSON file per segment) to parquet files in "
        f"{cache_dir / VERSION}; this happens once ({len(todo)} of {len(subdirs)} folders to go) and {old} is kept")
    (map_tasks or _run_here)(_convert_legacy_dir, [(str(cache_dir), d) for d in todo])
    entries = skipped = 0
    for d in subdirs:
        part = json.loads((done_dir / d).read_text())
        entries += part["entries"]
        skipped += part["skipped"]
    tmp = marker.with_name(f".{marker.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps({"from": str(old), "entries": entries, "skipped": skipped}) + "\n")
    os.replace(tmp, marker)
    say(f"translation cache: converted {entries} entries from {old}"
        + (f" ({skipped} unreadable or foreign files skipped)" if skipped else "")
        + f"; that folder is no longer read and can be deleted (rm -r {old})")
    return entries


def _convert_legacy_dir(job: tuple[str, str]) -> int:
    cache_dir, name = job
    folder = CacheFolder(cache_dir, warn_unconverted=False)
    entries = skipped = 0
    src_dir = Path(cache_dir) / LEGACY / name
    for fname in sorted(os.listdir(src_dir)):
        if not fname.endswith(".json") or fname.startswith("."):
            continue
        try:
            with open(src_dir / fname, encoding="utf-8") as f:
                e = json.load(f)
            key = cache_key(e["model"], e["settings"], e["src_lang"], e["tgt_lang"], e["src"])
            if key != fname[:-5] or not isinstance(e["translation"], str):
                raise ValueError("not this entry's key")
            row = (e["src_lang"], e["tgt_lang"], e["src"], e["translation"], bool(e.get("truncated", False)),
                   e["model"], json.dumps(e["settings"], ensure_ascii=False, sort_keys=True))
        except (OSError, ValueError, KeyError, TypeError):
            skipped += 1
            continue
        folder.add(bytes.fromhex(key), row)
        entries += 1
    folder.flush()
    done = Path(cache_dir) / VERSION / "converted-v1"
    done.mkdir(parents=True, exist_ok=True)
    tmp = done / f".{name}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps({"entries": entries, "skipped": skipped}) + "\n")
    os.replace(tmp, done / name)
    return entries
