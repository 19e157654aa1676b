"""The mix's pieces without a build: the shard cut over ranges equals one sequential pass, and the
first keys of the shards place every sample in its shard."""
from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixkit.build.steps.mix import _cut_task, shard_of


def _sequential_cut(sizes: list[int], max_n: int, max_b: int) -> list[int]:
    """The rule as one loop over the whole order (what the build did before ranges)."""
    out, k, n, b = [], 0, 0, 0
    for size in sizes:
        if n and (n >= max_n or b + size > max_b - 1024):
            k, n, b = k + 1, 0, 0
        out.append(k)
        n, b = n + 1, b + size
    return out


@pytest.mark.parametrize("trial", range(12))
def test_cut_over_ranges_equals_one_pass(tmp_path, trial):
    rng = random.Random(trial)
    n = rng.randint(1, 3000)
    h = sorted(rng.random() for _ in range(n))
    ids = [f"{i:08x}" for i in range(n)]
    sizes = [rng.choice([1536, 2048, 40_000, 3_000_000]) if rng.random() < 0.1 else rng.randint(1024, 9000)
             for _ in range(n)]
    max_n, max_b = rng.choice([1, 3, 50, 1000]), rng.choice([8192, 60_000, 1 << 20, 1 << 28])
    # ranges of very different sizes (some empty, some missing) split the order anywhere
    cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randint(0, 20)))) if n > 1 else []
    bounds = [0, *cuts, n]
    ranges = len(bounds) - 1 + 2
    for r in range(len(bounds) - 1):
        a, z = bounds[r], bounds[r + 1]
        pq.write_table(pa.table({"id": ids[a:z], "h": h[a:z], "size": pa.array(sizes[a:z], pa.int64())}),
                       tmp_path / f"r-{r + 1:06d}.parquet")          # r-000000 and the last: absent
    shards = _cut_task({"dir": str(tmp_path), "ranges": ranges, "out": str(tmp_path / "cut.parquet"),
                        "max_samples": max_n, "max_bytes": max_b})
    cut = pq.read_table(tmp_path / "cut.parquet")
    want = _sequential_cut(sizes, max_n, max_b)
    assert shards == want[-1] + 1
    got = shard_of(np.asarray(h), ids, np.asarray(cut["first_h"].to_pylist()), cut["first_id"].to_pylist())
    assert got.tolist() == want
    assert cut["samples"].to_pylist() == np.bincount(want).tolist()
    assert sum(cut["bytes"].to_pylist()) == sum(sizes)


def test_equal_order_keys_are_placed_by_id():
    first_h = np.array([0.1, 0.5, 0.5, 0.9])
    first_id = ["a", "c", "m", "b"]
    h = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.7, 0.95])
    ids = ["z", "b", "c", "d", "n", "a", "a"]
    assert shard_of(h, ids, first_h, first_id).tolist() == [0, 0, 1, 1, 2, 2, 3]
