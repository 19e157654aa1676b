"""A row's signatures: the keys under which it can meet its duplicates.

`compute_signatures(rows, options, order, bands)` runs on workers, one partition at a time,
and returns one record per (row, key):

| kind | key | how many per row |
|---|---|---|
| 0 exact text | hash of the normalised text | 1 (rows with text) |
| 1 exact image | hash of all image bytes | 1 (rows with images, `image_tasks` only) |
| 2 near text | a MinHash LSH band | bands.text[0] (rows with text) |
| 3 near image | a band of sampled dHash bits; the record carries both dHashes (h, v) | bands.image[0] (one decodable image) |

Every key is salted with its kind, its band and the row's `partition_by` values, so rows only
meet within the same partition (default: language) and kinds never mix. `order` is the row's
global position in the dedup input: the kept row of a cluster is its lowest order.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from mixkit.dedup.bands import Bands, image_band_keys, text_band_keys
from mixkit.dedup.hashing import mix64, salted, xxh64
from mixkit.dedup.image_hashes import image_dhash, images_hash
from mixkit.dedup.minhash import MinHasher, dedup_text, shingle_hashes
from mixkit.dedup.options import DedupOptions

EXACT_TEXT, EXACT_IMAGE, NEAR_TEXT, NEAR_IMAGE = 0, 1, 2, 3      # index into options.REASONS

SIGNATURE_SCHEMA = pa.schema([("kind", pa.uint8()), ("key", pa.uint64()), ("order", pa.int64()),
                              ("h", pa.uint64()), ("v", pa.uint64())])


def _band_salts(kind: int, bands: int) -> np.ndarray:
    return salted(np.arange(bands, dtype=np.uint64), kind)


def _part_keys(rows: list[dict], fields: list[str]) -> np.ndarray:
    """uint64 per row for its `partition_by` values (hashed once per distinct value)."""
    parts = ["\x1f".join(str(r.get(k) or "") for k in fields) for r in rows]
    cache = {p: xxh64(p) for p in set(parts)}
    return np.array([cache[p] for p in parts], dtype=np.uint64)


def compute_signatures(rows: list[dict], options: DedupOptions, order: list[int] | np.ndarray,
                       bands: Bands) -> pa.Table:
    """The signature records of a batch of rows (SIGNATURE_SCHEMA), in no particular order."""
    order = np.asarray(order, dtype=np.int64)
    if len(order) != len(rows):
        raise ValueError(f"order has {len(order)} entries for {len(rows)} rows")
    part = _part_keys(rows, options.partition_by)
    texts = [dedup_text(r, options.text_key) for r in rows]
    has_text = np.array([bool(t) for t in texts], dtype=bool)
    image_ok = np.array([bool(r.get("images")) and (options.image_tasks is None or r.get("task") in options.image_tasks)
                         for r in rows], dtype=bool)
    out: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]] = []

    if options.exact_text and has_text.any():
        idx = np.flatnonzero(has_text)
        h = np.array([xxh64(texts[i]) for i in idx], dtype=np.uint64)
        out.append((EXACT_TEXT, mix64(h ^ part[idx] ^ _band_salts(EXACT_TEXT, 1)), order[idx], None, None))
    if options.exact_image and image_ok.any():
        idx = np.flatnonzero(image_ok)
        h = np.array([images_hash(rows[i]["images"]) for i in idx], dtype=np.uint64)
        out.append((EXACT_IMAGE, mix64(h ^ part[idx] ^ _band_salts(EXACT_IMAGE, 1)), order[idx], None, None))
    nt = options.near_text
    if nt.enabled and has_text.any():
        b, r = bands.text
        idx = np.flatnonzero(has_text)
        hashes, starts = shingle_hashes([texts[i] for i in idx], nt.ngram)
        sig = MinHasher(b * r, nt.seed).signatures(hashes, starts)
        keys = mix64(text_band_keys(sig, b, r) ^ part[idx, None] ^ _band_salts(NEAR_TEXT, b)[None, :])
        out.append((NEAR_TEXT, keys.ravel(), np.repeat(order[idx], b), None, None))
    if options.image_phash.enabled and image_ok.any():
        b, r = bands.image
        idx, hv = [], []
        for i in np.flatnonzero(image_ok):
            d = image_dhash(rows[i]["images"][0]) if len(rows[i]["images"]) == 1 else None
            if d is not None:
                idx.append(i)
                hv.append(d)
        if idx:
            idx = np.array(idx)
            h = np.array([x[0] for x in hv], dtype=np.uint64)
            v = np.array([x[1] for x in hv], dtype=np.uint64)
            keys = mix64(image_band_keys(h, v, b, r) ^ part[idx, None] ^ _band_salts(NEAR_IMAGE, b)[None, :])
            out.append((NEAR_IMAGE, keys.ravel(), np.repeat(order[idx], b), np.repeat(h, b), np.repeat(v, b)))

    if not out:
        return SIGNATURE_SCHEMA.empty_table()
    zeros = lambda n: np.zeros(n, dtype=np.uint64)
    return pa.table({
        "kind": pa.array(np.concatenate([np.full(len(k), kind, np.uint8) for kind, k, *_ in out])),
        "key": pa.array(np.concatenate([k for _, k, *_ in out])),
        "order": pa.array(np.concatenate([o for _, _, o, *_ in out])),
        "h": pa.array(np.concatenate([h if h is not None else zeros(len(k)) for _, k, _, h, _ in out])),
        "v": pa.array(np.concatenate([v if v is not None else zeros(len(k)) for _, k, _, _, v in out])),
    }, schema=SIGNATURE_SCHEMA)
