"""Pipeline steps: small classes with declared resources, a per-worker `setup()` and a batch
function from rows to rows (NeMo Curator's ProcessingStage, datatrove's PipelineStep).

The same stage runs on a Python list in a unit test (`stage.run(rows)`) and on Ray Data in a
build (mixkit.runtime.engines turns it into `map_batches` with an actor pool). A stage never drops a
row silently: it returns the rows it keeps and a reject record for each row it removes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mixkit.runtime.workers import Workers


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0
    batch_size: int = 256     # rows per process_batch call
    actors: int | None = None  # a fixed pool size; None: as many as the cluster holds (see runtime.workers)

    def workers(self) -> Workers:
        """This declaration as a worker spec (a recipe's `workers.<step>` entry goes over it)."""
        spec = {"cpus": self.cpus, "gpus": self.gpus}
        if self.actors is not None:
            spec["count"] = self.actors
        return Workers.model_validate(spec)


@dataclass
class StageOutput:
    kept: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)   # schema.REJECT_SCHEMA rows

    def extend(self, other: "StageOutput") -> None:
        self.kept.extend(other.kept)
        self.rejected.extend(other.rejected)


class Stage:
    """Base class. Subclasses set `name` and `resources` and implement `process_batch`."""

    name: str = "stage"
    resources: Resources = Resources()

    def setup(self) -> None:
        """Load models or fonts once per worker. Called before the first batch."""

    def process_batch(self, rows: list[dict]) -> StageOutput:
        raise NotImplementedError

    def run(self, rows: list[dict]) -> StageOutput:
        """Run on a plain list, in batches of resources.batch_size (tests, small jobs)."""
        self.setup()
        out = StageOutput()
        bs = max(1, self.resources.batch_size)
        for i in range(0, len(rows), bs):
            out.extend(self.process_batch(rows[i:i + bs]))
        return out
