import pytest

from mixkit.lang import languages as L


def test_registry_has_the_studys_100_languages_by_tier():
    langs = L.centurio_languages()
    assert len(langs) == 100
    tiers = {t: sum(l.tier == t for l in langs) for t in L.TIERS}
    assert tiers == {"T5": 7, "T4": 18, "T3": 28, "T2": 17, "T1": 30}
    assert len(L.by_tier("T5")) == 7 and "eng_Latn" in L.by_tier("T5")


@pytest.mark.parametrize("alias,code", [
    ("de", "deu_Latn"), ("deu", "deu_Latn"), ("German", "deu_Latn"), ("german", "deu_Latn"),
    ("du", "nld_Latn"), ("iw", "heb_Hebr"), ("ar", "arb_Arab"), ("zh", "zho_Hant"),
    ("zho_Hans", "zho_Hans"), ("sw", "swh_Latn"), ("fa", "pes_Arab"), ("la", "lat_Latn"),
])
def test_aliases_resolve_to_flores_codes(alias, code):
    assert L.resolve(alias) == code


def test_unknown_code_suggests_nearest():
    with pytest.raises(L.UnknownLanguageError, match="deu_Latn"):
        L.resolve("deu_Latm")


def test_registry_knows_flores_beyond_the_100_and_nllb_limits():
    assert len(L.all_languages()) >= 203
    assert not L.get("zho_Hans").centurio and L.get("zho_Hans").nllb
    assert not L.get("la").nllb                       # Latin: no NLLB code
    assert sum(l.nllb for l in L.centurio_languages()) == 99


def test_lid_coverage_recorded():
    assert L.get("deu_Latn").lid176 == "de"
    assert L.get("zul_Latn").lid176 == ""             # lid.176 has no Zulu label
    assert set(L.lid_label_map()["zh"]) >= {"zho_Hans", "zho_Hant"}


def test_every_code_has_its_own_script_and_name():
    for l in L.all_languages():
        assert l.code.split("_")[1] == l.script and l.name


def test_languages_command_shows_detector_and_text_source_for_all_100():
    from typer.testing import CliRunner

    from mixkit.cli import app

    res = CliRunner().invoke(app, ["languages"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    rows = [l for l in res.output.splitlines() if l.startswith("│")]
    assert len(rows) == 100
    assert not [r for r in rows if "none" in r.split("│")[8]], "a language without a language check"
    smo = next(r for r in rows if "smo_Latn" in r)
    assert "ngram:udhr:smo" in smo and "udhr:smo" in smo.split("│")[9] and "cldr:to" not in smo
    arz = next(r for r in rows if "arz_Arab" in r)
    assert "different variety" in arz
