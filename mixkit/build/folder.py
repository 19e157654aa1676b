"""Where a build keeps everything: one object owns every path and completion marker.

```
<out>/recipe.sha256            the recipe this folder was built from (a different recipe is refused)
<out>/steps/NN_<step>/         one folder per step, NN its position in the step list
        .../_SUCCESS           the step (or a sub-step such as translate/round-0/in) is complete
<out>/shards/shard-NNNNN.tar   the output, plus manifest.json and rejects.parquet beside them
<out>/logs/                    Ray's own logs (the terminal shows only mixkit's messages)
```
Nothing else in mixkit spells these names: steps ask the BuildFolder for theirs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildFolder:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def steps(self) -> Path:
        return self.root / "steps"

    def step_dir(self, position: int, name: str) -> Path:
        """steps/NN_name: NN is the step's 1-based position in the build's step list."""
        return self.steps / f"{position:02d}_{name}"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def manifest(self) -> Path:
        return self.shards / "manifest.json"

    @property
    def rejects(self) -> Path:
        return self.shards / "rejects.parquet"

    @property
    def recipe_stamp(self) -> Path:
        return self.root / "recipe.sha256"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ray_log(self) -> Path:
        from mixkit.runtime.ray_connect import LOG_NAME

        return self.logs / LOG_NAME

    def claim(self, recipe_sha256: str) -> None:
        """Create the folder for this recipe, or refuse one that holds a build of another recipe."""
        self.steps.mkdir(parents=True, exist_ok=True)
        stamp = self.recipe_stamp
        if stamp.exists() and stamp.read_text().strip() != recipe_sha256:
            raise RuntimeError(f"{self.root} holds a build of a different recipe (sha256 "
                               f"{stamp.read_text().strip()[:12]}…); use a new --out folder or delete this one")
        tmp = stamp.with_name(stamp.name + ".tmp")
        tmp.write_text(recipe_sha256 + "\n")
        os.replace(tmp, stamp)
