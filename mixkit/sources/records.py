"""One input record -> one schema row or one reject: the normalisation every format shares.

A record is a jsonl line, a json list element, a table row or a group of tar members sharing a
key. Record formats accepted:
- caption: `caption` or `text` (or a tar `KEY.txt`) plus images. The reader writes the
  conversation itself: user "<image>\\n" + CAPTION_PROMPT[lang], assistant = the caption.
  One fixed prompt per language keeps the translation cache small and the prompt correct;
  for a language without a prompt here the English one is used and meta says so.
- messages: `messages` = [{role, content}] (mixkit's own format; a JSON string of that list too).
- LLaVA: `conversations` = [{from, value}].
Speakers are mapped to schema roles by the one table, mixkit.core.schema.ROLE_NAMES (human ->
user; gpt, model, bot -> assistant), in both conversation formats.
Images come from `image` / `images` / `image_path` / `image_file` (bytes, a path, a list, or the
{bytes, path} dict HF datasets writes) or from a tar sample's image members. A record's own
`lang` overrides the source's default language.

Conversations must be answered: one without an assistant turn is rejected (no_answer); user
turns left unanswered at the end are trimmed and meta["trimmed_unanswered_turns"] counts them.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Iterable, Iterator

from mixkit.core import storage
from mixkit.core.schema import IMAGE_TOKEN, ROLE_NAMES, image_count, make_id, make_reject, make_row, schema_role
from mixkit.core.shard_format import TAR_REJECT_REASONS, image_ext
from mixkit.lang import languages

# Reasons a reader rejects a record (step "read").
REJECT_REASONS = {
    "bad_utf8": "text that is not valid UTF-8",
    "empty_text": "an empty caption or an empty turn",
    "missing_image": "an image path that does not exist",
    "unknown_image_format": "image bytes that are not JPEG/PNG/WebP/GIF (by magic bytes)",
    "corrupt_image": "image bytes cut short (no JPEG/PNG end marker, short WebP)",
    "placeholder_mismatch": "number of <image> placeholders != number of images",
    "bad_json": "a malformed json line, list or tar member",
    "broken_tar": "a truncated or corrupt tar; samples before the break are kept",
    "broken_file": "a parquet/arrow file that fails part way; rows before the break are kept",
    "bad_record": "required fields missing or of the wrong type (detail says which)",
    "no_answer": "a conversation without an assistant turn (nothing for the trainer to learn)",
    "unanswered_image_turn": "a trailing user turn without an answer that holds an <image> (cannot be trimmed)",
    **{r: d for r, d in TAR_REJECT_REASONS.items() if r != "broken_tar"},
}
# meta key set when unanswered user turns at the end of a conversation were dropped.
TRIMMED_META = "trimmed_unanswered_turns"

# The caption prompt per language (hand-written; see scripts/make_demo_data.py's phrasebook).
CAPTION_PROMPT = {
    "eng_Latn": "Describe the image.",
    "deu_Latn": "Beschreibe das Bild.",
    "fra_Latn": "Décris l'image.",
    "jpn_Jpan": "この画像を説明してください。",
    "hin_Deva": "इस चित्र का वर्णन करें।",
    "spa_Latn": "Describe la imagen.",
    "rus_Cyrl": "Опиши изображение.",
    "arb_Arab": "صف الصورة.",
}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Conversation fields: (record key, speaker key, text key)
_CONVERSATIONS = (("messages", "role", "content"), ("conversations", "from", "value"))

Pair = tuple[dict | None, dict | None]     # (row, None) or (None, reject): one per input record


class SourceError(ValueError):
    """A source that cannot be read at all (missing path, unknown format); says what to do."""


class Reject(Exception):
    """A record that becomes a reject: `reason` (REJECT_REASONS) and a detail for people."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class ReadContext:
    """What every record of one file shares: the file, the source's name, task and language."""

    def __init__(self, file: str, source: str, task: str, lang: str, image_root: str | None):
        self.file, self.source, self.task = file, source, task
        self.lang = languages.resolve(lang)
        self.base = os.path.basename(file.rstrip("/"))
        # Relative image paths: image_root, else the file's own directory (kept relative so
        # reject details read the same in every checkout).
        self.dirs = [d for d in (image_root, os.path.dirname(file.rstrip("/")) or ".") if d]


def text_value(value: Any, what: str) -> str:
    """A text field as a non-empty str (bytes must be UTF-8); Reject otherwise."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise Reject("bad_utf8", f"{what} is not UTF-8 ({e.reason} at byte {e.start})")
    if value is None:
        raise Reject("empty_text", f"{what} is empty")
    if not isinstance(value, str):
        raise Reject("bad_record", f"{what} must be a string, got {type(value).__name__}")
    if _LONE_SURROGATE.search(value):
        raise Reject("bad_utf8", f"{what} holds bytes that are not UTF-8")
    if not value.strip():
        raise Reject("empty_text", f"{what} is empty")
    return value


def check_image(data: bytes, what: str) -> bytes:
    """Encoded image bytes of a known format that are not cut short (nothing is decoded)."""
    if not data:
        raise Reject("corrupt_image", f"{what}: zero bytes")
    ext = image_ext(data)
    if ext == "bin":
        raise Reject("unknown_image_format", f"{what}: not JPEG/PNG/WebP/GIF (starts {data[:8].hex()})")
    # Cheap structural checks without decoding: a cut-off file lacks its end marker.
    tail = data[-1024:].rstrip(b"\x00")
    if ext == "jpg" and b"\xff\xd9" not in tail[-64:]:
        raise Reject("corrupt_image", f"{what}: JPEG has no end marker (truncated, {len(data)} bytes)")
    if ext == "png" and b"IEND" not in tail[-64:]:
        raise Reject("corrupt_image", f"{what}: PNG has no IEND chunk (truncated, {len(data)} bytes)")
    if ext == "webp" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise Reject("corrupt_image", f"{what}: WebP shorter than its RIFF size (truncated)")
    if ext == "gif" and not tail.endswith(b";"):
        raise Reject("corrupt_image", f"{what}: GIF has no trailer (truncated)")
    return bytes(data)


def _load_path(ctx: ReadContext, p: str, what: str) -> bytes:
    absolute = os.path.isabs(p) or storage.is_remote(p)
    cands = [p] if absolute else [storage.join(d, p) for d in ctx.dirs] + [p]
    for c in cands:
        if storage.is_remote(c):             # beside a source on object storage: one GET, no HEAD first
            try:
                return check_image(storage.read_bytes(c), f"{what} {p!r}")
            except (FileNotFoundError, IsADirectoryError):
                continue
        if os.path.isfile(c):
            with open(c, "rb") as fh:
                return check_image(fh.read(), f"{what} {p!r}")
    raise Reject("missing_image", f"{what} {p!r} not found (looked in: {', '.join(dict.fromkeys(cands))}); "
                                  "set the source's image_root")


def _images_from_field(ctx: ReadContext, value: Any, what: str) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[bytes] = []
        for i, v in enumerate(value):
            out.extend(_images_from_field(ctx, v, f"{what}[{i}]"))
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [check_image(bytes(value), what)]
    if isinstance(value, str):
        return [_load_path(ctx, value, what)] if value else []
    if isinstance(value, dict):  # HF datasets Image feature: {"bytes": ..., "path": ...}
        if value.get("bytes") is not None:
            return [check_image(bytes(value["bytes"]), what)]
        if value.get("path"):
            return [_load_path(ctx, value["path"], what)]
        return []
    raise Reject("bad_record", f"{what} must be bytes, a path or a list, got {type(value).__name__}")


def has_conversation(rec: dict) -> bool:
    return any(rec.get(field) is not None for field, _, _ in _CONVERSATIONS)


def messages_of(rec: dict) -> list[dict]:
    """The schema messages of a record's `messages` or `conversations` (roles via ROLE_NAMES)."""
    field, role_key, text_key = next(c for c in _CONVERSATIONS if rec.get(c[0]) is not None)
    raw = rec[field]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise Reject("bad_json", f"{field} is a string that is not JSON ({e.msg})")
    if not isinstance(raw, list) or not raw:
        raise Reject("bad_record", f"{field} must be a non-empty list of {{{role_key}, {text_key}}}")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or role_key not in m or text_key not in m:
            raise Reject("bad_record", f"{field}[{i}] lacks {role_key}/{text_key}")
        role = schema_role(m[role_key])
        if role is None:
            raise Reject("bad_record", f"{field}[{i}] has unknown {role_key} {m[role_key]!r} "
                                       f"(use one of {', '.join(ROLE_NAMES)})")
        out.append({"role": role, "content": text_value(m[text_key], f"{field}[{i}].{text_key}")})
    return out


def _answered(messages: list[dict]) -> tuple[list[dict], int]:
    """The conversation up to its last assistant turn, and how many turns after it were dropped.

    Same rule for every input format: no assistant turn at all is a reject (no_answer); user
    turns left unanswered at the end are trimmed, unless one holds an image (its placeholder
    would no longer match the images).
    """
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    if last < 0:
        raise Reject("no_answer", f"{len(messages)} turn(s), none from the assistant")
    tail = messages[last + 1:]
    if any(IMAGE_TOKEN in m["content"] for m in tail):
        raise Reject("unanswered_image_turn", f"the last {len(tail)} turn(s) have no answer and hold an <image>")
    return messages[:last + 1], len(tail)


def _origin_id(rec: dict, fallback: str) -> str:
    for k in ("id", "key", "__key__"):
        v = rec.get(k)
        if v is not None and str(v) != "":
            return str(v)
    return fallback


def _record_lang(ctx: ReadContext, rec: dict) -> str:
    v = rec.get("lang") or rec.get("language")
    if not v:
        return ctx.lang
    try:
        return languages.resolve(str(v))
    except languages.UnknownLanguageError as e:
        raise Reject("bad_record", f"lang: {e}")


def _meta(rec: dict, ctx: ReadContext, pos: str, extra: dict) -> dict:
    meta: dict = {}
    m = rec.get("meta")
    if isinstance(m, str) and m:
        try:
            m = json.loads(m)
        except json.JSONDecodeError:
            m = {"meta": m}
    if isinstance(m, dict):
        meta.update(m)
    # Provenance by basename, not absolute path, so rows are identical across checkouts.
    meta["src"] = {"file": ctx.base, "pos": pos}
    if rec.get("origin_id") not in (None, "") and str(rec.get("origin_id")) != str(rec.get("id")):
        meta["upstream_origin_id"] = str(rec["origin_id"])
    if rec.get("url"):
        meta["url"] = rec["url"]
    meta.update(extra)
    return meta


def normalise(ctx: ReadContext, rec: Any, fallback_id: str, pos: str,
              member_images: list[bytes] | None = None, caption: Any = None) -> Pair:
    """One record -> (row, None) or (None, reject). `pos` says where it is ("line 3", "row 7")."""
    origin = _origin_id(rec, fallback_id) if isinstance(rec, dict) else fallback_id
    lang = ctx.lang
    try:
        if not isinstance(rec, dict):
            raise Reject("bad_record", f"record must be a JSON object, got {type(rec).__name__}")
        lang = _record_lang(ctx, rec)
        extra: dict = {}
        if member_images:
            images = list(member_images)
        else:
            images = []
            for k in ("image", "images", "image_path", "image_file"):
                if k in rec:
                    images.extend(_images_from_field(ctx, rec[k], k))
        if has_conversation(rec):
            messages, trimmed = _answered(messages_of(rec))
            if trimmed:
                extra[TRIMMED_META] = trimmed
        else:
            if caption is None:
                keys = [k for k in ("caption", "text") if k in rec]
                if not keys:
                    raise Reject("bad_record", "no messages, conversations, caption or text field "
                                               f"(has: {', '.join(sorted(map(str, rec))) or 'nothing'})")
                caption = rec[keys[0]]
            cap = text_value(caption, "caption").strip()
            if not images:
                raise Reject("bad_record", "caption record without an image (no image/images/image_path field "
                                           "or image member)")
            prompt = CAPTION_PROMPT.get(lang)
            if prompt is None:
                prompt = CAPTION_PROMPT["eng_Latn"]
                extra["prompt_lang"] = "eng_Latn"
            messages = [{"role": "user", "content": "\n".join([IMAGE_TOKEN] * len(images) + [prompt])},
                        {"role": "assistant", "content": cap}]
        n_ph = image_count(messages)
        if n_ph != len(images):
            raise Reject("placeholder_mismatch", f"{n_ph} <image> placeholder(s) for {len(images)} image(s)")
        row = make_row(source=ctx.source, origin_id=origin, task=ctx.task, lang=lang, messages=messages,
                       images=images, meta=_meta(rec, ctx, pos, extra))
        return row, None
    except Reject as r:
        return None, reject(ctx, origin, lang, r.reason, f"{ctx.file} {pos}: {r.detail}")


def reject(ctx: ReadContext, origin: str, lang: str, reason: str, detail: str) -> dict:
    """A reject of the step "read" for a record of this file."""
    stub = {"id": make_id(ctx.source, origin, lang, ctx.task), "origin_id": origin,
            "source": ctx.source, "lang": lang}
    return make_reject(stub, step="read", reason=reason, detail=detail)


def normalise_batches(ctx: ReadContext, batches: Iterable, label: str) -> Iterator[Pair]:
    """Rows of Arrow record batches (parquet, arrow, HF datasets) through `normalise`; a file that
    fails part way ends with one broken_file reject and keeps the rows before it."""
    i = 0
    try:
        for batch in batches:
            for rec in batch.to_pylist():
                yield normalise(ctx, rec, f"{label}:{i}", f"row {i}")
                i += 1
    except Exception as e:  # pyarrow raises OSError/ArrowInvalid on a corrupt page or row group
        yield None, reject(ctx, f"{label}:broken@{i}", ctx.lang, "broken_file",
                           f"{ctx.file} row {i}: {type(e).__name__}: {e}; rows before it were kept")
