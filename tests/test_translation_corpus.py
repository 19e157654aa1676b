"""Real-shaped instruction data through segmentation, `mixkit translate --dry-run` and the
identity backend (no model): what reaches the model is prose only, sentences with inline
markup stay whole, and reassembly is byte-identical.

CORPUS: conversations shaped like LLaVA, ScienceQA (multiple choice), chart QA, code (fenced
and indented), math (LaTeX in all four delimiters, and prices), tables, lists, multi-turn, CRLF
and long answers; then (issue 21) LLaVA-Instruct, ShareGPT4V, ALLaVA, LLaVA-NeXT DocVQA/ChartQA/
ScienceQA, MathV360K/Geo, code help and Qwen2-VL/InternVL/Kosmos-2 grounding. Each entry names the protected strings that must never reach the model and
the sentences that must stay one segment."""
from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from mixkit.core.schema import make_row, rows_to_table
from translation.options import TranslateOptions
from translation.segment import Segmenter, is_label
from translation.files import translate_file
from translation.stage import TranslateStage


def conv(*turns):
    return [{"role": r, "content": c} for r, c in turns]


LONG = ("The image shows a busy market street in the late afternoon. Vendors sell fruit, vegetables and "
        "spices from wooden stalls covered with colourful awnings. On the left, a woman in a red scarf is "
        "weighing tomatoes on an old scale, while a boy beside her counts coins. Further back, several "
        "people are walking towards a church whose tower rises above the roofs. The light is warm and the "
        "shadows are long, which suggests that the sun is about to set. Overall, the scene feels lively "
        "but relaxed, and nothing in it looks staged.")

# (conversation, protected strings, sentences that must be one segment)
CORPUS: list[tuple[list[dict], list[str], list[str]]] = [
    (conv(("user", "<image>\nDescribe the image in detail."), ("assistant", LONG)), ["<image>"], []),
    (conv(("user", "What is the man holding?\n<image>"), ("assistant", "He is holding a **red** umbrella."),
          ("user", "Is it raining?"), ("assistant", "Yes")),
     ["<image>"], ["He is holding a red umbrella."]),
    (conv(("user", "<image>\nQuestion: Which animal is a mammal?\nOptions:\n(A) frog\n(B) whale\n(C) shark\n"
                   "Answer with the option's letter from the given choices directly."), ("assistant", "B")),
     ["<image>", "(A)", "(B)", "(C)"], []),
    (conv(("user", "<image>\nWhich property do these objects have in common? A. hard B. soft C. sticky"),
          ("assistant", "The answer is A.")),
     ["<image>", "A. ", "B. ", "C. "], []),
    (conv(("user", "Context: The diagram shows a food web.\nQuestion: Which organism is a producer?\n"
                   "A. grass\nB. rabbit\nC. fox\nD. hawk"), ("assistant", "A. grass")),
     ["A. ", "B. ", "C. ", "D. "], []),
    (conv(("user", "<image>\nWhat was the revenue in 2019 according to the chart?"),
          ("assistant", "The revenue in 2019 was 4.5 million dollars, up 12% from 2018.")), ["<image>"], []),
    (conv(("user", "<image>\nRead the table and answer.\n| Year | Sales |\n|---|---|\n| 2018 | 120 |\n| 2019 | 150 |"),
          ("assistant", "Sales grew from 120 to 150 units.")), ["<image>", "|---|---|", "| 2018 | 120 |"], []),
    (conv(("user", "How do I print the numbers 0 to 2 in Python?"),
          ("assistant", "Use a loop:\n```python\nfor i in range(3):\n    print(i)\n```\nThis prints each number "
                        "on its own line.")),
     ["```python\nfor i in range(3):\n    print(i)\n```"], []),
    (conv(("user", "Show an example without fences."),
          ("assistant", "Here is the code:\n\n    def add(a, b):\n        return a + b\n\n    print(add(2, 3))\n\n"
                        "Call `add` with two numbers.")),
     ["    def add(a, b):\n        return a + b", "    print(add(2, 3))", "`add`"], ["Call [1] with two numbers."]),
    (conv(("user", "What does `ls -la` do in a terminal?"),
          ("assistant", "The command `ls -la` lists all files, including hidden ones, in long format.")),
     ["`ls -la`"], ["The command [1] lists all files, including hidden ones, in long format."]),
    (conv(("user", "Solve for x: $2x + 3 = 7$."),
          ("assistant", "Subtract 3 from both sides:\n$$\n2x = 4\n$$\nthen divide by 2, so \\(x = 2\\). "
                        "In general \\[ x = \\frac{c - b}{a} \\] holds.")),
     ["$2x + 3 = 7$", "$$\n2x = 4\n$$", "\\(x = 2\\)", "\\[ x = \\frac{c - b}{a} \\]"],
     ["In general [1] holds."]),
    (conv(("user", "The area is $$A = \\pi r^2$$ for a circle. What is it for r = 2?"),
          ("assistant", "It is $A = 4\\pi$, about 12.57.")),
     ["$$A = \\pi r^2$$", "$A = 4\\pi$"], ["The area is [1] for a circle."]),
    (conv(("user", "A pen costs $5 and a book costs $10. How much do both cost?"),
          ("assistant", "Together they cost $15.")), [], ["A pen costs $5 and a book costs $10."]),
    (conv(("user", "<image>\nPlease provide the bounding box coordinate of the region this sentence describes: "
                   "the dog on the left."),
          ("assistant", "[0.12, 0.35, 0.48, 0.91]"), ("user", "And the cat?"),
          ("assistant", "The cat is at [0.55, 0.40, 0.80, 0.88] in the image.")),
     ["<image>", "[0.12, 0.35, 0.48, 0.91]", "[0.55, 0.40, 0.80, 0.88]"], ["The cat is at [1] in the image."]),
    (conv(("user", "Where can I read more?"),
          ("assistant", "See https://en.wikipedia.org/wiki/Penguin for details, or write to info@zoo.example.org.")),
     ["https://en.wikipedia.org/wiki/Penguin", "info@zoo.example.org"], ["See [1] for details, or write to [2]."]),
    (conv(("user", "Format the answer with HTML."),
          ("assistant", "Use the <b>bold</b> tag for important words and <br/> for breaks.")),
     ["<b>", "</b>", "<br/>"], []),
    (conv(("system", "You are a helpful assistant."), ("user", "<image>\nList three things you see."),
          ("assistant", "1. A red **barn** next to the road.\n2. Two *small* horses.\n- A fence made of wood.\n"
                        "> Note: the sky is cloudy.")),
     ["<image>"], ["A red barn next to the road.", "Two small horses."]),
    (conv(("user", "## Task\nSummarise the text below.\n\n**Text:** The river flooded the town after three days of rain."),
          ("assistant", "**Summary:** Heavy rain caused a flood.")),
     [], ["The river flooded the town after three days of rain."]),
    (conv(("user", "Is this photo taken indoors?\r\n<image>\r\nAnswer yes or no."), ("assistant", "No.")),
     ["<image>"], []),
    (conv(("user", "<image>\nHow many people are in the picture?"), ("assistant", "3")), ["<image>"], []),
    (conv(("user", "<image>\nWhat is the title of the book?"), ("assistant", "\"The Old Man and the Sea\" by Ernest Hemingway.")),
     ["<image>"], []),
    (conv(("user", "Explain the plot.\n<image>"),
          ("assistant", "The chart compares three cities. Paris has the highest value (42.1). Berlin is second, "
                        "e.g. about 30. Dr. Smith collected the data in Jan. 2020.")),
     ["<image>"], ["Berlin is second, e.g. about 30.", "Dr. Smith collected the data in Jan. 2020."]),
    (conv(("user", "<image><image>\nWhat changed between the two images?"),
          ("assistant", "In the second image the door is open.\n\nAlso, the lamp is off.")), ["<image><image>"], []),
    (conv(("user", "Compare the options:\n- **Option A**: cheaper but slower\n- **Option B**: faster, costs more"),
          ("assistant", "I would choose **Option B** because speed matters more here.")),
     [], []),
    (conv(("user", "Convert this JSON: `{\"a\": 1}` into YAML."),
          ("assistant", "```yaml\na: 1\n```")), ["`{\"a\": 1}`", "```yaml\na: 1\n```"], ["Convert this JSON: [1] into YAML."]),
    (conv(("user", "<image>\nRead the text in the image."), ("assistant", "STOP")), ["<image>"], []),
    (conv(("user", "Write the matrix.\n\\begin{pmatrix}\n1 & 0 \\\\\n0 & 1\n\\end{pmatrix}\nIs it the identity?"),
          ("assistant", "True")), ["\\begin{pmatrix}\n1 & 0 \\\\\n0 & 1\n\\end{pmatrix}"], []),
    (conv(("user", "<image>\nDescribe the image briefly.\n"), ("assistant", "A cat sleeps on a sofa.  The window is open.\n")),
     ["<image>"], []),
    (conv(("user", "What is shown?\r\n\r\n<image>"), ("assistant", "A bridge over a river.\r\nIt is made of stone.\r\n")),
     ["<image>"], []),
    (conv(("user", "Give the steps.\n\n1) Boil water.\n2) Add pasta.\n3) Wait 10 minutes."),
          ("assistant", "First boil the water; then add the pasta and wait for 10 minutes.")), [], []),
]

# Shapes of public instruction sets (issue 21): LLaVA-Instruct, ShareGPT4V, ALLaVA, LLaVA-NeXT's
# DocVQA/ChartQA/ScienceQA parts, MathV360K/Geo, code help, Qwen2-VL/InternVL/Kosmos-2 grounding
GEO_SOLUTION = ("Since AB = AC, the base angles are equal, so $ \\angle B = \\frac{180^\\circ - 40^\\circ}{2} $ = 70°. "
                "Therefore, the answer is A.")
CORPUS += [
    (conv(("user", "What are the people in the image doing?\n<image>"),
          ("assistant", "They are gathered around a table with cake, drinks, plates, etc. They appear to be celebrating "
                        "a birthday. A man in a U.S. Navy uniform is cutting the cake.")),
     ["<image>"], ["They appear to be celebrating a birthday."]),
    (conv(("user", "<image>\nDescribe this image in detail."),
          ("assistant", "The photo shows a school entrance on a sunny morning. Above the door, a banner reads "
                        "\"Welcome Back! Classes Start Monday.\" in white letters on a blue background. Two children "
                        "with backpacks walk towards the door.")),
     ["<image>"], ["Above the door, a banner reads \"Welcome Back! Classes Start Monday.\" in white letters on a blue "
                   "background."]),
    (conv(("user", "<image>\nWhich of the following best describes the weather? A. sunny B. rainy C. snowy D. foggy"),
          ("assistant", "The ground is covered in thick snow and flakes are falling, so the weather is snowy.\n\n"
                        "**Answer:** C")),
     ["<image>", "A. ", "B. ", "C. ", "D. "], ["The ground is covered in thick snow and flakes are falling, so the "
                                                "weather is snowy."]),
    (conv(("user", "<image>\nWhat is the website printed at the bottom of the invoice?\nAnswer the question using a "
                   "single word or phrase."), ("assistant", "acme-supplies.com"),
          ("user", "Where is the file saved?"), ("assistant", "It is saved as C:\\Invoices\\2021\\march.pdf on the shared drive.")),
     ["<image>", "acme-supplies.com", "C:\\Invoices\\2021\\march.pdf"], ["It is saved as [1] on the shared drive."]),
    (conv(("user", "<image>\nConvert the chart into a CSV table."),
          ("assistant", "Year,Revenue,Profit\n2019,4.5,1.2\n2020,5.1,1.4\n2021,6.0,1.9")),
     ["<image>", "Year,Revenue,Profit", "2019,4.5,1.2"], []),
    (conv(("user", "Context: Select the best answer.\nQuestion: Which property do these three objects have in common?\n"
                   "Options: (A) sticky (B) fragile (C) hard\n<image>"),
          ("assistant", "The answer is C. All three objects are hard.")),
     ["<image>", "(A) ", "(B) ", "(C) "], ["The answer is C.", "All three objects are hard."]),
    (conv(("user", "<image>\nAs shown in the figure, in triangle ABC, AB = AC and the angle A is 40°. What is the measure "
                   "of angle B?\nChoices:\nA:70°\nB:60°\nC:50°\nD:40°"),
          ("assistant", GEO_SOLUTION), ("user", "What is the area of a circle with radius 4?"), ("assistant", "16\\pi")),
     ["<image>", "A:70°", "$ \\angle B = \\frac{180^\\circ - 40^\\circ}{2} $", "16\\pi"], ["Therefore, the answer is A."]),
    (conv(("user", "Which statements are true?\n(i) Ice floats on water.\n(ii) Steam is a solid.\n(iii) Water boils "
                   "at 100 degrees at sea level.\nA. (i) and (iii)\nB. (ii) only\nC. all of them\nD. none\nE. (i) only\n"
                   "F. (iii) only\nG. (i) and (ii)\nH. (ii) and (iii)\nI. not enough information\nJ. the question is invalid"),
          ("assistant", "A")),
     ["I. ", "J. "], ["Ice floats on water.", "Steam is a solid.", "not enough information", "the question is invalid"]),
    (conv(("user", "I get this error when I run my script:\nTraceback (most recent call last):\n  File \"main.py\", line 3, "
                   "in <module>\n    import numpy as np\nModuleNotFoundError: No module named 'numpy'\nWhat should I do?"),
          ("assistant", "NumPy is not installed in the environment you use. Do this:\n1. Activate the environment:\n"
                        "    - Run `source .venv/bin/activate` first.\n    - Then check that `which python` points "
                        "into it.\n2. Install the package with `pip install numpy`, as described on "
                        "https://numpy.org/install/ (section Installing with pip).\n3. Run the script again; the "
                        "settings live in ~/project/config.yaml.")),
     ["Traceback (most recent call last):", "ModuleNotFoundError", "`source .venv/bin/activate`", "~/project/config.yaml",
      "https://numpy.org/install/"],
     ["Run [1] first.", "Then check that [1] points into it.", "Activate the environment:"]),
    (conv(("user", "Return the result as JSON in the form {\"answer\": \"<letter>\", \"reason\": \"<one sentence>\"}."),
          ("assistant", "{\"answer\": \"B\", \"reason\": \"The cat is sitting on the red chair.\"}")),
     ["{\"answer\": \"<letter>\", \"reason\": \"<one sentence>\"}", "{\"answer\": \"B\""],
     ["Return the result as JSON in the form [1]."]),
    (conv(("user", "<|vision_start|><|image_pad|><|vision_end|>Locate the red car in the image and output its bounding box."),
          ("assistant", "<|object_ref_start|>the red car<|object_ref_end|><|box_start|>(120,340),(560,780)<|box_end|>")),
     ["<|vision_start|>", "<|image_pad|>", "<|object_ref_start|>", "<|box_start|>(120,340),(560,780)<|box_end|>"],
     ["Locate the red car in the image and output its bounding box.", "the red car"]),
    (conv(("user", "<image>\nPlease provide the bounding box coordinate of the region this sentence describes: "
                   "<ref>the woman holding an umbrella</ref>"),
          ("assistant", "<ref>the woman holding an umbrella</ref><box>[[102, 45, 487, 990]]</box>")),
     ["<image>", "<ref>", "</ref>", "<box>[[102, 45, 487, 990]]</box>"], ["the woman holding an umbrella"]),
    (conv(("user", "<grounding> Describe this image in detail:"),
          ("assistant", "<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863>"
                        "</object> warming himself by<phrase> a fire</phrase><object><patch_index_0005>"
                        "<patch_index_0911></object>.")),
     ["<grounding>", "<patch_index_0044>", "<phrase>"], []),
    (conv(("user", "Give me three tips for better sleep."),
          ("assistant", "1\ufe0f\u20e3 Go to bed at the same time every night.\n2\ufe0f\u20e3 Keep the room cool and dark.\n"
                        "3\ufe0f\u20e3 Avoid screens for an hour before bed.")),
     ["1\ufe0f\u20e3"], ["Go to bed at the same time every night.", "Keep the room cool and dark."]),
    (conv(("user", "How tall is the Eiffel Tower?"),
          ("assistant", "The Eiffel Tower is 330 m tall.[^1] It was finished in 1889.[^2]\n\n"
                        "[^1]: Measured to the tip of the antenna.\n[^2]: See toureiffel.com for its history.")),
     ["[^1]", "[^2]", "toureiffel.com"], ["The Eiffel Tower is 330 m tall.", "It was finished in 1889.",
                                          "Measured to the tip of the antenna.", "See [1] for its history."]),
    (conv(("user", "<image>\nConvert the table in the image to HTML."),
          ("assistant", "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Coffee</td><td>3.50</td></tr>"
                        "<tr><td>Green tea</td><td>2.80</td></tr></table>")),
     ["<image>", "<table>", "<td>"], ["Item", "Price", "Coffee", "Green tea"]),
    (conv(("user", "Bake the bread for how long?"),
          ("assistant", "Bake it for 35 min. Then let it cool on a rack for at least 1 hr. before slicing.")),
     [], ["Bake it for 35 min.", "Then let it cool on a rack for at least 1 hr. before slicing."]),
]

_COORDS = re.compile(r"[\[(]\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?)+\s*[\])]")
_FORBIDDEN = re.compile(r"<image>|https?://|`|\$(?!\d)|\\\(|\\\[|\\begin|</?[A-Za-z]+/?>|@\w+\.|\n|\r")


def corpus_rows(lang="eng_Latn"):
    return [make_row(source="corpus", origin_id=str(i), task="instruct", lang=lang, messages=c,
                     meta={"translate_from": "eng_Latn"}) for i, (c, _, _) in enumerate(CORPUS)]


def _dry_run(tmp_path, rows=None):
    src = tmp_path / "corpus.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for r in rows or corpus_rows():
            f.write(json.dumps({"id": r["id"], "messages": r["messages"], "source": "corpus",
                                "origin_id": r["origin_id"], "task": "instruct", "lang": "eng_Latn"}) + "\n")
    return src


def test_dry_run_segments_are_prose_only(tmp_path):
    from typer.testing import CliRunner
    import typer

    from mixkit.cli.translate import register

    src = _dry_run(tmp_path)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["translate", str(src), "--langs", "swh_Latn,hin_Deva", "--out", str(tmp_path / "dry"),
                                 "--dry-run"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in (tmp_path / "dry" / "segments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert not (tmp_path / "dry" / "translated.parquet").exists()           # nothing translated
    assert len(lines) == sum(len(c) for c, _, _ in CORPUS)                   # one line per (row, message)
    by_row = {}
    for l in lines:
        assert set(l) >= {"id", "message", "segments"}
        by_row.setdefault(l["id"], []).append(l)
    assert len(by_row) == len(CORPUS)
    all_segments = [s for l in lines for s in l["segments"]]
    assert all_segments
    for s in all_segments:
        assert not _FORBIDDEN.search(s), s
        assert not is_label(s), s                                              # "**Answer:** C": no C alone
        assert not _COORDS.search(s), s
        assert "print(" not in s and "return a + b" not in s and "2x = 4" not in s, s
    for c, protected, whole in CORPUS:
        for p in protected:
            assert not any(p.strip() in s for s in all_segments if len(p.strip()) > 2), p
        for w in whole:
            assert w in all_segments, (w, all_segments)
    # short answers are answered from the table, never segments
    short = [l for l in lines if l.get("short_answer")]
    assert {l["short_answer"] for l in short} >= {"yes", "no", "true"}


def test_sentence_with_bold_code_or_tag_stays_one_segment():
    s = Segmenter()
    assert s.segment("This is **very** important.").segments == ["This is very important."]
    assert s.segment("Run `make test` before you push.").segments == ["Run [1] before you push."]
    assert s.segment("Put the <image> token before the question.").segments == ["Put the [1] token before the question."]
    assert s.segment("An *italic* word and a __bold__ one.").segments == ["An italic word and a bold one."]


@pytest.mark.parametrize("target", ["swh_Latn", "fra_Latn", "hin_Deva", "zho_Hans", "jpn_Jpan"])
def test_identity_backend_round_trip_is_byte_identical(tmp_path, target):
    rows = corpus_rows(target)
    stage = TranslateStage(TranslateOptions(model="identity", backend="identity"), cache_dir=str(tmp_path / "c"))
    out = stage.run(rows)
    assert not out.rejected, [(r["origin_id"], r["reason"], r["detail"]) for r in out.rejected]
    assert len(out.kept) == len(rows)
    for src, dst in zip(rows, out.kept):
        assert dst["messages"] == src["messages"]                # byte for byte, CRLF and all
    st = stage.stats()
    assert st["model_calls"] == 0 and st["short_answers"] >= 3 and st["emphasis_dropped"] == 0


def test_generated_instruction_set_sample_round_trips_byte_for_byte(tmp_path):
    """scripts/make_instruct_sample.py (the benchmark's sample: every shape of issue 21) through
    the identity backend: nothing rejected, every message back byte for byte; the sample is the
    same for the same seed."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from make_instruct_sample import SHAPES, make_sample

    sample = make_sample(300, seed=3)
    assert sample == make_sample(300, seed=3) and sample != make_sample(300, seed=4)
    assert {r["source"] for r in sample} == {f.__name__ for f, _ in SHAPES}
    rows = [make_row(source=r["source"], origin_id=r["id"], task="instruct", lang="deu_Latn", messages=r["messages"],
                     meta={"translate_from": "eng_Latn"}) for r in sample]
    out = TranslateStage(TranslateOptions(model="identity", backend="identity"), cache_dir=str(tmp_path / "c")).run(rows)
    assert not out.rejected, [(r["origin_id"], r["reason"], r["detail"]) for r in out.rejected]
    assert [r["messages"] for r in out.kept] == [r["messages"] for r in rows]


def test_identity_cli_writes_the_input_back(tmp_path):
    src = tmp_path / "in.parquet"
    rows = corpus_rows()
    pq.write_table(rows_to_table(rows), src)
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), TranslateOptions(model="identity", backend="identity"))
    assert res["kept"] == len(rows), res
    got = {r["origin_id"]: r["messages"] for r in pq.read_table(tmp_path / "out" / "translated.parquet").to_pylist()}
    assert all(got[r["origin_id"]] == r["messages"] for r in rows)


def test_dry_run_without_tokenizer_tries_to_load_it_once(tmp_path, monkeypatch):
    """Offline, the tokenizer fails to load (after the hub's retries, ~50 s): the dry run then
    estimates token counts for every source language instead of trying again per row."""
    from translation import backends
    from translation.backends import TranslationModelError
    from translation.files import dry_run

    calls = []

    def fail(self):
        calls.append(1)
        raise TranslationModelError("offline")

    monkeypatch.setattr(backends.TransformersBackend, "load_tokenizer", fail)
    long = "The cat sits on the mat near the door, " * 8 + "and then it sleeps."     # one sentence > 200 chars
    rows = [make_row(source="s", origin_id=str(i), task="caption", lang=lang,
                     messages=conv(("user", "<image>\nDescribe."), ("assistant", long)))
            for i, lang in enumerate(["eng_Latn", "fra_Latn", "eng_Latn", "fra_Latn", "deu_Latn"])]
    res = dry_run(rows, str(tmp_path / "dry"), TranslateOptions(model="facebook/nllb-200-distilled-600M"))
    assert res["messages"] == 10 and res["segments"] == 10
    assert len(calls) == 1


def test_dry_run_prints_the_share_sent_the_protected_kinds_and_rows_with_nothing_to_translate(tmp_path):
    from typer.testing import CliRunner
    import typer

    from mixkit.cli.translate import register

    src = tmp_path / "rows.jsonl"
    recs = [
        {"id": "prose", "messages": conv(("user", "<image>\nWhat is the area? Use $ \\pi r^2 $."), ("assistant", "16\\pi"))},
        {"id": "choice", "messages": conv(("user", "<image>\nWhich one?\nA. cat\nB. dog"), ("assistant", "Yes"))},
        {"id": "code_only", "messages": conv(("user", "```\nls -la\n```"), ("assistant", "B"))},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["translate", str(src), "--langs", "fra_Latn", "--out", str(tmp_path / "dry"),
                                 "--dry-run", "--backend", "identity", "--model", "identity"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "dry" / "summary.json").read_text(encoding="utf-8"))
    lines = [json.loads(l) for l in (tmp_path / "dry" / "segments.jsonl").read_text(encoding="utf-8").splitlines()]
    sent = [s for l in lines for s in l["segments"]]
    assert sent == ["What is the area?", "Use [1].", "Which one?", "cat", "dog"]
    assert summary["model_chars"] == sum(len(s.replace("[1]", "")) for s in sent)
    assert summary["chars"] == sum(len(m["content"]) for rec in recs for m in rec["messages"])
    assert summary["model_share"] == round(summary["model_chars"] / summary["chars"], 4)
    assert summary["protected"] == {"math": 2, "special_token": 2, "option_label": 2, "code_block": 1,
                                    "fixed_answer": 1, "short_answer": 1}
    assert summary["untranslated_ids"] == ["code_only"] and summary["rows"] == 3
    out = " ".join(r.output.split())
    assert f"characters that would reach the model: {summary['model_share']:.1%}" in out
    assert "rows where nothing would be translated: 1 of 3: code_only" in out
    assert "special_token" in out and "short_answer" in out
