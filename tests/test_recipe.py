import textwrap

import pytest

from mixkit.build.recipe import RecipeError, check_sources_exist, load_recipe

BASE = """\
name: t
total: 100
english_share: 0.5
languages: [eng_Latn, de, fr]
sources:
  - name: caps
    path: data/caps.jsonl
"""


def _write(tmp_path, text, data=True):
    if data:
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "caps.jsonl").write_text('{"caption": "a", "image_path": "x.jpg"}\n')
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_valid_recipe_resolves_languages_and_paths(tmp_path):
    r = load_recipe(_write(tmp_path, BASE))
    assert r.languages == ["eng_Latn", "deu_Latn", "fra_Latn"]
    assert r.sources[0].path == str(tmp_path / "data" / "caps.jsonl")
    assert len(r.sha256) == 64


def test_unknown_key_names_file_line_field_and_valid_keys(tmp_path):
    p = _write(tmp_path, BASE + "    transalte: false\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert f"{p}:8: sources.0.transalte" in msg and "translate" in msg and "unknown key" in msg


def test_unknown_top_level_key(tmp_path):
    p = _write(tmp_path, BASE + "englsh_share: 0.3\n")
    with pytest.raises(RecipeError, match=r"r.yaml:8: englsh_share: unknown key.*english_share"):
        load_recipe(p)


def test_malformed_yaml_names_line(tmp_path):
    p = _write(tmp_path, BASE + "  - name: [oops\n")
    with pytest.raises(RecipeError, match=r"r.yaml:\d+: malformed YAML"):
        load_recipe(p)


def test_unknown_language_suggests(tmp_path):
    p = _write(tmp_path, BASE.replace("[eng_Latn, de, fr]", "[eng_Latn, deu_Latm]"))
    with pytest.raises(RecipeError, match=r"r.yaml:4: languages.*deu_Latn"):
        load_recipe(p)


def test_bad_ratios(tmp_path):
    p = _write(tmp_path, BASE.replace("english_share: 0.5", "english_share: 1.5"))
    with pytest.raises(RecipeError, match=r"r.yaml:3: english_share"):
        load_recipe(p)
    p = _write(tmp_path, BASE + "distribution:\n  explicit: {deu_Latn: 0.7, fra_Latn: 0.2}\n")
    with pytest.raises(RecipeError, match=r"r.yaml:9: distribution.explicit: .*add up to 1"):
        load_recipe(p)


def test_distribution_shapes(tmp_path):
    r = load_recipe(_write(tmp_path, BASE + "distribution:\n  tiers: {T5: 2, T4: 1}\n"))
    assert r.distribution.tiers == {"T5": 2, "T4": 1}
    r = load_recipe(_write(tmp_path, BASE + "distribution: {temperature: 0.3}\n"))
    assert r.distribution.temperature == 0.3
    with pytest.raises(RecipeError, match="distribution"):
        load_recipe(_write(tmp_path, BASE + "distribution: {temprature: 0.3}\n"))


def test_missing_source_path_names_line(tmp_path):
    p = _write(tmp_path, BASE.replace("data/caps.jsonl", "data/nope/*.jsonl"))
    r = load_recipe(p)
    with pytest.raises(RecipeError, match=r"r.yaml:7: sources.0.path"):
        check_sources_exist(r)


def test_missing_required_field(tmp_path):
    p = _write(tmp_path, BASE.replace("total: 100\n", ""))
    with pytest.raises(RecipeError, match=r"total: this field is required"):
        load_recipe(p)


def test_languages_by_tier_and_all(tmp_path):
    r = load_recipe(_write(tmp_path, BASE.replace("[eng_Latn, de, fr]", "[T5]")))
    assert len(r.languages) == 7
    r = load_recipe(_write(tmp_path, BASE.replace("[eng_Latn, de, fr]", "all")))
    assert len(r.languages) == 100


def test_bad_utf8_names_the_line(tmp_path):
    p = _write(tmp_path, BASE)
    p.write_bytes(p.read_bytes() + b"description: caf\xe9\n")
    with pytest.raises(RecipeError, match=r"r.yaml:8: the recipe is not valid UTF-8"):
        load_recipe(p)
