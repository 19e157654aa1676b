"""mixkit on object storage, end to end against a real S3 server (SeaweedFS on 127.0.0.1, one per
session): the trainer's loader, the audit and the export read shards from the bucket directly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixkit.core import storage

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixkit.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, timeout=600)


@pytest.fixture(scope="module")
def tiny_shards(s3, tmp_path_factory):
    """The trainer's tiny shards, once on disk and once in the bucket (same rows, same writer)."""
    from mixkit.train.tiny import write_tiny_shards

    local = tmp_path_factory.mktemp("tiny_shards")
    write_tiny_shards(local, n=60, samples_per_shard=20)
    old = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    try:
        remote = write_tiny_shards("s3://mix/tiny", n=60, samples_per_shard=20)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert remote == [f"s3://mix/tiny/shard-0000{i}.tar" for i in range(3)]
    return local, "s3://mix/tiny"


def test_the_trainer_reads_the_bucket_as_it_reads_the_disk(tiny_shards, s3_env, tmp_path):
    from mixkit.train import train
    from mixkit.train.config import load_config

    local, remote = tiny_shards
    runs = {}
    for name, shards in (("disk", str(local / "*.tar")), ("s3", remote + "/shard-{00000..00002}.tar")):
        cfg = load_config(TINY)
        cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every = 4, 1, 100
        out = tmp_path / name
        summary = train(cfg, shards=shards, out_dir=str(out), max_steps=4)
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        runs[name] = ([r["loss"] for r in log if "loss" in r], summary["samples_by_lang"])
    assert len(runs["s3"][0]) == 4
    assert runs["s3"] == runs["disk"]                 # same batches, in the same order: same losses


def test_train_from_a_bucket_with_wrong_credentials_is_one_line(tiny_shards, s3, tmp_path):
    res = _cli(["train", str(TINY), "--shards", "s3://mix/tiny/*.tar", "--out", str(tmp_path / "run"),
                "--max-steps", "1"], s3.env(secret_key="wrong"))
    assert res.returncode == 2, res.stdout + res.stderr
    err = res.stderr.strip()
    assert err.startswith("error: s3://mix/tiny/*.tar: access denied") and len(err.splitlines()) == 1, err
    assert "Traceback" not in res.stdout + res.stderr
