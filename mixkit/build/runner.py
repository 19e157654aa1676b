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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.build.steps import (BuildContext, BuildStep, MixResult, RowsResult, OcrResult, PlanResult,
                                TranslateResult, default_steps)
from mixkit.runtime.partitions import is_done, parts, write_table_atomic
from mixkit.runtime.environment import environment
from mixkit.build.folder import BuildFolder
from mixkit.build.plan import describe, output_targets
from mixkit.runtime.progress import Progress
from mixkit.build.recipe import Recipe, check_sources_exist
from mixkit.core.schema import REJECT_SCHEMA, make_reject, rows_to_table
from mixkit.core.shard_format import Manifest



class BuildAccountingError(RuntimeError):
    """A step lost rows or made rows from nothing: every input row must end in a shard or a reject."""


@dataclass
class BuildResult:
    out_dir: Path
    manifest: dict
    plan_table: dict = field(default_factory=dict)

    @property
    def shards_dir(self) -> Path:
        return BuildFolder(self.out_dir).shards


@dataclass
class StepMetrics:
    name: str
    seconds: float
    rows_in: int
    rows_out: int
    driver_peak_rss_mb: float      # the driver process's peak resident memory during the step
    resumed: bool                  # found complete from an earlier run

    def to_dict(self) -> dict:
        return {"name": self.name, "seconds": round(self.seconds, 3), "rows_in": self.rows_in,
                "rows_out": self.rows_out, "driver_peak_rss_mb": round(self.driver_peak_rss_mb, 1),
                "resumed": self.resumed}


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so each step reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_steps(ctx: BuildContext, steps: list[BuildStep]) -> list[StepMetrics]:
    """Run `steps` in order, each in its folder of the build folder; results land in ctx.results by step name."""
    names = [s.name for s in steps]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:        # checked before anything runs: each step's name is its folder and its result's key
        raise ValueError(f"build steps must have unique names; repeated: {', '.join(twice)}")
    metrics = []
    for pos, step in enumerate(steps, start=1):
        if not step.enabled(ctx.recipe):
            continue
        step.dir = ctx.folder.step_dir(pos, step.name)
        resumed = is_done(step.dir)
        _reset_peak_rss()
        t0 = time.perf_counter()
        res = step.run(ctx)
        ctx.results[step.name] = res
        problem = res.accounting_problem()
        if problem:
            raise BuildAccountingError(f"step {step.name!r}: {problem}. Every row must end in the step's output or "
                                       f"its rejects; the step's folder {step.dir} is kept for inspection")
        metrics.append(StepMetrics(step.name, time.perf_counter() - t0, res.rows_in, res.rows_out,
                                   _peak_rss_mb(), resumed))
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
          backend: str = "ray") -> BuildResult:
    """Build the recipe into out_dir (resuming whatever an earlier run finished).

    `steps`: the step list (default: mixkit.build.steps.default_steps()). `backend`: "ray" (a
    local Ray, or the cluster at `address`) or "local" (worker processes, no Ray).
    """
    folder = BuildFolder(Path(out_dir))
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
            return BuildResult(folder.root, _dry_run_summary(ctx))
        manifest = _finish(ctx, metrics, time.time() - t0)
    finally:
        prog.stop()
        if started is not None:
            started.close()          # Ray's logs went to <out>/logs/ray.log; stderr is the caller's again
    return BuildResult(folder.root, manifest, describe(ctx.result(PlanResult).plan))


def _rejects_of(ctx: BuildContext) -> list[pa.Table]:
    return [r.rejects().cast(REJECT_SCHEMA) for r in ctx.results.values()]


def _dry_run_summary(ctx: BuildContext) -> dict:
    rej = pa.concat_tables(_rejects_of(ctx))
    by = Counter(zip(rej["step"].to_pylist(), rej["reason"].to_pylist()))
    last = ctx.result(RowsResult)
    return {"dry_run": True, "kept": last.rows_out, "rejects": {f"{s}/{r}": n for (s, r), n in sorted(by.items())}}


def _plan_leftovers(ctx: BuildContext) -> pa.Table:
    """Rows the plan did not need (over quota, or reserve never used to replace a failed translation)."""
    plan = ctx.result(PlanResult).plan
    tr = ctx.results.get("translate")
    used = tr.used_inputs if isinstance(tr, TranslateResult) else set()
    left = {r["id"]: r["role"] for r in plan.table.to_pylist()
            if r["role"] in ("over_quota", "reserve") and r["id"] not in used}
    if not left:
        return REJECT_SCHEMA.empty_table()
    recs = []
    ids = pa.array(sorted(left), pa.string())
    for p in parts(ctx.rows_dir):
        t = pq.read_table(p, columns=["id", "origin_id", "source", "lang"])
        for r in t.filter(pc.is_in(t["id"], value_set=ids)).to_pylist():
            reason = "over_quota" if left[r["id"]] == "over_quota" else "reserve_unused"
            recs.append(make_reject(r, "plan", reason, "not needed to meet the quotas"))
    return rows_to_table(recs, REJECT_SCHEMA)


def _finish(ctx: BuildContext, metrics: list, seconds: float) -> dict:
    folder, recipe = ctx.folder, ctx.recipe
    plan = ctx.result(PlanResult).plan
    mix = ctx.result(MixResult)
    tr = ctx.results.get("translate")
    ocr = ctx.results.get("ocr")
    ocr_q = ocr.quotas if isinstance(ocr, OcrResult) else {}

    rejects = pa.concat_tables(_rejects_of(ctx) + [_plan_leftovers(ctx)])
    rejects = rejects.sort_by([("step", "ascending"), ("id", "ascending")])
    folder.shards.mkdir(parents=True, exist_ok=True)
    write_table_atomic(rejects, folder.rejects)

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
    for (s, r), n in sorted(Counter(zip(rejects["step"].to_pylist(), rejects["reason"].to_pylist())).items()):
        rej_summary.setdefault(s, {})[r] = n
    ocr_written = sum(v for k, v in by_source.items() if k.startswith("ocr_synth"))
    ocr_rejected = int(pc.sum(pc.equal(rejects["step"], "ocr")).as_py() or 0)    # rendered, not inputs
    written_from_inputs = total - ocr_written - sum(mix.upsampled.values())
    if read.rows_in != written_from_inputs + rejects.num_rows - ocr_rejected:
        raise BuildAccountingError(
            f"the build's rows do not add up: {read.rows_in} inputs, {written_from_inputs} written and "
            f"{rejects.num_rows - ocr_rejected} rejected; the row steps each balanced, so plan, translate or mix "
            f"lost or duplicated rows (see {folder.steps})")
    manifest = Manifest.for_build(
        seed=recipe.seed, targets=output_targets(plan.quotas, ocr_q), quotas=tq,
        by_lang=by_lang, by_source=by_source, by_task=by_task, shards=mix.shards, rejects_by_step=rej_summary,
        recipe={"name": recipe.name, "path": str(recipe.path), "sha256": recipe.sha256},
        versions=environment(),          # package versions and the lock file's sha256
        accounting={
            "inputs": read.rows_in, "written_from_inputs": written_from_inputs,
            "rejected": rejects.num_rows - ocr_rejected, "generated_ocr": ocr_written, "rejected_ocr": ocr_rejected,
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
