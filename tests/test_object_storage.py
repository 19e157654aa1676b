"""mixkit on object storage, end to end against a real S3 server (SeaweedFS on 127.0.0.1, one per
session): the trainer's loader, the audit and the export read shards from the bucket directly."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mixkit.core import storage

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _cli(args: list[str], env: dict):
    """The `mixkit` command in this process (as a user runs it, with `env` set): exit code, stdout,
    stderr; `exception` is set when it raised instead of exiting."""
    import s3fs
    from typer.testing import CliRunner

    from mixkit.cli import app

    s3fs.S3FileSystem.clear_instance_cache()          # a filesystem keeps the credentials it was made with
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()


def _one_line_error(res, start: str) -> None:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    err = res.stderr.strip()
    assert err.startswith(start) and len(err.splitlines()) == 1, err


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
    _one_line_error(res, "error: s3://mix/tiny/*.tar: access denied")


def _same_but_where(doc, local: str, remote: str):
    """An audit's JSON with the shards' location spelled one way and its timings dropped."""
    text = json.dumps(doc, sort_keys=True).replace(local.rstrip("/"), remote)
    out = json.loads(text)
    for key in ("seconds", "samples_per_second", "mb_per_second"):
        out.pop(key, None)
    return out


def test_audit_reads_the_bucket_as_it_reads_the_disk(tiny_shards, s3_env):
    from mixkit.audit import audit_shards
    from mixkit.core.shard_format import write_manifest

    local, remote = tiny_shards
    counts = {"total": 60, "by_lang": {}}
    res = audit_shards(str(local), progress=False, workers=1).to_dict()
    counts["by_lang"] = {k: v["samples"] for k, v in res["by_lang"].items()}
    for where in (str(local), remote):
        write_manifest(where, {"counts": counts, "targets": {"by_lang": {}}, "shards": []})
    on_disk = audit_shards(str(local), progress=False, workers=2).to_dict()
    in_bucket = audit_shards(remote, progress=False, workers=2).to_dict()       # two processes, forked
    assert in_bucket["total_samples"] == 60 and in_bucket["errors"] == []
    assert in_bucket["manifest_check"]["path"] == remote + "/manifest.json" and in_bucket["manifest_check"]["matches"]
    assert _same_but_where(in_bucket, str(local), remote) == _same_but_where(on_disk, str(local), remote)


def test_audit_and_export_commands_on_the_bucket(tiny_shards, s3, tmp_path):
    local, remote = tiny_shards
    env = s3.env()
    res = _cli(["audit", remote + "/shard-{00000..00002}.tar", "--html", str(tmp_path / "report.html"), "-q"], env)
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/") >= 3            # gallery thumbnails read back from the bucket by offset
    for where, out in ((remote + "/*.tar", tmp_path / "from_s3"), (str(local), tmp_path / "from_disk")):
        res = _cli(["export", where, "--format", "llava", "--out", str(out), "-q"], env)
        assert res.exit_code == 0, res.output
    files = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    assert files(tmp_path / "from_s3") == files(tmp_path / "from_disk")
    _one_line_error(_cli(["audit", remote], s3.env(secret_key="wrong")), f"error: {remote}: access denied")
    bad = _cli(["export", "s3://nobucket/mix/*.tar", "--format", "llava", "--out", str(tmp_path / "x")], env)
    _one_line_error(bad, "error: s3://nobucket/mix/*.tar: bucket 'nobucket' does not exist; create it first")
    _one_line_error(_cli(["audit", "s3://nobucket/shards"], env), "error: s3://nobucket/shards: bucket 'nobucket'")


# -- sources ------------------------------------------------------------------------------------

DEMO_DATA = ROOT / "recipes" / "demo_data"


@pytest.fixture(scope="module")
def source_files(s3, tmp_path_factory):
    """The demo's source files (+ the same records as JSON Lines and as an Arrow file), once in a
    local folder and once under s3://mix/src/ (uploaded object by object)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    local = tmp_path_factory.mktemp("src")
    for name in ("captions_en.parquet", "instruct_en.json", "images", "native"):
        src = DEMO_DATA / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, local / name)
    records = json.loads((DEMO_DATA / "instruct_en.json").read_text())
    (local / "instruct_en.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:20]))
    table = pq.read_table(DEMO_DATA / "captions_en.parquet").slice(0, 40)
    with pa.ipc.new_stream(local / "captions.arrow", table.schema) as w:
        w.write_table(table)
    old = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    try:
        for f in sorted(p for p in local.rglob("*") if p.is_file()):
            storage.write_bytes("s3://mix/src/" + f.relative_to(local).as_posix(), f.read_bytes())
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return local


def _read_all(path: str, fmt: str, local: Path) -> tuple[list[dict], list[dict]]:
    """Every row and reject of a source, with the source's location spelled one way."""
    from mixkit.sources import read_source

    rows, rejects = [], []
    for r, j in read_source(path, source="s", format=fmt, task="caption"):
        rows += r
        rejects += j
    where = lambda doc: json.loads(json.dumps(doc).replace("s3://mix/src", str(local)))   # noqa: E731
    return rows, [where(j) for j in rejects]


@pytest.mark.parametrize("pattern,fmt", [
    ("captions_en.parquet", "parquet"),
    ("native/{deu_Latn,hin_Deva}.tar", "webdataset"),       # a brace pattern
    ("native/*.tar", "webdataset"),                           # a glob
    ("native", "webdataset"),                                 # a directory: a prefix on S3
    ("instruct_en.json", "llava"),                            # images by relative path, beside the file
    ("instruct_en.jsonl", "jsonl"),
    ("captions.arrow", "hf"),
])
def test_a_source_on_s3_reads_the_same_rows_as_on_disk(source_files, s3_env, pattern, fmt):
    from mixkit.sources import list_source_files

    local_rows, local_rejects = _read_all(str(source_files / pattern), fmt, source_files)
    s3_rows, s3_rejects = _read_all(f"s3://mix/src/{pattern}", fmt, source_files)
    assert len(local_rows) > 0 and len(s3_rows) == len(local_rows)
    assert s3_rows == local_rows                      # ids, messages, image bytes, meta: all equal
    assert s3_rejects == local_rejects
    files = list_source_files(f"s3://mix/src/{pattern}", fmt)
    assert [storage.name(f) for f in files] == [storage.name(f) for f in list_source_files(str(source_files / pattern), fmt)]
    if "{" in pattern:
        assert files == ["s3://mix/src/native/deu_Latn.tar", "s3://mix/src/native/hin_Deva.tar"]


def test_a_file_url_source_is_the_local_file(source_files):
    rows, _ = _read_all(f"file://{source_files}/native/*.tar", "webdataset", source_files)
    assert rows == _read_all(str(source_files / "native" / "*.tar"), "webdataset", source_files)[0]


def test_a_recipe_source_on_a_missing_bucket_or_protocol_names_the_url(s3_env, tmp_path):
    from mixkit.build.recipe import RecipeError, check_sources_exist, load_recipe

    text = (ROOT / "recipes" / "demo.yaml").read_text()
    for url, says in (("s3://nobucket/captions/*.parquet", "bucket 'nobucket' does not exist"),
                      ("gs://bucket/captions/*.parquet", "gs:// needs the gcsfs package (pip install gcsfs)")):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(text.replace("path: demo_data/captions_en.parquet", f"path: {url}"))
        r = load_recipe(recipe)
        assert r.sources[0].path == url                # a URL is not joined to the recipe's folder
        with pytest.raises(RecipeError) as e:
            check_sources_exist(r)
        msg = str(e.value)
        assert msg.startswith(f"{recipe}:") and "sources.0.path" in msg and url in msg and says in msg, msg


# -- builds -------------------------------------------------------------------------------------

DEMO = ROOT / "recipes" / "demo.yaml"


def _build_cli(args: list[str], env: dict, **kw):
    """`mixkit build` in its own process (its own Ray), as a user runs it."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "mixkit.cli", "build", str(DEMO), *args, "--quiet"],
                            env=dict(os.environ, PYTHONUNBUFFERED="1", **env), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _bucket_files(fs, prefix: str) -> dict[str, tuple[str, object]]:
    """Every object under a prefix: (sha256, last modified)."""
    import hashlib

    fs.invalidate_cache()
    return {p[len(prefix) + 1:]: (hashlib.sha256(fs.cat_file(p)).hexdigest(), fs.info(p)["LastModified"])
            for p in fs.find(prefix)}


@pytest.mark.slow
def test_a_demo_build_to_s3_is_killed_resumes_and_equals_the_local_build(demo_build, s3_env, tmp_path):
    """`mixkit build recipes/demo.yaml --out s3://mix/demo` (its steps' folder in the bucket too, as
    on a cluster whose nodes share no disk), killed (SIGKILL, every process) once the filter step is
    done, then rerun: the bucket's shards and rejects are the local build's bytes. A shard deleted
    from the bucket (with its sidecar) is written again alone. The bucket is audited and the tiny
    model trains from it."""
    import hashlib
    import signal
    import time

    import s3fs

    s3 = s3_env
    url = "s3://mix/demo"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    proc = _build_cli(["--out", url], s3.env(), start_new_session=True)
    marker = "mix/demo/steps/02_filter/_SUCCESS"
    deadline = time.time() + 300
    while time.time() < deadline and not fs.exists(marker) and proc.poll() is None:
        time.sleep(0.1)
        fs.invalidate_cache()
    assert proc.poll() is None, "the build ended before the kill: " + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "s3:").exists() and not (ROOT / "s3:").exists()      # was a local folder `s3:/mix/demo`

    fs.invalidate_cache()
    assert not fs.exists("mix/demo/shards/manifest.json")           # no commit yet
    assert fs.exists("mix/demo/steps/01_read/_SUCCESS") and not fs.exists("mix/demo/steps/07_mix/_SUCCESS")
    done = _build_cli(["--out", url], s3.env())
    log, _ = done.communicate(timeout=900)
    assert done.returncode == 0, log
    assert "work folder:" not in log and f"manifest: {url}/shards/manifest.json" in log     # one root: the URL

    local = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(demo_build.shards_dir.iterdir())
             if p.suffix in (".tar", ".parquet")}
    bucket = _bucket_files(fs, "mix/demo")
    assert {k.split("/")[-1]: v[0] for k, v in bucket.items() if k.startswith("shards/") and
            not k.endswith(".json")} == local                                  # shards and rejects, byte for byte
    assert sorted(k for k in bucket if not k.startswith(("shards/", "steps/"))) == ["recipe.sha256"]
    assert all(f"steps/07_mix/sidecars/shard-{i:05d}.json" in bucket for i in range(len(demo_build.manifest["shards"])))
    local_steps = sorted(str(p.relative_to(demo_build.work_dir)) for p in demo_build.work_dir.glob("steps/*/_SUCCESS"))
    assert sorted(k for k in bucket if k.startswith("steps/") and k.endswith("/_SUCCESS")
                  and k.count("/") == 2) == local_steps                        # the same steps complete
    assert not [k for k in bucket if k.endswith(".tmp")]                        # nothing renamed into place
    manifest = json.loads(fs.cat_file("mix/demo/shards/manifest.json"))
    assert manifest["shards"] == demo_build.manifest["shards"] and manifest["counts"] == demo_build.manifest["counts"]

    # a shard lost from the bucket (its sidecar kept): the rerun writes that one again, nothing else
    fs.rm("mix/demo/shards/shard-00001.tar")
    again = _build_cli(["--out", url], s3.env())
    log, _ = again.communicate(timeout=900)
    assert again.returncode == 0, log
    after = _bucket_files(fs, "mix/demo")
    published = lambda files: {k: v[0] for k, v in files.items()                       # noqa: E731
                               if (k.startswith("shards/") or "/sidecars/" in k) and k != "shards/manifest.json"}
    assert published(after) == published(bucket)
    kept = [k for k in bucket if k.endswith(".tar") and "00001" not in k]
    assert kept and all(after[k][1] == bucket[k][1] for k in kept)             # not rewritten
    steps = json.loads(fs.cat_file("mix/demo/shards/manifest.json"))["steps"]
    assert [s["name"] for s in steps if not s["resumed"]] == [] and "(resumed)" in log     # every step found complete

    # the bucket, audited and trained from directly
    from mixkit.audit import audit_shards
    from mixkit.train import train
    from mixkit.train.config import load_config

    res = audit_shards(f"{url}/shards", targets=manifest["targets"]["by_lang"], progress=False, workers=1).to_dict()
    assert res["errors"] == [] and res["total_samples"] == manifest["counts"]["total"]
    assert res["manifest_check"]["matches"]
    cfg = load_config(TINY)
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every = 3, 1, 100
    summary = train(cfg, shards=f"{url}/shards/shard-*.tar", out_dir=str(tmp_path / "run"), max_steps=3)
    assert summary["steps"] == 3 and sum(summary["samples_by_lang"].values()) > 0


def test_a_build_to_a_missing_bucket_or_with_wrong_credentials_is_one_line_and_loses_nothing(s3, tmp_path):
    import s3fs

    from mixkit.build.folder import local_folder

    url = "s3://mix/kept"
    old = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    try:
        s3fs.S3FileSystem.clear_instance_cache()
        storage.write_text(f"{url}/shards/manifest.json", "{}\n")           # what an earlier build left
        for out, env, says in (("s3://nobucket/demo", s3.env(), "error: s3://nobucket/demo: bucket 'nobucket' does not exist"),
                               (url, s3.env(secret_key="wrong"), f"error: {url}: access denied")):
            res = _cli(["build", str(DEMO), "--out", out, "--quiet"], env)
            _one_line_error(res, says)
            assert not local_folder(out).exists()                            # stopped before any work (no Ray log)
        s3fs.S3FileSystem.clear_instance_cache()
        assert storage.find(url) == [f"{url}/shards/manifest.json"]
        assert storage.read_text(f"{url}/shards/manifest.json") == "{}\n"
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        s3fs.S3FileSystem.clear_instance_cache()


def test_a_url_out_works_in_its_bucket_and_its_stamp_refuses_another_recipe(s3_env, tmp_path, monkeypatch):
    from mixkit.build.folder import BuildFolder

    monkeypatch.setenv("MIXKIT_CACHE_DIR", str(tmp_path / "cache"))
    f = BuildFolder.of("s3://mix/stamped")
    assert f.root == storage.URLPath("s3://mix/stamped") and f.shards == "s3://mix/stamped/shards"
    assert str(f.step_dir(7, "mix")) == "s3://mix/stamped/steps/07_mix"
    assert f.published(f.step_dir(7, "mix"), "sidecars") == "s3://mix/stamped/steps/07_mix/sidecars"
    assert f.logs.parent.parent == tmp_path / "cache" / "builds"                     # Ray's logs stay local
    assert BuildFolder.of("s3://mix/stamped/").root == f.root                       # one URL, one work folder
    on_disk = BuildFolder.of("s3://mix/stamped", tmp_path / "work")                # --work on a (shared) disk
    assert on_disk.root == tmp_path / "work" and on_disk.logs == tmp_path / "work" / "logs"
    assert on_disk.published(on_disk.step_dir(7, "mix"), "sidecars") == "s3://mix/stamped/steps/07_mix/sidecars"
    local = BuildFolder.of(tmp_path / "runs")
    assert local.root == tmp_path / "runs" and local.out == str(tmp_path / "runs")  # as before: one folder
    assert local.published(local.step_dir(7, "mix"), "sidecars") == str(tmp_path / "runs/steps/07_mix/sidecars")
    f.claim("a" * 64)
    assert storage.read_text("s3://mix/stamped/recipe.sha256") == "a" * 64 + "\n"
    with pytest.raises(RuntimeError, match=r"^s3://mix/stamped holds a build of a different recipe"):
        BuildFolder.of("s3://mix/stamped", tmp_path / "elsewhere").claim("b" * 64)   # the work folder is new


def test_a_build_into_a_folder_of_another_recipe_is_one_line(tmp_path):
    out = tmp_path / "other"
    out.mkdir()
    (out / "recipe.sha256").write_text("b" * 64 + "\n")
    res = _cli(["build", str(ROOT / "recipes" / "demo.yaml"), "--out", str(out), "--quiet"], {})
    _one_line_error(res, f"error: {out} holds a build of a different recipe (sha256 bbbbbbbbbbbb…)")
    assert sorted(p.name for p in out.iterdir()) == ["recipe.sha256"]     # nothing written


def test_the_recipe_names_the_work_folder_and_the_build_prints_it(s3, tmp_path):
    recipe = tmp_path / "demo.yaml"
    text = (ROOT / "recipes" / "demo.yaml").read_text().replace("demo_data/", str(ROOT / "recipes" / "demo_data") + "/")
    recipe.write_text(text.replace("output:\n", f"output:\n  work: {tmp_path / 'work'}\n"))
    res = _cli(["build", str(recipe), "--out", "s3://nobucket/demo", "--quiet"], s3.env())
    _one_line_error(res, "error: s3://nobucket/demo: bucket 'nobucket' does not exist")
    assert f"work folder: {tmp_path / 'work'}" in res.stdout and not (tmp_path / "work").exists()
    res = _cli(["build", str(recipe), "--out", "s3://mix/demo", "--work", "s3://nobucket/work"], s3.env())
    _one_line_error(res, "error: s3://nobucket/work: bucket 'nobucket' does not exist")        # checked first too


def test_the_default_local_translation_cache_on_a_cluster_warns():
    """A cluster of several nodes with the default cache (a local folder): each node would keep its
    own, so the build warns and names the setting; a bucket, a chosen folder or one node: quiet."""
    from mixkit.build.steps.translate import shared_cache_warning

    msg = shared_cache_warning("/home/u/.cache/mixkit/translation", 4, chosen=False)
    assert "4-node cluster" in msg and "steps.translate.cache_dir" in msg and "/home/u/.cache/mixkit/translation" in msg
    assert shared_cache_warning("/home/u/.cache/mixkit/translation", 1, chosen=False) == ""
    assert shared_cache_warning("/nfs/cache/translation", 4, chosen=True) == ""
    assert shared_cache_warning("s3://bucket/cache/translation", 4, chosen=True) == ""
