"""The dependency lock and the environment record a build's manifest carries."""
from __future__ import annotations

import hashlib
import re

from mixkit.runtime import environment as env

LOCK = env.LOCK_FILE


def test_the_lock_pins_every_package_with_hashes_and_torch_cpu():
    text = LOCK.read_text()
    pins = env.read_lock(LOCK)
    assert pins["torch"].endswith("+cpu")                         # never the multi-GB CUDA build
    assert not [n for n in pins if n.startswith("nvidia-")]
    assert {"ray", "babel", "pyarrow", "transformers", "pytest", "setuptools"} <= set(pins)
    # each `name==version` entry carries at least one sha256 (pip --require-hashes needs them all)
    entries = re.findall(r"^[A-Za-z0-9][^\s=]*==\S+((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", text, re.M)
    assert len(entries) == len(pins) and all(entries), "a pin without --hash"


def test_the_lock_covers_pyproject():
    """Fails when a dependency was added to pyproject.toml without `make lock`."""
    assert env.uncovered_requirements(env.read_lock(LOCK), env.declared_requirements()) == []


def test_environment_names_versions_and_the_lock_hash():
    e = env.environment()
    assert {"python", "mixkit", "ray", "pyarrow", "torch", "pillow", "webdataset", "babel"} <= set(e)
    assert e["python"].count(".") == 2
    assert e["lock"]["file"] == "requirements/lock.txt"
    assert e["lock"]["sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert isinstance(e["lock"]["differs"], list)


def test_check_reports_a_stale_lock_and_a_drifted_install(tmp_path):
    stale = tmp_path / "lock.txt"
    stale.write_text("".join(ln + "\n" for ln in LOCK.read_text().splitlines() if not ln.startswith("babel==")))
    problems = env.check(stale)
    assert any("babel" in p and "not in the lock" in p for p in problems)
    assert any("make lock" in p for p in problems)
    assert env.installed_differences({"babel": "2.17.0", "gone": "1.0"}, {"babel": "2.19.0"}) == [
        "babel: installed 2.19.0, locked 2.17.0", "gone: not installed, locked 1.0"]
    assert env.uncovered_requirements({"babel": "3.0.0"}, ["babel>=2.14,<3"]) == ["babel<3,>=2.14: the lock pins 3.0.0"]
    assert env.check(tmp_path / "missing.txt")[0].endswith("`make lock` writes it)")
