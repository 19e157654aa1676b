"""Source readers: every format read into schema rows, every bad record rejected with a reason."""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tar_members import write_tar
from mixkit.core.schema import image_count, rows_to_table
from mixkit.sources import (CAPTION_PROMPT, REJECT_REASONS, SourceError, detect_format, list_source_files,
                            read_source_file)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo_data"


def _img(colour=(200, 30, 30), fmt="JPEG", size=24) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format=fmt)
    return buf.getvalue()


JPG, PNG = _img(), _img((10, 200, 10), "PNG")
JPG2 = _img((0, 0, 250))


def read_all(path, **kw) -> tuple[list[dict], list[dict]]:
    kw.setdefault("source", "src")
    kw.setdefault("task", "caption")
    rows, rejects = [], []
    for f in list_source_files(str(path), kw.get("format"), source=kw["source"]):
        for r, j in read_source_file(f, **{"format": "auto", **kw}):
            rows += r
            rejects += j
    rows_to_table(rows)  # every row fits the one schema
    return rows, rejects


def reasons(rejects) -> Counter:
    return Counter(r["reason"] for r in rejects)


_tar = write_tar


# ------------------------------------------------------------------------------ formats


def test_parquet_captions_binary_and_hf_image_struct(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b", "c"], "caption": ["A red square.", "A green one.", "Blue."],
                             "image": [JPG, PNG, JPG2]}), tmp_path / "caps.parquet", row_group_size=2)
    # The struct {bytes, path} layout HF datasets writes for an Image column, plus `text`.
    pq.write_table(pa.table({"text": ["From a struct."],
                             "image": [{"bytes": PNG, "path": "x.png"}]}), tmp_path / "hf_style.parquet")
    rows, rejects = read_all(tmp_path, source="caps")
    assert rejects == []
    assert [r["origin_id"] for r in rows] == ["a", "b", "c", "hf_style.parquet:0"]
    first = rows[0]
    assert first["messages"] == [{"role": "user", "content": "<image>\n" + CAPTION_PROMPT["eng_Latn"]},
                                 {"role": "assistant", "content": "A red square."}]
    assert first["images"] == [JPG] and rows[3]["images"] == [PNG]  # bytes untouched, never decoded
    assert first["lang"] == "eng_Latn" and first["task"] == "caption" and first["source"] == "caps"
    # ids are stable: the same file read again gives the same ids
    again, _ = read_all(tmp_path, source="caps")
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    assert len({r["id"] for r in rows}) == 4


def test_batches_are_bounded(tmp_path):
    pq.write_table(pa.table({"caption": [f"c{i}" for i in range(10)], "image": [JPG] * 10}), tmp_path / "x.parquet")
    batches = list(read_source_file(str(tmp_path / "x.parquet"), source="s", format="parquet", task="caption",
                                    batch_rows=4))
    assert [len(r) for r, _ in batches] == [4, 4, 2]


def test_jsonl_messages_lang_override_and_bad_lines(tmp_path):
    (tmp_path / "img.png").write_bytes(PNG)
    good = {"id": "m1", "lang": "de", "image": "img.png",
            "messages": [{"role": "user", "content": "<image>\nWas ist das?"},
                         {"role": "assistant", "content": "Ein grünes Quadrat."}]}
    text_only = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": "Hello."}]}
    lines = [
        json.dumps(good).encode(),
        b'{"messages": [ broken',                                             # bad_json
        '{"caption": "caf\u00e9", "image": "img.png"}'.encode("latin-1"),     # bad_utf8
        json.dumps({"id": "e", "image": "img.png", "messages": [
            {"role": "user", "content": "<image>\nQ"}, {"role": "assistant", "content": "  "}]}).encode(),  # empty
        json.dumps({"id": "r", "messages": [{"role": "robot", "content": "x"}]}).encode(),  # bad_record
        json.dumps({"id": "nolang", "lang": "Klingon", "caption": "x", "image": "img.png"}).encode(),
        b"",
        json.dumps(text_only).encode(),
    ]
    (tmp_path / "d.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    rows, rejects = read_all(tmp_path / "d.jsonl", task="instruct")
    assert [r["origin_id"] for r in rows] == ["m1", "d.jsonl:7"]
    assert rows[0]["lang"] == "deu_Latn"                 # record's lang overrides the default
    assert rows[0]["images"] == [PNG]
    assert rows[1]["images"] == [] and [m["role"] for m in rows[1]["messages"]] == ["system", "user", "assistant"]
    assert reasons(rejects) == Counter({"bad_json": 1, "bad_utf8": 1, "empty_text": 1, "bad_record": 2})
    by = {r["reason"]: r["detail"] for r in rejects}
    assert "line 2" in by["bad_json"] and "d.jsonl" in by["bad_json"]
    assert "line 3" in by["bad_utf8"]
    assert all(r["step"] == "read" and r["source"] == "src" for r in rejects)
    assert any("Klingon" in r["detail"] for r in rejects)
    assert len(rows) + len(rejects) == 7                 # 8 lines, one blank


def test_llava_json_paths_lists_and_bad_records(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "a.jpg").write_bytes(JPG)
    (imgs / "b.png").write_bytes(PNG)
    (imgs / "notimg.jpg").write_bytes(b"this is not an image at all")
    conv = lambda *vals: [{"from": f, "value": v} for f, v in vals]  # noqa: E731
    data = [
        {"id": "one", "image": "a.jpg", "conversations": conv(("human", "<image>\nWhat colour?"), ("gpt", "Red."),
                                                              ("human", "Sure?"), ("gpt", "Yes."))},
        {"id": "two", "image": ["a.jpg", "b.png"],
         "conversations": conv(("system", "You see images."), ("human", "<image>\n<image>\nCompare."),
                               ("gpt", "Red vs green."))},
        {"id": "miss", "image": "nope.jpg", "conversations": conv(("human", "<image>\nQ"), ("gpt", "A"))},
        {"id": "mism", "image": "a.jpg", "conversations": conv(("human", "<image>\nQ <image>"), ("gpt", "A"))},
        {"id": "noimg_ph", "conversations": conv(("human", "<image>\nQ"), ("gpt", "A"))},
        {"id": "fmt", "image": "notimg.jpg", "conversations": conv(("human", "<image>\nQ"), ("gpt", "A"))},
        {"id": "emptyturn", "image": "a.jpg", "conversations": conv(("human", "<image>\nQ"), ("gpt", ""))},
        {"id": "nofields", "image": "a.jpg"},
        "not an object",
    ]
    (tmp_path / "llava.json").write_text(json.dumps(data))
    rows, rejects = read_all(tmp_path / "llava.json", task="instruct", image_root=str(imgs))
    assert [r["origin_id"] for r in rows] == ["one", "two"]
    assert rows[0]["messages"][2] == {"role": "user", "content": "Sure?"}
    assert rows[1]["images"] == [JPG, PNG] and rows[1]["messages"][0]["role"] == "system"
    assert image_count(rows[1]["messages"]) == 2
    got = {r["origin_id"]: r["reason"] for r in rejects}
    assert got == {"miss": "missing_image", "mism": "placeholder_mismatch", "noimg_ph": "placeholder_mismatch",
                   "fmt": "unknown_image_format", "emptyturn": "empty_text", "nofields": "bad_record",
                   "llava.json:8": "bad_record"}
    assert "nope.jpg" in next(r["detail"] for r in rejects if r["origin_id"] == "miss")
    assert "item 3" in next(r["detail"] for r in rejects if r["origin_id"] == "mism")


def test_llava_json_whole_file_malformed_is_one_reject(tmp_path):
    (tmp_path / "bad.json").write_text('[{"id": "x", "conversations": []},')
    rows, rejects = read_all(tmp_path / "bad.json")
    assert rows == [] and reasons(rejects) == Counter({"bad_json": 1})
    assert "bad.json" in rejects[0]["detail"]


BOM = b"\xef\xbb\xbf"


def test_jsonl_bom_and_raw_line_separators_in_strings(tmp_path):
    """Lines end at \\n only (the JSON Lines spec): U+2028/U+2029, which json.dumps(ensure_ascii=False)
    writes raw, stay inside their string; a leading BOM is dropped; errors count \\n lines."""
    (tmp_path / "img.png").write_bytes(PNG)
    recs = [{"id": "a", "image": "img.png", "caption": "First part\u2028second part."},
            {"id": "b", "image": "img.png", "caption": "Para one\u2029para two."}]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in recs] + [b'{"id": "c", broken']
    (tmp_path / "d.jsonl").write_bytes(BOM + b"\r\n".join(lines) + b"\r\n")
    rows, rejects = read_all(tmp_path / "d.jsonl")
    assert [r["origin_id"] for r in rows] == ["a", "b"]
    assert rows[0]["messages"][1]["content"] == "First part\u2028second part."
    assert [r["reason"] for r in rejects] == ["bad_json"] and "line 3" in rejects[0]["detail"]


def test_llava_json_with_bom_reads(tmp_path):
    (tmp_path / "a.jpg").write_bytes(JPG)
    data = [{"id": "x", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nQ"},
                                                           {"from": "gpt", "value": "A."}]}]
    (tmp_path / "l.json").write_bytes(BOM + json.dumps(data).encode())
    rows, rejects = read_all(tmp_path / "l.json")
    assert rejects == [] and [r["origin_id"] for r in rows] == ["x"]


@pytest.mark.parametrize("field,role_key,text_key", [("messages", "role", "content"), ("conversations", "from", "value")])
def test_speakers_map_to_roles_by_one_table_in_every_format(tmp_path, field, role_key, text_key):
    (tmp_path / "a.jpg").write_bytes(JPG)
    recs = [{"id": f"{u}-{a}", "image": "a.jpg",
             field: [{role_key: u, text_key: "<image>\nQ"}, {role_key: a, text_key: "Answer."}]}
            for u in ("human", "user", "USER") for a in ("gpt", "assistant", "model", "bot")]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    rows, rejects = read_all(tmp_path / "d.jsonl")
    assert rejects == [] and len(rows) == 12
    assert {tuple(m["role"] for m in r["messages"]) for r in rows} == {("user", "assistant")}


def test_hf_save_to_disk_and_arrow_files(tmp_path):
    import datasets
    feats = datasets.Features({"id": datasets.Value("string"), "caption": datasets.Value("string"),
                               "image": datasets.Image()})
    ds = datasets.Dataset.from_dict({"id": ["h0", "h1", "h2"], "caption": ["One.", "", "Three."],
                                     "image": [{"bytes": JPG, "path": None}, {"bytes": PNG, "path": None},
                                               {"bytes": JPG2, "path": None}]}, features=feats)
    ds.save_to_disk(str(tmp_path / "hfds"))
    assert list_source_files(str(tmp_path / "hfds")) == [str(tmp_path / "hfds")]
    assert detect_format(str(tmp_path / "hfds")) == "hf"
    rows, rejects = read_all(tmp_path / "hfds")
    assert [r["origin_id"] for r in rows] == ["h0", "h2"] and rows[0]["images"] == [JPG]
    assert [(r["origin_id"], r["reason"]) for r in rejects] == [("h1", "empty_text")]
    # A DatasetDict: splits read in sorted order; a bare .arrow file found by glob
    datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    rows, rejects = read_all(tmp_path / "dd")
    assert len(rows) + len(rejects) == 4 and len(rows) == 3
    arrow = sorted((tmp_path / "hfds").glob("*.arrow"))
    rows, _ = read_all(str(arrow[0].parent / "*.arrow"), format="hf")
    assert [r["origin_id"] for r in rows] == ["h0", "h2"]


def test_webdataset_mixkit_samples_written_by_webdataset(tmp_path):
    import webdataset as wds
    with wds.TarWriter(str(tmp_path / "shard-00000.tar")) as w:
        w.write({"__key__": "a1b2", "json": {"id": "a1b2", "origin_id": "eng-7", "source": "prev",
                                              "task": "instruct", "lang": "fra_Latn",
                                              "messages": [{"role": "user", "content": "<image>\n<image>\nQ ?"},
                                                           {"role": "assistant", "content": "R."}],
                                              "meta": json.dumps({"model": "nllb"})},
                 "0.jpg": JPG, "1.png": PNG})
        w.write({"__key__": "c3d4", "json": {"id": "c3d4", "lang": "fra_Latn",
                                              "messages": [{"role": "user", "content": "<image>\nQ"},
                                                           {"role": "assistant", "content": "R."}]},
                 "jpg": JPG2})
    rows, rejects = read_all(tmp_path / "shard-00000.tar", task="instruct")
    assert rejects == []
    a = rows[0]
    assert a["origin_id"] == "a1b2" and a["lang"] == "fra_Latn" and a["images"] == [JPG, PNG]
    meta = json.loads(a["meta"])
    assert meta["model"] == "nllb" and meta["upstream_origin_id"] == "eng-7"
    assert rows[1]["images"] == [JPG2]


def test_img2dataset_tar_and_llava_in_tar(tmp_path):
    members = []
    for i, cap in enumerate(["a red square", "", "a blue square"]):
        k = f"{i:09d}"
        members += [(f"{k}.jpg", JPG), (f"{k}.txt", cap.encode()),
                    (f"{k}.json", json.dumps({"key": k, "url": f"http://x/{i}", "status": "success",
                                              "width": 24, "height": 24}).encode())]
    members += [("000000009.jpg", b"\x00\x01garbage"), ("000000009.txt", b"bad image")]
    members += [("000000010.jpg", JPG), ("000000010.txt", b"\xff\xfe not utf8")]
    _tar(tmp_path / "00000.tar", members)
    rows, rejects = read_all(tmp_path / "00000.tar")
    assert [r["origin_id"] for r in rows] == ["000000000", "000000002"]
    assert rows[0]["messages"][1]["content"] == "a red square" and json.loads(rows[0]["meta"])["url"] == "http://x/0"
    assert {r["origin_id"]: r["reason"] for r in rejects} == {
        "000000001": "empty_text", "000000009": "unknown_image_format", "000000010": "bad_utf8"}
    assert "000000009.jpg" in next(r["detail"] for r in rejects if r["origin_id"] == "000000009")

    llava = [("s/x1.json", json.dumps({"id": "x1", "conversations": [
        {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A square."}]}).encode()),
        ("s/x1.jpg", JPG), ("s/x2.json", b"{not json"), ("s/x2.jpg", JPG)]
    _tar(tmp_path / "llava.tar", llava)
    rows, rejects = read_all(tmp_path / "llava.tar", task="instruct")
    assert [r["origin_id"] for r in rows] == ["x1"] and rows[0]["images"] == [JPG]
    assert [(r["origin_id"], r["reason"]) for r in rejects] == [("s/x2", "bad_json")]


def _three_sample_tar(path: Path) -> bytes:
    members = []
    for i in range(3):
        members += [(f"k{i}.jpg", _img((i * 80, 10, 10), size=64)), (f"k{i}.txt", f"caption {i}".encode())]
    return _tar(path, members).read_bytes()


@pytest.mark.parametrize("where", ["mid_member", "member_boundary", "garbage_header", "gzip"])
def test_truncated_tar_keeps_samples_before_the_break(tmp_path, where):
    data = _three_sample_tar(tmp_path / "full.tar")
    with tarfile.open(tmp_path / "full.tar") as tf:
        offs = {m.name: m.offset for m in tf.getmembers()}
    name = "cut.tar"
    if where == "mid_member":          # cut inside k2.jpg's data
        data = data[:offs["k2.jpg"] + 700]
    elif where == "member_boundary":   # cut exactly before k2.txt's header: tarfile ends silently
        data = data[:offs["k2.txt"]]
    elif where == "garbage_header":    # k2.txt's header overwritten with junk
        data = data[:offs["k2.txt"]] + b"\x07" * 512 + data[offs["k2.txt"] + 512:]
    else:
        name = "cut.tar.gz"  # cut the compressed stream where it decodes to the middle of k2.jpg
        gz = gzip.compress(data, mtime=0, compresslevel=1)
        cut = next(n for n in range(len(gz), 0, -1)
                   if len(zlib.decompressobj(31).decompress(gz[:n])) < offs["k2.jpg"] + 600)
        data = gz[:cut]
    (tmp_path / name).write_bytes(data)
    rows, rejects = read_all(tmp_path / name)
    assert [r["origin_id"] for r in rows] == ["k0", "k1"]
    assert len(rejects) == 1 and rejects[0]["reason"] == "broken_tar" and rejects[0]["origin_id"] == "k2"
    assert name in rejects[0]["detail"] and "k2.jpg" in rejects[0]["detail"]


def test_clean_tar_has_no_reject(tmp_path):
    _three_sample_tar(tmp_path / "ok.tar")
    rows, rejects = read_all(tmp_path / "ok.tar")
    assert len(rows) == 3 and rejects == []


def test_corrupt_and_unknown_images_in_parquet(tmp_path):
    big = _img(size=64)
    pq.write_table(pa.table({
        "caption": ["ok", "cut jpeg", "cut png", "a bitmap", "ok2", "an <image> in the text", "short webp"],
        "image": [JPG, big[: len(big) // 2], PNG[:-20], b"BM" + b"\x00" * 60, PNG, JPG,
                  b"RIFF" + (5000).to_bytes(4, "little") + b"WEBPVP8 " + b"\x00" * 20]}), tmp_path / "x.parquet")
    rows, rejects = read_all(tmp_path / "x.parquet")
    assert [r["messages"][1]["content"] for r in rows] == ["ok", "ok2"]
    assert [(r["origin_id"], r["reason"]) for r in rejects] == [
        ("x.parquet:1", "corrupt_image"), ("x.parquet:2", "corrupt_image"), ("x.parquet:3", "unknown_image_format"),
        ("x.parquet:5", "placeholder_mismatch"), ("x.parquet:6", "corrupt_image")]
    assert "row 1" in rejects[0]["detail"] and "x.parquet" in rejects[0]["detail"]


def test_caption_in_unprompted_language_uses_english_prompt(tmp_path):
    pq.write_table(pa.table({"caption": ["Un cuadrado rojo.", "Ein Quadrat."], "lang": ["es", "sw"],
                             "image": [JPG, JPG]}), tmp_path / "x.parquet")
    rows, _ = read_all(tmp_path / "x.parquet")
    assert rows[0]["messages"][0]["content"] == "<image>\n" + CAPTION_PROMPT["spa_Latn"]
    assert rows[1]["lang"] == "swh_Latn" and json.loads(rows[1]["meta"])["prompt_lang"] == "eng_Latn"


# ------------------------------------------------------------------------------ finding files


def test_list_source_files_patterns_and_errors(tmp_path):
    for i in range(12):
        _tar(tmp_path / f"{i:05d}.tar", [("a.txt", b"x")])
    (tmp_path / "notes.md").write_text("x")
    braces = list_source_files(str(tmp_path / "{00000..00009}.tar"))
    assert [Path(f).name for f in braces] == [f"{i:05d}.tar" for i in range(10)]
    assert len(list_source_files(str(tmp_path / "*.tar"))) == 12
    assert len(list_source_files(str(tmp_path))) == 12            # notes.md is not a source file
    with pytest.raises(SourceError, match=r"source 'caps': no files match .*missing.*format"):
        list_source_files(str(tmp_path / "missing" / "*.parquet"), source="caps")
    with pytest.raises(SourceError, match="no files match"):
        list_source_files(str(tmp_path), "parquet", source="caps")
    # Names no format will ever claim, so that adding a format never breaks this test.
    with pytest.raises(SourceError, match="unknown format"):
        list_source_files(str(tmp_path), "no-such-format")
    with pytest.raises(SourceError, match="format"):
        detect_format("data.no-such-extension")
    assert detect_format("x.jsonl") == "jsonl" and detect_format("x.json") == "llava"
    assert detect_format("x.tar.gz") == "webdataset" and detect_format("x.arrow") == "hf"


# ------------------------------------------------------------------------------ the table of formats


def test_formats_come_from_the_modules_of_the_formats_folder():
    """Every module in mixkit/sources/formats/ declares its FORMAT; the table, the recipe's choices
    and the detection order all come from them, ordered by priority."""
    import typing

    from mixkit.build.recipe import SourceSpec
    from mixkit.sources import FORMAT_CHOICES, FORMATS
    from mixkit.sources.formats import jsonl, llava, webdataset

    builtin = ["parquet", "jsonl", "llava", "hf", "webdataset"]     # a new format may come anywhere among them
    assert [name for name in FORMATS if name in builtin] == builtin
    assert FORMATS["jsonl"] is jsonl.FORMAT and FORMATS["llava"].read is llava.read
    assert FORMATS["webdataset"] is webdataset.FORMAT
    assert [f.priority for f in FORMATS.values()] == sorted(f.priority for f in FORMATS.values())
    assert typing.get_args(SourceSpec.model_fields["format"].annotation) == FORMAT_CHOICES == ("auto", *FORMATS)


def _format_package(root: Path, name: str, modules: dict[str, str]) -> str:
    """A package of format modules on sys.path (`modules`: module name -> its FORMAT line)."""
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module, declare in modules.items():
        (pkg / f"{module}.py").write_text(
            "from mixkit.sources.base import SourceFormat\n\n\ndef read(ctx, batch_rows):\n    return iter(())\n\n\n"
            + declare + "\n")
    return name


def test_a_new_format_is_its_module_alone(tmp_path, monkeypatch):
    """Discovery finds every module, skips helpers (_name), orders by priority whatever the module
    names, and detection follows that order where two formats claim one extension."""
    from mixkit.sources import formats

    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = _format_package(tmp_path, "fmts_ok", {
        "a_sharegpt": 'FORMAT = SourceFormat("sharegpt", (".json",), read, priority=35)',
        "b_tsv": 'FORMAT = SourceFormat("tsv", (".tsv",), read, priority=5)',
        "c_llava": 'FORMAT = SourceFormat("llava", (".json",), read, priority=30)',
        "_shared": "HELPER = 1",
    })
    found = formats.discover_formats(pkg)
    assert list(found) == ["tsv", "llava", "sharegpt"]
    monkeypatch.setattr(formats, "FORMATS", found)
    assert formats.detect_format("x.json") == "llava" and formats.detect_format("X.TSV") == "tsv"
    with pytest.raises(SourceError, match=r"\(tsv, llava, sharegpt\) or use one of the extensions \.tsv, \.json, \.json$"):
        formats.detect_format("x.csv")


@pytest.mark.parametrize("modules, error", [
    ({"a": "HELPER = 1"}, r"a\.py declares no `FORMAT = SourceFormat\(\.\.\.\)`.*start a helper's name with _"),
    ({"a": 'FORMAT = SourceFormat("x", (".x",), read, priority=1)',
      "b": 'FORMAT = SourceFormat("x", (".y",), read, priority=2)'}, r"'x' of b\.py is taken \(by a\.py\)"),
    ({"a": 'FORMAT = SourceFormat("auto", (".x",), read, priority=1)'}, r"'auto' of a\.py is taken"),
    ({"a": 'FORMAT = SourceFormat("x", (".x",), read, priority=1)',
      "b": 'FORMAT = SourceFormat("y", (".y",), read, priority=1)'}, r"'x' and 'y' have the same priority 1"),
])
def test_a_format_module_that_breaks_the_table_fails_loudly(tmp_path, monkeypatch, modules, error):
    from mixkit.sources import formats

    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = _format_package(tmp_path, f"fmts_{tmp_path.name}", modules)   # a fresh name per case
    with pytest.raises((TypeError, ValueError), match=error):
        formats.discover_formats(pkg)


def test_reject_reasons_are_documented():
    assert {"bad_utf8", "empty_text", "missing_image", "unknown_image_format", "placeholder_mismatch",
            "bad_json", "broken_tar", "bad_record"} <= set(REJECT_REASONS)


# ------------------------------------------------------------------------------ the bundled demo data


def _demo_module():
    spec = importlib.util.spec_from_file_location("make_demo_data", ROOT / "scripts" / "make_demo_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_data_reads_with_planted_rejects():
    expect = {  # file -> (rows, {reason: n})
        "captions_en.parquet": (598, {"empty_text": 1, "corrupt_image": 1}),
        "instruct_en.json": (58, {"missing_image": 1, "placeholder_mismatch": 1}),
        **{f"native/{l}.tar": (60, {}) for l in ("deu_Latn", "fra_Latn", "jpn_Jpan", "hin_Deva")},
    }
    for name, (n_rows, rej) in expect.items():
        rows, rejects = read_all(DEMO / name, task="instruct" if "instruct" in name else "caption")
        assert len(rows) == n_rows, name
        assert dict(reasons(rejects)) == rej, name
        if name.startswith("native/"):
            lang = Path(name).stem
            assert {r["lang"] for r in rows} == {lang}
            assert all(r["messages"][0]["content"].endswith(CAPTION_PROMPT[lang]) for r in rows)
    caps = pq.read_table(DEMO / "captions_en.parquet").to_pylist()
    # the two planted exact duplicates (caption and image bytes)
    keyed = Counter((c["caption"], hashlib.sha1(c["image"]).hexdigest()) for c in caps)
    assert sorted(n for n in keyed.values() if n > 1) == [2, 2]
    size = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    assert size < 6_000_000


def test_demo_phrasebook_covers_every_caption_sentence():
    mod = _demo_module()
    sents = mod.demo_sentences()
    assert CAPTION_PROMPT["eng_Latn"] in sents and len(sents) > 100
    lines = [json.loads(l) for l in (DEMO / "phrasebook.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {(l["en"], l["lang"]) for l in lines} == {(s, g) for s in sents for g in ("spa_Latn", "rus_Cyrl", "arb_Arab")}
    for l in lines:
        assert mod.translate_sentence(l["en"], l["lang"]) == l["text"]
    caps = [c["caption"] for c in pq.read_table(DEMO / "captions_en.parquet", columns=["caption"]).to_pylist()]
    for c in caps:
        if c:  # a whole caption is split into known sentences
            assert mod.translate_sentence(c, "rus_Cyrl")
    assert mod.translate_sentence("There are three shapes in the picture.", "spa_Latn") == "Hay tres figuras en la imagen."
    assert mod.translate_sentence("A small purple star is on the right.", "rus_Cyrl") == \
        "Маленькая фиолетовая звезда находится справа."
    assert mod.translate_sentence("In the top left corner there is a large red square.", "arb_Arab") == \
        "في الزاوية العلوية اليسرى مربع أحمر كبير."
    assert mod.translate_sentence("The blue star is partly hidden behind the red circle.", "deu_Latn") == \
        "Der blaue Stern ist teilweise hinter dem roten Kreis verborgen."
    assert mod.translate_sentence("There are also a small blue star and a large green hexagon.", "spa_Latn") == \
        "También hay una estrella azul pequeña y un hexágono verde grande."
    assert mod.translate_sentence("Describe the image.", "deu_Latn") == "Beschreibe das Bild."
    assert mod.translate_sentence("Not a demo sentence.", "spa_Latn") is None
    assert mod.translate_sentence("The background is white.", "xho_Latn") is None


def test_demo_captions_are_true_of_their_scene():
    mod = _demo_module()
    scene, sents, _ = mod._caption_scenes(0, 4, "caption", mod.CAPTION_LANGS)[3]
    caption = mod.render_caption(sents, "eng_Latn")
    en = mod.PHRASEBOOK["eng_Latn"]
    assert f"{en.NUM[len(scene.objects)]} shapes" in caption.lower()
    for o in scene.objects:
        assert f"{o.colour} {o.shape}" in caption
    for kind, _v, *params in sents:
        if kind == "obj":  # a placed shape: its size, colour, shape and place
            o = params[0]
            assert o in scene.objects and en.np(o) in caption.lower() and en.POS[o.cell] in caption.lower()
    caps = pq.read_table(DEMO / "captions_en.parquet").to_pylist()
    assert caps[3]["caption"] == caption


def test_demo_data_has_no_duplicates_but_the_planted_ones():
    """Read every demo source, filter with the defaults, deduplicate with the defaults: the
    filters keep every good row and dedup removes exactly the two planted copies."""
    from mixkit.dedup import DedupOptions, find_duplicates
    from mixkit.filters import FilterOptions, build_filter_stage

    rows, rejects = [], []
    for name, task in [("captions_en.parquet", "caption"), ("instruct_en.json", "instruct"),
                       *[(f"native/{l}.tar", "caption") for l in ("deu_Latn", "fra_Latn", "jpn_Jpan", "hin_Deva")]]:
        r, j = read_all(DEMO / name, task=task)
        rows += r
        rejects += j
    assert len(rows) == 896 and len(rejects) == 4
    out = build_filter_stage(FilterOptions()).run(rows)
    assert [(r["origin_id"], r["reason"]) for r in out.rejected] == []
    opts = DedupOptions()
    dups = find_duplicates(out.kept, opts).to_pylist()
    origin = {r["id"]: r["origin_id"] for r in out.kept}
    assert sorted((origin[d["id"]], origin[d["duplicate_of"]], d["reason"]) for d in dups) == [
        ("cap_00100", "cap_00017", "exact_duplicate_text"), ("cap_00350", "cap_00288", "exact_duplicate_text")]


@pytest.mark.slow
def test_demo_data_script_is_byte_deterministic(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for f in sorted(DEMO.rglob("*")):
        if f.is_file() and f.name != "README.md":
            assert (tmp_path / f.relative_to(DEMO)).read_bytes() == f.read_bytes(), f


def test_tar_key_split_apart_says_so(tmp_path):
    # GNU tar from a folder stores files in directory order: a sample's members may not be adjacent.
    doc = json.dumps({"messages": [{"role": "user", "content": "<image>\nq"},
                                   {"role": "assistant", "content": "a"}]}).encode()
    _tar(tmp_path / "split.tar", [("d/000.jpg", JPG), ("d/001.jpg", JPG), ("d/000.json", doc), ("d/001.json", doc)])
    rows, rejects = read_all(tmp_path / "split.tar", format="webdataset")
    assert rows == [] and len(rejects) == 4
    assert reasons(rejects) == {"bad_record": 2, "placeholder_mismatch": 2}
    split = [r for r in rejects if r["reason"] == "placeholder_mismatch"]
    assert all("also came earlier in this tar" in r["detail"] for r in split)
    assert not any("also came earlier" in r["detail"] for r in rejects if r["reason"] == "bad_record")
