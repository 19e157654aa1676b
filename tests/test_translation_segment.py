"""Segmentation and output checks of the translation stage (no model needed); the cache: test_translation_cache.py."""
from __future__ import annotations

import pytest

from translation.checks import OutputChecker, find_loop
from translation.options import CheckOptions, KeepAnswers
from translation.segment import Segmenter, chars_estimate, split_sentences


def seg(text, **kw):
    return Segmenter(**kw).segment(text)


@pytest.mark.parametrize("text, segments", [
    ("<image>\nDescribe the image in detail.", ["Describe the image in detail."]),
    ("Question: How many birds? Options:\nA. one\nB. two\n(C) three\nAnswer with the letter.",
     ["Question: How many birds?", "Options:", "one", "two", "three", "Answer with the letter."]),
    ("See https://example.com/a?b=1. It costs 3.5 kg, e.g. Dr. Smith said so. Next one!",
     ["See [1].", "It costs 3.5 kg, e.g. Dr. Smith said so.", "Next one!"]),
    ("## Steps\n1. Open the `config.yaml` file.\n- **Bold** point here", ["Steps", "Open the [1] file.", "Bold point here"]),
    ("```python\nprint('hello world')\n```\nDone.", ["Done."]),
    ("| Name | Age |\n|---|---|\n| Bob | 42 |", ["Name", "Age", "Bob"]),
    ("Mail me at a.b@example.org today.", ["Mail me at [1] today."]),
    ("B", []), ("42", []), ("(C)", []), ("-3.5", []), ("1,000", []),
    ("Yes", ["Yes"]),
])
def test_segments_are_prose_only(text, segments):
    t = seg(text)
    assert t.segments == segments
    assert t.render_identity() == text             # identity translation restores the input byte for byte
    for s in t.segments:
        assert "<image>" not in s and "\n" not in s and "http" not in s and "`" not in s


@pytest.mark.parametrize("text, segments", [
    # JSON objects/arrays in an answer are data: keys and structure never reach the model
    ('The answer is:\n{"name": "Alice", "city": "Paris in France"}\nThat is the object.',
     ["The answer is:", "That is the object."]),
    ('[{"label": "dog", "bbox": [10, 20, 30, 40]}, {"label": "cat", "bbox": [1, 2, 3, 4]}]', []),
    ('Result:\r\n{\r\n  "caption": "A dog running in the park",\r\n  "objects": ["dog", "ball"]\r\n}\r\nDone here.',
     ["Result:", "Done here."]),
    ("[Note] the cat is here.\n{not json at all}", ["[Note] the cat is here.", "{not json at all}"]),
    # a tab between columns would come back as a space (SentencePiece): columns are cells
    ("Name\tAge\tCity\nAlice\t30\tParis", ["Name", "Age", "City", "Alice", "Paris"]),
    # markdown link targets and HTML comments are not prose
    ("See ![alt text](img.png) for details.", ["See ![alt text][1] for details."]),
    ("<!-- a comment here -->\nText here.", ["Text here."]),
])
def test_data_and_markup_are_not_prose(text, segments):
    t = seg(text)
    assert t.segments == segments
    assert t.render_identity() == text


def test_yes_no_rule_and_patterns():
    assert seg("Yes.", keep=KeepAnswers(yes_no="keep")).segments == []
    assert seg("no", keep=KeepAnswers(yes_no="keep")).segments == []
    assert seg("Yes, it is red.", keep=KeepAnswers(yes_no="keep")).segments == ["Yes, it is red."]
    assert seg("Q17-b", keep=KeepAnswers(patterns=[r"Q\d+-[a-z]"])).segments == []


def sentences(text, lang="eng_Latn"):
    return [text[a:b] for a, b in split_sentences(text, lang)]


def test_sentence_split_keeps_abbreviations_and_decimals():
    assert sentences("It is 3.5 m long. Mr. Lee agrees! Is it? yes") == \
        ["It is 3.5 m long.", "Mr. Lee agrees!", "Is it? yes"]


@pytest.mark.parametrize("text, lang, expected", [
    ("这是一只猫。那是一只狗！你看见了吗？", "zho_Hans", ["这是一只猫。", "那是一只狗！", "你看见了吗？"]),
    ("猫がいます。犬もいます。", "jpn_Jpan", ["猫がいます。", "犬もいます。"]),
    ("यह एक बिल्ली है। वह एक कुत्ता है॥ ठीक है", "hin_Deva", ["यह एक बिल्ली है।", "वह एक कुत्ता है॥", "ठीक है"]),
    ("هل هذا قط؟ نعم، هذا قط أسود.", "arb_Arab", ["هل هذا قط؟", "نعم، هذا قط أسود."]),
    ("یہ ایک بلی ہے۔ وہ ایک کتا ہے۔", "urd_Arab", ["یہ ایک بلی ہے۔", "وہ ایک کتا ہے۔"]),
    ("แมวตัวนี้สีดำ สุนัขตัวนั้นสีขาว", "tha_Thai", ["แมวตัวนี้สีดำ", "สุนัขตัวนั้นสีขาว"]),
    ("ឆ្មានេះខ្មៅ។ ឆ្កែនោះស", "khm_Khmr", ["ឆ្មានេះខ្មៅ។", "ឆ្កែនោះស"]),
    ("Das ist z.B. ein Hund. Dr. Müller kommt usw. Danach gehen wir.", "deu_Latn",
     ["Das ist z.B. ein Hund.", "Dr. Müller kommt usw.", "Danach gehen wir."]),     # "usw." can end one
    ("Это кот, т.е. животное. Он спит.", "rus_Cyrl", ["Это кот, т.е. животное.", "Он спит."]),
    ("Apples, pears etc. are fruit. See No. 5 below. J. Smith agrees.", "eng_Latn",
     ["Apples, pears etc. are fruit.", "See No. 5 below.", "J. Smith agrees."]),
])
def test_sentence_split_any_script(text, lang, expected):
    assert sentences(text, lang) == expected
    t = Segmenter(lang=lang).segment(text)
    assert t.segments == expected and t.render_identity() == text


def test_long_chinese_source_is_split_not_one_segment():
    text = "这是一只很大的黑猫，它正在沙发上睡觉。" * 30
    t = Segmenter(lang="zho_Hans", max_tokens=60).segment(text)
    assert len(t.segments) == 30 and not t.too_long and t.render_identity() == text


def test_long_sentence_split_at_clauses_never_truncated():
    long = ", ".join(f"the {i}th red house stands near the river" for i in range(12)) + "."
    s = Segmenter(max_tokens=40, count_tokens=chars_estimate)
    t = s.segment(long)
    assert len(t.segments) > 1 and not t.too_long
    assert all(chars_estimate(x) <= 40 for x in t.segments)
    assert t.render_identity() == long
    t2 = s.segment("x" * 400 + " word")               # nothing to split at: reported, not cut
    assert t2.too_long


def test_cjk_join_drops_space_between_sentences():
    t = seg("One cat. Two dogs.")
    assert t.render(["一只猫。", "两只狗。"], join_sentences="") == "一只猫。两只狗。"
    assert t.render(["A.", "B."]) == "A. B."


@pytest.mark.parametrize("text, expected", [
    ("Name\tAge\nAlice\tParis", "名\t岁\n爱\t巴"),              # tab-separated columns stay apart
    ("One cat.\rTwo dogs.\r", "一只猫。\r两只狗。\r"),              # old Mac line endings
    ("One cat.\u2028Two dogs.", "一只猫。\u2028两只狗。"),           # Unicode line separator
    ("One cat.  Two dogs.", "一只猫。两只狗。"),                       # spaces between sentences go
])
def test_cjk_join_keeps_tabs_and_line_breaks(text, expected):
    t = seg(text)
    outs = {"Name": "名", "Age": "岁", "Alice": "爱", "Paris": "巴", "One cat.": "一只猫。", "Two dogs.": "两只狗。"}
    assert t.render([outs[x] for x in t.segments], join_sentences="") == expected


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
    from mixkit.lang import languages
    from mixkit.lang.lid import LanguageIdentifier

    lid = LanguageIdentifier()
    code = next(l.code for l in languages.all_languages() if l.nllb and l.script == "Latn" and not lid.can_check(l.code))
    r = run_check("Describe the picture of the house in a few words.", "Xanu ke tila numa kotaro mesu wande.", code)
    assert r.ok and r.info["lid"]["status"] == "unchecked"


LOOP_WORDS = {
    "fra_Latn": "le chat noir dort sur le canapé rouge près de la fenêtre ouverte pendant que les enfants jouent dans le jardin",
    "deu_Latn": "der kleine Hund läuft schnell über die grüne Wiese neben der alten roten Scheune am Fluss",
    "rus_Cyrl": "маленькая собака быстро бежит по зелёному лугу рядом со старым красным сараем у реки",
    "hin_Deva": "छोटा कुत्ता तेजी से हरे मैदान में पुराने लाल खलिहान के पास नदी के किनारे दौड़ता है",
    "arb_Arab": "الكلب الصغير يركض بسرعة عبر الحقل الأخضر بجانب الحظيرة الحمراء القديمة قرب النهر",
}
THAI = "สุนัขตัวเล็กวิ่งเร็วข้ามทุ่งหญ้าสีเขียวข้างโรงนาสีแดงเก่าริมแม่น้ำ"
# normal sentences (no loop) in several scripts, some with legitimate short repeats
NATURAL = [
    "The quick brown fox jumps over the lazy dog, and then the dog runs after the fox again.",
    "Der Hund läuft, der Hund springt, und am Ende schläft der Hund auf dem Sofa neben der Katze.",
    "Il y a trois chats : un chat noir, un chat blanc et un chat roux qui dorment ensemble.",
    "Маленькая собака бежит по лугу, а большая собака спит под деревом возле дома.",
    "छोटा कुत्ता मैदान में दौड़ता है और बड़ा कुत्ता पेड़ के नीचे सोता है।",
    "الكلب الصغير يركض في الحقل والكلب الكبير ينام تحت الشجرة بجانب البيت.",
    "一只小狗在草地上跑，一只大狗在树下睡觉，它们都很开心。",
    "小さな犬が草原を走り、大きな犬は木の下で眠っています。",
    "작은 개가 들판을 달리고 큰 개는 나무 아래에서 자고 있습니다.",
    "สุนัขตัวเล็กวิ่งในทุ่งหญ้า ส่วนสุนัขตัวใหญ่นอนหลับอยู่ใต้ต้นไม้ข้างบ้าน",
    "ឆ្កែតូចរត់នៅវាលស្មៅ ហើយឆ្កែធំដេកនៅក្រោមដើមឈើ។",
    "Mbwa mdogo anakimbia shambani na mbwa mkubwa analala chini ya mti karibu na nyumba.",
    "Yes, yes, I know. It is very, very, very good: 1, 2, 3, 4, 5, 6.",
    "He said ha ha ha and left; the bye-bye-bye song played twice.",
]


@pytest.mark.parametrize("lang", sorted(LOOP_WORDS))
@pytest.mark.parametrize("n_words", [5, 8, 12, 20])
def test_word_loops_of_5_to_20_words_are_caught(lang, n_words):
    words = (LOOP_WORDS[lang] + " و " + LOOP_WORDS[lang][::-1]).split()[:n_words]
    assert len(words) == n_words
    body = " ".join(words)
    out = f"{body}, {body}, {body}"
    assert find_loop(out) is not None, out
    assert find_loop(f"Intro text here. {body} {body} {body} {body}") is not None


@pytest.mark.parametrize("n_chars", [10, 17, 25, 40])
def test_thai_character_loops_are_caught(n_chars):
    unit = THAI[:n_chars]
    assert find_loop("วันนี้" + unit * 3) is not None


@pytest.mark.parametrize("text", NATURAL)
def test_normal_text_in_many_scripts_is_not_a_loop(text):
    assert find_loop(text) is None


def test_loop_in_source_is_not_blamed_on_the_translation():
    from translation.checks import loop_in_output

    src = "Say it again: go team go team go team go team go team!"
    assert loop_in_output(src, "Dis-le encore : allez allez allez allez allez allez allez !") is None
    assert loop_in_output("The black cat sleeps.", "le chat noir le chat noir le chat noir") is not None


@pytest.mark.parametrize("line, code", [
    ("for i in range(3):", True), ("print(i)", True), ("x = 1", True), ("import numpy as np", True),
    ("def add(a, b):", True), ("int x = 3;", True), ("foo(bar);", True), ("}", True), ("if x > 3:", True),
    ("Boil water (5 min);", False), ("For example: the cat.", False), ("if you want:", False),
    ("Return the book tomorrow.", False), ("from the table we see", False), ("Print this page (twice).", False),
    ("apples; pears; plums;", False), ("Here is the code:", False),
])
def test_code_lines_vs_prose(line, code):
    from translation.spans import is_code_line

    assert is_code_line(line) is code
    t = Segmenter().segment(f"Intro text.\n{line}\nMore text.")
    assert (t.segments == ["Intro text.", "More text."]) is code


@pytest.mark.parametrize("text, math", [
    ("It costs $5 and $10.", []), ("From $5-$10 per day.", []), ("Area $x^2$ here.", ["$x^2$"]),
    ("Use \\(a+b\\) and \\[c\\] now.", ["\\(a+b\\)", "\\[c\\]"]), ("We have $$E=mc^2$$ today.", ["$$E=mc^2$$"]),
])
def test_inline_math_but_not_prices(text, math):
    from translation.spans import find_spans

    assert [text[a:b] for a, b in find_spans(text)] == math


@pytest.mark.parametrize("text, segments", [
    ("It lists all files.\n\n    ls -la\n\nDone.", ["It lists all files.", "Done."]),
    ("Run:\n\n    pip install mixkit\n    mixkit build demo.yaml\n\nThen wait.", ["Run:", "Then wait."]),
    ("for i in range(3):\n    print(i)", []),
    # indented prose under a list item, or a sentence, stays prose
    ("1. First item\n\n    This continues the first item with more words.\n2. Next",
     ["First item", "This continues the first item with more words.", "Next"]),
    ("Story:\n\n    Once upon a time there was a cat.\n\nEnd.", ["Story:", "Once upon a time there was a cat.", "End."]),
])
def test_indented_code_blocks(text, segments):
    t = Segmenter().segment(text)
    assert t.segments == segments and t.render_identity() == text


def test_text_with_its_own_bracket_numbers_is_cut_not_placeheld():
    text = "The entry a[1], set by `make`, comes first."      # "in [1]" after a word is a citation span
    t = Segmenter().segment(text)
    assert t.segments == ["The entry a[1], set by", ", comes first."] and t.render_identity() == text


def test_long_inputs_segment_in_linear_time():
    """A long single-line answer (many sentences, many spans) and a long paragraph of bracketed
    lines: each was quadratic (about 1 s and 15 s here); now well under a second together."""
    import time

    many = " ".join(f"Dr. Smith used `x{i}` on No. {i} today." for i in range(2000))
    brackets = "\n".join(f"[not json line {i}]" for i in range(2000))
    t0 = time.perf_counter()
    a, b = seg(many), seg(brackets)
    assert time.perf_counter() - t0 < 3.0
    assert len(a.segments) == 2000 and a.segments[0] == "Dr. Smith used [1] on No. 0 today."
    assert len(b.segments) == 2000
    assert a.render_identity() == many and b.render_identity() == brackets


def test_loop_check_is_computed_once_per_pair(monkeypatch):
    """The stage's retry decision and the row check ask about the same (source, output) pair:
    the loop detector runs once for it."""
    from translation import checks

    calls = []
    real = checks.find_loop
    monkeypatch.setattr(checks, "find_loop", lambda text, m=20: calls.append(text) or real(text, m))
    src, out = "The black cat sleeps on a mat.", "le chat noir le chat noir le chat noir le chat noir"
    first = checks.loop_in_output(src, out, 20)
    assert first is not None and checks.loop_in_output(src, out, 20) == first
    assert calls == [out, src]
