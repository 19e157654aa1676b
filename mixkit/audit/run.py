"""audit_shards: the measure over every shard on local processes, merged into an AuditResult."""
from __future__ import annotations

import functools
import os
import time

from rich.console import Console

from mixkit.audit.measure import audit_shard, get_lid
from mixkit.audit.result import AuditResult, manifest_check, merge
from mixkit.audit.targets import find_manifest
from mixkit.core.shard_format import expand_shards
from mixkit.runtime.engines import LocalEngine
from mixkit.runtime.progress import Progress


def audit_shards(shards: str | list[str], *, targets: dict[str, float] | None = None, lid_model: str | None = None,
                 workers: int | None = None, progress: bool = True) -> AuditResult:
    """Audit WebDataset shards (a directory, glob, brace pattern or list). `targets`: share per
    language (FLORES codes or aliases); `lid_model`: a fastText LID file (default lid.176.ftz);
    `workers`: processes (default: CPU count, at most one per shard)."""
    paths = expand_shards(shards)
    lid = get_lid(lid_model)               # fails early on a bad path; forked workers inherit it
    lid_model = lid.model_path
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    t0 = time.perf_counter()
    parts: list[dict] = []
    samples = nbytes = 0
    # The one executor: shards on local processes, results in shard order, one progress display.
    with Progress(progress, console=Console(stderr=True)) as bar:
        for part in LocalEngine(workers).map_ordered(functools.partial(audit_shard, lid_model=lid_model), paths):
            parts.append(part)
            samples += sum(v.samples for v in part["langs"].values())
            nbytes += part["bytes"]
            dt = max(time.perf_counter() - t0, 1e-9)
            bar.update("audit", len(parts), len(paths),
                       note=f"{samples:,} samples  {samples / dt:,.0f} samples/s  {nbytes / dt / 1e6:,.0f} MB/s")
    meta = {"seconds": round(time.perf_counter() - t0, 3), "lid": lid,
            "target_source": "argument" if targets is not None else None}
    data = merge(parts, targets, meta)
    data["manifest_check"] = manifest_check(find_manifest(paths), data["by_lang"], data["total_samples"])
    return AuditResult(data)
