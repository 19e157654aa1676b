"""An independent check of the segmentation (issue 21's review): tests/data/instruct_handwritten.jsonl
holds 234 conversations written by hand in the shapes of public LVLM instruction sets
(LLaVA-Instruct, ShareGPT4V, ALLaVA, LLaVA-NeXT's DocVQA/ChartQA/InfoVQA/ScienceQA/AI2D parts,
MathV360K/Geo170K, TextVQA/OCR-VQA, code help, Qwen2-VL/InternVL/Kosmos-2/MiniGPT-v2 grounding, names,
units, currencies, emojis, tables, HTML, odd separators), without looking at the generator of
the first sample. Each case below is a problem that sample showed, reduced to one line; each
one failed before the fix that follows it. The whole sample round-trips byte for byte."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from translation.segment import Segmenter
from translation.sentences import split_sentences

SAMPLE = Path(__file__).parent / "data" / "instruct_handwritten.jsonl"


def segments(text: str, **kw) -> list[str]:
    t = Segmenter(**kw).segment(text)
    assert t.render_identity() == text
    return t.segments


def sentences(text: str, lang: str = "eng_Latn") -> list[str]:
    return [text[a:b] for a, b in split_sentences(text, lang)]


# (class, text, the segments the model receives)
CASES = [
    # prose never sent: a list item whose inline code holds "=" and that ends in ";" read as code
    ("list_item_with_inline_code_is_prose",
     "Typical reasons:\n- a version pin that does not exist (e.g. `numpy==1.21.0` on `python:3.12-slim`);\n- no network.",
     ["Typical reasons:", "a version pin that does not exist (e.g. [1] on [2]);", "no network."]),
    # mid-sentence cuts: roman numerals that refer to statements are no list of options
    ("option_references_in_prose",
     "Statements (i) and (iii) are true. Statement (ii) is false, because the maximum is at 2.",
     ["Statements (i) and (iii) are true.", "Statement (ii) is false, because the maximum is at 2."]),
    ("option_references_in_prose", "Choose between (A) the red one and (B) the blue one.",
     ["Choose between (A) the red one and (B) the blue one."]),
    # a sentence end inside brackets, or after an abbreviation that opens a bracket
    ("no_cut_inside_brackets", "VAT (MwSt. 7%) is 0,58 \u20ac. It is included.",
     ["VAT (MwSt. 7%) is 0,58 \u20ac.", "It is included."]),
    ("no_cut_inside_brackets", "Goals by Pedri (61') and by Vin\u00edcius Jr. (45+2') for Madrid.",
     ["Goals by Pedri (61') and by Vin\u00edcius Jr. (45+2') for Madrid."]),
    ("reference_abbreviation", "Lee, K. (2019). Plant disease CNNs. Proc. CVPR Workshops, pp. 45\u201352.",
     ["Lee, K. (2019).", "Plant disease CNNs.", "Proc. CVPR Workshops, pp. 45\u201352."]),
    # glued sentences: a word that is also an abbreviation, a unit of one small letter
    ("glued_after_word_abbreviation", "It is known as the fiddle-leaf fig. It likes bright light.",
     ["It is known as the fiddle-leaf fig.", "It likes bright light."]),
    ("glued_after_word_abbreviation", "This was shown by Smith et al. The method is simple.",
     ["This was shown by Smith et al.", "The method is simple."]),
    ("glued_after_unit", "The sign shows a weight limit of 7.5 t. Vehicles above it must turn back.",
     ["The sign shows a weight limit of 7.5 t.", "Vehicles above it must turn back."]),
    # paired tags: an edge tag whose partner is inside the sentence stays with it
    ("paired_tag_at_sentence_edge",
     "A <ref>man</ref><box>[[102, 215, 398, 987]]</box> is reading a <ref>newspaper</ref>"
     "<box>[[210, 380, 470, 640]]</box>. A <ref>pigeon</ref><box>[[7, 8, 9, 10]]</box> waits.",
     ["A [1]man[2][3] is reading a [4]newspaper[5][6].", "A [1]pigeon[2][3] waits."]),
    ("paired_tag_at_sentence_edge",
     "<phrase>a snowman</phrase><object><patch_index_0044><patch_index_0863></object> warming himself by "
     "<phrase>a fire</phrase><object><patch_index_0005><patch_index_0911></object>.",
     ["[1]a snowman[2][3] warming himself by [4]a fire[5][6]."]),
    ("paired_tag_at_sentence_edge", "Can you see the <ref>white mug</ref>? Where is it?",
     ["Can you see the [1]white mug[2]?", "Where is it?"]),
    ("paired_tag_at_sentence_edge", "The links are <b>Home</b> and <b>Contact</b>.",
     ["The links are [1]Home[2] and [3]Contact[4]."]),
    ("tag_as_subject", "What is the woman <region1> holding? <region1> is at [120, 80, 400, 950].",
     ["What is the woman [1] holding?", "[1] is at [2]."]),
    # MiniGPT-v2 / Shikra-style grounding: <p>phrase</p> then a box is no paragraph
    ("grounded_p_tag",
     "In the image, <p>a young girl</p> [0.31, 0.22, 0.59, 0.97] is blowing bubbles in <p>a park</p> "
     "[0.0, 0.0, 1.0, 1.0].",
     ["In the image, [1]a young girl[2] [3] is blowing bubbles in [4]a park[5] [6]."]),
    ("grounded_p_tag", "[refer] <p>the man in red</p> {<12><34><56><78>} is holding a cup.",
     ["[1]the man in red[2] [3] is holding a cup."]),
    # Unicode math (Geo170K, MathV360K answers written without LaTeX)
    ("unicode_math",
     "Since AB = AC, \u2220B = \u2220C, so \u2220B = (180\u00b0 \u2212 40\u00b0) \u00f7 2 = 70\u00b0.",
     ["Since [1], [2], so [3]."]),
    ("unicode_math", "Since OC \u22a5 AB, OA = \u221a(OC\u00b2 + AC\u00b2) = \u221a(9 + 16) = 5.",
     ["Since [1], [2]."]),
    ("unicode_math", "Since a \u2225 b, the radius of \u2299O is 5.", ["Since [1], the radius of [2] is 5."]),
    ("unicode_math", "The total is 4 + 7 + 5 + 8 = 24 books, so x = 3.", ["The total is [1] books, so [2]."]),
    # a line that opens with an equation was read as an assignment (code): all of it stayed English
    ("equation_line_is_prose", "AB = AC, so triangle ABC is isosceles.", ["[1], so triangle ABC is isosceles."]),
    ("equation_line_is_prose", "E = mc² is famous.", ["E = mc² is famous."]),
    # TextVQA's OCR tokens are the image's text: data, not prose
    ("ocr_tokens", "What does the sign say?\nReference OCR token: NO, PARKING, ANY, TIME, TOW-AWAY, ZONE",
     ["What does the sign say?", "Reference OCR token:"]),
    # identifiers
    ("identifier_answer", "7ABC123", []),
    ("identifier_answer", "INV-2019-04417", []),
    ("identifier_in_prose", "The card says: Network: CafeCentral_5G, set learning_rate to 0.1.",
     ["The card says: Network: [1], set [2] to 0.1."]),
    # an exception line pasted on its own (no traceback above it)
    ("exception_line",
     "Python says:\n\nFileNotFoundError: [WinError 3] The system cannot find the path specified: "
     "'C:\\Users\\maria\\data'\n\nThe folder exists though.",
     ["Python says:", "The folder exists though."]),
    # a path in quotes keeps its closing quote outside the span
    ("quoted_path", "It cannot open 'C:\\Users\\maria\\data' today.", ["It cannot open '[1]' today."]),
    # citation markers after a word, reference-list numbers
    ("citation_markers", "References:\n[1] Smith, J. (2021). Drone-based crop monitoring.",
     ["References:", "Smith, J. (2021).", "Drone-based crop monitoring."]),
    # an invisible zero-width space at a sentence edge
    ("zero_width_space", "The otter floats on its back.\u200b", ["The otter floats on its back."]),
]


@pytest.mark.parametrize("kind, text, expected", CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def test_handwritten_sample_problem_classes(kind, text, expected):
    assert segments(text) == expected


def test_identifier_answer_counts_as_protected_and_ordinals_stay_prose():
    t = Segmenter().segment("INV-2019-04417")
    assert t.protected["identifier"] == 1 and not t.units
    assert segments("2nd") == ["2nd"] and segments("COVID-19 vaccine") == ["COVID-19 vaccine"]


def test_citation_marker_after_a_word_is_a_span_the_model_must_give_back():
    """"drone images [1]." sent the literal "[1]" with no span behind it: nothing checked that it
    came back (and it reads like a placeholder)."""
    t = Segmenter().segment("It detects crop diseases from drone images [1]. It beats earlier work [4].")
    assert t.segments == ["It detects crop diseases from drone images [1].", "It beats earlier work [1]."]
    assert [u.spans for u in t.units] == [["[1]"], ["[4]"]] and t.protected["citation"] == 2


def test_prose_near_the_new_classes_stays_prose():
    assert segments("Options: (A) Arizona (B) Delaware") == ["Options:", "Arizona", "Delaware"]
    assert segments("The answer is 2 and not 1.") == ["The answer is 2 and not 1."]
    assert segments("The drive holds 512 GB. That is enough.") == ["The drive holds 512 GB.", "That is enough."]
    assert segments("<|object_ref_start|>the red car<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|>") == \
        ["the red car"]                     # a pair around the whole sentence stays outside
    assert segments("x = load(path)\nprint(x)") == []                         # code lines stay code
    assert segments("The score was 2\u20131 on 2019-07-21.") == ["The score was 2\u20131 on 2019-07-21."]
    assert segments("See Fig. A for details.") == ["See Fig. A for details."]
    assert segments("He said no. It was late.") == ["He said no.", "It was late."]
    assert segments("Use the <p> tag for paragraphs.") == ["Use the [1] tag for paragraphs."]
    assert segments("<p>First paragraph.</p><p>Second one.</p>") == ["First paragraph.", "Second one."]
    assert segments("The cat is at [412, 530, 655, 845], on the chair.") == ["The cat is at [1], on the chair."]
    assert sentences("Smith et al. (2020) showed it.") == ["Smith et al. (2020) showed it."]
    assert sentences("(This is one. This is two.) Next.") == ["(This is one. This is two.)", "Next."]


def test_handwritten_sample_round_trips_byte_for_byte():
    """Every message of the hand-written sample: the template puts back exactly the input, and
    no unit is sent twice the same protected span text it also keeps outside."""
    seg = Segmenter()
    n = 0
    for line in SAMPLE.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        for m in json.loads(line)["messages"]:
            t = seg.segment(m["content"])
            assert t.render_identity() == m["content"]
            n += 1
    assert n == 548


def test_handwritten_sample_identity_file_round_trip(tmp_path):
    """`mixkit translate --backend identity` on the sample file, also written with raw U+2028 /
    U+2029 / NEL inside strings (what json.dumps(ensure_ascii=False) writes): every row back
    byte for byte, nothing rejected."""
    import pyarrow.parquet as pq

    from translation.files import translate_file
    from translation.options import TranslateOptions

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").split("\n") if line.strip()]
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert "\u2028" in raw.read_text(encoding="utf-8")
    for path in (SAMPLE, raw):
        out = tmp_path / path.stem
        res = translate_file(str(path), ["deu_Latn"], str(out), TranslateOptions(model="identity", backend="identity"))
        assert res["kept"] == len(rows) == 234 and res["rejected"] == 0, res
        got = {r["origin_id"]: r["messages"] for r in pq.read_table(out / "translated.parquet").to_pylist()}
        assert all(got[r["origin_id"]] == r["messages"] for r in rows)
