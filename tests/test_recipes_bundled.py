"""The study's mixes as bundled recipes: each loads, plans without data, and its quotas match the
English share, language set and distribution the study states."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mixkit.lang import languages
from mixkit.build.plan import quotas
from mixkit.build.recipe import TierWeights, load_recipe
from ocr_synth.options import ocr_quotas

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes" / "centurio").glob("*.yaml")) + sorted((ROOT / "recipes" / "ablations").glob("*.yaml"))
EN = languages.ENGLISH
IT_TOTAL, PT_TOTAL = 779_289, 1_200_000

# file -> (total, english share, number of non-English languages)
EXPECTED = {
    "languages_en_only": (IT_TOTAL, 1.0, 0),
    "languages_t5": (IT_TOTAL, 0.5, 6),
    "languages_t5_t4": (IT_TOTAL, 0.5, 24),
    "languages_t5_t3": (IT_TOTAL, 0.5, 52),
    "languages_t5_t2": (IT_TOTAL, 0.5, 69),
    "languages_all": (IT_TOTAL, 0.5, 99),
    **{f"it_english_{p:02d}": (IT_TOTAL, p / 100, 99) for p in (1, 10, 25, 50, 75, 90)},
    "pt_english_100": (PT_TOTAL, 1.0, 0),
    "pt_english_050": (PT_TOTAL, 0.5, 99),
    "pt_english_001": (PT_TOTAL, 0.01, 99),
    "pt_distribution_uniform": (PT_TOTAL, 0.5, 99),
    "pt_distribution_stratified": (PT_TOTAL, 0.5, 99),
    **{n: (PT_TOTAL, 0.5, 99) for n in ("ocr_none", "ocr_500k_en50", "ocr_500k_en01", "ocr_default", "ocr_latin_down")},
    "pretrain": (2_000_000, 0.5, 99),
    "instruct": (2_470_000, 0.5, 99),
}


def test_every_study_recipe_is_bundled():
    assert {p.stem for p in RECIPES} == set(EXPECTED)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_plans_to_the_stated_shares(path):
    r = load_recipe(path)
    total, share, n_other = EXPECTED[path.stem]
    desc = r.description.strip()
    assert desc and "\n" not in desc and len(r.finding) > 60      # one-line description + the finding
    q = quotas(r)
    assert r.total == total and sum(q.values()) == total
    assert abs(q[EN] - share * total) <= 1
    others = {c: n for c, n in q.items() if c != EN}
    assert len(others) == n_other
    if n_other and not isinstance(r.distribution, TierWeights):
        # uniform: every other language gets (1 - share) * total / n, within one sample
        assert max(others.values()) - min(others.values()) <= 1
        assert abs(min(others.values()) - (1 - share) * total / n_other) <= 1


def test_language_ablations_select_the_tiers():
    def langs(name):
        return set(load_recipe(ROOT / "recipes" / "ablations" / f"{name}.yaml").languages)
    assert langs("languages_en_only") == {EN}
    assert langs("languages_t5") == set(languages.by_tier("T5"))
    assert langs("languages_t5_t4") == set(languages.by_tier("T5", "T4"))
    assert langs("languages_t5_t2") == set(languages.by_tier("T5", "T4", "T3", "T2"))
    assert langs("languages_all") == {l.code for l in languages.centurio_languages()}
    assert "zho_Hant" in langs("languages_all") and "lat_Latn" in langs("languages_all")


def test_stratified_upsamples_low_tiers_five_to_one():
    r = load_recipe(ROOT / "recipes" / "ablations" / "pt_distribution_stratified.yaml")
    q = quotas(r)
    per_tier = {}
    for t in languages.TIERS:
        vals = [q[c] for c in languages.by_tier(t) if c != EN]
        assert max(vals) - min(vals) <= 1                   # uniform within a tier
        per_tier[t] = sum(vals) / len(vals)
    assert per_tier["T1"] / per_tier["T5"] == pytest.approx(5.0, rel=1e-3)
    assert per_tier["T3"] / per_tier["T5"] == pytest.approx(3.0, rel=1e-3)
    # weights 5/4/3/2/1 over 30/17/28/18/6 languages sum to 344: T1 gets 600k * 5/344 each
    assert per_tier["T1"] == pytest.approx(600_000 * 5 / 344, abs=1)


@pytest.mark.parametrize("name,total,english,non_latin,latin", [
    ("ocr_none", 0, 0, 0, 0),
    ("ocr_default", 1_160_000, 500_000, 10_000, 5_000),
    ("ocr_latin_down", 995_000, 500_000, 10_000, 2_500),
    ("ocr_500k_en01", 500_000, 5_000, 5_000, 5_000),
    ("ocr_500k_en50", 499_975, 250_000, 2_525, 2_525),
])
def test_ocr_ablation_quotas(name, total, english, non_latin, latin):
    r = load_recipe(ROOT / "recipes" / "ablations" / f"{name}.yaml")
    if not r.steps.ocr.enabled:
        assert total == 0
        return
    oq = ocr_quotas(r.steps.ocr, r.languages)
    assert sum(oq.values()) == total and oq[EN] == english
    assert oq["tha_Thai"] == non_latin and oq["deu_Latn"] == latin


def test_final_centurio_mixes():
    pt = load_recipe(ROOT / "recipes" / "centurio" / "pretrain.yaml")
    q = quotas(pt)
    assert q[EN] == 1_000_000 and {n for c, n in q.items() if c != EN} == {10_101, 10_102}
    assert pt.steps.ocr.enabled and sum(ocr_quotas(pt.steps.ocr, pt.languages).values()) == 1_160_000
    assert {s.name for s in pt.sources} == {"sharegpt4v_pt", "allava_caption"}
    it = load_recipe(ROOT / "recipes" / "centurio" / "instruct.yaml")
    kept = {s.name for s in it.sources if not s.translate}
    assert kept == {"ocrvqa", "docvqa", "ai2d", "chartqa", "dvqa", "scienceqa", "ocr_math_chart_other"}
    assert len([s for s in it.sources if s.translate]) == 17
    assert it.steps.translate.model == "facebook/nllb-200-distilled-1.3B"


def test_build_plan_only_without_data(tmp_path):
    from mixkit.cli import app

    runner = CliRunner()
    for path in RECIPES:
        res = runner.invoke(app, ["build", str(path), "--plan-only", "--out", str(tmp_path / path.stem)],
                            env={"COLUMNS": "200"})
        assert res.exit_code == 0, f"{path.name}: {res.output[-1500:]}"
        assert "quotas for total=" in res.output
        assert not (tmp_path / path.stem).exists()          # nothing built, nothing read
    res = runner.invoke(app, ["build", str(ROOT / "recipes" / "centurio" / "pretrain.yaml"), "--plan-only",
                              "--out", str(tmp_path / "x")], env={"COLUMNS": "200"})
    assert "OCR samples on top: 1160000" in res.output and "10102" in res.output


def test_recipes_listing_shows_them():
    from mixkit.cli import app

    res = CliRunner().invoke(app, ["recipes"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "ablations/it_english_25.yaml" in res.output and "centurio/pretrain.yaml" in res.output
