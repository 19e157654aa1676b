"""`mixkit translate` reads its input file the way sources do (issue 21): JSON Lines split at
\\n only, a leading BOM dropped in every text format, errors naming the right line, and every
speaker name mapped by the one role table. The identity backend (no model) writes the text back
byte for byte."""
from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
from PIL import Image

from translation.files import translate_file
from translation.options import TranslateOptions

BOM = b"\xef\xbb\xbf"
IDENTITY = TranslateOptions(model="identity", backend="identity")


def schema_line(i: int, answer: str, assistant: str = "assistant") -> bytes:
    rec = {"source": "s", "origin_id": str(i), "task": "instruct", "lang": "eng_Latn", "images": [],
           "messages": [{"role": "user", "content": "What does the sign say?"},
                        {"role": assistant, "content": answer}]}
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


def translated(tmp_path) -> dict[str, list[dict]]:
    return {r["origin_id"]: r["messages"] for r in pq.read_table(tmp_path / "out" / "translated.parquet").to_pylist()}


def test_raw_line_separators_stay_inside_their_line_and_round_trip(tmp_path):
    answers = ["It says:\u2028Welcome back.", "Two paragraphs.\u2029The second one.", "Plain."]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(schema_line(i, a) for i, a in enumerate(answers)) + b"\n")
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), IDENTITY)
    assert res["rows_in"] == 3 and res["kept"] == 3 and res["rejected"] == 0, res
    got = translated(tmp_path)
    assert [got[str(i)][1]["content"] for i in range(3)] == answers      # byte-exact


def test_a_broken_line_is_a_reject_naming_its_line(tmp_path):
    lines = [schema_line(0, "First.\u2028Still line one."), schema_line(1, "Second."), b'{"messages": [ broken',
             schema_line(3, "Fourth.")]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), IDENTITY)
    assert res["rows_in"] == 3 and res["kept"] == 3 and res["by_reason"] == {"bad_json": 1}, res
    rej = pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()
    assert len(rej) == 1 and "in.jsonl line 3:" in rej[0]["detail"] and rej[0]["step"] == "read"


def test_bom_is_dropped_in_messages_jsonl(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(BOM + schema_line(0, "A sign.") + b"\n" + schema_line(1, "A door.") + b"\n")
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), IDENTITY)
    assert res["rows_in"] == 2 and res["kept"] == 2 and res["rejected"] == 0, res
    assert translated(tmp_path)["0"][1]["content"] == "A sign."


def test_bom_is_dropped_in_llava_json(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(buf, "JPEG")
    (tmp_path / "a.jpg").write_bytes(buf.getvalue())
    data = [{"id": "x", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat colour?"},
                                                           {"from": "gpt", "value": "Red."}]}]
    src = tmp_path / "in.json"
    src.write_bytes(BOM + json.dumps(data).encode())
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), IDENTITY)
    assert res["rows_in"] == 1 and res["kept"] == 1 and res["rejected"] == 0, res


def test_model_role_is_the_assistant_in_the_messages_format(tmp_path):
    """Gemini's `model` (and `gpt`, `bot`) is the assistant, as in the LLaVA format: translated, not
    passed through under a role the translator skips."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(schema_line(i, "A red door.", role) + b"\n" for i, role in enumerate(["model", "gpt", "bot"])))
    res = translate_file(str(src), ["fra_Latn"], str(tmp_path / "dry"), IDENTITY, dry=True)
    assert res["rows_in"] == 3
    segs = [json.loads(l) for l in (tmp_path / "dry" / "segments.jsonl").read_bytes().split(b"\n") if l]
    assert [s["segments"] for s in segs if s["message"] == 1] == [["A red door."]] * 3
    translate_file(str(src), ["fra_Latn"], str(tmp_path / "out"), IDENTITY)
    assert {m[1]["role"] for m in translated(tmp_path).values()} == {"assistant"}
