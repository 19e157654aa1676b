"""Exact and near-duplicate removal over the whole dataset, in two steps.

1. `compute_signatures(rows, options, order)` runs per batch on workers and keeps only small
   fingerprints: a hash of the normalised text, a hash of the image bytes, MinHash LSH band
   hashes (+ the MinHash signature, to verify candidates) and a dHash of the image.
2. `find_duplicates(signatures, options)` runs once on the driver over all signatures, so the
   whole dataset is deduplicated, not each block on its own. Passes run in a fixed order —
   exact text, exact image, near text, near image — each over the rows the previous passes
   kept. In every cluster the row with the lowest `order` is kept; the others are returned with
   reason, `duplicate_of` (the row kept in that pass) and `cluster_id`.

Choices (documented because they change what is removed):
- Text key: `conversation` (default) = every turn (schema.text_of), so a prompt shared by all
  samples ("Describe the image.") never makes them duplicates; `assistant` = answers only.
  Normalised with Unicode NFKC, casefold, whitespace collapsed.
- Near-duplicate text: MinHash over character n-grams (works for Chinese, Japanese, Thai),
  banded LSH; every candidate pair is verified with the estimated Jaccard (share of equal
  signature slots) >= threshold before it counts. Clusters are connected components.
- Rows are only compared within the same `partition_by` values (default: lang), because the
  translations of one English sample share its image by design.
- Images: exact bytes hash (all images of the row) and a 2x64-bit dHash (horizontal and
  vertical gradients of a 9x9 grayscale reduction; JPEG decoded at reduced scale via
  `Image.draft`) for rows with exactly one image; near if both Hamming distances <= max_hamming.
  Image dedup applies to `image_tasks` only (default: captions) — a LLaVA-style source asks
  several different questions about one image, which are not duplicates.
- 64-bit hashes for exact keys: a false collision is ~3e-8 at 1M rows.
"""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from mixkit.core.schema import make_reject, text_of
from mixkit.runtime.stage import StageOutput
from mixkit.core.text import normalise_text

REASONS = ("exact_duplicate_text", "exact_duplicate_image", "near_duplicate_text", "near_duplicate_image")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NearTextOptions(_Strict):
    enabled: bool = True
    threshold: float = Field(0.8, gt=0, le=1)   # Jaccard similarity of character n-gram sets
    num_perm: int = Field(128, ge=8, le=1024)
    ngram: int = Field(5, ge=1, le=32)           # characters per shingle
    seed: int = 1

    @property
    def bands_rows(self) -> tuple[int, int]:
        return lsh_params(self.threshold, self.num_perm)


class ImagePhashOptions(_Strict):
    enabled: bool = True
    max_hamming: int = Field(6, ge=0, le=20)     # per 64-bit hash (horizontal and vertical)


class DedupOptions(_Strict):
    enabled: bool = True
    text_key: Literal["conversation", "assistant"] = "conversation"
    partition_by: list[Literal["lang", "task", "source"]] = ["lang"]
    exact_text: bool = True
    exact_image: bool = True
    image_tasks: list[str] | None = ["caption"]   # None = all tasks
    near_text: NearTextOptions = NearTextOptions()
    image_phash: ImagePhashOptions = ImagePhashOptions()


# ---------------------------------------------------------------------------------------------
# LSH parameters (as datasketch: minimise the false positive + false negative areas)

@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) with bands*rows <= num_perm minimising FP + FN probability mass."""
    s = np.linspace(0, 1, 201)
    best, best_err = (1, num_perm), np.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1 - (1 - s ** r) ** b
            lo, hi = s <= threshold, s >= threshold
            err = np.trapezoid(p[lo], s[lo]) + np.trapezoid(1 - p[hi], s[hi])
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


# ---------------------------------------------------------------------------------------------
# text normalisation and MinHash

normalize_text = normalise_text      # the one normalisation (mixkit.core.text)


def dedup_text(row: dict, key: str = "conversation") -> str:
    if key == "assistant":
        from mixkit.core.schema import IMAGE_TOKEN

        return normalize_text("\n".join(m["content"].replace(IMAGE_TOKEN, " ")
                                        for m in row["messages"] if m["role"] == "assistant"))
    return normalize_text(text_of(row))


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (vectorised, wrapping uint64)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def shingle_hashes(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of all character n-grams of all texts, and each text's start offset.

    One pass over the concatenated code points: a rolling polynomial over n positions, then
    windows that cross a text boundary are dropped. A text shorter than n is one shingle
    (padded with NULs). Empty texts must be filtered out by the caller.
    """
    padded = [t if len(t) >= n else t + "\0" * (n - len(t)) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    cps = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    total = len(cps) - n + 1
    h = np.zeros(total, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for j in range(n):
        h = h * prime + cps[j:j + total]
    counts = lengths - n + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    win_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    idx = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - win_starts, counts)
    hashes = (_mix64(h[idx]) >> np.uint64(32)).astype(np.uint32)
    return hashes, win_starts


class MinHasher:
    """K hash functions h_i(x) = xorshift(a_i * x + b_i) on 32-bit shingle hashes (odd a_i:
    each is a bijection of uint32). Signatures of a batch are computed in cache-sized chunks."""

    CHUNK = 4096   # shingles per chunk: K x CHUNK uint32 stays in L2

    def __init__(self, num_perm: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2 ** 32, size=num_perm, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
        self.b = rng.integers(0, 2 ** 32, size=num_perm, dtype=np.uint64).astype(np.uint32)

    def signatures(self, hashes: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """[n_docs, num_perm] uint32 from the shingle hashes of each doc (contiguous)."""
        n = len(starts)
        out = np.empty((n, self.num_perm), dtype=np.uint32)
        ends = np.append(starts[1:], len(hashes))
        a, b = self.a[:, None], self.b[:, None]
        shift = np.uint32(15)
        d = 0
        while d < n:
            # as many docs as fit in CHUNK shingles (at least one)
            e = int(np.searchsorted(ends, starts[d] + self.CHUNK, side="right"))
            e = max(e, d + 1)
            seg = hashes[starts[d]:ends[e - 1]]
            h = a * seg[None, :]
            h += b
            h ^= h >> shift
            out[d:e] = np.minimum.reduceat(h, starts[d:e] - starts[d], axis=1).T
            d = e
        return out


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """[n, bands] uint64: one hash per band of `rows` signature slots."""
    n = sigs.shape[0]
    x = sigs[:, :bands * rows].reshape(n, bands, rows).astype(np.uint64)
    h = np.zeros((n, bands), dtype=np.uint64)
    for j in range(rows):
        h = _mix64(h ^ x[:, :, j])
    return h


# ---------------------------------------------------------------------------------------------
# image hashes

def image_dhash(data: bytes) -> tuple[int, int] | None:
    """(horizontal, vertical) 64-bit difference hashes, or None if the image doesn't decode."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG":
            im.draft("L", (64, 64))          # decode at up to 1/8 scale: only 9x9 is needed
        g = np.asarray(im.convert("L").resize((9, 9), Image.Resampling.BOX), dtype=np.int16)
    except Exception:
        return None
    weights = (np.uint64(1) << np.arange(64, dtype=np.uint64))
    hbits = (g[:8, 1:] > g[:8, :-1]).ravel()
    vbits = (g[1:, :8] > g[:-1, :8]).ravel()
    return int(weights[hbits].sum()), int(weights[vbits].sum())


def _images_hash(images: list[bytes]) -> int:
    import xxhash

    h = xxhash.xxh3_64()
    for data in images:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.intdigest()


# ---------------------------------------------------------------------------------------------
# step 1: signatures (workers)

def _fixed_list(values: np.ndarray, width: int, valid: np.ndarray, value_type) -> pa.Array:
    arr = pa.array(values.reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(arr, width, mask=pa.array(~valid))


def compute_signatures(rows: list[dict], options: DedupOptions, order: list[int]) -> pa.Table:
    """Fingerprints of a batch: id, order, part, text_hash, image_hash, bands, minhash, dhash_h, dhash_v."""
    import xxhash

    if len(order) != len(rows):
        raise ValueError(f"order has {len(order)} entries for {len(rows)} rows")
    n = len(rows)
    texts = [dedup_text(r, options.text_key) for r in rows]
    has_text = np.array([bool(t) for t in texts], dtype=bool)
    text_hash = [xxhash.xxh3_64_intdigest(t.encode("utf-8")) if t else None for t in texts]
    image_ok = [bool(r.get("images")) and (options.image_tasks is None or r.get("task") in options.image_tasks)
                for r in rows]
    image_hash = [_images_hash(r["images"]) if ok and options.exact_image else None for r, ok in zip(rows, image_ok)]
    dh = [image_dhash(r["images"][0]) if ok and options.image_phash.enabled and len(r["images"]) == 1 else None
          for r, ok in zip(rows, image_ok)]
    part = ["\x1f".join(str(r.get(k) or "") for k in options.partition_by) for r in rows]

    nt = options.near_text
    b, rr = nt.bands_rows
    sig = np.zeros((n, nt.num_perm), dtype=np.uint32)
    bands = np.zeros((n, b), dtype=np.uint64)
    near_ok = has_text & nt.enabled
    if near_ok.any():
        idx = np.flatnonzero(near_ok)
        hashes, starts = shingle_hashes([texts[i] for i in idx], nt.ngram)
        s = MinHasher(nt.num_perm, nt.seed).signatures(hashes, starts)
        sig[idx] = s
        bands[idx] = band_hashes(s, b, rr)
    return pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "order": pa.array(order, pa.int64()),
        "part": pa.array(part, pa.string()),
        "text_hash": pa.array(text_hash if options.exact_text else [None] * n, pa.uint64()),
        "image_hash": pa.array(image_hash, pa.uint64()),
        "bands": _fixed_list(bands, b, near_ok, pa.uint64()),
        "minhash": _fixed_list(sig, nt.num_perm, near_ok, pa.uint32()),
        "dhash_h": pa.array([d[0] if d else None for d in dh], pa.uint64()),
        "dhash_v": pa.array([d[1] if d else None for d in dh], pa.uint64()),
    })


# ---------------------------------------------------------------------------------------------
# step 2: global duplicates (driver)

def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components over edges (a, b) of nodes 0..n-1: label = smallest node index.

    Vectorised min-label propagation with pointer jumping (deterministic; no Python loop per edge).
    """
    label = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return label
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        while True:                      # pointer jumping: label[label]
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


def _exact_groups(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For rows sorted by order: index of the first row with the same key (self if unique/invalid)."""
    import polars as pl

    n = len(keys)
    rep = np.arange(n, dtype=np.int64)
    if not valid.any():
        return rep
    idx = np.flatnonzero(valid)
    df = pl.DataFrame({"i": idx, "k": keys[idx]})
    first = df.select(pl.col("i").min().over("k")).to_series().to_numpy()
    rep[idx] = first
    return rep


def _band_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs among rows sharing a key: each member to its group's first and to its predecessor."""
    order = np.argsort(keys, kind="stable")          # within a group: ascending row index
    k = keys[order]
    same = np.concatenate(([False], k[1:] == k[:-1]))
    if not same.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    group_start = np.maximum.accumulate(np.where(~same, np.arange(len(k)), 0))
    members = order[same]
    firsts = order[group_start[same]]
    prev = order[np.flatnonzero(same) - 1]
    return np.concatenate((members, members)), np.concatenate((firsts, prev))


def _part_hash(parts: pa.ChunkedArray) -> np.ndarray:
    """uint64 per row for its partition: hash the few distinct values, then index (no per-row loop)."""
    import xxhash

    enc = (parts.combine_chunks() if isinstance(parts, pa.ChunkedArray) else parts).dictionary_encode()
    uniq = np.array([xxhash.xxh3_64_intdigest(p.encode()) for p in enc.dictionary.to_pylist()], dtype=np.uint64)
    return uniq[enc.indices.to_numpy(zero_copy_only=False)] if len(uniq) else np.zeros(len(parts), np.uint64)


def _near_text_pairs(bands: np.ndarray, sigs: np.ndarray, part: np.ndarray, threshold: float):
    a_all, b_all = [], []
    for j in range(bands.shape[1]):
        key = _mix64(bands[:, j] ^ part)
        a, b = _band_pairs(key)
        a_all.append(a)
        b_all.append(b)
    a = np.concatenate(a_all) if a_all else np.empty(0, np.int64)
    b = np.concatenate(b_all) if b_all else np.empty(0, np.int64)
    if len(a) == 0:
        return a, b, np.empty(0)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
    sims = np.empty(len(pairs))
    for s in range(0, len(pairs), 8192):        # verify with the estimated Jaccard, in chunks
        p = pairs[s:s + 8192]
        sims[s:s + 8192] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    ok = sims >= threshold
    return pairs[ok, 0], pairs[ok, 1], sims[ok]


def _fsl_numpy(col: pa.FixedSizeListArray) -> np.ndarray:
    """[n, width] values of a fixed-size list column, null slots included (they hold zeros)."""
    w = col.type.list_size
    return col.values.slice(col.offset * w, len(col) * w).to_numpy(zero_copy_only=False).reshape(-1, w)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def _near_image_pairs(h: np.ndarray, v: np.ndarray, part: np.ndarray, max_hamming: int):
    """Pairs with Hamming(h) <= d and Hamming(v) <= d. Pigeonhole: split h into d+1 chunks;
    two hashes within distance d agree exactly on at least one chunk."""
    chunks = max_hamming + 1
    edges = np.linspace(0, 64, chunks + 1).astype(int)
    a_all, b_all = [], []
    for c in range(chunks):
        width = edges[c + 1] - edges[c]
        mask = np.uint64((1 << int(width)) - 1)
        key = _mix64(((h >> np.uint64(edges[c])) & mask) ^ part ^ np.uint64(c))
        order = np.argsort(key, kind="stable")
        k = key[order]
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
        sizes = np.diff(np.append(starts, len(k)))
        # all pairs inside each bucket: offset-by-t pairs for t = 1 .. max bucket size - 1
        pos_group = np.repeat(np.arange(len(starts)), sizes)
        for t in range(1, int(sizes.max())):
            i = np.arange(len(k) - t)
            same = pos_group[i] == pos_group[i + t]
            if not same.any():
                break
            a_all.append(order[i[same]])
            b_all.append(order[i[same] + t])
    if not a_all:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    a, b = np.concatenate(a_all), np.concatenate(b_all)
    pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0)
    dh = _popcount(h[pairs[:, 0]] ^ h[pairs[:, 1]])
    dv = _popcount(v[pairs[:, 0]] ^ v[pairs[:, 1]])
    ok = (dh <= max_hamming) & (dv <= max_hamming)
    return pairs[ok, 0], pairs[ok, 1], (dh + dv)[ok]


def empty_duplicates() -> pa.Table:
    """find_duplicates()'s table with no rows."""
    return pa.table({k: pa.array([], pa.string()) for k in ("id", "reason", "duplicate_of", "cluster_id", "detail")})


def find_duplicates(signatures: pa.Table, options: DedupOptions) -> pa.Table:
    """Rows to remove: id, reason, duplicate_of, cluster_id, detail. Keeps each cluster's lowest order."""
    empty = empty_duplicates()
    if not options.enabled or signatures.num_rows == 0:
        return empty
    orders = signatures["order"].to_numpy()
    perm = np.argsort(orders, kind="stable")
    if np.any(np.diff(orders[perm]) == 0):
        raise ValueError("signature `order` values must be unique (give each row its global position)")
    in_order = bool(np.all(perm == np.arange(len(perm))))

    def column(name: str) -> pa.Array:
        """A column in `order` order; only the columns a pass needs are permuted."""
        c = signatures[name].combine_chunks()
        return c if in_order else c.take(pa.array(perm))

    n = signatures.num_rows
    ids = column("id")
    part = _part_hash(column("part"))
    alive = np.ones(n, dtype=bool)
    removed_idx: list[np.ndarray] = []
    removed_rep: list[np.ndarray] = []
    removed_reason: list[str] = []
    removed_detail: list[np.ndarray] = []

    def record(rep: np.ndarray, reason: str, detail: np.ndarray | None = None):
        dup = np.flatnonzero(rep != np.arange(n))
        if len(dup):
            alive[dup] = False
            removed_idx.append(dup)
            removed_rep.append(rep[dup])
            removed_reason.extend([reason] * len(dup))
            removed_detail.append(detail[dup] if detail is not None else np.full(len(dup), "", dtype=object))

    def col_u64(name: str) -> tuple[np.ndarray, np.ndarray]:
        c = column(name)
        valid = ~np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        return c.fill_null(0).to_numpy(), valid

    if options.exact_text:
        th, valid = col_u64("text_hash")
        record(_exact_groups(_mix64(th ^ part), valid & alive), "exact_duplicate_text")
    if options.exact_image:
        ih, valid = col_u64("image_hash")
        record(_exact_groups(_mix64(ih ^ part), valid & alive), "exact_duplicate_image")
    if options.near_text.enabled:
        bcol = column("bands")
        valid = ~np.asarray(bcol.is_null().to_numpy(zero_copy_only=False), dtype=bool) & alive
        idx = np.flatnonzero(valid)
        if len(idx) > 1:
            bands = _fsl_numpy(bcol)
            sigs = _fsl_numpy(column("minhash"))
            a, b, sims = _near_text_pairs(bands[idx], sigs[idx], part[idx], options.near_text.threshold)
            lab = _components(len(idx), a, b)
            rep = np.arange(n)
            rep[idx] = idx[lab]
            detail = np.full(n, "", dtype=object)
            moved = np.flatnonzero(rep != np.arange(n))
            if len(moved):
                j = (sigs[moved] == sigs[rep[moved]]).mean(axis=1)
                detail[moved] = [f"jaccard~{x:.2f}" for x in j]
            record(rep, "near_duplicate_text", detail)
    if options.image_phash.enabled:
        h, valid = col_u64("dhash_h")
        v, _ = col_u64("dhash_v")
        idx = np.flatnonzero(valid & alive)
        if len(idx) > 1:
            a, b, _d = _near_image_pairs(h[idx], v[idx], part[idx], options.image_phash.max_hamming)
            lab = _components(len(idx), a, b)
            rep = np.arange(n)
            rep[idx] = idx[lab]
            detail = np.full(n, "", dtype=object)
            moved = np.flatnonzero(rep != np.arange(n))
            if len(moved):
                dh = _popcount(h[moved] ^ h[rep[moved]])
                dv = _popcount(v[moved] ^ v[rep[moved]])
                detail[moved] = [f"hamming h={x} v={y}" for x, y in zip(dh, dv)]
            record(rep, "near_duplicate_image", detail)

    if not removed_idx:
        return empty
    dup = np.concatenate(removed_idx)
    rep = np.concatenate(removed_rep)
    prefix = {"exact_duplicate_text": "text", "exact_duplicate_image": "image",
              "near_duplicate_text": "near_text", "near_duplicate_image": "near_image"}
    reasons = pa.array(removed_reason, pa.string())
    dup_of = ids.take(pa.array(rep))
    import pyarrow.compute as pc

    kind = pa.array([prefix[r] + "-" for r in removed_reason], pa.string())
    return pa.table({
        "id": ids.take(pa.array(dup)),
        "reason": reasons,
        "duplicate_of": dup_of,
        "cluster_id": pc.binary_join_element_wise(kind, dup_of, ""),
        "detail": pa.array(np.concatenate(removed_detail).tolist(), pa.string()),
    })


def duplicate_rejects(rows: list[dict], duplicates: list[dict]) -> StageOutput:
    """Split rows by find_duplicates()'s records: kept rows, and a reject for each duplicate
    (reason, the id it duplicates, its cluster). The build and deduplicate_rows both use this."""
    info = {d["id"]: d for d in duplicates}
    out = StageOutput()
    for r in rows:
        d = info.get(r["id"])
        if d is None:
            out.kept.append(r)
        else:
            out.rejected.append(make_reject(r, "dedup", d["reason"], d.get("detail") or d.get("cluster_id") or "",
                                            duplicate_of=d.get("duplicate_of") or ""))
    return out


def deduplicate_rows(rows: list[dict], options: DedupOptions) -> StageOutput:
    """Both steps in one process (tests, small jobs). Input order is the deterministic order."""
    sigs = compute_signatures(rows, options, list(range(len(rows))))
    return duplicate_rejects(rows, find_duplicates(sigs, options).to_pylist())
