"""Pairs from signatures: rows that share a key, and the check that makes a candidate an edge.

In each group of records with the same (kind, key), sorted by order, every member is paired
with the group's first row and with its predecessor (as NeMo Curator's anchors and datatrove's
consecutive pairs): at most 2 pairs per row per band, however large the group, and a group's
rows stay connected. Per kind:
- exact text / exact image: the pair (first, member) is final (same 64-bit hash);
- near image: final if both dHash Hamming distances are <= max_hamming (the records carry them);
- near text: a candidate; `text_jaccard` on the two texts decides (exact Jaccard >= threshold).

A pair is (a, b) with a < b (orders). The same pair can come from several bands: `unique_pairs`.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from mixkit.dedup.hashing import hamming
from mixkit.dedup.signatures import EXACT_IMAGE, EXACT_TEXT, NEAR_IMAGE, NEAR_TEXT

PAIR_SCHEMA = pa.schema([("kind", pa.uint8()), ("a", pa.int64()), ("b", pa.int64()),
                         ("jaccard", pa.float32()), ("dh", pa.uint8()), ("dv", pa.uint8())])


def pairs_table(kind, a, b, jaccard=None, dh=None, dv=None) -> pa.Table:
    n = len(a)
    z8 = np.zeros(n, np.uint8)
    return pa.table({"kind": pa.array(np.broadcast_to(np.asarray(kind, np.uint8), (n,)).copy()),
                     "a": pa.array(np.asarray(a, np.int64)), "b": pa.array(np.asarray(b, np.int64)),
                     "jaccard": pa.array(np.zeros(n, np.float32) if jaccard is None else np.asarray(jaccard, np.float32)),
                     "dh": pa.array(z8 if dh is None else np.asarray(dh, np.uint8)),
                     "dv": pa.array(z8 if dv is None else np.asarray(dv, np.uint8))}, schema=PAIR_SCHEMA)


def _group_pairs(signatures: pa.Table):
    """Records sorted by (kind, key, order), and for each pair the indices (a, b) into that order."""
    kind = signatures["kind"].to_numpy()
    key = signatures["key"].to_numpy()
    order = signatures["order"].to_numpy()
    idx = np.lexsort((order, key, kind))
    kind, key = kind[idx], key[idx]
    same = np.zeros(len(idx), dtype=bool)
    same[1:] = (kind[1:] == kind[:-1]) & (key[1:] == key[:-1])
    members = np.flatnonzero(same)
    first = np.maximum.accumulate(np.where(same, 0, np.arange(len(idx))))[members]
    pred = members - 1
    exact = (kind[members] == EXACT_TEXT) | (kind[members] == EXACT_IMAGE)
    p_new = ~exact & (pred != first)               # near kinds: the predecessor too, unless it is the first
    a = np.concatenate((first, pred[p_new]))
    b = np.concatenate((members, members[p_new]))
    return idx, kind[a], a, b


def candidate_pairs(signatures: pa.Table) -> pa.Table:
    """All pairs among rows sharing a key, before any check (kind, a, b; a < b)."""
    if signatures.num_rows == 0:
        return PAIR_SCHEMA.empty_table()
    idx, k, a, b = _group_pairs(signatures)
    order = signatures["order"].to_numpy()[idx]
    return pairs_table(k, order[a], order[b])


def bucket_pairs(signatures: pa.Table, max_hamming: int) -> pa.Table:
    """Exact pairs, verified near-image pairs and near-text candidates among rows sharing a key."""
    if signatures.num_rows == 0:
        return PAIR_SCHEMA.empty_table()
    idx, k, a, b = _group_pairs(signatures)
    order = signatures["order"].to_numpy()[idx]
    img = k == NEAR_IMAGE
    h = signatures["h"].to_numpy()[idx]
    v = signatures["v"].to_numpy()[idx]
    dh, dv = hamming(h[a[img]], h[b[img]]), hamming(v[a[img]], v[b[img]])
    ok = (dh <= max_hamming) & (dv <= max_hamming)
    other = ~img
    return pa.concat_tables([pairs_table(k[other], order[a[other]], order[b[other]]),
                             pairs_table(NEAR_IMAGE, order[a[img][ok]], order[b[img][ok]], dh=dh[ok], dv=dv[ok])])


def unique_pairs(pairs: pa.Table) -> pa.Table:
    """Each (kind, a, b) once, sorted by (kind, a, b)."""
    if pairs.num_rows == 0:
        return pairs
    kind, a, b = (pairs[c].to_numpy() for c in ("kind", "a", "b"))
    idx = np.lexsort((b, a, kind))
    k, a, b = kind[idx], a[idx], b[idx]
    keep = np.ones(len(idx), dtype=bool)
    keep[1:] = (k[1:] != k[:-1]) | (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return pairs.take(pa.array(idx[keep]))


def verify_text_pairs(candidates: pa.Table, texts_a: list[str], texts_b: list[str], threshold: float,
                      ngram: int) -> pa.Table:
    """The near-text candidates whose exact Jaccard is >= threshold, with it."""
    from mixkit.dedup.minhash import text_jaccard

    if candidates.num_rows == 0:
        return PAIR_SCHEMA.empty_table()
    j = text_jaccard(texts_a, texts_b, ngram)
    ok = j >= np.float32(threshold)
    return pairs_table(NEAR_TEXT, candidates["a"].to_numpy()[ok], candidates["b"].to_numpy()[ok], jaccard=j[ok])
