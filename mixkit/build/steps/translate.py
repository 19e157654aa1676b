"""translate: exactly what the plan asks; failed translations replaced from the reserve."""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.build.steps.base import ROWS_PER_PART, BuildContext, BuildStep, StepResult, empty_rejects, count_rows
from mixkit.build.steps.plan import PlanResult
from mixkit.core.shard_format import counts_dict
from mixkit.runtime.partitions import is_done, mark_done, parts, rejects_table, write_rows_partitioned

MAX_TRANSLATE_ROUNDS = 4


@dataclass
class TranslateResult(StepResult):
    rounds: int = 0
    out_dirs: list[Path] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)      # lang -> rows taken from the reserve
    used_inputs: set[str] = field(default_factory=set)          # English ids sent to translation
    stats: dict = field(default_factory=dict)                   # model calls, cache hits, ...

    def rejects(self) -> pa.Table:
        tables = [rejects_table(d) for d in self.out_dirs]
        return pa.concat_tables(tables) if tables else empty_rejects()

    def accounting_problem(self) -> str | None:
        rejected = self.rejects().num_rows
        if self.rows_in != self.rows_out + rejected:
            return f"{self.rows_in} rows sent, {self.rows_out} translated and {rejected} rejected"
        return None


def default_translation_cache() -> str:
    """Shared across builds (a rebuild or another recipe translates nothing twice):
    $MIXKIT_CACHE_DIR/translation, else ~/.cache/mixkit/translation."""
    import os

    base = os.environ.get("MIXKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mixkit")
    return os.path.join(base, "translation")


def _translation_inputs(src: Path, assign: dict[str, str]) -> list[dict]:
    """Source rows of `assign` (id -> target), readdressed to their target language."""
    from mixkit.core.schema import make_id, with_meta

    out = []
    for p in parts(src):
        t = pq.read_table(p)
        mask = pc.is_in(t["id"], value_set=pa.array(list(assign), pa.string()))
        for r in t.filter(mask).to_pylist():
            target = assign[r["id"]]
            new = dict(r, lang=target, id=make_id(r["source"], r["origin_id"], target, r["task"]))
            out.append(with_meta(new, translate_from=r["lang"], input_id=r["id"]))
    out.sort(key=lambda r: r["id"])
    return out


class Translate(BuildStep):
    name = "translate"

    def run(self, ctx: BuildContext) -> TranslateResult:
        from translation.cache import compact_cache, prepare_cache
        from translation.stage import TranslateStage, collect_stats

        plan = ctx.result(PlanResult).plan
        roles = plan.table.to_pylist()
        assign = {r["id"]: r["target"] for r in roles if r["role"] == "translate"}
        reserve = [r["id"] for r in sorted((r for r in roles if r["role"] == "reserve"), key=lambda r: r["rank"])]
        res = TranslateResult(rows_in=len(assign), used_inputs=set(assign))
        if not assign:
            return res
        opts = ctx.recipe.steps.translate
        cache_dir = opts.cache_dir or default_translation_cache()
        prepare_cache(cache_dir, ctx.engine.map_tasks, ctx.progress.log)    # an old cache is converted once
        if opts.phrasebook:
            from translation.demo_cache import seed_cache_from_phrasebook

            seed_cache_from_phrasebook(opts.phrasebook, cache_dir, opts)
        stats_dir = self.dir / "stats"
        if stats_dir.exists():                # counters are per run: a rerun reports its own calls
            shutil.rmtree(stats_dir)
        stage = TranslateStage(opts, cache_dir=cache_dir, stats_dir=str(stats_dir))
        replaced: Counter = Counter()
        r_next = 0
        for rnd in range(MAX_TRANSLATE_ROUNDS):
            rd = self.dir / f"round-{rnd}"
            if not is_done(rd / "in"):
                if rd.exists():
                    shutil.rmtree(rd)
                write_rows_partitioned(_translation_inputs(ctx.rows_dir, assign), rd / "in", ROWS_PER_PART)
                mark_done(rd / "in")
            ctx.engine.run_stage(stage, rd / "in", rd / "out",
                                 on_partition=lambda n, t, r=rnd: ctx.progress.update(f"translate r{r}", n, t))
            compact_cache(cache_dir, ctx.engine.map_tasks)      # the round's loose cache files, merged by prefix
            res.out_dirs.append(rd / "out")
            rej = rejects_table(rd / "out")
            if rej.num_rows == 0:
                break
            # Failed translations: replace them from the reserve, in the same language.
            assign = {}
            for lg, n in sorted(Counter(rej["lang"].to_pylist()).items()):
                take = reserve[r_next:r_next + n]
                r_next += len(take)
                assign.update({i: lg for i in take})
                replaced[lg] += len(take)
            res.used_inputs |= set(assign)
            if not assign:
                break
        res.rounds = len(res.out_dirs)
        res.replaced = counts_dict(replaced)
        res.rows_in = sum(count_rows(d.parent / "in") for d in res.out_dirs)     # every round's inputs
        res.rows_out = sum(count_rows(d) for d in res.out_dirs)
        res.stats = collect_stats(str(stats_dir)) if stats_dir.exists() else {}
        return res
