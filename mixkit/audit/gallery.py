"""The audit's gallery: a few samples per language with a thumbnail and their text, so a person can
judge OCR images and translations by looking at them.

Choice is deterministic and independent of shard order and worker count: per language and task,
the samples with the smallest xxh3-64 hash of their id (the json `id`, else the WebDataset key;
ties by id); the language's GALLERY_PER_LANG are taken round-robin over its tasks (so OCR,
captions and translations all show), tasks in order of their best hash.
While the audit streams, each shard keeps its own few candidates
(a hash and a comparison per sample, no image is read) with the tar offset of their first image;
after the merge only the winners' images are read back (a seek each; a header scan of the shard
when the offset cannot be trusted, e.g. a compressed shard) and turned into small JPEG thumbnails.

Entry: {"id", "task", "text", "thumb": base64 JPEG (<= THUMB_PX on the long side) or None,
"thumb_error": why there is no thumbnail (only when thumb is None), "shard", "key"}.
"""
from __future__ import annotations

import base64
import io
from collections import defaultdict

import xxhash

from mixkit.core import storage
from mixkit.core.text import error_text
from mixkit.core.shard_format import SampleError, TarSample, is_image_member, iter_tar

GALLERY_PER_LANG = 4
THUMB_PX = 160
TEXT_CHARS = 600


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1].rstrip() + "…"


class GalleryPicker:
    """Candidates of one shard: per (language, task) the GALLERY_PER_LANG smallest (hash, id)."""

    def __init__(self, shard: str, k: int = GALLERY_PER_LANG):
        self.shard = shard
        self.k = k
        self._best: dict[tuple[str, str], list[tuple]] = {}

    def offer(self, lang: str, sample_id: str, task: str, text: str, sample: TarSample) -> None:
        h = xxhash.xxh3_64_intdigest(sample_id.encode("utf-8", "surrogatepass"))
        best = self._best.get((lang, task))
        if best is None:
            best = self._best[(lang, task)] = []
        elif len(best) >= self.k and (h, sample_id) >= best[-1][:2]:
            return                                      # the common case: one comparison
        best.append((h, sample_id, _clip(text), sample.key, _first_image_at(sample)))
        best.sort(key=lambda c: c[:2])
        del best[self.k:]

    def entries(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = defaultdict(list)
        for (lang, task), best in self._best.items():
            out[lang] += [{"h": h, "id": i, "task": task, "text": x, "shard": self.shard, "key": k, "at": at}
                          for h, i, x, k, at in best]
        return dict(out)


def _first_image_at(sample: TarSample) -> tuple[str, int, int] | None:
    """(member name, data offset, size) of the sample's first image, when the reader recorded it."""
    try:
        images = sample.image_members()
    except SampleError:
        return None                                     # reported again when the shard is scanned
    offsets = sample.offsets
    if not images or images[0][0] not in offsets:
        return None
    ext = images[0][0]
    return (sample.name(ext), *offsets[ext])


def merge_gallery(parts: list[dict[str, list[dict]]], k: int = GALLERY_PER_LANG) -> dict[str, list[dict]]:
    """Per language, k entries over every shard's candidates, round-robin over tasks (no thumbnails yet)."""
    by_lang: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for p in parts:
        for lang, items in p.items():
            for e in items:
                by_lang[lang][e["task"]].append(e)
    out = {}
    for lang in sorted(by_lang):
        tasks = [sorted(v, key=lambda e: (e["h"], e["id"])) for v in by_lang[lang].values()]
        tasks.sort(key=lambda v: (v[0]["h"], v[0]["id"]))
        picked: list[dict] = []
        for rank in range(k):
            picked += [v[rank] for v in tasks if rank < len(v)]
        out[lang] = picked[:k]
    return out


def thumbnail(data: bytes, px: int = THUMB_PX) -> str:
    """A JPEG thumbnail (long side <= px) as base64 text."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (px, px))            # JPEG: decode at a reduced scale, much faster
        im = im.convert("RGB")
        im.thumbnail((px, px))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _read_at(fh, name: str, offset: int, size: int) -> bytes | None:
    """The member's bytes if the tar header right before `offset` names it (so the offset is one
    of this uncompressed file, not of a decompressed stream); else None."""
    if offset < 512 or size <= 0:
        return None
    fh.seek(offset - 512)
    header = fh.read(512)
    field = header[:100].split(b"\0", 1)[0]
    full = name.encode("utf-8", "surrogateescape")
    if len(header) < 512 or not field or not (full == field or full.endswith(b"/" + field) or full.startswith(field)):
        return None
    data = fh.read(size)
    return data if len(data) == size else None


def _first_images(shard: str, keys: set[str]) -> dict[str, bytes | str]:
    """key -> bytes of its first image, or a reason string: the shard read again through the one
    reader (shard_format.iter_tar), images only, stopping once every wanted key has gone by."""
    out: dict[str, bytes | str] = {}
    try:
        for s in iter_tar(shard, read=is_image_member):
            if not isinstance(s, TarSample) or s.key not in keys:
                continue
            try:
                images = s.image_members()
            except SampleError as e:
                out[s.key] = str(e)
            else:
                out[s.key] = images[0][1] if images else "the sample has no image"
            if len(out) == len(keys):
                break
    except OSError as e:
        return {k: f"cannot read the shard again: {type(e).__name__}: {e}" for k in keys}
    return {k: out.get(k, "sample not found on re-reading the shard") for k in keys}


def attach_thumbnails(gallery: dict[str, list[dict]], px: int = THUMB_PX) -> dict[str, list[dict]]:
    """Fill in `thumb` (and `thumb_error`) for the chosen entries; drops the internal hash."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for items in gallery.values():
        for e in items:
            wanted[e["shard"]].add(e["key"])
    images: dict[tuple[str, str], bytes | str] = {}
    for shard, keys in sorted(wanted.items()):
        at = {e["key"]: e["at"] for items in gallery.values() for e in items if e["shard"] == shard and e.get("at")}
        try:
            with storage.open_read(shard, block_size=1 << 20) as fh:     # a few seeks: small range requests
                for key in sorted(at):
                    data = _read_at(fh, *at[key])
                    if data is not None:
                        images[(shard, key)] = data
        except OSError:
            pass                                          # the scan below says what is wrong
        rest = {k for k in keys if (shard, k) not in images}
        if rest:
            images.update({(shard, k): v for k, v in _first_images(shard, rest).items()})
    out: dict[str, list[dict]] = {}
    for lang, items in gallery.items():
        out[lang] = []
        for e in items:
            entry = {k: v for k, v in e.items() if k not in ("h", "at")}
            data = images[(e["shard"], e["key"])]
            if isinstance(data, str):
                entry.update(thumb=None, thumb_error=data)
            else:
                try:
                    entry["thumb"] = thumbnail(data, px)
                except Exception as err:  # noqa: BLE001 - PIL raises many types for bad images; report, never fail
                    entry.update(thumb=None, thumb_error=f"cannot decode the image ({data[:4].hex()}...): "
                                                         f"{error_text(err)}")   # same bytes, same text
            out[lang].append(entry)
    return out
