"""LLaVA-style .json: one JSON list of records (or an object holding the list under `data`,
`annotations` or `records`) with image *paths*; a .json file that is really JSON Lines, or a
LLaVA source given as .jsonl, is read line by line. A UTF-8 byte order mark is dropped."""
from __future__ import annotations

import json
from typing import Iterator

from mixkit.core import storage
from mixkit.sources.base import SourceFormat
from mixkit.sources.formats import jsonl
from mixkit.sources.records import Pair, ReadContext, normalise, reject


def read(ctx: ReadContext, batch_rows: int = 0) -> Iterator[Pair]:
    if ctx.file.lower().endswith((".jsonl", ".ndjson")):
        yield from jsonl.read(ctx)
        return
    # Loading the list whole holds text only (images are paths). surrogateescape keeps a bad
    # byte local to the record that holds it.
    with storage.open_read(ctx.file) as fh:
        text = fh.read().removeprefix(jsonl.BOM).decode("utf-8", errors="surrogateescape")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data" and text.lstrip().startswith("{"):
            yield from jsonl.read(ctx)          # a .json file that is really JSON lines
            return
        yield None, reject(ctx, f"{ctx.base}:file", ctx.lang, "bad_json",
                           f"{ctx.file} line {e.lineno} col {e.colno}: {e.msg}; the whole file is unreadable")
        return
    if isinstance(data, dict):
        lists = [k for k in ("data", "annotations", "records") if isinstance(data.get(k), list)]
        data = data[lists[0]] if lists else [data]
    for i, rec in enumerate(data):
        yield normalise(ctx, rec, f"{ctx.base}:{i}", f"item {i}")


FORMAT = SourceFormat("llava", (".json",), read, priority=30)
