"""Ray execution of stages, with per-partition outputs and completion markers for resume.

`Engine()` starts (or joins) Ray: a local embedded instance by default, `address=` for a
cluster (`ray://head:10001` or `HOST:PORT`). A stage runs over the parquet partitions of a
directory through Ray Data `map_batches` with an actor pool (one `setup()` per actor, the
stage's declared CPUs/GPUs). Outputs are written per input partition, each file renamed into
place when complete, so a killed build redoes only unfinished partitions. Order is preserved
(Ray Data's default is unordered: see PITFALLS), so outputs are deterministic.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.schema import REJECT_SCHEMA, SCHEMA, rows_to_table
from mixkit.stage import Stage, StageOutput

DONE = "_SUCCESS"
_PATH = "path"          # column Ray Data adds with include_paths=True
_REJECT_COLS = ("stage", "reason", "detail", "duplicate_of")


def write_table_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def read_rows(path: Path, columns: list[str] | None = None) -> list[dict]:
    return pq.read_table(path, columns=columns).to_pylist()


def parts(directory: Path, prefix: str = "part-") -> list[Path]:
    return sorted(p for p in Path(directory).glob(f"{prefix}*.parquet"))


def is_done(directory: Path) -> bool:
    return (Path(directory) / DONE).exists()


def mark_done(directory: Path) -> None:
    (Path(directory) / DONE).write_text("ok\n")


class _StageActor:
    """Ray Data callable class: one stage instance and one setup() per actor."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.stage.setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = batch[_PATH].to_pylist()
        rows = batch.drop_columns([_PATH]).to_pylist()
        where = {r["id"]: p for r, p in zip(rows, paths)}
        out = self.stage.process_batch(rows)
        return _encode(out, where, self.stage.name)


_OUT_SCHEMA = pa.schema(list(SCHEMA) + [pa.field(c, pa.string()) for c in _REJECT_COLS] + [pa.field(_PATH, pa.string())])


def _encode(out: StageOutput, where: dict[str, str], stage_name: str) -> pa.Table:
    """Kept and rejected rows in one table (Ray Data batches have one schema); `reason` null = kept."""
    recs = []
    for r in out.kept:
        recs.append({**{k: r.get(k) for k in SCHEMA.names}, **{c: None for c in _REJECT_COLS}, _PATH: where.get(r["id"], "")})
    for r in out.rejected:
        rec = {k: None for k in SCHEMA.names}
        rec.update({k: r.get(k) for k in ("id", "origin_id", "source", "lang")})
        rec.update({c: r.get(c) or "" for c in _REJECT_COLS})
        rec["stage"] = rec["stage"] or stage_name
        rec[_PATH] = where.get(r["id"], "")
        recs.append(rec)
    return pa.Table.from_pylist(recs, schema=_OUT_SCHEMA)


def _split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    is_rej = pa.compute.is_valid(table["reason"])
    kept = table.filter(pa.compute.invert(is_rej)).select(SCHEMA.names).cast(SCHEMA)
    rej = table.filter(is_rej).select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA)
    return kept, rej


class Engine:
    def __init__(self, address: str | None = None, num_cpus: int | None = None, quiet: bool = True):
        import ray

        self.ray = ray
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=not quiet, configure_logging=True,
                          logging_level="ERROR")
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=num_cpus, **kwargs)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True     # deterministic output order
        ctx.enable_progress_bars = not quiet
        ctx.print_on_execution_start = False
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.gpus = int(ray.cluster_resources().get("GPU", 0))

    # -- stages over partitions ----------------------------------------------------------------
    def run_stage(self, stage: Stage, in_dir: Path, out_dir: Path,
                  on_partition: Callable[[int, int], None] | None = None) -> None:
        """Run `stage` over in_dir/part-*.parquet into out_dir/part-*.parquet (+ rejects-*.parquet)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return
        inputs = parts(in_dir)
        pending = [p for p in inputs if not (out_dir / p.name).exists()]
        done = len(inputs) - len(pending)
        if on_partition:
            on_partition(done, len(inputs))
        empty = [p for p in pending if pq.ParquetFile(p).metadata.num_rows == 0]
        for p in empty:
            self._write_partition(out_dir, p.name, SCHEMA.empty_table(), REJECT_SCHEMA.empty_table())
            done += 1
        pending = [p for p in pending if p not in empty]
        if pending:
            res = stage.resources
            gpus = res.gpus if self.gpus else 0
            actors = max(1, min(res.actors, self.cpus if not gpus else max(1, int(self.gpus / max(gpus, 1e-9)))))
            ds = self.ray.data.read_parquet([str(p) for p in pending], include_paths=True,
                                            override_num_blocks=len(pending))
            ds = ds.map_batches(_StageActor, fn_constructor_args=(stage,), batch_format="pyarrow",
                                batch_size=res.batch_size, compute=self.ray.data.ActorPoolStrategy(size=actors),
                                num_cpus=res.cpus if not gpus else None, num_gpus=gpus or None)
            by_name = {p.name: p for p in pending}
            current, chunks = None, []
            for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                if batch.num_rows == 0:
                    continue
                for path in _runs(batch[_PATH].to_pylist()):
                    name = Path(path[0]).name
                    if current is not None and name != current:
                        self._flush(out_dir, current, chunks)
                        done += 1
                        if on_partition:
                            on_partition(done, len(inputs))
                        chunks = []
                    current = name
                    chunks.append(batch.slice(path[1], path[2]))
            if current is not None:
                self._flush(out_dir, current, chunks)
                done += 1
            # Partitions whose every row vanished cannot occur (stages account for each row),
            # but guard anyway so the marker never lies.
            for name in by_name:
                if not (out_dir / name).exists():
                    raise RuntimeError(f"stage {stage.name}: no output for {name}")
        if on_partition:
            on_partition(len(inputs), len(inputs))
        mark_done(out_dir)

    def _flush(self, out_dir: Path, name: str, chunks: list[pa.Table]) -> None:
        kept, rej = _split(pa.concat_tables(chunks))
        self._write_partition(out_dir, name, kept, rej)

    @staticmethod
    def _write_partition(out_dir: Path, name: str, kept: pa.Table, rej: pa.Table) -> None:
        write_table_atomic(rej, out_dir / name.replace("part-", "rejects-"))
        write_table_atomic(kept, out_dir / name)      # written last: its presence marks the partition done

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


def _runs(paths: list[str]) -> list[tuple[str, int, int]]:
    """Consecutive runs of equal values: (value, offset, length)."""
    out, start = [], 0
    for i in range(1, len(paths) + 1):
        if i == len(paths) or paths[i] != paths[start]:
            out.append((paths[start], start, i - start))
            start = i
    return out


def stage_rows(directory: Path, columns: list[str] | None = None) -> Iterable[pa.Table]:
    for p in parts(directory):
        yield pq.read_table(p, columns=columns)


def rejects_table(directory: Path) -> pa.Table:
    tables = [pq.read_table(p) for p in parts(directory, "rejects-")]
    return pa.concat_tables(tables).cast(REJECT_SCHEMA) if tables else REJECT_SCHEMA.empty_table()


def write_rows_partitioned(rows: Iterable[dict], out_dir: Path, rows_per_part: int, prefix: str = "part-",
                           start: int = 0) -> int:
    """Write rows into out_dir/part-00000.parquet, ...; returns the number of parts written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buf, n = [], start
    for r in rows:
        buf.append(r)
        if len(buf) >= rows_per_part:
            write_table_atomic(rows_to_table(buf), out_dir / f"{prefix}{n:05d}.parquet")
            buf, n = [], n + 1
    if buf:
        write_table_atomic(rows_to_table(buf), out_dir / f"{prefix}{n:05d}.parquet")
        n += 1
    return n - start
