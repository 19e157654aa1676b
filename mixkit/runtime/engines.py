"""Ray execution of stages, with per-partition outputs and completion markers for resume.

`Engine()` starts (or joins) Ray: a local embedded instance by default, `address=` for a
cluster (`ray://head:10001` or `HOST:PORT`; the build folder must then be on storage every
node sees). A stage runs over the parquet partitions of a directory through Ray Data
`map_batches` with an actor pool (one `setup()` per actor, the stage's declared CPUs/GPUs).
Each partition's output is written by the actor that processed it, renamed into place when
complete, so a killed build redoes only unfinished partitions, and row order within a
partition is the input's (Ray Data's scheduling order never reaches the data: see PITFALLS).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import pyarrow.parquet as pq

from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic
from mixkit.core.schema import REJECT_SCHEMA, rows_to_table
from mixkit.runtime.stage import Stage, StageOutput


class _StageActor:
    """Ray Data callable class: one stage instance and one setup() per actor.

    Each input row of the Ray dataset names one partition file. The actor reads it, runs the
    stage over it in batches of `resources.batch_size`, and writes the partition's kept rows
    and rejects itself, so sample data never passes through the driver (its memory stays flat
    whatever the image bytes) and a finished partition is final: a rerun skips it.
    """

    def __init__(self, stage: Stage, out_dir: str):
        self.stage = stage
        self.out_dir = Path(out_dir)
        self.stage.setup()

    def __call__(self, batch: dict) -> dict:
        done_rows, rejected = [], []
        for path in batch["path"]:
            kept, rej = run_partition(self.stage, Path(path), self.out_dir)
            done_rows.append(kept)
            rejected.append(rej)
        return {"path": list(batch["path"]), "kept": done_rows, "rejected": rejected}


def run_partition(stage: Stage, path: Path, out_dir: Path) -> tuple[int, int]:
    """Run a stage over one partition file and write its outputs (the unit of resume)."""
    rows = pq.read_table(path).to_pylist()
    out = StageOutput()
    bs = max(1, stage.resources.batch_size)
    for i in range(0, len(rows), bs):
        out.extend(stage.process_batch(rows[i:i + bs]))
    rej = [{**r, "step": r.get("step") or stage.name} for r in out.rejected]
    write_table_atomic(rows_to_table(rej, REJECT_SCHEMA), out_dir / path.name.replace("part-", "rejects-"))
    write_table_atomic(rows_to_table(out.kept), out_dir / path.name)   # last: its presence marks the partition done
    return len(out.kept), len(rej)


class Engine:
    def __init__(self, address: str | None = None, num_cpus: int | None = None, quiet: bool = True,
                 log_dir: str | Path | None = None):
        """Join Ray (see mixkit.runtime.ray_connect: token auth, RayConnectError). `log_dir`: Ray's own
        logs go to log_dir/ray.log (self.log_file) instead of the terminal."""
        import ray

        from mixkit.runtime.ray_connect import join_ray

        self.ray = ray
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

        Ray Data `map_batches` with a callable class on an actor pool (the stage's declared CPUs,
        GPUs and actor count); one partition per call. Partitions already written are skipped.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return
        inputs = parts(in_dir)
        pending = [str(p) for p in inputs if not (out_dir / p.name).exists()]
        done = len(inputs) - len(pending)
        if on_partition:
            on_partition(done, len(inputs))
        if pending:
            res = stage.resources
            gpus = res.gpus if self.gpus else 0
            actors = max(1, min(res.actors, len(pending),
                                self.cpus if not gpus else max(1, int(self.gpus / gpus))))
            ds = self.ray.data.from_items([{"path": p} for p in pending], override_num_blocks=len(pending))
            ds = ds.map_batches(_StageActor, fn_constructor_args=(stage, str(out_dir)), batch_size=1,
                                compute=self.ray.data.ActorPoolStrategy(size=actors),
                                num_cpus=res.cpus, num_gpus=gpus or None)
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                done += batch.num_rows
                if on_partition:
                    on_partition(done, len(inputs))
        missing = [p.name for p in inputs if not (out_dir / p.name).exists()]
        if missing:
            raise RuntimeError(f"stage {stage.name}: no output for {missing[:3]}")
        mark_done(out_dir)

    def close(self) -> None:
        """Shut Ray down while its output still goes to the build's log, then give the terminal back."""
        from mixkit.runtime.ray_connect import release_terminal

        if self.ray.is_initialized():
            self.ray.shutdown()
        release_terminal()

    # -- plain tasks ---------------------------------------------------------------------------
    def map_tasks(self, fn: Callable, items: Iterable, num_cpus: float = 1,
                  on_done: Callable[[int, int], None] | None = None) -> list:
        """Run fn(item) as Ray tasks; results in item order."""
        remote = self.ray.remote(num_cpus=num_cpus)(fn)
        items = list(items)
        refs = [remote.remote(it) for it in items]
        pending = list(refs)
        n = 0
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            self.ray.get(ready)    # surface errors early
            n += 1
            if on_done:
                on_done(n, len(refs))
        return self.ray.get(refs)

    def map_ordered(self, fn: Callable, items: Iterable, on_done: Callable[[int, int], None] | None = None):
        """Results of fn(item) as Ray tasks, yielded in item order (LocalEngine.map_ordered's twin)."""
        remote = self.ray.remote(fn)
        refs = [remote.remote(it) for it in items]
        for n, ref in enumerate(refs, start=1):
            res = self.ray.get(ref)
            if on_done:
                on_done(n, len(refs))
            yield res


# -- the local-process back end ---------------------------------------------------------------

_WORKER_STAGE: Stage | None = None


def _init_stage_worker(stage: Stage) -> None:
    global _WORKER_STAGE
    _WORKER_STAGE = stage
    stage.setup()                     # once per worker process, like a Ray actor


def _run_partition_in_worker(job: tuple[str, str]) -> tuple[int, int]:
    return run_partition(_WORKER_STAGE, Path(job[0]), Path(job[1]))


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


class LocalEngine:
    """The Engine's interface on local worker processes, without Ray: `mixkit translate`, `ocr`
    and `audit` run on it, and `build(..., backend="local")` does too. Same outputs as Ray."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.nodes, self.cpus, self.gpus = 1, self.workers, 0

    def close(self) -> None:
        """Nothing to release: worker pools end with each call."""

    def map_ordered(self, fn: Callable, items: Iterable, on_done: Callable[[int, int], None] | None = None,
                    initializer: Callable | None = None, initargs: tuple = ()):
        """Results of fn(item) in item order, as they complete (a generator)."""
        return ordered_map(fn, items, self.workers, on_done, initializer, initargs)

    def map_tasks(self, fn: Callable, items: Iterable, num_cpus: float = 1,
                  on_done: Callable[[int, int], None] | None = None) -> list:
        return list(self.map_ordered(fn, items, on_done))

    def run_stage(self, stage: Stage, in_dir: Path, out_dir: Path,
                  on_partition: Callable[[int, int], None] | None = None) -> None:
        """As Engine.run_stage: one partition per call, finished partitions skipped, marker at the end."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return
        inputs = parts(in_dir)
        pending = [(str(p), str(out_dir)) for p in inputs if not (out_dir / p.name).exists()]
        done = len(inputs) - len(pending)
        workers = 1 if stage.resources.gpus else self.workers     # one model per GPU process: keep it simple
        progress = (lambda n, _t: on_partition(done + n, len(inputs))) if on_partition else None
        for _ in ordered_map(_run_partition_in_worker, pending, workers, progress,
                             initializer=_init_stage_worker, initargs=(stage,)):
            pass
        mark_done(out_dir)
