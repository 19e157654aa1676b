"""How many workers a step runs on and what each one gets: one shape for every step.

A recipe's `workers:` block names steps (`filter`, `dedup`, `translate`, `ocr`, `mix`, `read`, any
added stage) and `default`; a Stage declares its own in `Resources`. Each entry is either a
number (a fixed count) or a mapping:

    workers:
      default: {cpus: 1}                  # every step: as many workers as the cluster has CPUs
      translate: {min: 1, max: 16, gpus: 1}
      ocr: 8

`count` fixes the number; `min`/`max` bound a pool that Ray scales with the work queued (it
starts at `min`); left out, the pool is as large as the cluster's CPUs (or GPUs, for a step that
asks for GPUs) divided by what each worker takes. Every size is capped at what the cluster has when the step starts
(a pool larger than the cluster would wait forever) and at the number of units of work.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Workers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int | None = Field(default=None, ge=1)     # a fixed number of workers
    min: int = Field(default=1, ge=1)                 # a pool that scales between min and max
    max: int | None = Field(default=None, ge=1)       # None: the cluster's capacity
    cpus: float = Field(default=1.0, gt=0)            # per worker
    gpus: float = Field(default=0.0, ge=0)            # per worker (ignored on a cluster without GPUs)

    @model_validator(mode="before")
    @classmethod
    def _a_number_is_a_count(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):
            return {"count": v}
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Workers":
        if self.count is not None and ({"min", "max"} & self.model_fields_set):
            raise ValueError("give either `count` (a fixed number) or `min`/`max` (a pool that scales), not both")
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def over(self, base: "Workers | None") -> "Workers":
        """This spec with what it leaves unset taken from `base` (a recipe entry over a stage's own)."""
        if base is None:
            return self
        merged = {k: getattr(base, k) for k in base.model_fields_set}
        mine = {k: getattr(self, k) for k in self.model_fields_set}
        if "count" in mine:                       # a fixed count replaces a pool's bounds, and back
            merged.pop("min", None), merged.pop("max", None)
        if {"min", "max"} & mine.keys():
            merged.pop("count", None)
        merged.update(mine)
        return Workers.model_validate(merged)

    def uses_gpus(self, cluster_gpus: float) -> float:
        """GPUs per worker on this cluster (0 where it has none: the step runs on CPUs)."""
        return self.gpus if cluster_gpus else 0.0

    def pool(self, cluster_cpus: float, cluster_gpus: float, tasks: int) -> tuple[int, int]:
        """(smallest, largest) number of workers on this cluster for `tasks` units of work."""
        gpus = self.uses_gpus(cluster_gpus)
        capacity = int(cluster_gpus // gpus) if gpus else int(cluster_cpus // self.cpus)
        capacity = max(1, capacity)
        hi = max(1, min(self.count or self.max or capacity, capacity, max(tasks, 1)))
        scales = self.count is None and bool({"min", "max"} & self.model_fields_set)
        lo = max(1, min(self.min if scales else hi, hi))
        return lo, hi


def step_workers(declared: Workers | None, recipe_workers: dict[str, Workers], step: str) -> Workers:
    """What a step runs on: the recipe's entry for it, over the recipe's `default`, over what the
    step (or its Stage) declares."""
    spec = declared or Workers()
    if "default" in recipe_workers:
        spec = recipe_workers["default"].over(spec)
    if step in recipe_workers:
        spec = recipe_workers[step].over(spec)
    return spec
