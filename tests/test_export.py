"""`mixkit export`: LLaVA JSON + images and a parquet folder `datasets` loads, read through the one tar reader."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from mixkit.export import export_shards
from tar_members import write_tar
from mixkit.core.schema import make_row
from mixkit.core.shard_writer import ShardWriter


def _img(colour, fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, format=fmt)
    return buf.getvalue()


RED, BLUE = _img((255, 0, 0)), _img((0, 0, 255), "PNG")


def _rows():
    def conv(q, a, n_img=1):
        return [{"role": "user", "content": "<image>\n" * n_img + q}, {"role": "assistant", "content": a}]
    return [
        make_row(source="captions", origin_id="1", task="caption", lang="deu_Latn", images=[RED],
                 messages=conv("Beschreibe das Bild.", "Ein rotes Quadrat."), meta={"k": 1}),
        make_row(source="instruct", origin_id="2", task="instruct", lang="eng_Latn", images=[RED, BLUE],
                 messages=[{"role": "system", "content": "Be brief."}, *conv("Compare.", "Red vs blue.", 2)]),
        make_row(source="text", origin_id="3", task="text", lang="fra_Latn", images=[],
                 messages=[{"role": "user", "content": "Bonjour ?"}, {"role": "assistant", "content": "Salut."}]),
    ]


def _shards(tmp_path: Path) -> Path:
    d = tmp_path / "shards"
    with ShardWriter(d, max_samples=2) as w:            # two shards: 2 + 1 samples
        w.write_all(_rows())
    # a hostile extra shard: one good sample and a climbing member (refused, counted as skipped)
    with tarfile.open(d / "shard-00002.tar", "w") as tf:
        row = make_row(source="captions", origin_id="4", task="caption", lang="eng_Latn", images=[RED],
                       messages=[{"role": "user", "content": "<image>\nDescribe."}, {"role": "assistant", "content": "Red."}])
        from mixkit.core.shard_format import sample_members
        for name, data in [*sample_members(row), ("../../x.json", b"{}")]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return d


def test_llava_export_references_images_that_exist(tmp_path):
    res = export_shards(_shards(tmp_path), tmp_path / "llava", format="llava")
    out = tmp_path / "llava"
    data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    assert res.samples == len(data) == 4 and res.images == 4
    assert dict(res.skipped) == {"unsafe_member_name": 1}
    by_lang = {r["lang"]: r for r in data if r["source"] != "captions" or r["lang"] == "deu_Latn"}
    de = by_lang["deu_Latn"]
    assert isinstance(de["image"], str) and de["conversations"][0] == {"from": "human",
                                                                       "value": "<image>\nBeschreibe das Bild."}
    assert de["conversations"][1]["from"] == "gpt"
    two = by_lang["eng_Latn"]
    assert isinstance(two["image"], list) and len(two["image"]) == 2 and two["conversations"][0]["from"] == "system"
    assert (out / two["image"][1]).read_bytes() == BLUE and two["image"][1].endswith(".png")
    assert "image" not in by_lang["fra_Latn"]
    for rec in data:                                   # every referenced image exists, under DIR/images
        for p in [rec["image"]] if isinstance(rec.get("image"), str) else rec.get("image", []):
            assert (out / p).is_file() and p.startswith("images/")
            Image.open(out / p).verify()
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mixkit"]["file_name"] == "data.json" and info["mixkit"]["formatting"] == "sharegpt"


def test_parquet_export_loads_with_datasets(tmp_path):
    import datasets

    res = export_shards(_shards(tmp_path), tmp_path / "pq", format="parquet")
    assert res.samples == 4 and sorted(res.files) == [f"part-{i:05d}.parquet" for i in range(3)]
    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "pq"), split="train")
    assert ds.num_rows == 4
    assert {"id", "lang", "task", "source", "messages", "images", "meta"} <= set(ds.column_names)
    rows = {r["origin_id"]: r for r in ds.cast_column("images", datasets.Sequence(datasets.Image(decode=False)))}
    assert rows["2"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [im["bytes"] for im in rows["2"]["images"]] == [RED, BLUE]
    assert rows["3"]["images"] == [] and rows["1"]["lang"] == "deu_Latn" and json.loads(rows["1"]["meta"]) == {"k": 1}
    decoded = ds[0]["images"][0]                         # the Image feature decodes on access
    assert decoded.size == (16, 16)


def test_export_refuses_a_non_empty_folder_and_unknown_format(tmp_path):
    shards = _shards(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        export_shards(shards, tmp_path / "busy", format="llava")
    with pytest.raises(ValueError, match="unknown export format"):
        export_shards(shards, tmp_path / "new", format="csv")


def test_export_cli(tmp_path):
    from mixkit.cli.export import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    shards = _shards(tmp_path)
    ok = CliRunner().invoke(app, ["export", str(shards), "--format", "llava", "--out", str(tmp_path / "o"), "-q"])
    assert ok.exit_code == 0, ok.output
    assert "4 samples" in ok.output and "unsafe_member_name: 1" in ok.output
    bad = CliRunner().invoke(app, ["export", str(shards), "--format", "csv", "--out", str(tmp_path / "p"), "-q"])
    said = " ".join(bad.output.replace("│", " ").split())          # rich wraps the error in a box
    assert bad.exit_code == 2 and "'csv' is not one of 'llava', 'parquet'" in said   # choices: mixkit.export.FORMATS


def test_missing_shard_of_a_brace_pattern_is_reported(tmp_path):
    shards = _shards(tmp_path)
    res = export_shards(str(shards / "shard-{00000..00003}.tar"), tmp_path / "o", format="parquet")
    assert res.samples == 4 and res.skipped["unreadable_shard"] == 1
    assert "shard-00003.tar" in res.summary()


_foreign_tar = write_tar


def _doc(sid, messages=None) -> bytes:
    return json.dumps({"id": sid, "messages": messages or [{"role": "user", "content": "<image>\nq"},
                                                           {"role": "assistant", "content": "a"}]}).encode()


def test_llava_export_never_overwrites_an_image_of_another_sample(tmp_path):
    # Other tools' shards: the same keys in train.0000.tar / train.0001.tar (one stem before the
    # first dot), and keys that differ only in characters a file name cannot keep.
    d = tmp_path / "in"
    d.mkdir()
    green = _img((0, 255, 0))
    _foreign_tar(d / "train.0000.tar", [("000.json", _doc("a")), ("000.jpg", RED)])
    _foreign_tar(d / "train.0001.tar", [("000.json", _doc("b")), ("000.jpg", green)])
    _foreign_tar(d / "z.tar", [("d/a.b/0.json", _doc("c")), ("d/a.b/0.jpg", RED),
                               ("d/a_b/0.json", _doc("e")), ("d/a_b/0.jpg", green)])
    res = export_shards(d, tmp_path / "o", format="llava")
    data = json.loads((tmp_path / "o" / "data.json").read_text(encoding="utf-8"))
    assert res.samples == 4 and not res.skipped
    paths = [r["image"] for r in data]
    assert len(set(paths)) == 4, paths
    want = {"a": RED, "b": green, "c": RED, "e": green}
    for r in data:
        assert (tmp_path / "o" / r["image"]).read_bytes() == want[r["id"]]


@pytest.mark.parametrize("fmt", ["llava", "parquet"])
def test_export_counts_malformed_messages_and_placeholder_mismatch(tmp_path, fmt):
    d = tmp_path / "in"
    d.mkdir()
    _foreign_tar(d / "x.tar", [
        ("ok.json", _doc("ok")), ("ok.jpg", RED),
        ("parts.json", _doc("parts", [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                      {"role": "assistant", "content": "x"}])),
        ("strs.json", json.dumps({"id": "strs", "source": 5, "messages": ["nope"]}).encode()),
        ("noimg.json", _doc("noimg")),                                   # <image> but no image member
        ("two.json", _doc("two")), ("two.0.jpg", RED), ("two.1.png", BLUE),   # one <image>, two images
    ])
    res = export_shards(d, tmp_path / "o", format=fmt)
    assert res.samples == 1 and res.images == 1
    assert dict(res.skipped) == {"bad_record": 2, "placeholder_mismatch": 2}
