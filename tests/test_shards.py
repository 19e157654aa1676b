import hashlib
import io
import json
import tarfile

import webdataset as wds
from PIL import Image

from mixkit.core.schema import make_row
from mixkit.core.shard_writer import ShardWriter


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, "JPEG")
    return buf.getvalue()


def _rows(n):
    out = []
    for i in range(n):
        imgs = [_jpeg((i * 7 % 255, 0, 0))] if i % 3 else [_jpeg((0, 0, 255)), _jpeg((0, 255, 0))]
        msgs = [{"role": "user", "content": "<image>" * len(imgs) + "\nDescribe."}, {"role": "assistant", "content": f"Bild {i} — Ünïcödé"}]
        out.append(make_row(source="s", origin_id=str(i), task="caption", lang="deu_Latn", messages=msgs, images=imgs))
    return out


def test_shards_bounded_atomic_and_readable_by_webdataset(tmp_path):
    rows = _rows(25)
    with ShardWriter(tmp_path, max_samples=10) as w:
        w.write_all(rows)
    infos = w.infos
    assert [i["samples"] for i in infos] == [10, 10, 5]
    assert not list(tmp_path.glob("*.tmp"))
    for info in infos:
        data = (tmp_path / info["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"]
    got = list(wds.WebDataset([str(tmp_path / i["path"]) for i in infos], shardshuffle=False))
    assert len(got) == 25
    first = got[0]
    doc = json.loads(first["json"])
    assert doc["id"] == rows[0]["id"] and doc["messages"][1]["content"].endswith("Ünïcödé")
    multi = [g for g in got if "0.jpg" in g]
    assert len(multi) == 9 and all("1.jpg" in g for g in multi)
    assert w.counts["by_lang"]["deu_Latn"] == 25


def test_byte_bound_and_determinism(tmp_path):
    rows = _rows(12)
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        with ShardWriter(d, max_samples=1000, max_bytes=30 * 1024) as w:
            w.write_all(rows)
    sa = sorted(p.name for p in a.glob("*.tar"))
    assert len(sa) > 1
    for name in sa:
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).stat().st_size <= 30 * 1024


def test_tar_headers_carry_no_time_or_owner(tmp_path):
    with ShardWriter(tmp_path) as w:
        w.write_all(_rows(2))
    with tarfile.open(tmp_path / "shard-00000.tar") as tf:
        for m in tf.getmembers():
            assert m.mtime == 0 and m.uid == 0 and m.uname == ""
