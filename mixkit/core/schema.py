"""The one sample schema every stage reads and writes, and the shard serialisation of a row.

A row is a plain dict with the fields of SCHEMA. `images` holds encoded bytes (JPEG/PNG/WebP),
never decoded pixels; `messages` is the conversation with `<image>` placeholders; `meta` is a
JSON string with provenance (model, filter scores, render parameters).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

import pyarrow as pa

from mixkit.core.shard_format import image_ext  # noqa: F401 (the shard format's own; kept importable here)

IMAGE_TOKEN = "<image>"

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("origin_id", pa.string()),
    ("source", pa.string()),
    ("task", pa.string()),
    ("lang", pa.string()),
    ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("images", pa.list_(pa.binary())),
    ("meta", pa.string()),
])
FIELDS = tuple(SCHEMA.names)
ROLES = ("system", "user", "assistant")
# The one table of speaker names read in every input format (mixkit `messages`, LLaVA/ShareGPT
# `conversations`, Gemini-style `model`) -> the schema role. Lower-cased before the lookup.
ROLE_NAMES = {"system": "system", "user": "user", "human": "user",
              "assistant": "assistant", "gpt": "assistant", "model": "assistant", "bot": "assistant"}
# Rejected rows: every input row ends in a shard or here (rejects.parquet).
REJECT_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("origin_id", pa.string()),
    ("source", pa.string()),
    ("lang", pa.string()),
    ("step", pa.string()),             # the build step (or Stage) that removed the row
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("duplicate_of", pa.string()),
])


def make_id(source: str, origin_id: str, lang: str, task: str) -> str:
    """Stable sample id: hash of (source, origin id, lang, task). Hex only, so no dots (WebDataset keys)."""
    h = hashlib.sha1("\x1f".join((source, str(origin_id), lang, task)).encode("utf-8"))
    return h.hexdigest()[:20]


def make_row(*, source: str, origin_id: str, task: str, lang: str, messages: list[dict],
             images: list[bytes] | None = None, meta: dict | None = None, id: str | None = None) -> dict:
    return {
        "id": id or make_id(source, origin_id, lang, task),
        "origin_id": str(origin_id),
        "source": source,
        "task": task,
        "lang": lang,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "images": list(images or []),
        "meta": json.dumps(meta or {}, ensure_ascii=False, sort_keys=True),
    }


def make_reject(row: dict, step: str, reason: str, detail: str = "", duplicate_of: str = "") -> dict:
    return {
        "id": row.get("id") or "",
        "origin_id": str(row.get("origin_id") or ""),
        "source": row.get("source") or "",
        "lang": row.get("lang") or "",
        "step": step,
        "reason": reason,
        "detail": detail,
        "duplicate_of": duplicate_of,
    }


def rows_to_table(rows: Iterable[dict], schema: pa.Schema = SCHEMA) -> pa.Table:
    rows = list(rows)
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


def table_to_rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def image_count(messages: list[dict]) -> int:
    return sum(m["content"].count(IMAGE_TOKEN) for m in messages)


def schema_role(name: Any) -> str | None:
    """The schema role (system/user/assistant) a speaker name stands for (ROLE_NAMES), or None."""
    return ROLE_NAMES.get(str(name).lower())


def text_of_messages(messages: Iterable, content_key: str = "content", *,
                     role_key: str = "role", roles: Iterable[str] | None = None) -> str:
    """The text of a conversation: each turn's text (placeholders removed, stripped) joined by
    newlines. Reads schema messages and foreign ones alike: `content_key` names the text field
    (LLaVA: "value"), a list of OpenAI-style parts gives their `text`, turns that are not objects
    or hold no text are skipped. `roles`: only turns whose speaker (`role_key`, via ROLE_NAMES)
    is one of these schema roles."""
    wanted = None if roles is None else set(roles)
    parts = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        if wanted is not None and schema_role(m.get(role_key)) not in wanted:
            continue
        c = m.get(content_key)
        if isinstance(c, list):          # OpenAI-style content parts
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        if isinstance(c, str):
            parts.append(c.replace(IMAGE_TOKEN, "").strip())
    return "\n".join(parts).strip()


def text_of(row: dict) -> str:
    """All message text of a row joined by newlines, placeholders removed (for LID, dedup, lengths)."""
    return text_of_messages(row["messages"])


def caption_of(row: dict) -> str:
    """The answer text of a row: its assistant turns (text_of_messages). For a caption sample
    (user: <image> + prompt, assistant: caption) this is the caption."""
    return text_of_messages(row["messages"], roles=("assistant",))


def meta_of(row: dict) -> dict[str, Any]:
    return json.loads(row.get("meta") or "{}")


def with_meta(row: dict, **updates: Any) -> dict:
    meta = meta_of(row)
    meta.update(updates)
    return {**row, "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)}
