"""The one shard format module: sample format, the streaming reader (hostile tars included), the manifest,
and the rules every reader shares (conversations without an answer)."""
from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mixkit.core.schema import make_row
from mixkit.core.shard_format import (SAFETY_REASONS, Manifest, TarProblem, TarSample, iter_tar, sample_members,
                                 split_name, unsafe_name)
from mixkit.sources import TRIMMED_META, list_source_files, read_source_file

JPG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2 + b"\xff\xd9"


def _member(tf: tarfile.TarFile, name: str, data: bytes = b"", type: bytes = tarfile.REGTYPE, linkname: str = ""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = type, linkname
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if type == tarfile.REGTYPE else None)


def _doc(key: str, text: str = "A red square on a white page.") -> bytes:
    return json.dumps({"id": key, "lang": "eng_Latn", "source": "s", "task": "caption",
                       "messages": [{"role": "user", "content": "<image>\nDescribe."},
                                    {"role": "assistant", "content": f"{text} ({key})"}]}).encode()


def _good(tf, key: str):
    _member(tf, f"{key}.json", _doc(key))
    _member(tf, f"{key}.jpg", JPG)


def _read(path: Path, task="caption"):
    rows, rejects = [], []
    for f in list_source_files(str(path), source="src"):
        for r, j in read_source_file(f, source="src", format="auto", task=task):
            rows += r
            rejects += j
    return rows, rejects


def _events(path):
    return list(iter_tar(path))


# ------------------------------------------------------------------------------ sample format


def test_writer_sample_format_one_and_several_images():
    one = make_row(source="s", origin_id="1", task="caption", lang="eng_Latn", images=[JPG],
                   messages=[{"role": "user", "content": "<image>\nx"}, {"role": "assistant", "content": "y"}])
    names = [n for n, _ in sample_members(one)]
    assert names == [f"{one['id']}.json", f"{one['id']}.jpg"]
    two = {**one, "images": [JPG, b"\x89PNG\r\n\x1a\n" + b"\0" * 20]}
    assert [n for n, _ in sample_members(two)] == [f"{one['id']}.json", f"{one['id']}.0.jpg", f"{one['id']}.1.png"]
    doc = json.loads(sample_members(one)[0][1])
    assert set(doc) == {"id", "origin_id", "source", "task", "lang", "messages", "meta"}


def test_name_rules():
    assert split_name("dir/k0.0.jpg") == ("dir/k0", "0.jpg")
    assert split_name("K.JSON") == ("K", "json")
    assert split_name("README") is None and split_name(".hidden") is None
    assert unsafe_name("/tmp/x.json") and unsafe_name("../../x.json") and unsafe_name("a/../../b.json")
    assert unsafe_name("./a.json") is None and unsafe_name("a..b.json") is None


def test_images_in_index_order_and_ambiguous_images_refused():
    s = TarSample("k", {"json": b"{}", "10.png": b"c", "2.jpg": b"b", "0.jpg": b"a"})
    assert s.images() == [b"a", b"b", b"c"] and s.image_count == 3
    with pytest.raises(ValueError, match="ambiguous_images"):
        TarSample("k", {"jpg": b"a", "0.jpg": b"b"}).images()


# ------------------------------------------------------------------------------ hostile tars


@pytest.mark.parametrize("kind,reason", [(tarfile.SYMTYPE, "link_member"), (tarfile.LNKTYPE, "link_member"),
                                         (tarfile.CHRTYPE, "special_member"), (tarfile.FIFOTYPE, "special_member")])
def test_link_and_device_members_reject_their_sample_with_a_reason(tmp_path, kind, reason):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _member(tf, "k1.json", _doc("k1"))
        _member(tf, "k1.jpg", type=kind, linkname="/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else "")
        _good(tf, "k2")
    ev = _events(tmp_path / "x.tar")
    assert [e.key for e in ev] == ["k0", "k1", "k2"]
    assert ev[1].reject[0] == reason and ev[1].members["jpg"] is None        # never read or followed
    rows, rejects = _read(tmp_path / "x.tar")
    assert sorted(r["origin_id"] for r in rows) == ["k0", "k2"]
    assert len(rejects) == 1 and rejects[0]["reason"] == reason and rejects[0]["origin_id"] == "k1"
    assert "k1.jpg" in rejects[0]["detail"]
    if kind == tarfile.SYMTYPE:
        assert "symlink to '/etc/passwd'" in rejects[0]["detail"]


def test_adjacent_repeated_key_is_a_reject_and_the_first_is_kept(tmp_path):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        for caption in (b"first caption", b"second caption"):
            _member(tf, "K.jpg", JPG)
            _member(tf, "K.json", b'{"url": "http://x"}')
            _member(tf, "K.txt", caption)
        _member(tf, "L.jpg", JPG)
        _member(tf, "L.txt", b"another")
    ev = _events(tmp_path / "x.tar")
    assert [(e.key, e.reject and e.reject[0]) for e in ev] == [("K", None), ("K", "repeated_key"), ("L", None)]
    rows, rejects = _read(tmp_path / "x.tar")
    assert [r["messages"][1]["content"] for r in rows] == ["first caption", "another"]
    assert [(r["reason"], r["origin_id"]) for r in rejects] == [("repeated_key", "K")]


def test_keys_repeating_far_apart_stay_two_samples(tmp_path):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _good(tf, "k1")
        _good(tf, "k0")
    assert [(e.key, e.reject) for e in _events(tmp_path / "x.tar")] == [("k0", None), ("k1", None), ("k0", None)]


@pytest.mark.parametrize("bad", ["/tmp/x.json", "../../x.json", "a/../../x.json"])
def test_absolute_or_climbing_names_are_refused_and_never_keys(tmp_path, bad):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _member(tf, bad, _doc("evil"))
        _good(tf, "k1")
    ev = _events(tmp_path / "x.tar")
    probs = [e for e in ev if isinstance(e, TarProblem)]
    assert [e.key for e in ev if isinstance(e, TarSample)] == ["k0", "k1"]
    assert len(probs) == 1 and probs[0].reason == "unsafe_member_name" and probs[0].member == bad
    rows, rejects = _read(tmp_path / "x.tar")
    assert sorted(r["origin_id"] for r in rows) == ["k0", "k1"]
    assert [r["reason"] for r in rejects] == ["unsafe_member_name"]
    assert ".." not in rejects[0]["origin_id"] and "/" not in rejects[0]["origin_id"]   # not used as a key
    assert bad in rejects[0]["detail"]


def test_no_key_member_is_reported_not_dropped(tmp_path):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _member(tf, "README", b"hello")
    rows, rejects = _read(tmp_path / "x.tar")
    assert len(rows) == 1 and [r["reason"] for r in rejects] == ["no_key"]


def _hostile_shard_dir(tmp_path: Path) -> Path:
    d = tmp_path / "shards"
    d.mkdir()
    with tarfile.open(d / "shard-00000.tar", "w") as tf:
        for i in range(8):
            _good(tf, f"k{i}")
        _member(tf, "k8.json", _doc("k8"))
        _member(tf, "k8.jpg", type=tarfile.SYMTYPE, linkname="../../../etc/passwd")
        _member(tf, "../../x.json", _doc("evil"))
    return d


def test_audit_reports_unsafe_member_and_counts_only_real_samples(tmp_path):
    from mixkit.audit import audit_shards

    d = _hostile_shard_dir(tmp_path)
    res = audit_shards(d, progress=False, workers=1)
    data = res.to_dict()
    assert data["total_samples"] == 8 and not data["errors"]
    assert sorted((f["member"], f["reason"]) for f in data["safety_findings"]) == [
        ("../../x.json", "unsafe_member_name"), ("k8.json, k8.jpg", "link_member")]
    assert {f["reason"] for f in data["safety_findings"]} <= SAFETY_REASONS
    html = res.write_html(tmp_path / "a.html").read_text()
    assert "Safety findings" in html and "../../x.json" in html
    from rich.console import Console

    con = Console(record=True, width=200)
    con.print(res.rich_table())
    assert "2 safety finding" in con.export_text()


def test_audit_cli_prints_the_safety_finding(tmp_path):
    import typer

    from mixkit.cli.audit import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    out = CliRunner().invoke(app, ["audit", str(_hostile_shard_dir(tmp_path)), "-q", "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert "unsafe member" in out.output and "../../x.json" in out.output


def test_trainer_reader_counts_refused_members_by_reason(tmp_path):
    from mixkit.train.data import ShardStream

    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _member(tf, "k1.json", _doc("k1"))
        _member(tf, "k1.jpg", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        _member(tf, "/abs.json", b"{}")
        _good(tf, "k2")
    stats: Counter = Counter()
    got = list(ShardStream._samples(None, [{"url": str(tmp_path / "x.tar")}, {"url": str(tmp_path / "missing.tar")}],
                                    stats))
    assert [s["__key__"] for s in got] == ["k0", "k2"] and got[0]["jpg"] == JPG
    assert stats == Counter({"bad:link_member": 1, "bad:unsafe_member_name": 1, "bad:read_error": 1})


def test_broken_tar_names_the_sample_cut_short(tmp_path):
    with tarfile.open(tmp_path / "x.tar", "w") as tf:
        _good(tf, "k0")
        _good(tf, "k1")
    data = (tmp_path / "x.tar").read_bytes()
    (tmp_path / "x.tar").write_bytes(data[:512 * 3 + 100])           # inside k1.json's data... or k0.jpg
    ev = _events(tmp_path / "x.tar")
    assert isinstance(ev[-1], TarProblem) and ev[-1].reason == "broken_tar"


# ------------------------------------------------------------------------------ conversations without an answer


def _write_records(tmp_path: Path, fmt: str, recs: list[dict]) -> Path:
    (tmp_path / "img.jpg").write_bytes(JPG)
    if fmt == "jsonl":
        p = tmp_path / "d.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    elif fmt == "llava":
        p = tmp_path / "d.json"
        p.write_text(json.dumps(recs))
    elif fmt == "parquet":
        p = tmp_path / "d.parquet"
        pq.write_table(pa.Table.from_pylist(recs), p)
    else:
        p = tmp_path / "d.tar"
        with tarfile.open(p, "w") as tf:
            for r in recs:
                _member(tf, f"{r['id']}.json", json.dumps({k: v for k, v in r.items() if k != "image"}).encode())
                _member(tf, f"{r['id']}.jpg", JPG)
    return p


@pytest.mark.parametrize("fmt", ["jsonl", "llava", "tar", "parquet"])
def test_no_answer_rejected_and_unanswered_last_turn_trimmed_in_every_format(tmp_path, fmt):
    h, g = "human", "gpt"
    recs = [
        {"id": "only_question", "image": "img.jpg", "conversations": [{"from": h, "value": "<image>\nWhat is it?"}]},
        {"id": "trailing", "image": "img.jpg", "conversations": [
            {"from": h, "value": "<image>\nWhat is it?"}, {"from": g, "value": "A square."},
            {"from": h, "value": "And the colour?"}]},
        {"id": "complete", "image": "img.jpg", "conversations": [
            {"from": h, "value": "<image>\nWhat is it?"}, {"from": g, "value": "A square."}]},
    ]
    rows, rejects = _read(_write_records(tmp_path, fmt, recs), task="instruct")
    by_id = {r["origin_id"]: r for r in rows}
    assert sorted(by_id) == ["complete", "trailing"]
    assert [(r["origin_id"], r["reason"]) for r in rejects] == [("only_question", "no_answer")]
    trimmed = by_id["trailing"]
    assert [m["role"] for m in trimmed["messages"]] == ["user", "assistant"]
    assert json.loads(trimmed["meta"])[TRIMMED_META] == 1
    assert TRIMMED_META not in json.loads(by_id["complete"]["meta"])


def test_unanswered_turn_holding_an_image_is_rejected(tmp_path):
    recs = [{"id": "x", "image": ["img.jpg", "img.jpg"], "conversations": [
        {"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A square."},
        {"from": "human", "value": "<image>\nAnd this?"}]}]
    rows, rejects = _read(_write_records(tmp_path, "llava", recs), task="instruct")
    assert not rows and [r["reason"] for r in rejects] == ["unanswered_image_turn"]


# ------------------------------------------------------------------------------ manifest


def test_manifest_round_trip_and_old_ocr_manifest(tmp_path):
    from mixkit.core.shard_format import Counts, ShardInfo

    m = Manifest(kind="build", seed=3, targets_by_lang={"eng_Latn": 0.5, "deu_Latn": 0.5},
                 counts=Counts.of(Counter(eng_Latn=2, deu_Latn=2), Counter(s=4), Counter(caption=4)),
                 shards=[ShardInfo("shard-00000.tar", 4, 10240, "ab" * 32)], quotas={"eng_Latn": 2, "deu_Latn": 2},
                 rejects_by_step={"read": {"bad_json": 1}}, sections={"recipe": {"name": "r"}})
    m.write(tmp_path)
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert doc["counts"]["total"] == 4 and doc["rejects"]["total"] == 1 and doc["recipe"] == {"name": "r"}
    assert Manifest.read(tmp_path) == m
    old = {"kind": "ocr_synth", "seed": 1, "targets": {"by_lang": {"fra_Latn": 1.0}, "per_lang": 2},
           "counts": {"by_lang": {"fra_Latn": 2}, "total": 2}, "shards": [],
           "rejects": {"total": 1, "by_reason": {"font_coverage": 1}, "by_lang": {"fra_Latn": 1}}}
    m2 = Manifest.from_dict(old)
    assert m2.rejects_by_step == {"ocr": {"font_coverage": 1}} and m2.sections == {}
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        Manifest.read(tmp_path / "manifest.json")


def test_build_manifest_constructor_takes_todays_fields(tmp_path):
    shard = {"path": str(tmp_path / "shard-00000.tar"), "samples": 3, "bytes": 10240, "sha256": "cd" * 32,
             "counts": {"by_lang": {"eng_Latn": 3}}}
    m = Manifest.for_build(seed=0, targets={"eng_Latn": 1.0}, quotas={"eng_Latn": 3},
                           by_lang=Counter(eng_Latn=3), by_source=Counter(s=3), by_task=Counter(caption=3),
                           shards=[shard], rejects_by_step={"read": {"bad_json": 2}, "filter": {"lid": 1}},
                           recipe={"name": "demo"}, accounting={"inputs": 6})
    doc = m.to_dict()
    assert doc["kind"] == "build" and doc["counts"]["total"] == 3 and doc["rejects"]["total"] == 3
    assert doc["shards"] == [{"path": "shard-00000.tar", "samples": 3, "bytes": 10240, "sha256": "cd" * 32}]
    assert doc["recipe"] == {"name": "demo"} and doc["accounting"] == {"inputs": 6}
    assert list(doc["rejects"]["by_step"]) == ["filter", "read"]


def test_member_names_that_are_not_utf8_become_printable_keys(tmp_path):
    # Old tools write Latin-1 names; tarfile's default (lone surrogates) cannot be encoded again,
    # which crashed ids, export and the audit's JSON. Escaped keys stay distinct and readable.
    doc = {"lang": "eng_Latn", "messages": [{"role": "user", "content": "<image>\nDescribe."},
                                            {"role": "assistant", "content": "A red square."}]}
    path = tmp_path / "latin.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tf:
        for key in ("caf\xe9", "caf\xe8"):
            _member(tf, f"{key}.json", json.dumps(doc).encode())
            _member(tf, f"{key}.jpg", JPG)
    keys = [s.key for s in iter_tar(path) if isinstance(s, TarSample)]
    assert keys == ["caf\\xe9", "caf\\xe8"]
    for k in keys:
        k.encode("utf-8")
    rows, rejects = _read(path)
    assert len(rows) == 2 and not rejects
    from mixkit.export import export_shards

    res = export_shards(path, tmp_path / "o", format="llava")
    assert res.samples == 2 and res.images == 2
