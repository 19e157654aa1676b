"""Every pin of a lock has a wheel for its Python on Linux x86_64 (manylinux), among the files whose
sha256 the lock records: asks PyPI's simple index (JSON) for the file names and hashes, and looks in
local wheel folders (--find-links) for what PyPI does not serve (torch's +cpu build). Downloads no
wheel. Needs PyPI: `make lock-check` runs it, not the test suite.

    python scripts/check_lock_wheels.py requirements/lock-py3.12.txt --python 3.12 --find-links /opt/wheels
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_pins(lock: Path) -> dict[str, tuple[str, set[str]]]:
    """{name: (version, {sha256, ...})} of a `pip-compile --generate-hashes` style file."""
    pins, current = {}, None
    for line in lock.read_text().splitlines():
        m = _PIN.match(line)
        if m:
            current = m.group(1)
            pins[current] = (m.group(2), set())
        for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            pins[current][1].add(h)
    return pins


def supported_tags(python: str) -> set[Tag]:
    version = tuple(int(x) for x in python.split("."))
    platforms = [f"manylinux_2_{m}_x86_64" for m in range(40, 4, -1)] + \
                ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    return set(cpython_tags(version, platforms=platforms)) | set(compatible_tags(version, "cp3" + python[2:],
                                                                                     platforms=platforms))


def pypi_files(name: str) -> list[tuple[str, str]]:
    req = urllib.request.Request(f"https://pypi.org/simple/{re.sub(r'[-_.]+', '-', name).lower()}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = json.load(r)
    return [(f["filename"], f["hashes"].get("sha256", "")) for f in data["files"]]


def local_files(folders: list[str]) -> list[tuple[str, str]]:
    out = []
    for folder in folders:
        for f in Path(folder).glob("*.whl"):
            out.append((f.name, hashlib.sha256(f.read_bytes()).hexdigest()))
    return out


def problems(lock: Path, python: str, find_links: list[str]) -> list[str]:
    tags = supported_tags(python)
    pins = read_pins(lock)
    local = local_files(find_links)
    with ThreadPoolExecutor(8) as pool:
        served = dict(zip(pins, pool.map(pypi_files, pins)))
    out = []
    for name, (version, hashes) in sorted(pins.items()):
        ok = False
        for filename, sha in served[name] + local:
            if sha not in hashes or not filename.endswith(".whl"):
                continue
            _, _, _, file_tags = parse_wheel_filename(filename)
            ok = ok or bool(file_tags & tags)
        if not ok:
            out.append(f"{lock}: {name}=={version} has no wheel among its hashes for CPython {python} manylinux x86_64")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lock", type=Path)
    ap.add_argument("--python", required=True)
    ap.add_argument("--find-links", action="append", default=[])
    a = ap.parse_args(argv)
    found = problems(a.lock, a.python, a.find_links)
    for p in found:
        print(f"error: {p}", file=sys.stderr)
    if not found:
        print(f"{a.lock}: every pin has a wheel for CPython {a.python} on manylinux x86_64")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
