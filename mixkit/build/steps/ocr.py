"""OCR synthesis: per-language quotas of rendered documents and charts.

Jobs are made by workers, a range of one language's jobs per task (a job is a pure function of
seed, language and index; a first pass counts each range's tasks so that every job knows its
place among its language's jobs of the same task). The driver holds counts per range.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mixkit.build.recipe import Recipe
from mixkit.build.steps.base import BuildContext, BuildStep, StepResult, count_rows
from mixkit.core.schema import rows_to_table
from mixkit.core import storage
from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic

JOBS_PER_PART = 500


@dataclass
class OcrResult(StepResult):
    quotas: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)      # lang -> why it has no OCR (no text of its own)
    text_reuse: dict = field(default_factory=dict)             # ocr_synth.options.text_reuse + its warning
    out_dir: Path | None = None

    def reject_files(self) -> list[Path]:
        return parts(self.out_dir, "rejects-") if self.out_dir else []


def _count_tasks(job: dict) -> dict[str, int]:
    from ocr_synth.jobs import job_tasks

    return dict(Counter(job_tasks(job["seed"], job["lang"], job["start"], job["stop"], job["options"])))


def _write_jobs(job: dict) -> None:
    from ocr_synth.jobs import lang_jobs

    rows = lang_jobs(job["seed"], job["lang"], job["start"], job["stop"], job["options"], job["before"])
    write_table_atomic(rows_to_table(rows), storage.path(job["out"]))


class Ocr(BuildStep):
    name = "ocr"

    def enabled(self, recipe: Recipe) -> bool:
        return recipe.steps.ocr.enabled

    def run(self, ctx: BuildContext) -> OcrResult:
        from ocr_synth.options import ocr_plan, reuse_report
        from ocr_synth.stage import OcrRenderStage

        opts = ctx.recipe.steps.ocr
        q, skipped = ocr_plan(opts, ctx.recipe.languages)
        reuse = reuse_report(opts, q)                 # how often each language's text would repeat; warns
        d = self.dir
        if not is_done(d / "in"):
            (d / "in").mkdir(parents=True, exist_ok=True)
            jobs = [{"seed": ctx.recipe.seed, "lang": lang, "start": a, "stop": min(a + JOBS_PER_PART, int(q[lang])),
                     "options": opts, "out": str(d / "in" / f"part-{lang}-{a // JOBS_PER_PART:06d}.parquet")}
                    for lang in sorted(q) for a in range(0, int(q[lang]), JOBS_PER_PART)]
            before: dict[str, Counter] = {}
            for job, counts in zip(jobs, ctx.engine.map_tasks(_count_tasks, jobs)):
                seen = before.setdefault(job["lang"], Counter())
                job["before"] = dict(seen)
                seen.update(counts)
            written = {p.name for p in parts(d / "in")}
            ctx.engine.map_tasks(_write_jobs, [j for j in jobs if storage.name(j["out"]) not in written],
                                 on_done=lambda n, t: ctx.progress.update("ocr: jobs", n, t))
            mark_done(d / "in")
        ctx.engine.run_stage(OcrRenderStage(opts), d / "in", d / "out",
                             on_partition=lambda n, t: ctx.progress.update("ocr", n, t))
        mark_done(d)                  # the step's own mark: a rerun reports it resumed, as every other step
        return OcrResult(rows_in=count_rows(d / "in"), rows_out=count_rows(d / "out"), quotas=q, skipped=skipped,
                         text_reuse=reuse, out_dir=d / "out")
