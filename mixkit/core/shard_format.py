"""The WebDataset shard format: THE one place that knows it (write and parse).

Sample format (what `sample_members` writes and `iter_tar` groups back):
  KEY.json            every schema field but the images (id, origin_id, source, task, lang,
                      messages, meta), compact JSON, sorted keys
  KEY.jpg / KEY.png   the image when the sample has one; KEY.0.jpg, KEY.1.png, ... when several
Other producers' sample formats are read too: img2dataset (KEY.jpg + KEY.txt caption [+ KEY.json
of metadata]) and LLaVA records inside a tar (KEY.json with `conversations`); `sample_format_of`
names the one a sample has.
Members group into samples by WebDataset key: the member path up to the first dot of its file
name; the rest, lower-cased, is the member's extension ("json", "jpg", "0.jpg").

One streaming reader, `iter_tar`, is used by sources (tar input), the audit, the trainer and
export. It yields `TarSample`s and `TarProblem`s in stream order and never drops anything
silently:
  * link (symlink/hardlink) and device/fifo members are never followed or read; the sample
    they belong to comes out with `reject` set (reason link_member / special_member);
  * absolute (`/x.json`) or climbing (`../x.json`) names are refused (TarProblem
    unsafe_member_name) and never used as a key or a path;
  * a group of members repeating the key of the sample just before it (K.jpg K.json K.jpg
    K.json) is a rejected sample (repeated_key); the first occurrence is kept. Keys that repeat
    far apart are two samples (readers downstream report `duplicate_id`);
  * a tar cut short or with a corrupt header ends with TarProblem broken_tar naming the
    sample being read (not yielded: it may have lost members); the samples before it were.
`expand_shards` turns a directory, glob, brace pattern or list into shard paths (or URLs:
anything mixkit.core.storage opens, streamed).

The build manifest (manifest.json beside the shards) is one typed schema, `Manifest`, written
by `mixkit build` and `mixkit ocr` and read by `mixkit audit`.
"""
from __future__ import annotations

import glob as _glob
import json
import os
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from mixkit.core import storage

# ---------------------------------------------------------------------------------------------
# Images and text members
# ---------------------------------------------------------------------------------------------

# Extensions read as image members (KEY.jpg, KEY.0.png, ...). The writer only writes the first
# five (from magic bytes); readers also accept what other tools write.
IMAGE_EXTS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"})
# Caption members of img2dataset-style shards, in order of preference.
TEXT_EXTS = ("txt", "caption", "cap", "text")
# Members a text-only reader (the audit) needs; images are then counted, not read.
TEXT_MEMBERS = frozenset({"json", *TEXT_EXTS})
SAMPLE_FIELDS = ("id", "origin_id", "source", "task", "lang", "messages", "meta")


def image_ext(data: bytes) -> str:
    """File extension from magic bytes; shards name members by it (KEY.jpg, KEY.png, ...)."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "bin"


def is_image_member(ext: str) -> bool:
    """"jpg" and "0.jpg" are image members; "json", "txt", "x.jpg" are not."""
    head, _, last = ext.rpartition(".")
    return last in IMAGE_EXTS and (not head or head.isdigit())


class SampleError(ValueError):
    """A sample whose members cannot be read as one record: `reason` is a reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# ---------------------------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------------------------

def sample_members(row: dict) -> list[tuple[str, bytes]]:
    """(member name, bytes) of one schema row, in the order they are written."""
    key = row["id"]
    if "." in key or "/" in key:
        raise ValueError(f"sample id {key!r} contains '.' or '/': WebDataset keys cannot")
    doc = {k: row[k] for k in SAMPLE_FIELDS}
    members = [(f"{key}.json", json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8"))]
    images = row.get("images") or []
    if len(images) == 1:
        members.append((f"{key}.{image_ext(images[0])}", images[0]))
    else:
        for i, img in enumerate(images):
            members.append((f"{key}.{i}.{image_ext(img)}", img))
    return members


# ---------------------------------------------------------------------------------------------
# Parse one grouped sample
# ---------------------------------------------------------------------------------------------

@dataclass(slots=True)
class TarSample:
    """Members sharing one key. `members`: extension -> bytes (None when the reader was told
    not to read that member). `reject`: (reason, detail) when the reader refused the sample."""

    key: str
    members: dict[str, bytes | None] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)   # ext -> (data offset, size) in the tar stream
    reject: tuple[str, str] | None = None

    def name(self, ext: str) -> str:
        return f"{self.key}.{ext}"

    @property
    def image_count(self) -> int:
        return sum(1 for e in self.members if is_image_member(e))

    def image_members(self) -> list[tuple[str, bytes | None]]:
        """(extension, payload) of the images in order: KEY.jpg, or KEY.0.jpg, KEY.1.png, ..."""
        single = [e for e in self.members if e in IMAGE_EXTS]
        multi = sorted((e for e in self.members if "." in e and is_image_member(e)),
                       key=lambda e: int(e.split(".", 1)[0]))
        if single and multi:
            raise SampleError("ambiguous_images", f"sample {self.key} has both KEY.ext and KEY.N.ext image members")
        if len(single) > 1:
            raise SampleError("ambiguous_images", f"sample {self.key} has several unnumbered images "
                                                  f"({', '.join(self.name(e) for e in single)})")
        return [(e, self.members[e]) for e in single + multi]

    def images(self) -> list[bytes]:
        return [d for _, d in self.image_members()]  # type: ignore[misc]

    def doc(self) -> dict:
        """KEY.json as a dict ({} when the sample has none)."""
        data = self.members.get("json")
        if data is None:
            return {}
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise SampleError("bad_utf8", f"{self.name('json')} is not UTF-8 ({e.reason} at byte {e.start})")
        except json.JSONDecodeError as e:
            raise SampleError("bad_json", f"{self.name('json')}: {e.msg} (line {e.lineno} col {e.colno})")
        if not isinstance(doc, dict):
            raise SampleError("bad_record", f"{self.name('json')} must hold an object, got {type(doc).__name__}")
        return doc

    def caption(self) -> bytes | None:
        """The img2dataset caption member (KEY.txt, .caption, ...) as bytes, if any."""
        return next((self.members[e] for e in TEXT_EXTS if self.members.get(e) is not None), None)


def sample_format_of(doc: dict, has_caption: bool) -> str:
    """The sample format: "mixkit" (json `messages`), "llava" (json `conversations`),
    "img2dataset" (a caption member) or "other"."""
    if isinstance(doc.get("messages"), list):
        return "mixkit"
    if isinstance(doc.get("conversations"), list):
        return "llava"
    return "img2dataset" if has_caption else "other"


# ---------------------------------------------------------------------------------------------
# The streaming reader
# ---------------------------------------------------------------------------------------------

TAR_REJECT_REASONS = {
    "link_member": "a symlink or hardlink member: never followed; the sample holding it is rejected",
    "special_member": "a device, fifo or other non-file member: never read; the sample holding it is rejected",
    "unsafe_member_name": "an absolute or climbing (../) member name: never used as a key or path",
    "repeated_key": "members repeating the key of the sample right before them (the first one is kept)",
    "no_key": "a member name without the KEY.EXT form of WebDataset",
    "broken_tar": "a truncated or corrupt tar; samples before the break are kept",
    "ambiguous_images": "a sample with both KEY.jpg and KEY.0.jpg (or two unnumbered) images",
}
# Reasons that say the tar was built to harm or trick a reader, not merely damaged.
SAFETY_REASONS = frozenset({"link_member", "special_member", "unsafe_member_name"})


@dataclass
class TarProblem:
    """A member (or the end of the archive) that belongs to no sample that can be read."""

    reason: str
    member: str
    detail: str
    key: str | None = None       # broken_tar: the sample cut short (not yielded)


def unsafe_name(name: str) -> str | None:
    """Why a member name must not be used as a key or path (None when it is fine)."""
    if name[:1] in ("/", "\\") or (name[1:2] == ":" and name[2:3] in ("/", "\\")):   # /x, C:\x
        return "absolute member name"
    if ".." in name and ".." in name.replace("\\", "/").split("/"):
        return "member name climbs out of the archive (..)"
    return None


def split_name(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name, or None when it has no KEY.EXT form."""
    start = name.rfind("/") + 1
    dot = name.find(".", start)
    if dot <= start:
        return None
    return name[:dot], name[dot + 1:].lower()


class _FastTarInfo(tarfile.TarInfo):
    """TarInfo with a fast header parser for the common case (a regular file in a ustar/GNU
    header with octal numbers and a valid checksum): header parsing is most of the cost of
    streaming a tar. Anything else (pax/GNU long names, links, dirs, base-256 numbers, bad
    checksums, end blocks) goes to tarfile's own parser, which also raises its errors.
    `stop` keeps the header error tarfile ended the stream on: it tells a proper end-of-archive
    block (EOFHeaderError) from a cut or a garbage header (tarfile stops silently on all three).
    Each reader uses its own subclass, so the attribute is per tar; it is set once, at the end
    (setting a class attribute per header would slow every lookup on the class)."""

    stop: Exception | None = None

    @classmethod
    def _slow(cls, buf, encoding, errors):
        try:
            return super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as e:       # tarfile ends the stream on these without a word
            cls.stop = e
            raise

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        if (len(buf) != tarfile.BLOCKSIZE or buf[156] not in (0x30, 0) or buf[257:262] != b"ustar"
                or buf[124] & 0x80 or buf[99] == 0x2F):
            return cls._slow(buf, encoding, errors)
        chk = buf[148:156]
        try:
            chksum = int(chk.split(b"\0", 1)[0].strip() or b"0", 8)
            size = int(buf[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            return cls._slow(buf, encoding, errors)
        if chksum != sum(buf) - sum(chk) + 256:          # 8 spaces stand in for the field
            return cls._slow(buf, encoding, errors)
        name = buf[:100].split(b"\0", 1)[0].decode(encoding, errors)
        if name.endswith("/"):                            # a V7 directory: leave it to tarfile
            return cls._slow(buf, encoding, errors)
        prefix = buf[345:500].split(b"\0", 1)[0]
        obj = cls(prefix.decode(encoding, errors) + "/" + name if prefix else name)
        obj.size, obj.chksum, obj.type = size, chksum, tarfile.REGTYPE
        return obj


class _GunzipReader:
    """Streaming gunzip that hands out every byte decoded before a cut, then raises EOFError
    (so the samples before a cut are kept), and reads concatenated gzip members."""

    def __init__(self, fh):
        self.fh, self.buf = fh, b""
        self.d = zlib.decompressobj(31)

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            raw = self.fh.read(1 << 16)
            if not raw:
                if not self.d.eof and not self.buf:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                break
            while raw:
                self.buf += self.d.decompress(raw)
                raw = b""
                if self.d.eof and self.d.unused_data:  # concatenated gzip members
                    raw, self.d = self.d.unused_data, zlib.decompressobj(31)
        if self.d.eof and not self.buf and n != 0:
            return b""
        out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
        return out


def _read_member(tf: tarfile.TarFile, m: tarfile.TarInfo) -> bytes:
    """A member's bytes, read straight from the stream when it sits at the member's data (always,
    right after next() in stream mode): saves extractfile's three wrapper objects per member."""
    stream = tf.fileobj
    if stream.tell() != m.offset_data:
        return tf.extractfile(m).read()
    data = stream.read(m.size)
    if len(data) != m.size:
        raise tarfile.ReadError("unexpected end of data")
    return data


def _open_stream(fh, name: str) -> tarfile.TarFile:
    """A stream-mode TarFile over `fh`: gzip through _GunzipReader (keeps what decodes before a
    cut), bz2/xz/plain through tarfile's own detection. Member names that are not UTF-8 (old
    tools writing Latin-1) decode with backslash escapes (`caf\\xe9.jpg`): distinct, printable
    keys that JSON, parquet and ids can hold (tarfile's default, lone surrogates, cannot be
    encoded again)."""
    info = type("_TarInfo", (_FastTarInfo,), {})
    head = fh.peek(2)[:2] if hasattr(fh, "peek") else b""
    if head == b"\x1f\x8b" or (not head and name.lower().endswith((".gz", ".tgz"))):
        return tarfile.open(fileobj=_GunzipReader(fh), mode="r|", tarinfo=info, errors="backslashreplace")
    return tarfile.open(fileobj=fh, mode="r|*", tarinfo=info, errors="backslashreplace")


def iter_tar(source: str | os.PathLike | Any, *, read: Callable[[str], bool] | None = None,
             name: str | None = None) -> Iterator[TarSample | TarProblem]:
    """Stream a tar (path, URL or binary file object; gzip/bz2/xz detected) as samples and problems.

    `read(ext)` says which members to read; the others are skipped without reading and kept as
    None in `TarSample.members` (the audit reads json and captions only). Default: all.
    """
    if isinstance(source, (str, os.PathLike)):
        label = storage.display(source)
        with storage.open_read(source) as fh:          # a URL is streamed, never fetched whole
            yield from _iter_stream(fh, name or label, read)
    else:
        yield from _iter_stream(source, name or getattr(source, "name", "<stream>"), read)


_ABS_START = ("/", "\\")
_REGULAR = frozenset(tarfile.REGULAR_TYPES)
_LINKS = frozenset((tarfile.SYMTYPE, tarfile.LNKTYPE))


def _iter_stream(fh, label: str, read: Callable[[str], bool] | None) -> Iterator[TarSample | TarProblem]:
    cur: TarSample | None = None
    member = "(start of file)"
    try:
        tf = _open_stream(fh, label)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        yield TarProblem("broken_tar", "", f"not a readable tar archive: {type(e).__name__}: {e}")
        return
    try:
        nxt, clear = tf.next, tf.members.clear
        while True:
            m = nxt()
            if m is None:
                break
            clear()                                 # streaming: keep no list of every header
            name = m.name
            member = name
            if name[:1] in _ABS_START or ".." in name or name[1:2] == ":":   # cheap pre-check
                why = unsafe_name(name)
                if why is not None:
                    yield TarProblem("unsafe_member_name", name, f"{why}: {name!r} refused, not read")
                    continue
            t = m.type
            if t in _REGULAR:
                reason = None
            elif t == tarfile.DIRTYPE:
                continue                            # a folder entry holds no data
            elif t in _LINKS:
                reason = "link_member"
            else:
                reason = "special_member"
            start = name.rfind("/") + 1                 # split_name, inlined: this loop is the audit's hot path
            dot = name.find(".", start)
            if dot <= start:
                yield TarProblem(reason or "no_key", name, f"member {name!r} has no KEY.EXT name"
                                 + ("" if reason is None else f" and is a {_kind(m)}; not read"))
                continue
            key, ext = name[:dot], name[dot + 1:].lower()
            if cur is not None and (key != cur.key or ext in cur.members):
                done, cur = cur, None
                if key == done.key:                 # the same key again right away: a repeat
                    cur = TarSample(key, reject=("repeated_key", f"members from {name!r} on repeat key {key!r} "
                                                 "of the sample just before; the first was kept"))
                yield done
            if cur is None:
                cur = TarSample(key)
            cur.names.append(name)
            if reason is not None:
                if cur.reject is None:
                    cur.reject = (reason, f"{name!r} is a {_kind(m)}; not followed or read")
                cur.members.setdefault(ext, None)
                continue
            cur.offsets[ext] = (m.offset_data, m.size)      # lets the audit gallery seek to a few images later
            cur.members[ext] = _read_member(tf, m) if read is None or read(ext) else None
        stop = tf.tarinfo.stop               # why tarfile stopped
        clean = isinstance(stop, tarfile.EOFHeaderError)
        if isinstance(stop, (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError)) or stop is None:
            detail = f"archive truncated after member {member!r} (byte {tf.offset}, no end-of-archive block)"
        else:
            detail = f"invalid tar header at byte {tf.offset}, after member {member!r}; the rest was not read"
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error) as e:
        clean, detail = False, f"tar read failed in or after member {member!r} ({type(e).__name__}: {e})"
    if clean:
        if cur is not None:
            yield cur
        return
    # The sample being read at the break may be incomplete (a cut can fall between its members).
    lost = f"; sample {cur.key!r} ({', '.join(cur.names)}) may be incomplete and is not kept" if cur else ""
    yield TarProblem("broken_tar", member, f"{detail}; the samples before it were kept{lost}",
                     key=cur.key if cur else None)


def _kind(m: tarfile.TarInfo) -> str:
    if m.issym():
        return f"symlink to {m.linkname!r}"
    if m.islnk():
        return f"hardlink to {m.linkname!r}"
    return {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
            tarfile.FIFOTYPE: "fifo"}.get(m.type, f"member of tar type {m.type!r}")


SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def expand_shards(shards: str | os.PathLike | list) -> list[str]:
    """Shard paths or URLs from a directory (its *.tar, *.tar.gz, *.tgz, sorted; on object
    storage a prefix), a glob, brace notation ('data/{00000..00999}.tar',
    's3://bucket/mix/shard-{00000..00099}.tar') or a list of any of these. Brace-expanded names
    are kept even when missing (the audit reports them); a pattern that matches nothing raises."""
    from braceexpand import braceexpand   # a webdataset dependency

    items = [shards] if isinstance(shards, (str, os.PathLike)) else list(shards)
    out: list[str] = []
    for item in items:
        item = os.fspath(item)
        plain = not _glob.has_magic(item) and "{" not in item
        if plain and storage.is_dir(item):
            found = [p for p in storage.list_files(item, SHARD_SUFFIXES) if not storage.name(p).startswith(".")]
            if not found:
                raise FileNotFoundError(f"no *.tar shards in directory {storage.display(item)}")
            out.extend(found)
            continue
        expanded = list(braceexpand(item))
        for pat in expanded:
            if _glob.has_magic(pat):
                hits = storage.glob(pat)
                if not hits:
                    raise FileNotFoundError(f"no shard matches {storage.display(pat)!r}")
                out.extend(hits)
            elif len(expanded) == 1 and not storage.exists(pat):
                storage.raise_if_no_bucket(pat)
                raise FileNotFoundError(f"shard not found: {storage.display(pat)}")
            else:
                out.append(pat)
    if not out:
        raise FileNotFoundError(f"no shards given ({shards!r})")
    return out


# ---------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def counts_dict(counter: Counter | dict) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(counter.items())}


@dataclass
class Counts:
    total: int = 0
    by_lang: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    by_task: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, by_lang: Counter | dict, by_source: Counter | dict, by_task: Counter | dict) -> "Counts":
        return cls(int(sum(by_lang.values())), counts_dict(by_lang), counts_dict(by_source), counts_dict(by_task))


@dataclass
class ShardInfo:
    path: str          # file name, relative to the manifest's folder
    samples: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    """manifest.json: what a build (`kind` "build") or `mixkit ocr` ("ocr_synth") wrote.

    The typed part is what readers (audit, export) rely on; `sections` holds what one writer
    adds for people (recipe, versions, accounting, options, step metrics ...), written at the
    top level beside the typed keys.
    """

    kind: str
    seed: int
    targets_by_lang: dict[str, float]
    counts: Counts
    shards: list[ShardInfo]
    quotas: dict[str, int] = field(default_factory=dict)
    rejects_by_step: dict[str, dict[str, int]] = field(default_factory=dict)
    rejects_by_lang: dict[str, int] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_build(cls, *, seed: int, targets: dict[str, float], quotas: dict[str, int], by_lang: Counter | dict,
                  by_source: Counter | dict, by_task: Counter | dict, shards: list[dict],
                  rejects_by_step: dict[str, dict[str, int]], **sections: Any) -> "Manifest":
        """The build's manifest from what the build has at its end: shard infos as ShardWriter
        returns them ({path, samples, bytes, sha256, ...}); `sections` = recipe, versions,
        accounting, engine, environment, steps ... (written as top-level keys)."""
        return cls(kind="build", seed=int(seed), targets_by_lang=dict(targets), quotas=counts_dict(quotas),
                   counts=Counts.of(by_lang, by_source, by_task),
                   shards=[ShardInfo(storage.name(s["path"]), int(s["samples"]), int(s["bytes"]), s["sha256"]) for s in shards],
                   rejects_by_step={st: counts_dict(r) for st, r in sorted(rejects_by_step.items())}, sections=sections)

    @property
    def rejects_total(self) -> int:
        return sum(n for reasons in self.rejects_by_step.values() for n in reasons.values())

    def to_dict(self) -> dict:
        doc = dict(self.sections)
        doc.update({
            "manifest_version": MANIFEST_VERSION, "kind": self.kind, "seed": self.seed,
            "targets": {"by_lang": dict(self.targets_by_lang), "quotas": dict(sorted(self.quotas.items()))},
            "counts": {"total": self.counts.total, "by_lang": self.counts.by_lang,
                       "by_source": self.counts.by_source, "by_task": self.counts.by_task},
            "rejects": {"total": self.rejects_total, "by_step": self.rejects_by_step,
                        "by_lang": dict(sorted(self.rejects_by_lang.items()))},
            "shards": [{"path": s.path, "samples": s.samples, "bytes": s.bytes, "sha256": s.sha256}
                       for s in self.shards],
        })
        return doc

    @classmethod
    def from_dict(cls, doc: dict) -> "Manifest":
        """Read today's manifests and older ones (no kind: a build; OCR's rejects.by_reason)."""
        doc = dict(doc)
        doc.pop("manifest_version", None)
        targets = doc.pop("targets", None) or {}
        counts = doc.pop("counts", None) or {}
        rejects = doc.pop("rejects", None) or {}
        by_step = rejects.get("by_step", rejects.get("by_stage"))      # by_stage: manifests before 0.2
        if by_step is None and rejects.get("by_reason"):
            by_step = {"ocr": rejects["by_reason"]}
        by_lang = counts.get("by_lang") or {}
        return cls(
            kind=doc.pop("kind", "build"), seed=int(doc.pop("seed", 0) or 0),
            targets_by_lang={str(k): float(v) for k, v in (targets.get("by_lang") or {}).items()},
            counts=Counts(int(counts.get("total", sum(by_lang.values()))), {str(k): int(v) for k, v in by_lang.items()},
                          dict(counts.get("by_source") or {}), dict(counts.get("by_task") or {})),
            shards=[ShardInfo(s["path"], int(s["samples"]), int(s["bytes"]), s["sha256"])
                    for s in doc.pop("shards", None) or []],
            quotas={str(k): int(v) for k, v in (targets.get("quotas") or {}).items()},
            rejects_by_step={s: dict(r) for s, r in (by_step or {}).items()},
            rejects_by_lang=dict(rejects.get("by_lang") or {}),
            sections=doc)

    def write(self, out_dir: str | os.PathLike) -> str:
        return write_manifest(out_dir, self.to_dict())

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Manifest":
        """A manifest.json file (or the folder holding one; a path or URL); ValueError when it is not one."""
        path = os.fspath(path)
        if storage.name(path) != MANIFEST_NAME and storage.is_dir(path):
            path = storage.join(path, MANIFEST_NAME)
        shown = storage.display(path)
        try:
            doc = json.loads(storage.read_text(path))
        except storage.StorageError:
            raise
        except (OSError, ValueError) as e:
            raise ValueError(f"{shown}: not a readable manifest ({e})") from e
        if not isinstance(doc, dict):
            raise ValueError(f"{shown}: a manifest must be a JSON object")
        try:
            return cls.from_dict(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{shown}: not a mixkit manifest ({type(e).__name__}: {e})") from e


def write_manifest(out_dir: str | os.PathLike, manifest: dict | Manifest) -> str:
    """Write manifest.json into a folder or URL, atomically (sorted keys, so equal builds give
    equal manifests); returns its path. Written last by a build: its presence is the commit."""
    if isinstance(manifest, Manifest):
        manifest = manifest.to_dict()
    path = storage.join(out_dir, MANIFEST_NAME)
    storage.write_text(path, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path
