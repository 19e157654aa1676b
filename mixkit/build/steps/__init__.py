"""The steps of a build, declared as a list (datatrove's pipeline, NeMo Curator's stages).

A step is a small class with a `name` and a `run(ctx) -> result`; its result is a typed
dataclass that says how many rows went in and out and which rejects it produced. The build
(mixkit.build.runner) runs `default_steps()` in order, each in its own folder from the BuildFolder.

Adding a row-level stage is one class plus one list entry:

    class NoDogs(Stage):                       # mixkit.runtime.stage.Stage: setup() + process_batch()
        name = "no_dogs"
        def process_batch(self, rows): ...     # return StageOutput(kept, rejected)

    steps = insert_after(default_steps(), "dedup", StageStep("no_dogs", lambda recipe: NoDogs()))
    build(recipe, "runs/x", steps=steps)

Row steps (read, filter, any StageStep) each leave the current rows as parquet partitions in
their folder (`ctx.rows_dir`); dedup, plan, translate and mix read from there.
"""
from __future__ import annotations

from mixkit.build.steps.base import BuildContext, BuildStep, RowsResult, StepResult
from mixkit.build.steps.dedup import Dedup, DedupResult
from mixkit.build.steps.mix import Mix, MixResult
from mixkit.build.steps.ocr import Ocr, OcrResult
from mixkit.build.steps.plan import PlanResult, PlanStep
from mixkit.build.steps.read import ReadSources
from mixkit.build.steps.rows import StageStep, filter_step
from mixkit.build.steps.translate import Translate, TranslateResult

__all__ = ["BuildContext", "BuildStep", "Dedup", "DedupResult", "Mix", "MixResult", "Ocr", "OcrResult", "PlanResult",
           "PlanStep", "ReadSources", "RowsResult", "StageStep", "StepResult", "Translate", "TranslateResult",
           "default_steps", "filter_step", "insert_after"]


def default_steps() -> list[BuildStep]:
    """The build, in order. Insert a StageStep to add a row-level stage (see the module doc)."""
    return [ReadSources(), filter_step(), Dedup(), PlanStep(), Translate(), Ocr(), Mix()]


def insert_after(steps: list[BuildStep], name: str, step: BuildStep) -> list[BuildStep]:
    """`steps` with `step` right after the step called `name` ("read", "filter", "dedup", ...), by name
    so that it stays in place when the default list changes. Changes `steps` and returns it."""
    names = [s.name for s in steps]
    if name not in names:
        raise ValueError(f"no build step named {name!r} to put {step.name!r} after; the steps are {', '.join(names)}")
    steps.insert(names.index(name) + 1, step)
    return steps
