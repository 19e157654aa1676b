"""FilterStage: the enabled filters over a batch, in registry order; the first that fails a row
rejects it with `make_reject(row, step, reason, detail)`."""
from __future__ import annotations

import json

from mixkit.core.schema import make_reject, meta_of
from mixkit.filters.base import FILTERS, Filter, Rejection
from mixkit.filters.options import FilterOptions
from mixkit.runtime.stage import Resources, Stage, StageOutput


def build_filters(options: FilterOptions) -> list[Filter]:
    """The enabled filters in the order they run (mixkit.filters.FILTERS: cheap first, images last)."""
    out: list[Filter] = []
    for name, cls in FILTERS.items():
        if cls.Options is None:
            out.append(cls())
            continue
        # A filter registered after FilterOptions was made (a plugin imported later) has no
        # recipe block: it runs with its defaults.
        opts = getattr(options, name, None) or cls.Options()
        if opts.enabled:
            out.append(cls(opts))
    return out


class FilterStage(Stage):
    """Runs all enabled filters over a batch; the first failing filter rejects the row."""

    resources = Resources(cpus=1, batch_size=512)      # workers: the cluster's CPUs (recipe `workers: {filter: ...}`)

    def __init__(self, options: FilterOptions, stage_name: str = "filter"):
        self.options = options
        self.name = stage_name
        self.filters = build_filters(options) if options.enabled else []
        self._exempt = {k: set(v) for k, v in options.exempt_tasks.items()}

    def setup(self) -> None:
        for f in self.filters:
            f.setup()

    def process_batch(self, rows: list[dict]) -> StageOutput:
        verdict: list[Rejection | None] = [None] * len(rows)
        meta_updates: dict[int, dict] = {}
        for f in self.filters:
            exempt = self._exempt.get(f.name, ())
            alive = [i for i in range(len(rows)) if verdict[i] is None and rows[i].get("task") not in exempt]
            if not alive:
                continue
            for i, (rej, meta) in zip(alive, f.check_batch_meta([rows[i] for i in alive])):
                if rej is not None and rej.reason not in f.reasons:
                    raise ValueError(f"filter {f.name!r} rejected a row with {rej.reason!r}, which is not one of "
                                     f"its reasons; add it to {type(f).__name__}.reasons")
                verdict[i] = rej
                if meta:
                    meta_updates.setdefault(i, {}).update(meta)
        out = StageOutput()
        for i, row in enumerate(rows):
            rej = verdict[i]
            if rej is not None:
                out.rejected.append(make_reject(row, self.name, rej.reason, rej.detail))
            elif i in meta_updates:
                meta = meta_of(row)
                meta.update(meta_updates[i])
                out.kept.append({**row, "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)})
            else:
                out.kept.append(row)
        return out


def build_filter_stage(options: FilterOptions, stage_name: str = "filter") -> FilterStage:
    return FilterStage(options, stage_name)
