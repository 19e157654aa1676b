"""Any row-level Stage over the current rows (the filters are one): its kept rows become the current rows."""
from __future__ import annotations

from typing import Callable

from mixkit.build.recipe import Recipe
from mixkit.build.steps.base import BuildContext, BuildStep, RowsResult, count_rows
from mixkit.runtime.stage import Stage


class StageStep(BuildStep):
    """Run a mixkit.runtime.stage.Stage over the current rows; its kept rows become the current rows."""

    row_step = True

    def __init__(self, name: str, make_stage: Callable[[Recipe], Stage]):
        self.name = name
        self.make_stage = make_stage

    def run(self, ctx: BuildContext) -> RowsResult:
        src = ctx.rows_dir
        stage = self.make_stage(ctx.recipe)
        ctx.engine.run_stage(stage, src, self.dir, on_partition=lambda n, t: ctx.progress.update(self.name, n, t))
        ctx.rows_dir = self.dir
        return RowsResult(dir=self.dir, rows_in=count_rows(src), rows_out=count_rows(self.dir))


def filter_step() -> StageStep:
    def make(recipe: Recipe) -> Stage:
        from mixkit.filters import build_filter_stage

        return build_filter_stage(recipe.steps.filters, stage_name="filter")

    return StageStep("filter", make)
