"""mixkit audit: exact counts, shards mixkit did not write, corrupt input, CLI exit codes, HTML."""
from __future__ import annotations

import io
import json
import re
import tarfile

import pytest
import typer
import webdataset as wds
from typer.testing import CliRunner

from tar_members import add_member, write_tar
from mixkit.audit import audit_shards, count_tokens, expand_shards
from mixkit.cli.audit import register
from mixkit.core.schema import make_row
from mixkit.core.shard_writer import ShardWriter, write_manifest

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4      # image bytes are never decoded by the audit
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 300

SENTENCES = {
    "eng_Latn": ["A brown dog runs across a green meadow next to a small river.",
                 "Two children are playing football in the park on a sunny afternoon.",
                 "The old lighthouse stands on a rocky cliff above the stormy sea."],
    "deu_Latn": ["Ein brauner Hund läuft über eine grüne Wiese neben einem kleinen Fluss.",
                 "Zwei Kinder spielen an einem sonnigen Nachmittag Fußball im Park.",
                 "Der alte Leuchtturm steht auf einer felsigen Klippe über dem stürmischen Meer."],
    "fra_Latn": ["Un chien brun court à travers une prairie verte près d'une petite rivière.",
                 "Deux enfants jouent au football dans le parc par un après-midi ensoleillé.",
                 "Le vieux phare se dresse sur une falaise rocheuse au-dessus de la mer agitée."],
    "rus_Cyrl": ["Коричневая собака бежит по зелёному лугу рядом с небольшой рекой.",
                 "Двое детей играют в футбол в парке солнечным днём.",
                 "Старый маяк стоит на скалистом утёсе над бурным морем."],
    "jpn_Jpan": ["茶色の犬が小さな川のそばの緑の草原を走っています。",
                 "晴れた午後に二人の子供が公園でサッカーをしています。",
                 "古い灯台が荒れた海の上の岩だらけの崖に立っています。"],
    "spa_Latn": ["Un perro marrón corre por un prado verde junto a un pequeño río.",
                 "Dos niños juegan al fútbol en el parque en una tarde soleada.",
                 "El viejo faro se alza sobre un acantilado rocoso encima del mar tormentoso."],
}


def _row(i: int, lang: str, text: str, *, source="captions", task="caption", images=(JPEG,)):
    return make_row(source=source, origin_id=str(i), task=task, lang=lang, images=list(images),
                    messages=[{"role": "user", "content": "<image>" * len(images) + "\n"},
                              {"role": "assistant", "content": text}])


def _known_mix(out_dir):
    """36 samples: eng 12, deu 12 (4 with two images), fra 6, jpn 6; 3 exact duplicates in eng."""
    rows, i = [], 0
    plan = [("eng_Latn", 12), ("deu_Latn", 12), ("fra_Latn", 6), ("jpn_Jpan", 6)]
    for lang, n in plan:
        for k in range(n):
            text = f"{SENTENCES[lang][k % 3]} {k}"
            if lang == "eng_Latn" and k >= 9:       # repeats of k-9, up to case and spacing
                text = f"  {SENTENCES[lang][k % 3]}   {k - 9}".lower()
            imgs = (JPEG, PNG) if (lang == "deu_Latn" and k < 4) else (JPEG,)
            src, task = ("instruct_src", "instruct") if k % 2 else ("captions", "caption")
            rows.append(_row(i, lang, text, source=src, task=task, images=imgs))
            i += 1
    with ShardWriter(out_dir, max_samples=10) as w:
        w.write_all(rows)
    counts = dict(w.counts["by_lang"])
    write_manifest(out_dir, {"counts": {"by_lang": counts, "total": len(rows)},
                             "targets": {"by_lang": {"eng_Latn": 1 / 3, "deu_Latn": 1 / 3, "fra_Latn": 1 / 6,
                                                     "jpn_Jpan": 1 / 6}}})
    return rows


def test_counts_exact_on_known_mix_and_manifest_matches(tmp_path):
    rows = _known_mix(tmp_path)
    res = audit_shards(tmp_path, targets={"eng_Latn": 0.5, "deu_Latn": 0.25, "fra_Latn": 0.25}, workers=1,
                       progress=False)
    d = res.to_dict()
    assert d["shards"] == 4 and d["total_samples"] == 36 and not d["errors"]
    bl = d["by_lang"]
    assert {c: r["samples"] for c, r in bl.items()} == {"eng_Latn": 12, "deu_Latn": 12, "fra_Latn": 6, "jpn_Jpan": 6}
    assert bl["deu_Latn"]["images"] == 16 and bl["eng_Latn"]["images"] == 12 and d["total_images"] == 40
    assert bl["fra_Latn"]["share"] == pytest.approx(6 / 36)
    # jpn is not a target: target 0, deviation = its share
    assert bl["jpn_Jpan"]["target"] == 0.0 and bl["jpn_Jpan"]["deviation"] == pytest.approx(1 / 6)
    assert bl["eng_Latn"]["deviation"] == pytest.approx(1 / 3 - 0.5)
    assert res.max_abs_deviation() == pytest.approx(1 / 6)
    # tokens: words for Latin script, one per character for Japanese (the documented rule)
    exp_tok = {lang: sum(count_tokens(r["messages"][1]["content"]) for r in rows if r["lang"] == lang) for lang in bl}
    assert {c: r["text_tokens"] for c, r in bl.items()} == exp_tok
    assert count_tokens(SENTENCES["jpn_Jpan"][0]) == len(SENTENCES["jpn_Jpan"][0])
    assert count_tokens("Ein Hund läuft.") == 3
    # 3 eng samples repeat the first three texts exactly: 3 duplicates, only in English
    assert bl["eng_Latn"]["duplicates"] == 3 and bl["deu_Latn"]["duplicates"] == 0
    assert d["duplicates"] == 3 and d["duplicate_rate"] == pytest.approx(3 / 36)
    assert d["by_source"]["captions"]["samples"] == 18 and d["by_task"]["instruct"]["samples"] == 18
    assert d["english_share"] == pytest.approx(1 / 3) and d["non_english_share"] == pytest.approx(2 / 3)
    assert sum(t["samples"] for t in d["by_tier"].values()) == 36
    assert d["detected_samples"] == 0 and d["formats"] == {"mixkit": 36}
    for code in bl:
        assert bl[code]["lid_agreement"] == 1.0 and bl[code]["script_mismatch"] == 0
    assert d["manifest_check"]["matches"] is True
    json.dumps(d)                                            # plain JSON types


def test_process_pool_gives_the_same_audit(tmp_path):
    _known_mix(tmp_path)
    one = audit_shards(str(tmp_path / "shard-{00000..00003}.tar"), workers=1, progress=False).to_dict()
    two = audit_shards(sorted(str(p) for p in tmp_path.glob("*.tar")), workers=2, progress=False).to_dict()
    for d in (one, two):
        d.pop("seconds")
    assert one == two


def _img2dataset_shard(path, items):
    with wds.TarWriter(str(path)) as w:
        for i, (text, extra) in enumerate(items):
            key = f"{i:09d}"
            w.write({"__key__": key, "jpg": JPEG, "txt": text,
                     "json": {"key": key, "url": f"http://example.com/{i}.jpg", "status": "success",
                              "width": 32, "height": 32, **extra}})


def test_img2dataset_shards_without_lang_get_detected_languages(tmp_path):
    items = [(s, {}) for lang in ("deu_Latn", "fra_Latn", "rus_Cyrl", "jpn_Jpan", "spa_Latn") for s in SENTENCES[lang]]
    items.append(("Ein Hund, der schläft.", {"LANGUAGE": "de"}))          # LAION-style declared alias
    items.append(("A cat sleeps on the sofa.", {"language": "Klingonish"}))  # unknown value -> LID
    _img2dataset_shard(tmp_path / "00000.tar", items)
    d = audit_shards(str(tmp_path / "*.tar"), progress=False).to_dict()
    bl = d["by_lang"]
    assert d["total_samples"] == 17 and not d["errors"] and d["formats"] == {"img2dataset": 17}
    assert {c: r["samples"] for c, r in bl.items()} == {"deu_Latn": 4, "fra_Latn": 3, "rus_Cyrl": 3, "jpn_Jpan": 3,
                                                        "spa_Latn": 3, "eng_Latn": 1}
    assert {c: r["detected"] for c, r in bl.items()} == {"deu_Latn": 3, "fra_Latn": 3, "rus_Cyrl": 3, "jpn_Jpan": 3,
                                                         "spa_Latn": 3, "eng_Latn": 1}
    assert bl["deu_Latn"]["declared"] == 1 and d["detected_samples"] == 16
    assert d["unresolved_lang"] == {"Klingonish": 1}
    assert d["by_source"] == {"img2dataset": {"samples": 17, "share": 1.0, "text_tokens": d["total_text_tokens"],
                                              "images": 17}}
    assert d["by_task"]["caption"]["samples"] == 17 and d["total_images"] == 17


def test_llava_style_json_declared_language_is_checked_by_lid(tmp_path):
    with wds.TarWriter(str(tmp_path / "llava.tar")) as w:
        for i, lang in enumerate(["deu_Latn", "deu_Latn", "fra_Latn"]):
            conv = [{"from": "human", "value": "<image>\n" + SENTENCES[lang][i % 3]},
                    {"from": "gpt", "value": SENTENCES[lang][(i + 1) % 3]}]
            w.write({"__key__": f"s{i}", "jpg": JPEG, "json": {"id": f"s{i}", "image": f"{i}.jpg",
                                                                 "conversations": conv, "lang": "de"}})
    bl = audit_shards(tmp_path, progress=False).to_dict()["by_lang"]
    # all declared German (alias 'de'); LID says the third is French
    assert list(bl) == ["deu_Latn"] and bl["deu_Latn"]["samples"] == 3 and bl["deu_Latn"]["detected"] == 0
    assert bl["deu_Latn"]["lid_checked"] == 3 and bl["deu_Latn"]["lid_agreement"] == pytest.approx(2 / 3)
    assert bl["deu_Latn"]["lid_confusions"] == {"fra_Latn": 1}


def test_script_mismatch_and_unchecked_language(tmp_path):
    rows = [_row(0, "rus_Cyrl", "Sobaka bezhit po zelyonomu lugu."),          # Russian in Latin letters
            _row(1, "rus_Cyrl", SENTENCES["rus_Cyrl"][0]),
            _row(2, "ace_Latn", "Asee jiplueng lam naleueng.")]             # no detector knows Acehnese
    with ShardWriter(tmp_path) as w:
        w.write_all(rows)
    bl = audit_shards(tmp_path, progress=False).to_dict()["by_lang"]
    assert bl["rus_Cyrl"]["script_mismatch"] == 1
    assert bl["ace_Latn"]["lid_unchecked"] is True and bl["ace_Latn"]["lid_checked"] == 0
    assert bl["ace_Latn"]["lid_agreement"] is None


def test_corrupt_member_truncated_tar_and_garbage_are_reported_and_rest_counted(tmp_path):
    member = add_member
    good = lambda i, lang="deu_Latn": json.dumps({"id": f"k{i}", "lang": lang, "source": "s", "task": "caption",
                                                  "messages": [{"role": "assistant", "content": SENTENCES[lang][i % 3]}]}).encode()
    with tarfile.open(tmp_path / "a_corrupt_member.tar", "w") as tf:
        for i in range(4):
            member(tf, f"k{i}.json", good(i) if i != 2 else b'{"id": "k2", "lang": "deu_Latn", "mess')
            member(tf, f"k{i}.jpg", JPEG)
    # truncated in the middle of the 3rd sample's image: 2 samples before it count
    with tarfile.open(tmp_path / "full.tar", "w") as tf:
        for i in range(5):
            member(tf, f"t{i}.json", good(i, "fra_Latn"))
            member(tf, f"t{i}.jpg", JPEG * 20)
    full = (tmp_path / "full.tar").read_bytes()
    (tmp_path / "full.tar").unlink()
    with tarfile.open(fileobj=io.BytesIO(full)) as tf:
        cut = next(m for m in tf.getmembers() if m.name == "t2.jpg").offset_data + 100
    (tmp_path / "b_truncated.tar").write_bytes(full[:cut])
    (tmp_path / "c_not_a_tar.tar").write_bytes(b"this is not a tar file at all" * 40)
    # an invalid header in the middle: members before it count
    with tarfile.open(fileobj=io.BytesIO(full)) as tf:
        hdr = next(m for m in tf.getmembers() if m.name == "t3.json").offset
    (tmp_path / "d_garbage.tar").write_bytes(full[:hdr] + b"\x07" * 512 + full[hdr + 512:])

    d = audit_shards(tmp_path, progress=False, workers=1).to_dict()
    errs = {(e["shard"].rsplit("/", 1)[-1], e["member"]): e["error"] for e in d["errors"]}
    assert set(errs) == {("a_corrupt_member.tar", "k2.json"), ("b_truncated.tar", "t2.jpg"),
                         ("c_not_a_tar.tar", ""), ("d_garbage.tar", "t2.jpg")}
    assert "invalid JSON" in errs[("a_corrupt_member.tar", "k2.json")]
    assert "not kept" in errs[("b_truncated.tar", "t2.jpg")]
    assert "invalid tar header" in errs[("d_garbage.tar", "t2.jpg")]
    assert d["by_lang"]["deu_Latn"]["samples"] == 3           # k0, k1, k3
    # The sample being read at a break may be incomplete (shard_format's one rule): not counted.
    assert d["by_lang"]["fra_Latn"]["samples"] == 2 + 2       # truncated: t0, t1; garbage: t0, t1
    assert d["total_samples"] == 7 and d["shards"] == 4


def test_tar_cut_at_a_member_boundary_is_reported(tmp_path):
    with wds.TarWriter(str(tmp_path / "x.tar")) as w:
        for i in range(3):
            w.write({"__key__": f"k{i}", "txt": SENTENCES["eng_Latn"][i], "jpg": JPEG})
    data = (tmp_path / "x.tar").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        last = tf.getmembers()[-1]
    (tmp_path / "x.tar").write_bytes(data[: last.offset_data + (last.size + 511) // 512 * 512])
    d = audit_shards(tmp_path, progress=False).to_dict()
    assert d["total_samples"] == 2          # k2 may have lost members after the cut: not counted
    assert len(d["errors"]) == 1 and "truncated" in d["errors"][0]["error"]


def test_expand_shards_forms(tmp_path):
    for i in range(3):
        (tmp_path / f"{i:05d}.tar").write_bytes(b"")
    names = [str(tmp_path / f"{i:05d}.tar") for i in range(3)]
    assert expand_shards(tmp_path) == names
    assert expand_shards(str(tmp_path / "*.tar")) == names
    assert expand_shards(str(tmp_path / "{00000..00002}.tar")) == names
    assert expand_shards(names[:2]) == names[:2]
    with pytest.raises(FileNotFoundError, match="no shard matches"):
        expand_shards(str(tmp_path / "*.tgz"))
    with pytest.raises(FileNotFoundError, match="shard not found"):
        expand_shards(str(tmp_path / "nope.tar"))
    # a brace range with a missing shard: reported, the others audited
    with wds.TarWriter(names[0]) as w:
        w.write({"__key__": "a", "txt": "hello world", "jpg": JPEG})
    d = audit_shards(str(tmp_path / "{00000..00003}.tar"), progress=False, workers=1).to_dict()
    assert d["total_samples"] == 1
    assert [e["shard"].rsplit("/", 1)[-1] for e in d["errors"]] == ["00001.tar", "00002.tar", "00003.tar"]


def _cli():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


def test_cli_max_deviation_exit_codes(tmp_path):
    _known_mix(tmp_path)                       # manifest targets match the mix exactly
    runner = CliRunner()
    ok = runner.invoke(_cli(), ["audit", str(tmp_path), "--max-deviation", "0.01", "-q"])
    assert ok.exit_code == 0, ok.output
    assert "within 1.00 pts" in ok.output and "counts match" in ok.output
    # planted: the same shards against a manifest that asks for a different mix
    man = json.loads((tmp_path / "manifest.json").read_text())
    man["targets"]["by_lang"] = {"eng_Latn": 0.5, "deu_Latn": 0.2, "fra_Latn": 0.15, "jpn_Jpan": 0.15}
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    bad = runner.invoke(_cli(), ["audit", str(tmp_path), "--max-deviation", "0.01", "-q",
                                 "--json", str(tmp_path / "a.json")])
    assert bad.exit_code == 1, bad.output
    assert "eng_Latn" in bad.output and "off target" in bad.output
    assert json.loads((tmp_path / "a.json").read_text())["target_source"].startswith("manifest:")
    loose = runner.invoke(_cli(), ["audit", str(tmp_path), "--max-deviation", "0.2", "-q"])
    assert loose.exit_code == 0, loose.output
    (tmp_path / "manifest.json").unlink()
    none = runner.invoke(_cli(), ["audit", str(tmp_path), "--max-deviation", "0.01", "-q"])
    assert none.exit_code == 2 and "needs targets" in none.output
    missing = runner.invoke(_cli(), ["audit", str(tmp_path / "nothing-*.tar"), "-q"])
    assert missing.exit_code == 2 and "no shard matches" in missing.output


def test_html_report_is_self_contained_with_pngs(tmp_path):
    _known_mix(tmp_path / "shards")
    res = audit_shards(tmp_path / "shards", targets={"eng_Latn": 0.5, "deu_Latn": 0.5}, progress=False)
    path = res.write_html(tmp_path / "report" / "audit.html")
    text = path.read_text(encoding="utf-8")
    srcs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", text)
    assert srcs and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in srcs)
    assert "<link" not in text and "<script" not in text
    for key in ("share", "tiers", "lid"):
        png = (tmp_path / "report" / f"audit.{key}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 2000
    assert text.count("data:image/png;base64,") == 3 and "jpn_Jpan" in text


def test_rich_table_lists_every_language(tmp_path):
    from rich.console import Console

    _known_mix(tmp_path)
    res = audit_shards(tmp_path, progress=False)
    con = Console(width=250, record=True)
    con.print(res.rich_table())
    out = con.export_text()
    for code in ("eng_Latn", "deu_Latn", "fra_Latn", "jpn_Jpan"):
        assert code in out
    with pytest.raises(ValueError, match="no targets"):      # audit_shards itself takes targets only when given
        res.max_abs_deviation()


def test_one_column_spec_makes_the_json_and_both_tables(tmp_path):
    from rich.console import Console

    from mixkit.audit.columns import LANG_COLUMNS, table_columns

    _known_mix(tmp_path / "shards")
    res = audit_shards(tmp_path / "shards", progress=False, workers=1)
    assert all(list(r) == [c.key for c in LANG_COLUMNS] for r in res.by_lang.values())
    assert all(c.doc for c in LANG_COLUMNS)
    table = res.rich_table()
    assert [str(c.header) for c in table.columns] == ["lang"] + [c.header for c in table_columns(terminal=True)]
    html = res.write_html(tmp_path / "a.html").read_text(encoding="utf-8")
    langs = html[html.index("<h2>Languages</h2>"):]
    heads = re.findall(r"<th>([^<]*)</th>", langs[:langs.index("</thead>")])
    assert heads == ["lang"] + [c.header for c in table_columns(terminal=False)]
    assert [c.header for c in LANG_COLUMNS if c.header and not c.terminal] == ["declared", "LID checked"]
    con = Console(width=250, record=True)
    con.print(table)
    eng = next(l for l in con.export_text().splitlines() if "eng_Latn" in l)
    r = res.by_lang["eng_Latn"]
    assert [c.text(r) for c in table_columns(terminal=True)] == [x.strip() for x in eng.split("│")[2:-1]]


def test_fast_tar_header_parser_reads_what_tarfile_reads():
    from mixkit.core.shard_format import _FastTarInfo

    names = ["a.json", "ü/ß.json", "p/" * 60 + "k.txt", "d/" + "x" * 120 + ".jpg"]
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
            d = tarfile.TarInfo("somedir")
            d.type = tarfile.DIRTYPE
            tf.addfile(d)
            for name in names[:3] if fmt == tarfile.USTAR_FORMAT else names:
                ti = tarfile.TarInfo(name)
                ti.size = 700
                tf.addfile(ti, io.BytesIO(b"z" * 700))
        ref = [(m.name, m.size, m.offset_data, m.type) for m in tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r|*")]
        fast = [(m.name, m.size, m.offset_data, m.type)
                for m in tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r|*", tarinfo=_FastTarInfo)]
        assert fast == ref and len(ref) >= 4


def test_batched_lid_gives_what_one_by_one_gives(tmp_path, monkeypatch):
    """The audit batches LID per shard; the counts, detections and confusions must not depend on it."""
    from mixkit.audit import measure

    items = [(s, {}) for lang in SENTENCES for s in SENTENCES[lang]] * 3
    items += [(s, {"LANGUAGE": "de"}) for s in SENTENCES["fra_Latn"]]       # declared German, reads French
    _img2dataset_shard(tmp_path / "00000.tar", items)
    _known_mix(tmp_path / "mix")
    runs = []
    for batch in (1, 7, 256):
        monkeypatch.setattr(measure, "LID_BATCH", batch)
        d = audit_shards([str(tmp_path / "00000.tar"), str(tmp_path / "mix")], progress=False, workers=1).to_dict()
        runs.append({k: d[k] for k in ("by_lang", "detected_samples", "total_samples")})
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["by_lang"]["deu_Latn"]["lid_checked"] >= 3
    assert runs[0]["by_lang"]["deu_Latn"]["lid_agreement"] < 1
    assert "fra_Latn" in runs[0]["by_lang"]["deu_Latn"]["lid_confusions"]


def test_foreign_json_with_non_string_source_or_task_is_counted(tmp_path):
    write_tar(tmp_path / "odd.tar", [(name, json.dumps(doc).encode()) for name, doc in [
        ("a.json", {"source": ["x"], "task": {"a": 1}, "caption": "a cat on a mat"}),
        ("b.json", {"source": 5, "caption": "a dog on a log"})]])
    d = audit_shards(tmp_path, progress=False, workers=1).to_dict()
    assert d["total_samples"] == 2 and not d["errors"]
    assert set(d["by_source"]) == {"['x']", "5"} and "{'a': 1}" in d["by_task"]


def test_a_key_repeated_far_apart_is_counted_once_and_reported(tmp_path):
    """GNU `tar cf` from a folder stores files in directory order: a sample's members can be far apart."""
    path = write_tar(tmp_path / "unsorted.tar", [
        ("a.jpg", JPEG), ("b.txt", b"A red house by the river at night."), ("b.jpg", JPEG),
        ("a.txt", b"Two children play football in the park.")])
    d = audit_shards(str(path), progress=False, workers=1).to_dict()
    assert d["total_samples"] == 2                      # a (image only, first group) and b; not a again
    assert len(d["errors"]) == 1 and "'a' appeared earlier" in d["errors"][0]["error"]
