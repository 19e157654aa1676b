"""Shared fixtures. Ray starts once per test session (about 5 s here) and only for tests that ask."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Builds share a translation cache under $MIXKIT_CACHE_DIR: keep the tests' out of ~/.cache."""
    os.environ["MIXKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("mixkit_cache"))


@pytest.fixture(scope="session")
def ray_engine():
    from mixkit.runtime.engines import Engine

    eng = Engine(num_cpus=2)
    yield eng
    import ray

    ray.shutdown()


@pytest.fixture(scope="session")
def demo_build(ray_engine, tmp_path_factory):
    """recipes/demo.yaml built once on disk: the reference other builds are compared with."""
    from mixkit.build.recipe import load_recipe
    from mixkit.build.runner import build

    return build(load_recipe(ROOT / "recipes" / "demo.yaml"), tmp_path_factory.mktemp("demo"), progress=False,
                 engine=ray_engine)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3 server (SeaweedFS) on 127.0.0.1 for the whole session, with bucket `mix`."""
    from s3_server import S3Server

    server = S3Server(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


def _forget_filesystems() -> None:
    """fsspec keeps one filesystem per set of options, holding the credentials it was made with:
    a test that changes the environment must not meet another test's instance."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_env(s3, monkeypatch):
    """The server's credentials and endpoint in this process's environment, as a user sets them."""
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    _forget_filesystems()
    yield s3
    _forget_filesystems()
