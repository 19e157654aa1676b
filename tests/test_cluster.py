"""A two-node Ray cluster with token authentication, started as a user would, and `mixkit build
--address` against it: same shards as a local build with the token, one clear line without it.
Every build here runs the CLI, so the terminal output checked is what a user sees."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo.yaml"
RAY = str(Path(sys.executable).with_name("ray"))
# What Ray prints itself: C++ lines (`[... E 123 123] core_worker.cc:2465: ...`) and Python log records.
RAY_LINE = re.compile(r"\.(cc|h):\d+:|core_worker|^\S+ \S+\s+(INFO|WARNING|ERROR) \S+\.py:\d+ --", re.M)

pytestmark = pytest.mark.slow


def _shard_hashes(shards: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(shards.glob("shard-*.tar"))}


def _env(home: Path, **extra) -> dict:
    """The environment of a user whose home is `home`: no Ray auth settings but what `extra` gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", RAY_ENABLE_UV_RUN_RUNTIME_ENV="0", **extra)
    return env


def _cli(args: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixkit.cli", *args], env=env, cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


def _run(cmd: list[str], env: dict) -> str:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def user_home(tmp_path_factory) -> Path:
    """A home with a Ray token, as any machine has after one local `ray.init()` (a local build)."""
    home = tmp_path_factory.mktemp("home")
    _run([RAY, "get-auth-token", "--generate"], _env(home))
    assert (home / ".ray" / "auth_token").read_text().strip()
    return home


@pytest.fixture(scope="module")
def local_build(user_home, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    res = _cli(["build", str(DEMO), "--out", str(out)], _env(user_home))
    assert res.returncode == 0, res.stdout
    return out, res.stdout


@pytest.fixture(scope="module")
def token_cluster(user_home):
    """`ray start --head` with its defaults (dashboard on: token auth on, the home has a token) and
    a second node joining with the token, as the README says. The dashboard and Ray Client ports
    are free ones so that this cluster never collides with another Ray on the machine."""
    port = str(_free_port())
    env = _env(user_home)
    try:
        out = _run([RAY, "start", "--head", "--port", port, "--dashboard-port", str(_free_port()),
                    "--ray-client-server-port", str(_free_port()), "--num-cpus", "1", "--disable-usage-stats"], env)
        assert "Token authentication is enabled" in out, out     # the case this module is about
        _run([RAY, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", "--disable-usage-stats"],
             _env(user_home, RAY_AUTH_MODE="token"))
        yield f"127.0.0.1:{port}"
    finally:
        _stop_cluster(port)
        _forget_cluster(port)


def test_local_build_terminal_holds_no_ray_log_lines(local_build):
    out, terminal = local_build
    assert not RAY_LINE.search(terminal), terminal
    ray_log = out / "logs" / "ray.log"
    assert f"Ray log:  {ray_log}" in terminal
    kept = ray_log.read_text()                           # what used to reach the terminal is kept here
    assert "ray.init(address=local)" in kept and RAY_LINE.search(kept), kept


def test_cluster_build_with_the_token_matches_local(token_cluster, user_home, local_build, tmp_path):
    """The token in ~/.ray/auth_token is enough: mixkit switches the client to token auth itself."""
    out = tmp_path / "cluster"
    res = _cli(["build", str(DEMO), "--out", str(out), "--address", token_cluster], _env(user_home))
    assert res.returncode == 0, res.stdout
    assert not RAY_LINE.search(res.stdout), res.stdout
    m = json.loads((out / "shards" / "manifest.json").read_text())
    assert m["engine"]["nodes"] == 2
    assert _shard_hashes(out / "shards") == _shard_hashes(local_build[0] / "shards")


def test_cluster_build_without_a_token_says_what_to_set(token_cluster, tmp_path):
    home = tmp_path / "home-without-token"
    home.mkdir()
    res = _cli(["build", str(DEMO), "--out", str(tmp_path / "o"), "--address", token_cluster], _env(home), timeout=300)
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stdout
    assert len(lines) == 1, res.stdout
    assert lines[0].startswith("error: ") and "RAY_AUTH_TOKEN" in lines[0] and "ray get-auth-token" in lines[0]
    assert "Traceback" not in res.stdout and "rerun" not in res.stdout


def test_a_wrong_address_fails_at_once_with_one_line(tmp_path):
    res = _cli(["build", str(DEMO), "--out", str(tmp_path / "o"), "--address", f"127.0.0.1:{_free_port()}"],
               _env(tmp_path), timeout=120)
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stdout
    assert "no Ray cluster answers at 127.0.0.1:" in lines[0] and "ray start --head" in lines[0]


def _forget_cluster(port: str) -> None:
    """`ray start --head` records its address in /tmp/ray/ray_current_cluster, where any later
    `ray.init()` without an address (Ray's auto-init too) would try to join this dead cluster."""
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        if current.read_text().strip().endswith(f":{port}"):
            current.unlink()
    except OSError:
        pass


def _stop_cluster(port: str) -> None:
    """Kill only this cluster's processes (`ray stop` would kill every Ray on the machine, other
    tests' too): those whose command line names its GCS port or its session, and their children."""
    import psutil

    pat = re.compile(rf"(?<!\d){port}(?!\d)")
    procs = [p for p in psutil.process_iter(["cmdline"]) if p.pid != os.getpid()]
    sessions = {m.group(0) for p in procs if pat.search(" ".join(p.info["cmdline"] or []))
                for m in [re.search(r"session_[0-9_-]+", " ".join(p.info["cmdline"] or []))] if m}
    doomed = {}
    for p in procs:
        cmd = " ".join(p.info["cmdline"] or [])
        if "ray" in cmd and (pat.search(cmd) or any(s in cmd for s in sessions)):
            doomed[p.pid] = p
            try:
                doomed.update({c.pid: c for c in p.children(recursive=True)})
            except psutil.Error:
                pass
    for p in doomed.values():
        try:
            p.kill()
        except psutil.Error:
            pass
