"""Segmentation, cache and output checks of the translation stage (no model needed)."""
from __future__ import annotations

import multiprocessing as mp

import pytest

from translation.cache import TranslationCache
from translation.checks import OutputChecker, longest_repeat
from translation.options import CheckOptions, KeepAnswers
from translation.segment import Segmenter, chars_estimate, split_sentences


def seg(text, **kw):
    return Segmenter(**kw).segment(text)


@pytest.mark.parametrize("text, segments", [
    ("<image>\nDescribe the image in detail.", ["Describe the image in detail."]),
    ("Question: How many birds? Options:\nA. one\nB. two\n(C) three\nAnswer with the letter.",
     ["Question: How many birds?", "Options:", "one", "two", "three", "Answer with the letter."]),
    ("See https://example.com/a?b=1. It costs 3.5 kg, e.g. Dr. Smith said so. Next one!",
     ["See", "It costs 3.5 kg, e.g. Dr. Smith said so.", "Next one!"]),
    ("## Steps\n1. Open the `config.yaml` file.\n- **Bold** point here", ["Steps", "Open the", "file.", "Bold", "point here"]),
    ("```python\nprint('hello world')\n```\nDone.", ["Done."]),
    ("| Name | Age |\n|---|---|\n| Bob | 42 |", ["Name", "Age", "Bob"]),
    ("Mail me at a.b@example.org today.", ["Mail me at", "today."]),
    ("B", []), ("42", []), ("(C)", []), ("-3.5", []), ("1,000", []),
    ("Yes", ["Yes"]),
])
def test_segments_are_prose_only(text, segments):
    t = seg(text)
    assert t.segments == segments
    assert t.render(t.segments) == text            # identity translation restores the input byte for byte
    for s in t.segments:
        assert "<image>" not in s and "\n" not in s and "http" not in s and "`" not in s


def test_yes_no_rule_and_patterns():
    assert seg("Yes.", keep=KeepAnswers(yes_no="keep")).segments == []
    assert seg("no", keep=KeepAnswers(yes_no="keep")).segments == []
    assert seg("Yes, it is red.", keep=KeepAnswers(yes_no="keep")).segments == ["Yes, it is red."]
    assert seg("Q17-b", keep=KeepAnswers(patterns=[r"Q\d+-[a-z]"])).segments == []


def test_sentence_split_keeps_abbreviations_and_decimals():
    assert split_sentences("It is 3.5 m long. Mr. Lee agrees! Is it? yes") == \
        ["It is 3.5 m long. ", "Mr. Lee agrees! ", "Is it? yes"]


def test_long_sentence_split_at_clauses_never_truncated():
    long = ", ".join(f"the {i}th red house stands near the river" for i in range(12)) + "."
    s = Segmenter(max_tokens=40, count_tokens=chars_estimate)
    t = s.segment(long)
    assert len(t.segments) > 1 and not t.too_long
    assert all(chars_estimate(x) <= 40 for x in t.segments)
    assert t.render(t.segments) == long
    t2 = s.segment("x" * 400 + " word")               # nothing to split at: reported, not cut
    assert t2.too_long


def test_cjk_join_drops_space_between_sentences():
    t = seg("One cat. Two dogs.")
    assert t.render(["一只猫。", "两只狗。"], join_sentences="") == "一只猫。两只狗。"
    assert t.render(["A.", "B."]) == "A. B."


# -- cache -------------------------------------------------------------------------------------

def test_cache_key_depends_on_model_settings_lang(tmp_path):
    c = TranslationCache(tmp_path, "m1", {"num_beams": 1})
    c.put("eng_Latn", "deu_Latn", "A dog.", "Ein Hund.")
    c.flush()
    assert TranslationCache(tmp_path, "m1", {"num_beams": 1}).get("eng_Latn", "deu_Latn", "A dog.") == ("Ein Hund.", False)
    assert TranslationCache(tmp_path, "m2", {"num_beams": 1}).get("eng_Latn", "deu_Latn", "A dog.") is None
    assert TranslationCache(tmp_path, "m1", {"num_beams": 4}).get("eng_Latn", "deu_Latn", "A dog.") is None
    assert TranslationCache(tmp_path, "m1", {"num_beams": 1}).get("eng_Latn", "fra_Latn", "A dog.") is None
    assert not list(tmp_path.rglob("*.tmp"))


def _writer(args):
    root, wid = args
    c = TranslationCache(root, "m", {})
    for i in range(60):
        c.put("eng_Latn", "deu_Latn", f"sentence {i % 30}", f"Satz {i % 30}")   # overlapping keys
    c.flush()
    return wid


def test_cache_concurrent_writers_processes(tmp_path):
    with mp.get_context("spawn").Pool(3) as pool:
        pool.map(_writer, [(str(tmp_path), w) for w in range(3)])
    c = TranslationCache(tmp_path, "m", {})
    assert len(c) == 30
    assert all(c.get("eng_Latn", "deu_Latn", f"sentence {i}") == (f"Satz {i}", False) for i in range(30))
    assert not list(tmp_path.rglob("*.tmp"))
    # a corrupt entry reads as a miss, not a crash
    p = next(tmp_path.rglob("*.json"))
    p.write_text("{not json")
    assert sum(TranslationCache(tmp_path, "m", {}).get("eng_Latn", "deu_Latn", f"sentence {i}") is None
               for i in range(30)) == 1


# -- checks ------------------------------------------------------------------------------------

MSG = [{"role": "user", "content": "<image>\nDescribe the picture of the house."}]


def run_check(src: str, out: str, tgt: str, **opts):
    ch = OutputChecker(CheckOptions(**opts))
    return ch.check(MSG, [{"role": "user", "content": "<image>\n" + out}], [(src, out, False)], True, tgt)


def test_checks_accept_good_translation():
    r = run_check("Describe the picture of the house in a few words.",
                  "Beschreiben Sie das Bild des Hauses in wenigen Worten.", "deu_Latn")
    assert r.ok and r.info["lid"]["status"] == "ok"


@pytest.mark.parametrize("out, tgt, reason", [
    ("das Haus das Haus das Haus das Haus das Haus das Haus", "deu_Latn", "repetition_loop"),
    ("Describe the picture of the house in a few words.", "deu_Latn", "untranslated_copy"),
    ("Describe the picture of the house in a few words.", "hin_Deva", "untranslated_copy"),
    ("Décrivez l'image de la maison en quelques mots, s'il vous plaît.", "deu_Latn", "wrong_language"),
    ("Beschreiben Sie das Bild.", "hin_Deva", "wrong_language"),
    ("Haus.", "deu_Latn", "length_ratio"),
])
def test_checks_reject_with_reason(out, tgt, reason):
    r = run_check("Describe the picture of the house in a few words.", out, tgt)
    assert r.reason == reason, r


def test_checks_numbers_and_placeholders():
    r = run_check("There are 3 dogs and 12 cats in the garden.", "Es gibt 3 Hunde und Katzen im Garten.", "deu_Latn")
    assert r.reason == "lost_placeholder"
    r = run_check("It costs 1,000 dollars in total today.", "Es kostet insgesamt 1.000 Dollar heute.", "deu_Latn")
    assert r.ok, r
    ch = OutputChecker(CheckOptions())
    r = ch.check(MSG, [{"role": "user", "content": "Beschreibe das Bild des Hauses."}],
                 [("Describe the picture of the house.", "Beschreibe das Bild des Hauses.", False)], True, "deu_Latn")
    assert r.reason == "lost_placeholder" and "<image>" in r.detail


def test_unknown_to_lid_is_unchecked_not_rejected():
    from mixkit import languages
    from mixkit.lid import LanguageIdentifier

    lid = LanguageIdentifier()
    code = next(l.code for l in languages.all_languages() if l.nllb and l.script == "Latn" and not lid.can_check(l.code))
    r = run_check("Describe the picture of the house in a few words.", "Xanu ke tila numa kotaro mesu wande.", code)
    assert r.ok and r.info["lid"]["status"] == "unchecked"


def test_repeat_counter():
    assert longest_repeat("a b a b a b a b c".split(), 4)[0] == 4
    assert longest_repeat("one two three".split(), 4)[0] == 1
