"""Where a build keeps everything: one object owns every path and completion marker.

```
<out>/recipe.sha256            the recipe this folder was built from (a different recipe is refused)
<out>/steps/NN_<step>/         one folder per step, NN its position in the step list
        .../_SUCCESS           the step (or a sub-step such as translate/round-0/in) is complete
<out>/shards/shard-NNNNN.tar   the output, plus manifest.json and rejects.parquet beside them
<out>/logs/                    Ray's own logs (the terminal shows only mixkit's messages)
```
Two roots. `work` holds the steps (parquet partitions, markers, shuffle scratch). `out` holds what
a build publishes: shards, their sidecars (the mix step's mark that a shard is finished),
rejects.parquet, manifest.json and the recipe stamp. Without --work they are the same folder. Either
may be a URL (s3://bucket/demo): every step writes through mixkit.core.storage (storage.path gives
a pathlib.Path or a URLPath), commits objects under their final names and marks completion the same
way, so a cluster whose nodes share no disk builds into a bucket. `--work` on a local or shared
disk keeps the many small intermediate files off object storage when the nodes share that disk.
Ray's own logs always go to a local folder: <work>/logs, or $MIXKIT_CACHE_DIR/builds/<hash>/logs
when the work folder is a URL. Nothing else in mixkit spells these names: steps ask the BuildFolder
for theirs.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from mixkit.core import storage


def cache_dir(*names: str) -> str:
    """$MIXKIT_CACHE_DIR/<names>, else ~/.cache/mixkit/<names>: what builds share or keep aside."""
    base = os.environ.get("MIXKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mixkit")
    return os.path.join(base, *names)


def local_folder(url: str | os.PathLike) -> Path:
    """A local folder that belongs to a URL (Ray's logs of a build working on object storage)."""
    url = storage.display(str(url)).rstrip("/")
    return Path(cache_dir("builds", hashlib.sha256(url.encode()).hexdigest()[:16]))


class BuildFolderError(RuntimeError):
    """The folder (or URL) holds a build of another recipe: one line, rerunning cannot help."""


@dataclass(frozen=True)
class BuildFolder:
    root: Path | storage.URLPath        # the work folder: steps/ (and logs/ when local)
    out: str = ""                       # where outputs are published (a path or a URL); "" = root

    def __post_init__(self):
        object.__setattr__(self, "root", storage.path(self.root))
        object.__setattr__(self, "out", str(self.out) if self.out else str(self.root))

    @classmethod
    def of(cls, out: str | os.PathLike, work: str | os.PathLike | None = None) -> "BuildFolder":
        """The folder of a build to `out` (a path or a URL), working in `work` (default: `out` itself)."""
        out = os.fspath(out)
        if not storage.is_remote(out):
            out = storage.local_path(out)
        work = out if work is None else work
        return cls(storage.path(work), out)

    @property
    def remote(self) -> bool:
        return storage.is_remote(self.out)

    @property
    def steps(self) -> Path:
        return self.root / "steps"

    @property
    def remote_work(self) -> bool:
        return isinstance(self.root, storage.URLPath)

    def step_dir(self, position: int, name: str) -> "Path | storage.URLPath":
        """steps/NN_name: NN is the step's 1-based position in the build's step list."""
        return self.steps / f"{position:02d}_{name}"

    def published(self, step_dir, *names: str) -> str:
        """The place of a step's sub-folder on the `out` side (the mix step's shard sidecars):
        <out>/steps/NN_step/<names>, the same path as in the work folder when they are one."""
        return storage.join(self.out, *step_dir.relative_to(self.root).parts, *names)

    @property
    def shards(self) -> str:
        return storage.join(self.out, "shards")

    @property
    def manifest(self) -> str:
        return storage.join(self.shards, "manifest.json")

    @property
    def rejects(self) -> str:
        return storage.join(self.shards, "rejects.parquet")

    @property
    def recipe_stamp(self):
        return self.root / "recipe.sha256"

    @property
    def logs(self) -> Path:
        return local_folder(self.root) / "logs" if self.remote_work else self.root / "logs"

    @property
    def ray_log(self) -> Path:
        from mixkit.runtime.ray_connect import LOG_NAME

        return self.logs / LOG_NAME

    def claim(self, recipe_sha256: str) -> None:
        """Create the folder for this recipe, or refuse one that holds a build of another recipe
        (in the work folder or at `out`). A URL is first checked to be writable: wrong credentials
        or a missing bucket stop here, in one line (storage.StorageError), before any work."""
        storage.check_writable(self.out)
        if self.remote_work and str(self.root) != self.out:
            storage.check_writable(self.root)
        stamps = [str(self.recipe_stamp)]
        if self.out != str(self.root):
            stamps.append(storage.join(self.out, "recipe.sha256"))
        for stamp in stamps:
            if storage.exists(stamp) and storage.read_text(stamp).strip() != recipe_sha256:
                held = storage.read_text(stamp).strip()[:12]
                raise BuildFolderError(f"{storage.display(storage.parent(stamp))} holds a build of a different recipe "
                                   f"(sha256 {held}…); use a new --out (and --work) or delete this one")
        self.steps.mkdir(parents=True, exist_ok=True)
        for stamp in stamps:
            storage.write_text(stamp, recipe_sha256 + "\n")
