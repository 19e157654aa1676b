"""JSON Lines (.jsonl, .jsonlines, .ndjson): one record per line.

A line is what the JSON Lines spec says: the bytes up to `\\n` (a `\\r` before it is JSON
whitespace). U+2028/U+2029, which `json.dumps(ensure_ascii=False)` writes raw inside strings,
end no line. A UTF-8 byte order mark at the start of the file is dropped. Line numbers in
errors count `\\n`, as editors do.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, NamedTuple

from mixkit.core import storage
from mixkit.sources.base import SourceFormat
from mixkit.sources.records import Pair, ReadContext, normalise, reject

BOM = b"\xef\xbb\xbf"


class JsonLine(NamedTuple):
    number: int                 # 1-based
    record: Any = None          # the parsed value when reason is None
    reason: str | None = None   # bad_utf8 | bad_json
    detail: str = ""


def json_lines(path: str) -> Iterator[JsonLine]:
    """Every non-blank line of a JSON Lines file, parsed, or with the reason it could not be."""
    with storage.open_read(path) as fh:         # a path or a URL (streamed)
        for n, raw in enumerate(fh, 1):         # a binary file splits at newline bytes only
            if n == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            if not raw.strip():
                continue                        # blank lines are not records
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield JsonLine(n, reason="bad_utf8", detail=f"not UTF-8 ({e.reason} at byte {e.start})")
                continue
            try:
                yield JsonLine(n, json.loads(line))
            except json.JSONDecodeError as e:
                yield JsonLine(n, reason="bad_json", detail=f"{e.msg} (col {e.colno})")


def read(ctx: ReadContext, batch_rows: int = 0) -> Iterator[Pair]:
    for line in json_lines(ctx.file):
        fallback, pos = f"{ctx.base}:{line.number - 1}", f"line {line.number}"
        if line.reason is not None:
            yield None, reject(ctx, fallback, ctx.lang, line.reason, f"{ctx.file} {pos}: {line.detail}")
        else:
            yield normalise(ctx, line.record, fallback, pos)


FORMAT = SourceFormat("jsonl", (".jsonl", ".jsonlines", ".ndjson"), read, priority=20)
