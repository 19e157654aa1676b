"""OCR synthesis: per-language quotas of rendered documents and charts."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from mixkit.build.recipe import Recipe
from mixkit.build.steps.base import BuildContext, BuildStep, StepResult, empty_rejects, count_rows
from mixkit.runtime.partitions import is_done, mark_done, rejects_table, write_rows_partitioned


@dataclass
class OcrResult(StepResult):
    quotas: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)      # lang -> why it has no OCR (no text of its own)
    text_reuse: dict = field(default_factory=dict)             # ocr_synth.options.text_reuse + its warning
    out_dir: Path | None = None

    def rejects(self) -> pa.Table:
        return rejects_table(self.out_dir) if self.out_dir else empty_rejects()


class Ocr(BuildStep):
    name = "ocr"

    def enabled(self, recipe: Recipe) -> bool:
        return recipe.steps.ocr.enabled

    def run(self, ctx: BuildContext) -> OcrResult:
        from ocr_synth.jobs import make_jobs
        from ocr_synth.options import ocr_plan, reuse_report
        from ocr_synth.stage import OcrRenderStage

        opts = ctx.recipe.steps.ocr
        q, skipped = ocr_plan(opts, ctx.recipe.languages)
        reuse = reuse_report(opts, q)                 # how often each language's text would repeat; warns
        d = self.dir
        if not is_done(d / "in"):
            write_rows_partitioned(make_jobs(q, ctx.recipe.seed, opts), d / "in", 500)
            mark_done(d / "in")
        ctx.engine.run_stage(OcrRenderStage(opts), d / "in", d / "out",
                             on_partition=lambda n, t: ctx.progress.update("ocr", n, t))
        return OcrResult(rows_in=count_rows(d / "in"), rows_out=count_rows(d / "out"), quotas=q, skipped=skipped,
                         text_reuse=reuse, out_dir=d / "out")
