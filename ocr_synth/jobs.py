"""Render jobs: schema rows with empty messages/images that say what to draw.

A job is a pure function of (seed, lang, index): the task is drawn from the options' task
mix with a generator seeded by those three, so a rerun (or any worker split) makes the same jobs.
"""
from __future__ import annotations

import zlib

import numpy as np

from mixkit.core.schema import make_id, make_row
from ocr_synth.options import OcrOptions

SOURCE = "ocr_synth"


def job_rng(seed: int, lang: str, index: int, salt: int = 0) -> np.random.Generator:
    """Generator for one job; independent of which worker or batch renders it."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(lang.encode()), int(index), salt])


def job_tasks(seed: int, lang: str, start: int, stop: int, options: OcrOptions) -> list[str]:
    """The task of jobs start..stop-1 of a language, drawn from the options' task mix."""
    tasks = sorted(t for t, w in options.tasks.items() if w > 0)
    weights = np.array([options.tasks[t] for t in tasks], dtype=float)
    cum = np.cumsum(weights / weights.sum())
    out = []
    for index in range(start, stop):
        u = job_rng(seed, lang, index, salt=1).random()
        out.append(tasks[min(int(np.searchsorted(cum, u, side="right")), len(tasks) - 1)])
    return out


def lang_jobs(seed: int, lang: str, start: int, stop: int, options: OcrOptions,
              before: dict[str, int] | None = None) -> list[dict]:
    """Jobs start..stop-1 of a language. `before`: how many jobs of each task come before `start`
    (each job knows it is the k-th of its task: grounding alternates yes/no), so any split of a
    language into ranges makes the same jobs."""
    nth = {t: n - 1 for t, n in (before or {}).items()}
    rows: list[dict] = []
    for index, task in zip(range(start, stop), job_tasks(seed, lang, start, stop, options)):
        kind = "chart" if task == "chart_qa" else "document"
        k = nth[task] = nth.get(task, -1) + 1   # k-th job of this task: alternates yes/no grounding
        origin = f"{lang}-{index}"
        rows.append(make_row(
            source=SOURCE, origin_id=origin, task=task, lang=lang, messages=[], images=[],
            id=make_id(SOURCE, origin, lang, task),
            meta={"ocr_job": {"index": index, "seed": int(seed), "kind": kind, "nth": k}},
        ))
    return rows


def make_jobs(quotas: dict[str, int], seed: int, options: OcrOptions) -> list[dict]:
    rows: list[dict] = []
    for lang in sorted(quotas):
        rows += lang_jobs(seed, lang, 0, int(quotas[lang]), options)
    return rows
