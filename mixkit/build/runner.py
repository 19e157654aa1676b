"""One build: run the declared steps (mixkit.build.steps) in order, then write the manifest.

Every step works in its own folder under `<out>/steps/` (mixkit.build.folder) and leaves completion
markers; a rerun skips finished steps and finished partitions, so a build killed halfway
resumes where it stopped and ends with the same shards. Every input row ends in a shard or in
rejects.parquet. The runner records each step's wall time, rows in and out and the driver's
peak memory in the manifest (`steps`), where a user sees what a large build spends.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from mixkit.build.steps import (BuildContext, BuildStep, MixResult, RowsResult, OcrResult, PlanResult,
                                TranslateResult, default_steps)
from mixkit.build.steps.base import tally
from mixkit.runtime.partitions import is_done, read_table
from mixkit.runtime.environment import environment
from mixkit.build.folder import BuildFolder
from mixkit.build.plan import output_targets
from mixkit.runtime.progress import Progress
from mixkit.build.recipe import Recipe, check_sources_exist, check_workers
from mixkit.core import storage
from mixkit.core.schema import REJECT_SCHEMA
from mixkit.core.shard_format import Manifest


class BuildAccountingError(RuntimeError):
    """A step lost rows or made rows from nothing: every input row must end in a shard or a reject."""


@dataclass
class BuildResult:
    out_dir: Path | str                 # a URL when the build published to object storage
    manifest: dict
    plan_table: dict = field(default_factory=dict)
    work_dir: "Path | storage.URLPath | None" = None   # steps/ (out_dir itself unless --work)

    @property
    def shards_dir(self) -> Path | str:
        shards = storage.join(self.out_dir, "shards")
        return shards if storage.is_remote(shards) else Path(shards)


@dataclass
class StepMetrics:
    name: str
    seconds: float
    rows_in: int
    rows_out: int
    driver_peak_rss_mb: float      # the driver process's peak resident memory during the step
    resumed: bool                  # found complete from an earlier run
    workers: int = 0               # distinct worker processes that did the step's work (0: none needed)
    driver_start_rss_mb: float = 0.0   # the driver's resident memory when the step began

    def to_dict(self) -> dict:
        return {"name": self.name, "seconds": round(self.seconds, 3), "rows_in": self.rows_in,
                "rows_out": self.rows_out, "driver_peak_rss_mb": round(self.driver_peak_rss_mb, 1),
                "driver_start_rss_mb": round(self.driver_start_rss_mb, 1), "resumed": self.resumed,
                "workers": self.workers}


def _reset_peak_rss() -> float:
    """Linux: give freed heap back to the OS (glibc malloc_trim), then reset VmHWM (writing 5 to
    clear_refs), so that each step reports its own peak; returns the resident memory it starts from."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS:")


def _status_mb(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _peak_rss_mb() -> float:
    peak = _status_mb("VmHWM:")
    if peak:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_steps(ctx: BuildContext, steps: list[BuildStep]) -> list[StepMetrics]:
    """Run `steps` in order, each in its folder of the build folder; results land in ctx.results by step name."""
    names = [s.name for s in steps]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:        # checked before anything runs: each step's name is its folder and its result's key
        raise ValueError(f"build steps must have unique names; repeated: {', '.join(twice)}")
    check_workers(ctx.recipe, names)
    metrics = []
    for pos, step in enumerate(steps, start=1):
        if not step.enabled(ctx.recipe):
            continue
        step.dir = ctx.folder.step_dir(pos, step.name)
        resumed = is_done(step.dir)
        start_rss = _reset_peak_rss()
        t0 = time.perf_counter()
        ctx.engine.begin_step(step.name, ctx.recipe.workers)     # the recipe's `workers:` entry for it
        res = step.run(ctx)
        workers = ctx.engine.end_step()
        ctx.results[step.name] = res
        problem = res.accounting_problem()
        if problem:
            raise BuildAccountingError(f"step {step.name!r}: {problem}. Every row must end in the step's output or "
                                       f"its rejects; the step's folder {step.dir} is kept for inspection")
        metrics.append(StepMetrics(step.name, time.perf_counter() - t0, res.rows_in, res.rows_out,
                                   _peak_rss_mb(), resumed, workers, start_rss))
    return metrics


def make_engine(address: str | None = None, log_dir: Path | None = None, backend: str = "ray"):
    """The build's executor: Ray (local, or the cluster at `address`; Ray's logs to log_dir/ray.log)
    or local processes."""
    from mixkit.runtime.engines import Engine, LocalEngine

    if backend == "local":
        return LocalEngine()
    if backend != "ray":
        raise ValueError(f"unknown backend {backend!r}: use 'ray' or 'local'")
    return Engine(address=address, log_dir=log_dir)


def build(recipe: Recipe, out_dir: str | Path, *, address: str | None = None, progress: bool = True,
          dry_run: bool = False, engine=None, steps: list[BuildStep] | None = None,
          backend: str = "ray", work: str | Path | None = None) -> BuildResult:
    """Build the recipe into out_dir (resuming whatever an earlier run finished).

    `out_dir`: a folder or a URL (s3://bucket/demo, any fsspec URL): shards, their sidecars,
    rejects.parquet and manifest.json are published there, each object under its final name only
    when complete, the manifest last. `work`: the folder of the steps' partitions and markers
    (default: the recipe's `output.work`, else out_dir itself; a path or a URL). `steps`: the step list (default:
    mixkit.build.steps.default_steps()). `backend`: "ray" (a local Ray, or the cluster at
    `address`) or "local" (worker processes, no Ray).
    """
    folder = BuildFolder.of(out_dir, work if work is not None else recipe.output.work)
    check_sources_exist(recipe)
    folder.claim(recipe.sha256)
    steps = list(steps or default_steps())
    if dry_run:                       # the leading row steps: everything that only removes rows
        first_other = next((i for i, s in enumerate(steps) if not s.row_step), len(steps))
        steps = steps[:first_other]
    prog = Progress(progress)
    t0 = time.time()
    started = None                    # the engine this call starts (and so closes)
    try:
        if engine is None:
            engine = started = make_engine(address, folder.logs, backend)
        ctx = BuildContext(recipe=recipe, engine=engine, folder=folder, progress=prog)
        metrics = run_steps(ctx, steps)
        if dry_run:
            return BuildResult(_result_dir(folder), _dry_run_summary(ctx), work_dir=folder.root)
        manifest = _finish(ctx, metrics, time.time() - t0)
    finally:
        prog.stop()
        if started is not None:
            started.close()          # Ray's logs went to <out>/logs/ray.log; stderr is the caller's again
    return BuildResult(_result_dir(folder), manifest, ctx.result(PlanResult).describe(), folder.root)


def _result_dir(folder: BuildFolder) -> Path | str:
    return folder.out if folder.remote else Path(folder.out)


def _reject_files(ctx: BuildContext) -> list[Path]:
    return [p for r in ctx.results.values() for p in r.reject_files()]


def _dry_run_summary(ctx: BuildContext) -> dict:
    by = tally(ctx.engine, _reject_files(ctx), ["step", "reason"])
    last = ctx.result(RowsResult)
    return {"dry_run": True, "kept": last.rows_out, "rejects": {f"{s}/{r}": n for (s, r), n in sorted(by.items())}}


def _write_rejects_task(job: dict) -> int:
    """Every reject file, step after step, into one parquet file (streamed: a file at a time),
    published whole (a path or a URL: mixkit.core.storage.AtomicWrite)."""
    n = 0
    with storage.AtomicWrite(job["out"]) as out:
        with pq.ParquetWriter(out, REJECT_SCHEMA, compression="zstd") as w:
            for f in job["files"]:
                t = read_table(f).cast(REJECT_SCHEMA)
                w.write_table(t.sort_by("id"))
                n += t.num_rows
    return n


def _finish(ctx: BuildContext, metrics: list, seconds: float) -> dict:
    folder, recipe = ctx.folder, ctx.recipe
    plan = ctx.result(PlanResult)
    mix = ctx.result(MixResult)
    tr = ctx.results.get("translate")
    ocr = ctx.results.get("ocr")
    ocr_q = ocr.quotas if isinstance(ocr, OcrResult) else {}

    # Rejects: counted and gathered into rejects.parquet by workers (grouped by step, each file by id).
    files = _reject_files(ctx)
    by_reason = tally(ctx.engine, files, ["step", "reason"])
    storage.makedirs(folder.shards)
    n_rejects = ctx.engine.map_tasks(_write_rejects_task, [{"files": [str(f) for f in files],
                                                            "out": folder.rejects}])[0]

    # Counts as the shard writers tallied them while writing.
    by_lang, by_source, by_task = Counter(), Counter(), Counter()
    for info in mix.shards:
        by_lang.update(info["counts"]["by_lang"])
        by_source.update(info["counts"]["by_source"])
        by_task.update(info["counts"]["by_task"])
    total = sum(by_lang.values())
    read = ctx.results["read"]
    tq = Counter(plan.quotas)
    tq.update(ocr_q)
    rej_summary: dict[str, dict[str, int]] = {}
    for (s, r), n in sorted(by_reason.items()):
        rej_summary.setdefault(s, {})[r] = n
    ocr_written = sum(v for k, v in by_source.items() if k.startswith("ocr_synth"))
    ocr_rejected = sum(rej_summary.get("ocr", {}).values())    # rendered, not inputs
    written_from_inputs = total - ocr_written - sum(mix.upsampled.values())
    if read.rows_in != written_from_inputs + n_rejects - ocr_rejected:
        raise BuildAccountingError(
            f"the build's rows do not add up: {read.rows_in} inputs, {written_from_inputs} written and "
            f"{n_rejects - ocr_rejected} rejected; the row steps each balanced, so plan, translate or mix "
            f"lost or duplicated rows (see {folder.steps})")
    manifest = Manifest.for_build(
        seed=recipe.seed, targets=output_targets(plan.quotas, ocr_q), quotas=tq,
        by_lang=by_lang, by_source=by_source, by_task=by_task, shards=mix.shards, rejects_by_step=rej_summary,
        recipe={"name": recipe.name, "path": str(recipe.path), "sha256": recipe.sha256},
        versions=environment(),          # package versions and the lock file's sha256
        accounting={
            "inputs": read.rows_in, "written_from_inputs": written_from_inputs,
            "rejected": n_rejects - ocr_rejected, "generated_ocr": ocr_written, "rejected_ocr": ocr_rejected,
            "upsampled": mix.upsampled,
            "translation_replaced": tr.replaced if isinstance(tr, TranslateResult) else {},
            "translation_stats": tr.stats if isinstance(tr, TranslateResult) else {},
            "rule": "inputs == written_from_inputs + rejected",
        },
        ocr_skipped_no_text=ocr.skipped if isinstance(ocr, OcrResult) else {},
        ocr_text_reuse=ocr.text_reuse if isinstance(ocr, OcrResult) else {},
        steps=[m.to_dict() for m in metrics],
        build_seconds=round(seconds, 2),
        engine={"nodes": ctx.engine.nodes, "cpus": ctx.engine.cpus, "gpus": ctx.engine.gpus},
    )
    manifest.write(folder.shards)
    return manifest.to_dict()


def achieved_table(manifest: dict) -> list[tuple[str, int, float, float]]:
    """(lang, samples, achieved share, target share) sorted by target share."""
    total = manifest["counts"]["total"] or 1
    t = manifest["targets"]["by_lang"]
    langs = sorted(set(t) | set(manifest["counts"]["by_lang"]), key=lambda c: (-t.get(c, 0), c))
    return [(c, manifest["counts"]["by_lang"].get(c, 0), manifest["counts"]["by_lang"].get(c, 0) / total, t.get(c, 0.0))
            for c in langs]
