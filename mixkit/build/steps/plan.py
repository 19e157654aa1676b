"""plan: ids and metadata only; every surviving row gets a role (see mixkit.build.plan)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mixkit.build.plan import Plan, make_plan
from mixkit.build.recipe import Recipe
from mixkit.build.steps.base import BuildContext, BuildStep, StepResult
from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic


@dataclass
class PlanResult(StepResult):
    plan: Plan | None = None


class PlanStep(BuildStep):
    name = "plan"

    def run(self, ctx: BuildContext) -> PlanResult:
        recipe = ctx.recipe
        pool = _pool(recipe, ctx.rows_dir)
        plan = make_plan(recipe, pool, translation_enabled=recipe.steps.translate.enabled)
        d = self.dir
        if not is_done(d):
            d.mkdir(parents=True, exist_ok=True)
            write_table_atomic(plan.table, d / "plan.parquet")
            (d / "quotas.json").write_text(json.dumps(plan.quotas, indent=1, sort_keys=True))
            mark_done(d)
        used = sum(1 for r in plan.table["role"].to_pylist() if r in ("english", "native", "translate"))
        return PlanResult(rows_in=pool.num_rows, rows_out=used, plan=plan)


def _pool(recipe: Recipe, src: Path) -> pa.Table:
    specs = {s.name: s for s in recipe.sources}
    cols = ["id", "origin_id", "source", "lang", "task"]
    tables = [pq.read_table(p, columns=cols) for p in parts(src)]
    t = pa.concat_tables(tables) if tables else pa.table({k: pa.array([], pa.string()) for k in cols})
    sources = t["source"].to_pylist()
    t = t.append_column("translatable", pa.array([specs[s].translate for s in sources], pa.bool_()))
    t = t.append_column("weight", pa.array([specs[s].weight for s in sources], pa.float64()))
    return t
