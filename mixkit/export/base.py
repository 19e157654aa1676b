"""What an export writer is, and what an export reports."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mixkit.core.shard_format import TarSample


@dataclass
class ExportResult:
    out_dir: Path
    format: str
    samples: int = 0
    images: int = 0
    files: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)      # shards that could not be opened

    def summary(self) -> str:
        skipped = ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped.items())) or "none"
        return (f"{self.samples:,} samples, {self.images:,} images -> {self.out_dir} ({self.format}); "
                f"skipped: {skipped}" + "".join(f"\n  cannot read {e}" for e in self.errors))


class ExportWriter:
    """One export format: `name` (the --format value), `about` (one line for --help); called
    begin_shard, add per sample, end_shard per shard, then close once."""

    name: ClassVar[str]
    about: ClassVar[str]

    def __init__(self, out: Path, res: ExportResult):
        self.out, self.res = out, res

    def begin_shard(self, index: int, path: str) -> None:
        pass

    def add(self, sample: TarSample, doc: dict) -> None:
        raise NotImplementedError

    def end_shard(self) -> None:
        pass

    def close(self) -> None:
        pass
