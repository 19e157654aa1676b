"""mixkit.core.storage against a real S3 server (SeaweedFS on 127.0.0.1) and the local disk:
commits, streaming reads, listings with brace patterns, one-line errors."""
from __future__ import annotations

import os

import fsspec
import pytest

from mixkit.core import storage
from mixkit.core.shard_format import TarSample, expand_shards, iter_tar
from mixkit.core.shard_writer import ShardWriter


def _objects(prefix: str) -> list[str]:
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return sorted(fs.find(prefix.removeprefix("s3://")))


def _pending_uploads() -> list:
    return fsspec.filesystem("s3").call_s3("list_multipart_uploads", Bucket="mix").get("Uploads") or []


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_write_appears_only_when_committed(where, s3_env, tmp_path):
    base = str(tmp_path) if where == "local" else "s3://mix/commit"
    url = storage.join(base, "a.bin")
    w = storage.AtomicWrite(url)
    w.write(b"x" * 1000)
    assert not storage.exists(url)
    w.commit()
    assert storage.read_bytes(url) == b"x" * 1000
    # an exception inside the block leaves nothing, also after parts were uploaded (> WRITE_BLOCK)
    big = storage.join(base, "big.bin")
    with pytest.raises(RuntimeError):
        with storage.AtomicWrite(big) as f:
            f.write(os.urandom(storage.WRITE_BLOCK + 1000))
            raise RuntimeError("killed halfway")
    assert not storage.exists(big)
    assert storage.glob(storage.join(base, "*")) == [url]        # no .tmp, no stray object
    if where == "s3":
        assert _pending_uploads() == []                         # the multipart upload was aborted


def test_a_multipart_write_is_byte_exact(s3_env):
    data = os.urandom(2 * storage.WRITE_BLOCK + 12345)
    with storage.AtomicWrite("s3://mix/mp/data.bin") as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i:i + (1 << 20)])
    assert storage.size("s3://mix/mp/data.bin") == len(data)
    assert storage.read_bytes("s3://mix/mp/data.bin") == data


def test_a_remote_file_is_streamed_not_fetched_whole(s3_env):
    data = os.urandom(8 << 20)
    storage.write_bytes("s3://mix/stream/big.bin", data)
    with storage.open_read("s3://mix/stream/big.bin", block_size=1 << 20) as f:
        assert f.read(1000) == data[:1000]
        fetched = f.raw.cache.total_requested_bytes
        assert fetched <= 2 << 20, fetched                       # a block or two, not 8 MiB
        assert f.read() == data[1000:]                           # and the rest, block by block
        assert f.raw.cache.total_requested_bytes >= len(data) - 1000


def test_glob_with_braces_lists_the_same_on_s3_and_disk(s3_env, tmp_path):
    names = ["a-000.tar", "a-001.tar", "a-002.tar", "b-000.tar", "notes.txt"]
    for n in names:
        (tmp_path / n).write_bytes(n.encode())
        storage.write_bytes(f"s3://mix/glob/{n}", n.encode())
    for pattern in ("a-{000..001}.tar", "{a,b}-000.tar", "*.tar", "a-00[12].tar", "{a-*,notes*}"):
        local = [storage.name(p) for p in storage.glob(str(tmp_path / pattern))]
        remote = storage.glob(f"s3://mix/glob/{pattern}")
        assert all(r.startswith("s3://mix/glob/") for r in remote)
        assert [storage.name(p) for p in remote] == local, pattern
    assert storage.list_files("s3://mix/glob", (".tar",)) == [f"s3://mix/glob/{n}" for n in names[:4]]
    assert storage.list_files("s3://mix/glob/none") == []
    assert storage.list_files("s3://mix/glob/buckets") == storage.list_entries("s3://mix/glob/buckets") == []
    assert storage.is_dir("s3://mix/glob") and not storage.is_dir("s3://mix/glob/notes.txt")


def test_shards_on_s3_read_as_on_disk(s3_env, tmp_path):
    rows = [{"id": f"{i:04x}", "origin_id": str(i), "source": "s", "task": "caption", "lang": "eng_Latn",
             "messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": f"c {i}"}],
             "images": [b"\x89PNG\r\n\x1a\n" + bytes(100)], "meta": "{}"} for i in range(30)]
    for out in (tmp_path, "s3://mix/shards"):
        with ShardWriter(out, max_samples=10) as w:
            w.write_all(rows)
    local = expand_shards(str(tmp_path))
    remote = expand_shards("s3://mix/shards")
    assert remote == [f"s3://mix/shards/shard-0000{i}.tar" for i in range(3)]
    assert [storage.name(p) for p in local] == [storage.name(p) for p in remote]
    assert expand_shards("s3://mix/shards/shard-{00000..00001}.tar") == remote[:2]
    assert expand_shards("s3://mix/shards/*.tar") == remote
    for a, b in zip(local, remote):
        assert storage.read_bytes(a) == storage.read_bytes(b)
        ka = [(s.key, s.members) for s in iter_tar(a) if isinstance(s, TarSample)]
        kb = [(s.key, s.members) for s in iter_tar(b) if isinstance(s, TarSample)]
        assert ka == kb and len(ka) == 10
    with pytest.raises(FileNotFoundError, match="no shard matches"):
        expand_shards("s3://mix/shards/*.tgz")
    with pytest.raises(FileNotFoundError, match="shard not found: s3://mix/shards/nope.tar"):
        expand_shards("s3://mix/shards/nope.tar")


def test_a_failed_shard_leaves_no_object(s3_env):
    w = ShardWriter("s3://mix/failed", max_samples=5)
    with pytest.raises(ValueError):
        with w:
            w.write({"id": "a", "origin_id": "a", "source": "s", "task": "t", "lang": "eng_Latn",
                     "messages": [], "images": [], "meta": "{}"})
            w.write({"id": "bad.id"})     # a key with a dot: the writer refuses it mid-shard
    assert _objects("s3://mix/failed") == []


def test_wrong_credentials_and_missing_bucket_are_one_line_naming_the_url(s3, monkeypatch):
    import s3fs

    for k, v in s3.env(secret_key="wrong").items():
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(storage.StorageError) as e:
        storage.read_bytes("s3://mix/anything.json")
    msg = str(e.value)
    assert msg.startswith("s3://mix/anything.json: access denied") and "\n" not in msg
    assert "AWS_ACCESS_KEY_ID" in msg and "wrong" not in msg            # says what to check, not the secret
    with pytest.raises(storage.StorageError, match="access denied"):
        storage.check_writable("s3://mix/out")
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(storage.StorageError, match=r"^s3://nobucket/x: bucket 'nobucket' does not exist"):
        storage.check_writable("s3://nobucket/x")
    with pytest.raises(storage.StorageError, match="bucket 'nobucket' does not exist"):
        storage.list_files("s3://nobucket/x")
    # a missing object stays a FileNotFoundError (callers test for it), not a storage error
    with pytest.raises(FileNotFoundError) as e:
        storage.read_bytes("s3://mix/no-such-object")
    assert not isinstance(e.value, storage.StorageError)
    s3fs.S3FileSystem.clear_instance_cache()


def test_a_protocol_without_its_package_names_the_package():
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    with pytest.raises(storage.StorageError, match=r"^gs://b/x\.tar: gs:// needs the gcsfs package \(pip install gcsfs\)"):
        storage.exists("gs://b/x.tar")


def test_names_of_urls_and_paths(tmp_path):
    assert storage.join("s3://b/x/", "steps", "01_read") == "s3://b/x/steps/01_read"
    assert storage.join(str(tmp_path), "a") == str(tmp_path / "a")
    assert storage.join("file://" + str(tmp_path), "a") == str(tmp_path / "a")
    assert storage.name("s3://b/x/shard-00000.tar") == "shard-00000.tar"
    assert storage.parent("s3://b/x/shard-00000.tar") == "s3://b/x"
    assert storage.is_remote("s3://b") and storage.is_remote("hf://datasets/x") and not storage.is_remote("file:///x")
    assert not storage.is_remote("/a/b")
    assert storage.display("s3://key:secret@bucket/x") == "s3://bucket/x"
    assert storage.display("/plain/path") == "/plain/path"


def test_a_second_server_beside_the_first_shares_no_port(s3, tmp_path):
    """Two test sessions on one machine (CI and a developer, or a rerun) each get their own server."""
    from s3_server import S3Server

    other = S3Server(tmp_path).start()
    try:
        assert not set(other.ports.values()) & set(s3.ports.values())
        fs = fsspec.filesystem("s3", key=other.env()["AWS_ACCESS_KEY_ID"], secret=other.env()["AWS_SECRET_ACCESS_KEY"],
                               client_kwargs={"endpoint_url": other.endpoint}, skip_instance_cache=True)
        fs.pipe_file("mix/only-here.txt", b"2")
        assert fs.cat_file("mix/only-here.txt") == b"2"
    finally:
        other.stop()
    assert other.proc.poll() is not None                   # stopped: its process is gone


def test_an_object_written_elsewhere_after_a_listing_is_read(s3_env):
    """s3fs keeps a folder's listing and answered "not found" from it for an object another
    process (a worker writing a shard's sidecar) wrote since."""
    import s3fs

    storage.write_text("s3://mix/listed/a.json", "a")
    assert storage.list_files("s3://mix/listed") == ["s3://mix/listed/a.json"]
    s3fs.S3FileSystem(skip_instance_cache=True).pipe_file("mix/listed/b.json", b"b")   # another client
    assert storage.read_text("s3://mix/listed/b.json") == "b"
    with storage.open_read("s3://mix/listed/b.json") as f:
        assert f.read() == b"b"


def test_many_small_files_read_at_once_in_order(s3_env, tmp_path):
    names = [f"s-{i:03d}.json" for i in range(40)]
    for base in ("s3://mix/many", str(tmp_path)):
        for i, n in enumerate(names):
            storage.write_text(storage.join(base, n), str(i))
        assert storage.read_many([storage.join(base, n) for n in reversed(names)]) == \
            [str(i).encode() for i in reversed(range(40))]
    with pytest.raises(FileNotFoundError):
        storage.read_many(["s3://mix/many/s-000.json", "s3://mix/many/nope.json"])


def test_a_writer_killed_mid_upload_leaves_no_object(s3_env):
    """SIGKILL after a part of a multipart upload went out: no object under the name, only an
    unfinished upload (invisible; a bucket lifecycle rule clears those)."""
    import signal
    import subprocess
    import sys

    code = ("import os, sys, time\n"
            "from mixkit.core import storage\n"
            "w = storage.AtomicWrite('s3://mix/killed/big.bin')\n"
            "w.write(os.urandom(storage.WRITE_BLOCK + 1000))\n"      # the first part is uploaded here
            "print('written', flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not storage.exists("s3://mix/killed/big.bin") and _objects("s3://mix/killed") == []
    pending = [u for u in _pending_uploads() if u["Key"] == "killed/big.bin"]
    assert len(pending) == 1                                     # the part went out; never completed
    fsspec.filesystem("s3").call_s3("abort_multipart_upload", Bucket="mix", Key="killed/big.bin",
                                    UploadId=pending[0]["UploadId"])


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_folder_of_partitions_works_the_same_on_disk_and_in_a_bucket(where, s3_env, tmp_path):
    """What the build's steps do with their folder (storage.path): join, write atomically, list,
    mark done, read back, remove; the same calls on a Path and on a URLPath."""
    import pyarrow as pa

    from mixkit.runtime.partitions import is_done, mark_done, parts, read_table, write_table_atomic

    root = storage.path(str(tmp_path / "w") if where == "local" else "s3://mix/paths-test/w")
    d = root / "steps" / "02_filter"
    d.mkdir(parents=True, exist_ok=True)
    assert not is_done(d) and parts(d) == []
    for i in (1, 0):
        write_table_atomic(pa.table({"id": [f"r{i}", "x"]}), d / f"part-{i:05d}.parquet")
    (d / "stats.json").write_text('{"rows": 4}\n')
    mark_done(d)
    assert is_done(d) and [p.name for p in parts(d)] == ["part-00000.parquet", "part-00001.parquet"]
    assert read_table(parts(d)[1], columns=["id"])["id"].to_pylist() == ["r1", "x"]
    assert sorted(p.name for p in d.iterdir()) == ["_SUCCESS", "part-00000.parquet", "part-00001.parquet",
                                                    "stats.json"]
    assert sorted(p.name for p in root.glob("steps/*")) == ["02_filter"] and (root / "steps").is_dir()
    assert (d / "stats.json").read_text() == '{"rows": 4}\n' and (d / "stats.json").stem == "stats"
    assert d.relative_to(root).parts == ("steps", "02_filter") and d.parent.parent == root
    assert storage.path(str(d)) == d and str(d / "a" / "b.parquet").endswith("02_filter/a/b.parquet")
    (d / "stats.json").unlink()
    assert not (d / "stats.json").exists() and not (d / "nothing").exists()
    storage.remove_tree(root)
    if where == "local":
        assert not root.exists()
    else:                       # no object left (SeaweedFS keeps empty folder entries; S3 has none)
        assert storage.find(root) == []
        assert isinstance(d, storage.URLPath) and "s3://mix/paths-test/w/steps/02_filter" == str(d)
        with pytest.raises(ValueError, match="AtomicWrite"):
            d.joinpath("x").open("wb")
