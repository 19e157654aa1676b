"""Text: the normalised text a row is compared on, its character n-gram shingles, MinHash
signatures of the shingle sets (for the LSH bands) and the exact Jaccard similarity of two
shingle sets (to verify a candidate pair)."""
from __future__ import annotations

import numpy as np

from mixkit.core.schema import text_of
from mixkit.core.text import normalise_text
from mixkit.dedup.hashing import mix64, sorted_unique

normalize_text = normalise_text      # the one normalisation (mixkit.core.text)


def dedup_text(row: dict, key: str = "conversation") -> str:
    """The text a row is deduplicated on: every turn (`conversation`) or the answers only (`assistant`)."""
    if key == "assistant":
        from mixkit.core.schema import IMAGE_TOKEN

        return normalize_text("\n".join(m["content"].replace(IMAGE_TOKEN, " ")
                                        for m in row["messages"] if m["role"] == "assistant"))
    return normalize_text(text_of(row))


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
    h = np.zeros(max(total, 0), dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for j in range(n):
        h = h * prime + cps[j:j + total]
    counts = lengths - n + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    win_starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    idx = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - win_starts, counts)
    hashes = (mix64(h[idx]) >> np.uint64(32)).astype(np.uint32)
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


def _unique_per_doc(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct shingle hashes (sorted), concatenated, and each text's [start, end) offsets."""
    hashes, starts = shingle_hashes(texts, n)
    doc = np.repeat(np.arange(len(texts), dtype=np.uint64), np.diff(np.append(starts, len(hashes))))
    keys = sorted_unique((doc << np.uint64(32)) | hashes.astype(np.uint64))
    doc_of = (keys >> np.uint64(32)).astype(np.int64)
    offsets = np.searchsorted(doc_of, np.arange(len(texts) + 1))
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), offsets


def text_jaccard(texts_a: list[str], texts_b: list[str], n: int, chunk: int = 4096) -> np.ndarray:
    """Exact Jaccard similarity of the n-gram sets of texts_a[i] and texts_b[i] (32-bit shingle
    hashes: a false match between two shingles is ~1e-7 for 500-character texts)."""
    out = np.empty(len(texts_a), dtype=np.float32)
    for s in range(0, len(texts_a), chunk):
        ta, tb = texts_a[s:s + chunk], texts_b[s:s + chunk]
        m = len(ta)
        ha, oa = _unique_per_doc(ta, n)
        hb, ob = _unique_per_doc(tb, n)
        na, nb = np.diff(oa), np.diff(ob)
        # a shingle of pair i appears twice in (i, hash) keys when both texts hold it
        pair = np.concatenate((np.repeat(np.arange(m, dtype=np.uint64), na), np.repeat(np.arange(m, dtype=np.uint64), nb)))
        keys = np.sort((pair << np.uint64(32)) | np.concatenate((ha, hb)).astype(np.uint64))
        both = keys[1:][keys[1:] == keys[:-1]] >> np.uint64(32)
        inter = np.bincount(both.astype(np.int64), minlength=m)
        out[s:s + m] = inter / (na + nb - inter)
    return out
