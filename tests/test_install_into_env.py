"""`make install-into-env` into an environment with another torch than the lock's (tests/user_env.py:
torch 2.14.1 CUDA build, transformers 5.18, no pydantic/webdataset/fastText), offline from a wheel
folder: torch and transformers stay as they were, the missing packages arrive at the lock's versions,
and the demo builds there with the same shards as in the lock's environment."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import user_env
from mixkit.runtime import install_into_env as iie
from mixkit.runtime.environment import ROOT, lock_name, read_lock


def _run(py, *args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1"}
    env.pop("PIP_FIND_LINKS", None)
    return subprocess.run([str(py), *args], env=env, capture_output=True, text=True, timeout=900, **kw)


def _versions(py) -> dict:
    code = ("import json, torch, transformers; print(json.dumps({'torch': torch.__version__, 'torch_file': "
            "torch.__file__, 'transformers': transformers.__version__}))")
    return json.loads(_run(py, "-c", code).stdout)


def test_plan_keeps_what_is_in_range_and_never_installs_torch():
    lock = read_lock(ROOT / lock_name())
    gpu_image = {n: v for n, v in lock.items() if n not in user_env.LACKS}
    gpu_image.update(torch="2.11.0+cu130", transformers="5.17.0")
    plan = iie.make_plan(installed=gpu_image)
    assert plan.errors == []
    assert sorted(n for n, *_ in plan.install) == sorted(user_env.LACKS)
    assert ("torch", "2.11.0+cu130", lock["torch"]) in plan.keep and ("transformers", "5.17.0", "5.24.0") in plan.keep
    assert all("--hash=sha256:" in line for line in plan.lines) and not any("torch" in l for l in plan.lines)
    # outside mixkit's ranges: the lock's version is installed instead (numpy), torch is an error
    plan = iie.make_plan(installed={**gpu_image, "numpy": "1.24.4"})
    assert ("numpy", lock["numpy"], "installed 1.24.4 is outside numpy<3,>=1.26") in plan.install
    assert "outside mixkit's range" in iie.make_plan(installed={**gpu_image, "torch": "2.3.1"}).errors[0]
    assert "torch is not installed" in iie.make_plan(installed={"numpy": "2.4.6"}).errors[0]
    assert "no lock for Python 3.10" in iie.make_plan(python="3.10").errors[0]
    # the dev extra adds the test tools and what they pull in
    no_tests = {n: v for n, v in gpu_image.items() if n not in ("pytest", "datasketch", "ctranslate2", "iniconfig")}
    assert not {"pytest", "iniconfig"} & {n for n, *_ in iie.make_plan(installed=no_tests).install}
    dev = {n for n, *_ in iie.make_plan(extras=("dev",), installed=no_tests).install}
    assert {"pytest", "datasketch", "ctranslate2", "iniconfig"} <= dev


@pytest.mark.slow
def test_install_into_an_env_with_another_torch_keeps_it_and_the_demo_builds(tmp_path):
    why = user_env.ready()
    assert why is None, why
    py = user_env.make_env(tmp_path / "env")
    before = _versions(py)
    assert before["torch"].startswith(user_env.TORCH) and before["transformers"] == user_env.TRANSFORMERS
    assert _run(py, "-c", "import pydantic").returncode != 0            # what a GPU image lacks
    check = _run(py, "-m", "mixkit.runtime.install_into_env", "--check")
    assert check.returncode == 1 and "pydantic==" in check.stderr

    r = _run(py, "-m", "mixkit.runtime.install_into_env", "--wheels", str(user_env.WHEELS))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    after = _versions(py)
    assert after == before                                             # the same torch files, not replaced
    assert os.stat(after["torch_file"]).st_ino == os.stat(user_env.STACK / "torch" / "__init__.py").st_ino
    lock = read_lock(ROOT / lock_name())
    got = json.loads(_run(py, "-c", "import json; from importlib import metadata as m; print(json.dumps("
                                    "{n: m.version(n) for n in %r}))" % (user_env.LACKS,)).stdout)
    assert got == {n: lock[n] for n in user_env.LACKS}
    assert _run(py, "-m", "mixkit.runtime.install_into_env", "--check").returncode == 0

    # the demo builds in it, the same shards as in the lock's environment (this one)
    builds = {}
    for name, python in (("user", py), ("lock", sys.executable)):
        out = tmp_path / name
        b = _run(python, "-m", "mixkit.cli", "build", str(ROOT / "recipes" / "demo.yaml"), "--out", str(out))
        assert b.returncode == 0, b.stderr[-3000:]
        builds[name] = out
    manifest = json.loads((builds["user"] / "shards" / "manifest.json").read_text())
    assert manifest["versions"]["torch"].startswith(user_env.TORCH) and manifest["counts"]["total"] > 0
    assert manifest["versions"]["lock"]["differs"]                    # it says it is not the lock's environment
    tars = {name: {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "shards").glob("*.tar")}
            for name, out in builds.items()}
    assert tars["user"] and tars["user"] == tars["lock"]
