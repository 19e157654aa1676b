"""Removal: the duplicates table (one record per removed row) and the split of rows into kept
rows and rejects."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from mixkit.core.schema import make_reject
from mixkit.dedup.components import Removals
from mixkit.dedup.options import REASONS
from mixkit.dedup.signatures import NEAR_IMAGE, NEAR_TEXT
from mixkit.runtime.stage import StageOutput

DUPLICATES_SCHEMA = pa.schema([("order", pa.int64()), ("id", pa.string()), ("reason", pa.string()),
                               ("duplicate_of", pa.string()), ("cluster_id", pa.string()), ("detail", pa.string())])
_CLUSTER_PREFIX = ("text", "image", "near_text", "near_image")


def empty_duplicates() -> pa.Table:
    return DUPLICATES_SCHEMA.empty_table()


def _detail(rem: Removals, i: int) -> str:
    k = rem.kind[i]
    if k == NEAR_TEXT:
        s = f"jaccard={rem.jaccard[i]:.2f}"
    elif k == NEAR_IMAGE:
        s = f"hamming h={rem.dh[i]} v={rem.dv[i]}"
    else:
        return ""
    return s if rem.direct[i] else s + " to the closest row of the cluster"


def duplicates_table(rem: Removals, ids: list[str], rep_ids: list[str]) -> pa.Table:
    """Records of removed rows: order, id, reason, duplicate_of (the kept row's id), cluster_id, detail."""
    return pa.table({
        "order": pa.array(rem.order, pa.int64()),
        "id": pa.array(ids, pa.string()),
        "reason": pa.array([REASONS[k] for k in rem.kind], pa.string()),
        "duplicate_of": pa.array(rep_ids, pa.string()),
        "cluster_id": pa.array([f"{_CLUSTER_PREFIX[k]}-{r}" for k, r in zip(rem.kind, rep_ids)], pa.string()),
        "detail": pa.array([_detail(rem, i) for i in range(len(rem))], pa.string()),
    }, schema=DUPLICATES_SCHEMA)


def duplicate_rejects(rows: list[dict], duplicates: list[dict]) -> StageOutput:
    """Split rows by the duplicates table's records: kept rows, and a reject for each duplicate
    (reason, the id it duplicates, its cluster)."""
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


def ids_at(ids: pa.Array, positions: np.ndarray) -> list[str]:
    return ids.take(pa.array(np.asarray(positions, np.int64))).to_pylist()
