"""translate: exactly what the plan asks; failed translations replaced from the reserve.

Inputs are made by workers: a task per partition of the rows joins it to the partition's plan
(mixkit.build.steps.plan) and writes the rows to translate, readdressed to their target. Round 0
takes the rows planned `translate`; a later round takes reserve rows by rank, as many per
language as failed in the round before. The driver holds counts per language, never a row.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mixkit.build.steps.base import BuildContext, BuildStep, StepResult, count_rows, tally
from mixkit.build.steps.plan import PlanResult
from mixkit.core.shard_format import counts_dict
from mixkit.core import storage
from mixkit.runtime.partitions import is_done, mark_done, parts, read_table, write_table_atomic

MAX_TRANSLATE_ROUNDS = 4


@dataclass
class TranslateResult(StepResult):
    rounds: int = 0
    out_dirs: list[Path] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)      # lang -> rows taken from the reserve
    reserve_used: int = 0                                       # reserve ranks 0 .. reserve_used-1 were sent
    stats: dict = field(default_factory=dict)                   # model calls, cache hits, ...

    def reject_files(self) -> list[Path]:
        return [p for d in self.out_dirs for p in parts(d, "rejects-")]

    def accounting_problem(self) -> str | None:
        rejected = self.rejected()
        if self.rows_in != self.rows_out + rejected:
            return f"{self.rows_in} rows sent, {self.rows_out} translated and {rejected} rejected"
        return None


def default_translation_cache() -> str:
    """Shared across builds (a rebuild or another recipe translates nothing twice):
    $MIXKIT_CACHE_DIR/translation, else ~/.cache/mixkit/translation."""
    from mixkit.build.folder import cache_dir

    return cache_dir("translation")


def shared_cache_warning(cache_dir: str, nodes: int, chosen: bool) -> str:
    """A warning when the default translation cache, a local folder, serves a cluster of several
    nodes: unless every node mounts it, each node keeps its own and translates again what another
    node has; "" otherwise (one node, a URL, or a folder the recipe chose)."""
    if nodes <= 1 or chosen or storage.is_remote(cache_dir):
        return ""
    return (f"the translation cache {cache_dir} is the default local folder on a {nodes}-node cluster: unless every "
            f"node mounts it, each node keeps its own; set steps.translate.cache_dir to a shared disk or a bucket "
            f"(s3://bucket/cache/translation)")


def _inputs_task(job: dict) -> int:
    """One partition's rows for this round, readdressed to their target language (sorted by new id).
    Round 0: the rows planned `translate`; later rounds: reserve rows whose rank falls in one of
    job["reserve"] = [[first rank, end rank, language], ...]."""
    from mixkit.core.schema import make_id, rows_to_table, with_meta

    plan = read_table(job["plan"])
    if job["reserve"] is None:
        plan = plan.filter(pc.equal(plan["role"], "translate"))
        target = dict(zip(plan["id"].to_pylist(), plan["target"].to_pylist()))
    else:
        plan = plan.filter(pc.equal(plan["role"], "reserve"))
        target = {}
        for i, rank in zip(plan["id"].to_pylist(), plan["rank"].to_pylist()):
            lang = next((lg for a, z, lg in job["reserve"] if a <= rank < z), None)
            if lang:
                target[i] = lang
    if not target:
        return 0
    rows = read_table(job["rows"])
    rows = rows.filter(pc.is_in(rows["id"], value_set=pa.array(list(target), pa.string())))
    out = []
    for r in rows.to_pylist():
        lang = target[r["id"]]
        new = dict(r, lang=lang, id=make_id(r["source"], r["origin_id"], lang, r["task"]))
        out.append(with_meta(new, translate_from=r["lang"], input_id=r["id"]))
    out.sort(key=lambda r: r["id"])
    write_table_atomic(rows_to_table(out), storage.path(job["out"]))
    return len(out)


class Translate(BuildStep):
    name = "translate"

    def run(self, ctx: BuildContext) -> TranslateResult:
        from translation.cache import compact_cache, prepare_cache
        from translation.stage import TranslateStage, collect_stats

        plan = ctx.result(PlanResult)
        wanted = sum(plan.roles.get("translate", {}).values())
        res = TranslateResult()
        if not wanted:
            return res
        opts = ctx.recipe.steps.translate
        cache_dir = opts.cache_dir or default_translation_cache()
        warning = shared_cache_warning(cache_dir, ctx.engine.nodes, bool(opts.cache_dir))
        if warning:
            logging.getLogger(__name__).warning(warning)
            ctx.progress.log(f"[bold yellow]warning:[/] {warning}")
        prepare_cache(cache_dir, ctx.engine.map_tasks, ctx.progress.log)    # an old cache is converted once
        if opts.phrasebook:
            from translation.demo_cache import seed_cache_from_phrasebook

            seed_cache_from_phrasebook(opts.phrasebook, cache_dir, opts)
        stats_dir = self.dir / "stats"
        if stats_dir.exists():                # counters are per run: a rerun reports its own calls
            storage.remove_tree(stats_dir)
        stage = TranslateStage(opts, cache_dir=cache_dir, stats_dir=str(stats_dir))
        stage.threads = max(1, int(ctx.engine.spec(stage.resources.workers()).cpus))
        rows_parts = parts(ctx.rows_dir)
        replaced: Counter = Counter()
        reserve = None                        # round 0: the planned rows
        for rnd in range(MAX_TRANSLATE_ROUNDS):
            rd = self.dir / f"round-{rnd}"
            if not is_done(rd / "in"):
                if rd.exists():
                    storage.remove_tree(rd)
                (rd / "in").mkdir(parents=True)
                jobs = [{"rows": str(p), "plan": str(plan.part(p)), "out": str(rd / "in" / p.name),
                         "reserve": reserve} for p in rows_parts]
                ctx.engine.map_tasks(_inputs_task, jobs,
                                     on_done=lambda n, t, r=rnd: ctx.progress.update(f"translate r{r}: in", n, t))
                mark_done(rd / "in")
            ctx.engine.run_stage(stage, rd / "in", rd / "out",
                                 on_partition=lambda n, t, r=rnd: ctx.progress.update(f"translate r{r}", n, t))
            compact_cache(cache_dir, ctx.engine.map_tasks)      # the round's loose cache files, merged by prefix
            res.out_dirs.append(rd / "out")
            failed = tally(ctx.engine, parts(rd / "out", "rejects-"), ["lang"])
            if not failed or rnd == MAX_TRANSLATE_ROUNDS - 1:     # no round left to send replacements to
                break
            # Failed translations: replace them from the reserve, in the same language, in rank order.
            reserve = []
            for (lg,), n in sorted(failed.items()):
                take = min(n, plan.targets.reserve - res.reserve_used)
                if take > 0:
                    reserve.append([res.reserve_used, res.reserve_used + take, lg])
                    res.reserve_used += take
                    replaced[lg] += take
            if not reserve:
                break
        res.rounds = len(res.out_dirs)
        res.replaced = counts_dict(replaced)
        res.rows_in = sum(count_rows(d.parent / "in") for d in res.out_dirs)     # every round's inputs
        res.rows_out = sum(count_rows(d) for d in res.out_dirs)
        res.stats = collect_stats(str(stats_dir)) if stats_dir.exists() else {}
        mark_done(self.dir)
        return res
