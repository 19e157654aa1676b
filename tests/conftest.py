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
def repo_root() -> Path:
    return ROOT
