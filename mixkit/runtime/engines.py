"""Executors: `Engine` (Ray: an embedded local instance, or a cluster with `address=`) and
`LocalEngine` (worker processes, no Ray), one interface:

- `run_stage(stage, in_dir, out_dir)`: a Stage over parquet partitions. On Ray, Data `map_batches`
  with an actor pool (one `setup()` per actor, the step's CPUs/GPUs per actor). Each partition's
  output is written by the worker that processed it and renamed into place when complete, so a
  killed build redoes only unfinished partitions, and row order within a partition is the input's
  (Ray Data's scheduling order never reaches the data: see PITFALLS).
- `map_tasks(fn, items)` / `map_ordered(fn, items)`: fn(item) as tasks, results in item order.
- `group_apply(items, prepare, key, fn)`: a shuffle. `prepare(item)` makes a table per item, its
  rows are grouped by the int column `key` across all items, and `fn(group)` runs once per group
  in a worker and returns a small dict. On Ray this is Ray Data's `groupby(key).map_groups` (the
  rows travel through the object store, spilled to disk when large); locally, sorted runs in a
  scratch folder read back per key range.

The build tells the engine which step runs (`begin_step`): the recipe's `workers:` entry for it sets
how many workers and what each gets (mixkit.runtime.workers); `end_step()` says how many distinct
worker processes did the step's work (the manifest's `workers`).
"""
from __future__ import annotations

import json
import os
import socket
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa

from mixkit.core import storage
from mixkit.core.schema import REJECT_SCHEMA, rows_to_table
from mixkit.runtime.partitions import is_done, mark_done, parts, read_table, write_table_atomic
from mixkit.runtime.stage import Stage, StageOutput
from mixkit.runtime.workers import Workers, step_workers

# Local shuffle: rows of one key range read back at once (bounded memory per reduce task).
LOCAL_REDUCE_BYTES = 256 << 20
# Ray: shuffles of at most this many blocks sort (fast to start); larger ones hash (flat driver).
SORT_SHUFFLE_BLOCKS = 16
# Ray 2.60's hash shuffle reserves this many times the shuffled bytes of `memory` (in and out, skew 1.3).
HASH_SHUFFLE_RESERVE = 2.6


def worker_id() -> str:
    """This process, as the build counts workers: node and pid."""
    try:
        import ray

        if ray.is_initialized():
            return f"{ray.get_runtime_context().get_node_id()[:12]}:{os.getpid()}"
    except Exception:  # noqa: BLE001 - outside Ray (a local process)
        pass
    return f"{socket.gethostname()}:{os.getpid()}"


def _tracked(fn: Callable, item):
    return worker_id(), fn(item)


def run_partition(stage: Stage, path: Path, out_dir: Path) -> tuple[int, int]:
    """Run a stage over one partition file and write its outputs (the unit of resume)."""
    rows = read_table(path).to_pylist()
    out = StageOutput()
    bs = max(1, stage.resources.batch_size)
    for i in range(0, len(rows), bs):
        out.extend(stage.process_batch(rows[i:i + bs]))
    rej = [{**r, "step": r.get("step") or stage.name} for r in out.rejected]
    write_table_atomic(rows_to_table(rej, REJECT_SCHEMA), out_dir / path.name.replace("part-", "rejects-"))
    write_table_atomic(rows_to_table(out.kept), out_dir / path.name)   # last: its presence marks the partition done
    return len(out.kept), len(rej)


def _pending(stage: Stage, in_dir: Path, out_dir: Path) -> tuple[list[Path], list[Path]]:
    inputs = parts(in_dir)
    written = {p.name for p in parts(out_dir)}          # one listing, not a request per partition
    return inputs, [p for p in inputs if p.name not in written]


def _check_outputs(stage: Stage, inputs: list[Path], out_dir: Path) -> None:
    written = {p.name for p in parts(out_dir)}
    missing = [p.name for p in inputs if p.name not in written]
    if missing:
        raise RuntimeError(f"stage {stage.name}: no output for {missing[:3]}")
    mark_done(out_dir)


class _Executor:
    """What both engines share: the step being run, its worker spec, the workers seen."""

    cpus: int
    gpus: int

    def __init__(self):
        self.step = ""
        self.recipe_workers: dict[str, Workers] = {}
        self._widest = 0
        self._seen: set[str] = set()

    def begin_step(self, name: str, recipe_workers: dict[str, Workers] | None = None) -> None:
        self.step, self.recipe_workers, self._seen, self._widest = name, dict(recipe_workers or {}), set(), 0

    def end_step(self) -> int:
        """The step's workers: distinct worker processes in its widest call (stage, tasks or shuffle)."""
        self._call()
        n, self._widest = self._widest, 0
        return n

    def _call(self) -> set[str]:
        """A new call of the step begins: the workers of the one before are counted."""
        self._widest = max(self._widest, len(self._seen))
        self._seen = set()
        return self._seen

    def spec(self, declared: Workers | None = None) -> Workers:
        """The running step's worker spec: the recipe's entry over `declared` (a Stage's own)."""
        return step_workers(declared, self.recipe_workers, self.step)


# -- Ray ------------------------------------------------------------------------------------------

class _StageActor:
    """Ray Data callable class: one stage instance and one setup() per actor.

    Each input row of the Ray dataset names one partition file. The actor reads it, runs the
    stage over it in batches of `resources.batch_size`, and writes the partition's kept rows
    and rejects itself, so sample data never passes through the driver (its memory stays flat
    whatever the image bytes) and a finished partition is final: a rerun skips it.
    """

    def __init__(self, stage: Stage, out_dir: str):
        self.stage = stage
        self.out_dir = storage.path(out_dir)
        self.stage.setup()

    def __call__(self, batch: dict) -> dict:
        for path in batch["path"]:
            run_partition(self.stage, storage.path(path), self.out_dir)
        return {"path": list(batch["path"]), "worker": [worker_id()] * len(batch["path"])}


def _prepare_items(prepare: Callable, items: list) -> Callable:
    """Ray Data map_batches fn: the items a batch's indices name, each made a table by `prepare`."""
    def prepare_batch(batch: pa.Table) -> pa.Table:
        tables = [prepare(items[i]) for i in batch["i"].to_pylist()]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return prepare_batch


def _apply_group(fn: Callable) -> Callable:
    """Ray Data map_groups fn: fn's result (a small dict) as one row, with the worker that ran it."""
    def apply_group(group: pa.Table) -> pa.Table:
        return pa.table({"worker": [worker_id()], "result": [json.dumps(fn(group))]})
    return apply_group


class Engine(_Executor):
    def __init__(self, address: str | None = None, num_cpus: int | None = None, quiet: bool = True,
                 log_dir: str | Path | None = None):
        """Join Ray (see mixkit.runtime.ray_connect: token auth, RayConnectError). `log_dir`: Ray's own
        logs go to log_dir/ray.log (self.log_file) instead of the terminal."""
        super().__init__()
        import ray

        from mixkit.runtime.ray_connect import join_ray

        self.ray = ray
        # a Ray this process already runs (a notebook's, a test session's) is joined and left running
        self._owns_ray = not ray.is_initialized()
        self.log_file = join_ray(address or os.environ.get("RAY_ADDRESS"), num_cpus=num_cpus, quiet=quiet,
                                 log_dir=log_dir)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True     # deterministic output order
        ctx.enable_progress_bars = not quiet
        ctx.print_on_execution_start = False
        self.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.gpus = int(ray.cluster_resources().get("GPU", 0))

    # -- stages over partitions ----------------------------------------------------------------
    def run_stage(self, stage: Stage, in_dir: Path, out_dir: Path,
                  on_partition: Callable[[int, int], None] | None = None) -> None:
        """Run `stage` over in_dir/part-*.parquet into out_dir/part-*.parquet (+ rejects-*.parquet).

        Ray Data `map_batches` with a callable class on an actor pool sized by the step's worker
        spec (fixed, or min-max that Ray scales); one partition per call. Partitions already
        written are skipped.
        """
        self._call()
        out_dir = storage.path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return
        inputs, pending = _pending(stage, in_dir, out_dir)
        done = len(inputs) - len(pending)
        if on_partition:
            on_partition(done, len(inputs))
        if pending:
            spec = self.spec(stage.resources.workers())
            lo, hi = spec.pool(self.cpus, self.gpus, len(pending))
            pool = (self.ray.data.ActorPoolStrategy(size=hi) if lo == hi
                    else self.ray.data.ActorPoolStrategy(min_size=lo, max_size=hi))
            gpus = spec.uses_gpus(self.gpus)
            ds = self.ray.data.from_items([{"path": str(p)} for p in pending], override_num_blocks=len(pending))
            ds = ds.map_batches(_StageActor, fn_constructor_args=(stage, str(out_dir)), batch_size=1,
                                compute=pool, num_cpus=spec.cpus, num_gpus=gpus or None)
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                self._seen.update(batch["worker"].to_pylist())
                done += batch.num_rows
                if on_partition:
                    on_partition(done, len(inputs))
        _check_outputs(stage, inputs, out_dir)

    def close(self) -> None:
        """Shut Ray down while its output still goes to the build's log, then give the terminal back."""
        from mixkit.runtime.ray_connect import release_terminal

        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
        release_terminal()

    # -- plain tasks ---------------------------------------------------------------------------
    def _as_completed(self, fn: Callable, items: list, num_cpus: float,
                      on_done: Callable[[int, int], None] | None) -> Iterator[tuple[int, object]]:
        """(index, fn(item)) as Ray tasks finish, never more in flight than the step's workers."""
        self._call()
        spec = self.spec(Workers(cpus=num_cpus))
        _, hi = spec.pool(self.cpus, self.gpus, len(items))
        remote = self.ray.remote(num_cpus=spec.cpus, num_gpus=spec.uses_gpus(self.gpus))(_tracked)
        fn_ref = self.ray.put(fn)
        inflight: dict = {}
        nxt = done = 0
        while nxt < len(items) or inflight:
            while nxt < len(items) and len(inflight) < hi:
                inflight[remote.remote(fn_ref, items[nxt])] = nxt
                nxt += 1
            ready, _ = self.ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                i = inflight.pop(ref)
                wid, res = self.ray.get(ref)      # raises the task's error at once
                self._seen.add(wid)
                done += 1
                if on_done:
                    on_done(done, len(items))
                yield i, res

    def map_tasks(self, fn: Callable, items: Iterable, num_cpus: float = 1,
                  on_done: Callable[[int, int], None] | None = None) -> list:
        """Run fn(item) as Ray tasks; results in item order."""
        items = list(items)
        out: list = [None] * len(items)
        for i, res in self._as_completed(fn, items, num_cpus, on_done):
            out[i] = res
        return out

    def map_ordered(self, fn: Callable, items: Iterable, on_done: Callable[[int, int], None] | None = None):
        """Results of fn(item) as Ray tasks, yielded in item order (LocalEngine.map_ordered's twin);
        a result waits only until the ones before it are out."""
        items = list(items)
        held: dict[int, object] = {}
        nxt = 0
        for i, res in self._as_completed(fn, items, 1, on_done):
            held[i] = res
            while nxt in held:
                yield held.pop(nxt)
                nxt += 1

    # -- a shuffle -----------------------------------------------------------------------------
    def group_apply(self, items: list, prepare: Callable, key: str, fn: Callable, *, scratch: Path,
                    groups: int | None = None, partitions: int | None = None, weights: list[int] | None = None,
                    batch_weight: int | None = None, on_group: Callable[[int, int], None] | None = None,
                    nbytes: int | None = None) -> list[dict]:
        """fn(rows of one `key` value) for every value in the tables prepare(item) makes; the
        results (small dicts) in no particular order. Ray Data groupby + map_groups over
        `partitions` shuffle partitions (default: one per group, at most 200). `nbytes`: the
        shuffled bytes, when known (decides whether the hash shuffle fits the cluster's memory).

        Consecutive items are prepared together in batches of at most `batch_weight` (by
        `weights`: rows, bytes): each batch is one block of the shuffle. A sort-based shuffle
        costs the driver about a megabyte per block (measured with Ray 2.60), so it runs only for
        a few blocks; more go through the hash shuffle, whose aggregator actors keep the driver
        flat but take 5-15 s to start on a small cluster (measured here)."""
        self._call()
        if not items:
            return []
        spec = self.spec(Workers())
        batches = batch_items(items, weights, batch_weight)
        ctx = self.ray.data.DataContext.get_current()
        # Ray 2.60's hash shuffle reserves `memory` for its aggregators of about 2.6x the shuffled
        # bytes, clamping each only to the largest node, and its map tasks reserve memory too: past
        # the cluster's memory it waits forever (the mix of 200k samples x 30 KB on this 24 GiB
        # machine). Then the sort shuffle runs, which reserves nothing but costs the driver more.
        fits = nbytes is None or HASH_SHUFFLE_RESERVE * nbytes <= self.ray.cluster_resources().get("memory", 0) / 2
        ctx.shuffle_strategy = ("hash_shuffle" if len(batches) > SORT_SHUFFLE_BLOCKS and fits
                                else "sort_shuffle_pull_based")
        ds = self.ray.data.from_items([{"i": i} for i in range(len(batches))], override_num_blocks=len(batches))
        ds = ds.map_batches(_prepare_items(partial(_prepare_batch, prepare), batches), batch_size=1,
                            batch_format="pyarrow", num_cpus=spec.cpus)
        n_part = max(1, partitions or min(groups or 200, 200))
        ds = ds.groupby(key, num_partitions=n_part).map_groups(_apply_group(fn), batch_format="pyarrow",
                                                                 num_cpus=spec.cpus)
        out: list[dict] = []
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            self._seen.update(batch["worker"].to_pylist())
            out += [json.loads(r) for r in batch["result"].to_pylist()]
            if on_group:
                on_group(len(out), groups or len(out))
        return out


def batch_items(items: list, weights: list[int] | None, limit: int | None) -> list[list]:
    """Consecutive items in batches of at most `limit` total weight (an item heavier than the limit
    alone); without weights, one item per batch."""
    if not weights or not limit:
        return [[it] for it in items]
    out, cur, acc = [], [], 0
    for it, w in zip(items, weights):
        if cur and acc + w > limit:
            out.append(cur)
            cur, acc = [], 0
        cur.append(it)
        acc += w
    if cur:
        out.append(cur)
    return out


def _prepare_batch(prepare: Callable, batch: list) -> pa.Table:
    tables = [prepare(it) for it in batch]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


# -- the local-process back end ---------------------------------------------------------------

_WORKER_STAGE: Stage | None = None


def _init_stage_worker(stage: Stage) -> None:
    global _WORKER_STAGE
    _WORKER_STAGE = stage
    stage.setup()                     # once per worker process, like a Ray actor


def _run_partition_in_worker(job: tuple[str, str]) -> str:
    run_partition(_WORKER_STAGE, storage.path(job[0]), storage.path(job[1]))
    return worker_id()


def ordered_map(fn: Callable, items: Iterable, workers: int, on_done: Callable[[int, int], None] | None = None,
                initializer: Callable | None = None, initargs: tuple = ()):
    """fn(item) for each item on `workers` local processes (1: in this process), yielded in item
    order, so whatever consumes the results (a shard writer) is deterministic for any worker count."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        if initializer:
            initializer(*initargs)
        results = map(fn, items)
    else:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(min(workers, len(items)), initializer=initializer, initargs=initargs)
        results = pool.map(fn, items)
    try:
        for n, res in enumerate(results, start=1):
            if on_done:
                on_done(n, len(items))
            yield res
    finally:
        if workers > 1 and len(items) > 1:
            pool.shutdown(cancel_futures=True)


def _local_shuffle_map(job: tuple) -> tuple[str, str | None, list[tuple[int, int]]]:
    """One item's table, sorted by the key, as a run file; (worker, file, [(key, bytes)])."""
    prepare, item, path, key = job
    t = prepare(item)
    if t.num_rows == 0:
        return worker_id(), None, []
    t = t.sort_by(key)
    keys = t[key].to_numpy()
    import numpy as np

    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    per_row = t.nbytes / t.num_rows
    write_table_atomic(t, storage.path(path))
    return worker_id(), path, [(int(keys[s]), int((e - s) * per_row) + 1) for s, e in zip(starts, ends)]


def _local_shuffle_reduce(job: tuple) -> tuple[str, list[dict]]:
    """fn over every key in [lo, hi], read back from the run files (row groups outside skipped)."""
    files, key, lo, hi, fn = job
    tables = [read_table(f, filters=[(key, ">=", lo), (key, "<=", hi)]) for f in files]
    t = pa.concat_tables([x for x in tables if x.num_rows]).sort_by(key)
    keys = t[key].to_pylist()
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append(fn(t.slice(start, i - start)))
            start = i
    return worker_id(), out


class LocalEngine(_Executor):
    """The Engine's interface on local worker processes, without Ray: `mixkit translate`, `ocr`
    and `audit` run on it, and `build(..., backend="local")` does too. Same outputs as Ray."""

    def __init__(self, workers: int | None = None):
        super().__init__()
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.nodes, self.cpus, self.gpus = 1, self.workers, 0

    def close(self) -> None:
        """Nothing to release: worker pools end with each call."""

    def _pool_size(self, spec: Workers, tasks: int) -> int:
        return spec.pool(self.cpus, self.gpus, tasks)[1]

    def map_ordered(self, fn: Callable, items: Iterable, on_done: Callable[[int, int], None] | None = None,
                    initializer: Callable | None = None, initargs: tuple = ()):
        """Results of fn(item) in item order, as they complete (a generator)."""
        self._call()
        items = list(items)
        n = self._pool_size(self.spec(Workers()), len(items))
        for tracked in ordered_map(partial(_tracked, fn), items, n, on_done, initializer, initargs):
            yield self._note(tracked)

    def map_tasks(self, fn: Callable, items: Iterable, num_cpus: float = 1,
                  on_done: Callable[[int, int], None] | None = None) -> list:
        self._call()
        items = list(items)
        n = self._pool_size(self.spec(Workers(cpus=num_cpus)), len(items))
        return [self._note(r) for r in ordered_map(partial(_tracked, fn), items, n, on_done)]

    def _note(self, tracked: tuple[str, object]):
        self._seen.add(tracked[0])
        return tracked[1]

    def run_stage(self, stage: Stage, in_dir: Path, out_dir: Path,
                  on_partition: Callable[[int, int], None] | None = None) -> None:
        """As Engine.run_stage: one partition per call, finished partitions skipped, marker at the end."""
        self._call()
        out_dir = storage.path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return
        inputs, pending = _pending(stage, in_dir, out_dir)
        done = len(inputs) - len(pending)
        spec = self.spec(stage.resources.workers())
        workers = 1 if spec.gpus else self._pool_size(spec, len(pending))   # one model per GPU process
        progress = (lambda n, _t: on_partition(done + n, len(inputs))) if on_partition else None
        for wid in ordered_map(_run_partition_in_worker, [(str(p), str(out_dir)) for p in pending], workers,
                               progress, initializer=_init_stage_worker, initargs=(stage,)):
            self._seen.add(wid)
        _check_outputs(stage, inputs, out_dir)

    def group_apply(self, items: list, prepare: Callable, key: str, fn: Callable, *, scratch: Path,
                    groups: int | None = None, partitions: int | None = None, weights: list[int] | None = None,
                    batch_weight: int | None = None, on_group: Callable[[int, int], None] | None = None,
                    nbytes: int | None = None) -> list[dict]:
        """As Engine.group_apply, on local processes: each batch's rows sorted by key into one run
        file under `scratch`, then key ranges of bounded size read back and grouped (results in
        key order). `prepare` and `fn` must pickle (module functions or partials of them)."""
        self._call()
        if not items:
            return []
        scratch = storage.path(scratch)
        storage.remove_tree(scratch)
        scratch.mkdir(parents=True)
        batches = batch_items(items, weights, batch_weight)
        n = self._pool_size(self.spec(Workers()), len(batches))
        jobs = [(partial(_prepare_batch, prepare), b, str(scratch / f"run-{i:06d}.parquet"), key)
                for i, b in enumerate(batches)]
        files, sizes = [], Counter()
        for wid, path, per_key in ordered_map(_local_shuffle_map, jobs, n):
            self._seen.add(wid)
            if path:
                files.append(path)
            for k, b in per_key:
                sizes[k] += b
        ranges, lo, acc = [], None, 0
        for k in sorted(sizes):
            if lo is not None and acc + sizes[k] > LOCAL_REDUCE_BYTES:
                ranges.append((lo, prev))
                lo, acc = None, 0
            if lo is None:
                lo = k
            acc += sizes[k]
            prev = k
        if lo is not None:
            ranges.append((lo, prev))
        out: list[dict] = []
        for wid, res in ordered_map(_local_shuffle_reduce, [(files, key, a, b, fn) for a, b in ranges],
                                    self._pool_size(self.spec(Workers()), len(ranges))):
            self._seen.add(wid)
            out += res
            if on_group:
                on_group(len(out), groups or len(sizes))
        storage.remove_tree(scratch)
        return out

