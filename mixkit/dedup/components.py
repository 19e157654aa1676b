"""From pairs to removals: the passes, in a fixed order, over the pairs only (never per-row data).

Passes run as exact text, exact image, near text, near image; each sees only the rows the
earlier passes kept. In every cluster the row with the lowest order is kept and the others are
removed, pointing at it:
- exact passes: a group is (first, members...); a group whose first was removed by an earlier
  pass keeps its lowest remaining member.
- near passes: clusters are the connected components of the verified pairs between kept rows
  (scipy's connected_components on the pair graph).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mixkit.dedup.hashing import sorted_unique
from mixkit.dedup.signatures import EXACT_IMAGE, EXACT_TEXT, NEAR_IMAGE, NEAR_TEXT


@dataclass
class Removals:
    """Removed rows (sorted by order) with the kept row of their cluster and why."""
    order: np.ndarray             # int64
    rep: np.ndarray               # int64: the kept row (lowest order of the cluster)
    kind: np.ndarray              # uint8: the pass (index into REASONS)
    jaccard: np.ndarray           # float32: near text, exact Jaccard to `rep` (or to the closest member)
    dh: np.ndarray                # uint8: near image, Hamming distances to `rep` (or to the closest member)
    dv: np.ndarray
    direct: np.ndarray            # bool: the figures are to `rep` itself (else to the row's closest cluster member)

    def __len__(self) -> int:
        return len(self.order)

    def slice(self, lo: int, hi: int) -> "Removals":
        """The removals with lo <= order < hi."""
        i, j = np.searchsorted(self.order, [lo, hi])
        return Removals(*(getattr(self, f)[i:j] for f in self.__dataclass_fields__))


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of nodes 0..n-1 over edges (a, b): each node's label is the smallest
    node of its component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(a) == 0:
        return np.arange(n, dtype=np.int64)
    small = np.int32 if n < 2 ** 31 else np.int64
    g = coo_matrix((np.ones(len(a), dtype=np.int8), (a.astype(small), b.astype(small))), shape=(n, n)).tocsr()
    _, lab = connected_components(g, directed=False)
    smallest = np.full(lab.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, lab, np.arange(n, dtype=np.int64))
    return smallest[lab]


def _alive(x: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """x not in the sorted array `dead` (np.isin may build a table as large as the order range: per-row memory)."""
    if len(dead) == 0:
        return np.ones(len(x), dtype=bool)
    pos = np.minimum(np.searchsorted(dead, x), len(dead) - 1)
    return dead[pos] != x


def _exact_pass(a: np.ndarray, b: np.ndarray, dead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(removed, rep) for exact groups given as (first, member) pairs."""
    keep = _alive(b, dead)
    g, m = a[keep], b[keep]
    if len(g) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    idx = np.lexsort((m, g))
    g, m = g[idx], m[idx]
    starts = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
    groups, lowest = g[starts], m[starts]
    rep_of_group = np.where(_alive(groups, dead), groups, lowest)
    rep = np.repeat(rep_of_group, np.diff(np.append(starts, len(g))))
    out = m != rep
    return m[out], rep[out]


def _near_pass(a: np.ndarray, b: np.ndarray, score: np.ndarray, dead: np.ndarray, higher_is_closer: bool):
    """(removed, rep, score to rep or to the closest neighbour, direct) over verified pairs between kept rows."""
    keep = _alive(a, dead) & _alive(b, dead)
    a, b, score = a[keep], b[keep], score[keep]
    empty = np.empty(0, np.int64)
    if len(a) == 0:
        return empty, empty, score[:0], np.empty(0, bool)
    nodes = sorted_unique(np.concatenate((a, b)))
    ia, ib = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    lab = components(len(nodes), ia, ib)
    moved = np.flatnonzero(lab != np.arange(len(nodes)))
    # the score of (rep, row) when that pair was verified, else the row's closest verified neighbour
    n = len(nodes)
    key = ia * n + ib
    order = np.argsort(key)
    edge_key = key[order]
    del key
    want = lab[moved] * n + moved
    pos = np.minimum(np.searchsorted(edge_key, want), len(edge_key) - 1)
    direct = edge_key[pos] == want
    best = np.full(n, -np.inf if higher_is_closer else np.inf)
    s = score.astype(np.float64)
    (np.maximum if higher_is_closer else np.minimum).at(best, ia, s)
    (np.maximum if higher_is_closer else np.minimum).at(best, ib, s)
    out_score = np.where(direct, s[order[pos]], best[moved])
    return nodes[moved], nodes[lab[moved]], out_score, direct


def resolve(pairs: pa.Table, passes: tuple[int, ...] = (EXACT_TEXT, EXACT_IMAGE, NEAR_TEXT, NEAR_IMAGE)) -> Removals:
    """The removals of every pass, from all unique pairs (PAIR_SCHEMA) of the whole dataset."""
    kind = pairs["kind"].to_numpy()
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    dead = np.empty(0, np.int64)
    parts = []
    for k in passes:
        sel = kind == k
        if k in (EXACT_TEXT, EXACT_IMAGE):
            removed, rep = _exact_pass(a[sel], b[sel], dead)
            n = len(removed)
            part = (removed, rep, np.full(n, k, np.uint8), np.zeros(n, np.float32), np.zeros(n, np.uint8),
                    np.zeros(n, np.uint8), np.ones(n, bool))
        elif k == NEAR_TEXT:
            removed, rep, j, direct = _near_pass(a[sel], b[sel], pairs["jaccard"].to_numpy()[sel], dead, True)
            n = len(removed)
            part = (removed, rep, np.full(n, k, np.uint8), j.astype(np.float32), np.zeros(n, np.uint8),
                    np.zeros(n, np.uint8), direct)
        else:
            dh, dv = pairs["dh"].to_numpy()[sel].astype(np.int64), pairs["dv"].to_numpy()[sel].astype(np.int64)
            # one score carries both distances: dh * 256 + dv, ranked by their sum first
            score = (dh + dv) * 65536 + dh * 256 + dv
            removed, rep, sc, direct = _near_pass(a[sel], b[sel], score, dead, False)
            sc = sc.astype(np.int64) if len(sc) else np.empty(0, np.int64)
            n = len(removed)
            part = (removed, rep, np.full(n, k, np.uint8), np.zeros(n, np.float32),
                    ((sc // 256) % 256).astype(np.uint8), (sc % 256).astype(np.uint8), direct)
        parts.append(part)
        if len(removed):
            dead = sorted_unique(np.concatenate((dead, removed)))
    cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
    idx = np.argsort(cols[0], kind="stable")
    return Removals(*(c[idx] for c in cols))
