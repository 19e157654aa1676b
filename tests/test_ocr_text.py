"""OCR text at scale: Wikipedia dumps in the wikimedia/wikipedia layout feed ocr.text_files, passages are not
repeated before the pool is used up, and a quota the pool cannot carry warns with the figure."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocr_synth.options import OcrOptions, reuse_warning, text_reuse
from ocr_synth.text_sources import clean_article, load_text_files, passage_starts, wiki_language

ROOT = Path(__file__).resolve().parents[1]

GERMAN = [
    "Der Rhein ist ein Strom in Mitteleuropa. Er entspringt in den Alpen und mündet in die Nordsee.\n"
    "{| class=\"wikitable\"\n| Länge || 1233 km\n|}\n"
    "Auf seinem Weg fließt er durch die Schweiz, Liechtenstein, Österreich, Deutschland, Frankreich und die Niederlande.\n"
    "Geschichte\n"
    "Schon die Römer nutzten den Fluss als Grenze ihres Reiches und als Handelsweg für Wein und Getreide.",
    "Die Stadt Köln liegt am Rhein und ist für ihren gotischen Dom bekannt, der viele Besucher anzieht.\n"
    "* [[Liste der Brücken]]\n"
    "Der Bau des Doms begann im Jahr 1248 und wurde erst im neunzehnten Jahrhundert vollendet.",
]
SWAHILI = [
    "Mto Nile ni mto mrefu kuliko yote barani Afrika na unapita katika nchi nyingi za mashariki.\n"
    "<ref>Chanzo cha habari</ref>\n"
    "Wakulima wengi hutegemea maji ya mto huo kwa kilimo cha mazao kama mpunga na pamba.",
    "Dar es Salaam ni mji mkubwa wa Tanzania ulioko kando ya Bahari ya Hindi, wenye bandari kubwa.\n"
    "| Idadi ya watu || 4,364,541\n"
    "Mji huo ni kituo muhimu cha biashara na usafiri kwa nchi jirani zisizo na bahari.",
]


def wiki_dump(root: Path, code: str, texts: list[str]) -> Path:
    """A tiny copy of the wikimedia/wikipedia layout: <root>/20231101.<code>/train-00000-of-00001.parquet."""
    folder = root / f"20231101.{code}"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))],
                             "url": [f"https://{code}.wikipedia.org/wiki?curid={i}" for i in range(len(texts))],
                             "title": [t.split()[0] for t in texts], "text": texts}),
                   folder / "train-00000-of-00001.parquet")
    return folder


@pytest.fixture()
def wiki(tmp_path):
    root = tmp_path / "wikipedia"
    wiki_dump(root, "de", GERMAN)
    wiki_dump(root, "sw", SWAHILI)
    return root


def test_wikimedia_folders_give_clean_paragraphs_per_language(wiki):
    pool = load_text_files([str(wiki)])
    assert set(pool) == {"deu_Latn", "swh_Latn"}
    assert pool["deu_Latn"][0].startswith("Der Rhein ist ein Strom")
    text = " ".join(pool["deu_Latn"] + pool["swh_Latn"])
    for markup in ("wikitable", "||", "[[", "<ref", "Idadi ya watu", "Geschichte"):
        assert markup not in text                     # tables, link lists, references, headings dropped
    assert len(pool["deu_Latn"]) == 5 and len(pool["swh_Latn"]) == 4
    # one folder, or one file of it, reads the same
    assert load_text_files([str(wiki / "20231101.sw")]) == {"swh_Latn": pool["swh_Latn"]}
    assert load_text_files([str(wiki / "20231101.sw" / "train-00000-of-00001.parquet")])["swh_Latn"] == pool["swh_Latn"]


def test_wikimedia_folders_and_text_files_in_a_bucket_read_as_on_disk(wiki, s3_env, tmp_path):
    """ocr.text_files on s3:// (a dump kept in a bucket, read in place by every OCR worker): the
    same paragraphs per language as the same files on disk, for a folder of wikis, one wiki
    folder, a .tsv and a .txt named after its language."""
    from mixkit.core import storage
    from ocr_synth.text_sources import file_languages

    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "extra.tsv").write_text("fra_Latn\tLe Rhône traverse Lyon avant de rejoindre la mer.\n")
    (tmp_path / "more" / "ita_Latn.txt").write_text("Il Po è il fiume più lungo d'Italia e attraversa la pianura.\n")
    local = {"wiki": str(wiki), "de": str(wiki / "20231101.de"), "tsv": str(tmp_path / "more" / "extra.tsv"),
             "txt": str(tmp_path / "more" / "ita_Latn.txt")}
    for f in [*wiki.rglob("*.parquet"), *(tmp_path / "more").iterdir()]:
        rel = f.relative_to(wiki.parent if f.is_relative_to(wiki) else tmp_path)
        storage.write_bytes(f"s3://mix/ocr-text/{rel}", f.read_bytes())
    remote = {"wiki": "s3://mix/ocr-text/wikipedia", "de": "s3://mix/ocr-text/wikipedia/20231101.de",
              "tsv": "s3://mix/ocr-text/more/extra.tsv", "txt": "s3://mix/ocr-text/more/ita_Latn.txt"}
    for k in local:
        assert load_text_files([remote[k]]) == load_text_files([local[k]]), k
    assert file_languages(list(remote.values())) == {"deu_Latn", "swh_Latn", "fra_Latn", "ita_Latn"}
    with pytest.raises(FileNotFoundError, match="s3://mix/ocr-text/nothing"):
        load_text_files(["s3://mix/ocr-text/nothing"])


def test_wiki_codes_map_to_flores_codes(tmp_path):
    assert wiki_language("20231101.de") == "deu_Latn" and wiki_language("20231101.no") == "nob_Latn"
    assert wiki_language("20231101.als") == "gsw_Latn"        # Alemannic on Wikipedia, not Albanian
    assert wiki_language("20231101.sw") == "swh_Latn" and wiki_language("notes") is None
    with pytest.raises(ValueError, match="no language the registry knows"):
        wiki_language("20231101.xx-nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="20231101.de"):
        load_text_files([str(tmp_path / "empty")])


def test_clean_article_links_become_text():
    assert clean_article("Der [[Rhein|Fluss]] fließt durch [[Basel]] und dann weiter nach Norden zur Nordsee.") == [
        "Der Fluss fließt durch Basel und dann weiter nach Norden zur Nordsee."]


def test_passages_are_drawn_without_repeats_until_the_pool_is_used_up():
    from ocr_synth.stage import _Text

    blocks = [("p", f"Absatz {i} " + "Wort " * 80) for i in range(40)]      # ~410 characters each
    starts = passage_starts(blocks)
    assert starts[0] == 0 and len(starts) == 20                          # two blocks per passage
    text = _Text(blocks, [], ["text_files"], {})
    first = [text.passage(7, "deu_Latn", i) for i in range(len(starts))]
    assert sorted(first) == starts                                       # each passage once
    assert [text.passage(7, "deu_Latn", i + len(starts)) for i in range(3)] == first[:3]
    assert first != sorted(first)                                        # a seeded order, not the file order
    assert [_Text(blocks, [], [], {}).passage(7, "deu_Latn", i) for i in range(5)] == first[:5]


def test_reuse_is_computed_per_language_and_warns_above_the_threshold(wiki):
    opts = OcrOptions(enabled=True, text_sources=["text_files", "udhr"], text_files=[str(wiki)],
                      tasks={"ocr": 0.9, "chart_qa": 0.1})
    reuse = text_reuse(opts, {"deu_Latn": 100, "swh_Latn": 0, "fra_Latn": 10})
    assert set(reuse) == {"deu_Latn", "fra_Latn"}                        # no quota, no figure
    de = reuse["deu_Latn"]
    assert de["documents"] == 90 and de["origin"] == "text_files+udhr:deu_1996"
    assert de["reuse"] == pytest.approx(90 / de["passages"], abs=0.01) and de["reuse"] > 3
    assert reuse["fra_Latn"]["reuse"] < 3
    warning = reuse_warning(reuse)
    assert "deu_Latn" in warning and f"{de['reuse']:.1f}x" in warning and "ocr.text_files" in warning
    assert "fra_Latn" not in warning
    assert reuse_warning(text_reuse(opts, {"fra_Latn": 10})) == ""


def test_a_build_feeds_ocr_from_a_wikimedia_folder_and_warns_when_the_pool_is_too_small(wiki, tmp_path):
    from mixkit.build.recipe import load_recipe
    from mixkit.build.runner import build

    native = ROOT / "recipes/demo_data/native"
    recipe = tmp_path / "wiki.yaml"
    recipe.write_text(f"""
name: wiki-ocr
total: 40
english_share: 0.5
languages: [eng_Latn, deu_Latn]
sources:
  - {{name: caps, path: {ROOT / 'recipes/demo_data/captions_en.parquet'}}}
  - {{name: native, path: {native / 'deu_Latn.tar'}, format: webdataset}}
steps:
  translate: {{enabled: false}}
  ocr:
    enabled: true
    per_lang: {{deu_Latn: 8, eng_Latn: 0}}
    tasks: {{ocr: 1.0}}
    width: [448, 480]
    augment: false
    text_sources: [text_files]
    text_files: [{wiki}]
""")
    m = build(load_recipe(recipe), tmp_path / "out", progress=False, backend="local").manifest
    reuse = m["ocr_text_reuse"]
    de = reuse["by_lang"]["deu_Latn"]
    assert de["documents"] == 8 and de["origin"] == "text_files" and de["reuse"] == 8 / de["passages"] > 3
    assert "deu_Latn" in reuse["warning"] and "ocr.text_files" in reuse["warning"] and reuse["threshold"] == 3.0
    pool = " ".join(load_text_files([str(wiki)])["deu_Latn"])
    answers = []
    for info in m["shards"]:
        with tarfile.open(tmp_path / "out" / "shards" / info["path"]) as tf:
            for member in tf.getmembers():
                if member.name.endswith(".json"):
                    doc = json.loads(tf.extractfile(member).read())
                    if doc["task"] == "ocr":
                        answers.append(doc["messages"][-1]["content"])
    assert len(answers) == 8
    for a in answers:                                   # every rendered line is German Wikipedia text
        assert all(line in pool for line in a.split("\n"))
