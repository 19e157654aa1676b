"""Source readers: every input format becomes rows of the one schema (mixkit.core.schema).

Formats: parquet, jsonl, LLaVA-style json, HF `datasets` (save_to_disk dirs and .arrow files)
and WebDataset tars (mixkit's own shards, img2dataset's layout, LLaVA json inside a tar).
Readers stream in batches; images stay the encoded bytes they were stored as (nothing is
decoded). Every input record ends either as a row or as a reject with a reason
(REJECT_REASONS); nothing is dropped silently.

Record layouts accepted (one record = a jsonl line, a json list element, a table row or a
group of tar members sharing a key):
- caption: `caption` or `text` (or a tar `KEY.txt`) plus images. The reader writes the
  conversation itself: user "<image>\\n" + CAPTION_PROMPT[lang], assistant = the caption.
  One fixed prompt per language keeps the translation cache small and the prompt correct;
  for a language without a prompt here the English one is used and meta says so.
- messages: `messages` = [{role, content}] (mixkit's own layout).
- LLaVA: `conversations` = [{from: human|gpt|system, value}].
Images come from `image` / `images` / `image_path` (bytes, a path, a list, or the
{bytes, path} dict HF datasets writes) or from a tar sample's image members (KEY.jpg,
KEY.0.jpg, KEY.1.png, ...). A record's own `lang` overrides the source's default language.

Conversations (messages or LLaVA, every format alike) must be answered: one without an
assistant turn is rejected (no_answer); user turns left unanswered at the end are trimmed and
meta["trimmed_unanswered_turns"] counts them. Tars are read by mixkit.core.shard_format.iter_tar,
so links, devices, absolute or ../ names and adjacent repeated keys become rejects too.
"""
from __future__ import annotations

import glob as globlib
import json
import os
import re
from typing import Any, Iterable, Iterator

from mixkit.lang import languages
from mixkit.core.schema import IMAGE_TOKEN, ROLES, image_count, make_id, make_reject, make_row
from mixkit.core.shard_format import TAR_REJECT_REASONS, SampleError, TarSample, image_ext, iter_tar

FORMATS = ("parquet", "jsonl", "llava", "hf", "webdataset")

# Reasons a reader rejects a record (stage "read").
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

_EXTENSIONS = {
    "parquet": (".parquet",),
    "jsonl": (".jsonl", ".jsonlines", ".ndjson"),
    "llava": (".json",),
    "hf": (".arrow",),
    "webdataset": (".tar", ".tar.gz", ".tgz"),
}
LLAVA_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
               "model": "assistant", "bot": "assistant", "system": "system"}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class SourceError(ValueError):
    """A source that cannot be read at all (missing path, unknown format); says what to do."""


class _Reject(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# ---------------------------------------------------------------------------------------
# Finding files


def _is_hf_dir(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, n)) for n in ("state.json", "dataset_dict.json"))


def detect_format(file: str) -> str:
    """Format of one file or HF save_to_disk directory, from its extension."""
    if _is_hf_dir(file):
        return "hf"
    low = file.lower()
    for fmt, exts in _EXTENSIONS.items():
        if low.endswith(exts):
            return fmt
    raise SourceError(
        f"cannot tell the format of {file!r} from its name; give the source a `format:` "
        f"({', '.join(FORMATS)}) or use one of the extensions "
        + ", ".join(e for exts in _EXTENSIONS.values() for e in exts))


def _expand(path: str) -> list[tuple[str, bool]]:
    """(existing path, came from a pattern) for each expansion of braces and globs."""
    import braceexpand  # a webdataset dependency; expands 'data/{00000..00009}.tar'
    out: list[tuple[str, bool]] = []
    for p in braceexpand.braceexpand(os.path.expanduser(path)):
        if globlib.has_magic(p):
            out.extend((g, True) for g in globlib.glob(p, recursive=True))
        elif os.path.exists(p):
            out.append((p, False))
    return out


def list_source_files(path: str, format: str | None = None, *, source: str = "") -> list[str]:
    """Files of a source: `path` is a file, a directory, a glob or WebDataset brace notation.

    A directory is searched recursively for files of `format` (or of any known format when
    format is None/'auto'); an HF save_to_disk directory is one entry. A file named directly
    is taken whatever its extension when `format` is given. Sorted, deterministic.
    """
    fmt = None if format in (None, "auto") else format
    if fmt is not None and fmt not in FORMATS:
        raise SourceError(f"source {source!r}: unknown format {format!r}; use one of {', '.join(FORMATS)} or auto")
    files: set[str] = set()
    for p, from_pattern in _expand(path):
        if _is_hf_dir(p):
            if fmt in (None, "hf"):
                files.add(p)
        elif os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                if _is_hf_dir(root):
                    if fmt in (None, "hf"):
                        files.add(root)
                    dirs[:] = []
                    continue
                files.update(os.path.join(root, n) for n in names if _matches(os.path.join(root, n), fmt))
        elif os.path.isfile(p) and (_matches(p, fmt) or (fmt is not None and not from_pattern)):
            files.add(p)
    if not files:
        what = f"{fmt} files" if fmt else "files of a known format (" + ", ".join(FORMATS) + ")"
        raise SourceError(
            f"source {source!r}: no files match {path!r} (looked for {what}); check the path "
            f"(relative paths are relative to the working directory {os.getcwd()!r}), the glob "
            f"or brace pattern, and the source's `format:`")
    return sorted(files)


def _matches(file: str, fmt: str | None) -> bool:
    if fmt is None:
        try:
            detect_format(file)
            return True
        except SourceError:
            return False
    if fmt == "hf":
        return file.lower().endswith(".arrow") or _is_hf_dir(file)
    return file.lower().endswith(_EXTENSIONS[fmt])


# ---------------------------------------------------------------------------------------
# Normalising one record


class _Ctx:
    def __init__(self, file: str, source: str, task: str, lang: str, image_root: str | None):
        self.file, self.source, self.task = file, source, task
        self.lang = languages.resolve(lang)
        self.base = os.path.basename(file.rstrip("/"))
        # Relative image paths: image_root, else the file's own directory (kept relative so
        # reject details read the same in every checkout).
        self.dirs = [d for d in (image_root, os.path.dirname(file.rstrip("/")) or ".") if d]


def _text(value: Any, what: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Reject("bad_utf8", f"{what} is not UTF-8 ({e.reason} at byte {e.start})")
    if value is None:
        raise _Reject("empty_text", f"{what} is empty")
    if not isinstance(value, str):
        raise _Reject("bad_record", f"{what} must be a string, got {type(value).__name__}")
    if _LONE_SURROGATE.search(value):
        raise _Reject("bad_utf8", f"{what} holds bytes that are not UTF-8")
    if not value.strip():
        raise _Reject("empty_text", f"{what} is empty")
    return value


def _check_image(data: bytes, what: str) -> bytes:
    if not data:
        raise _Reject("corrupt_image", f"{what}: zero bytes")
    ext = image_ext(data)
    if ext == "bin":
        raise _Reject("unknown_image_format", f"{what}: not JPEG/PNG/WebP/GIF (starts {data[:8].hex()})")
    # Cheap structural checks without decoding: a cut-off file lacks its end marker.
    tail = data[-1024:].rstrip(b"\x00")
    if ext == "jpg" and b"\xff\xd9" not in tail[-64:]:
        raise _Reject("corrupt_image", f"{what}: JPEG has no end marker (truncated, {len(data)} bytes)")
    if ext == "png" and b"IEND" not in tail[-64:]:
        raise _Reject("corrupt_image", f"{what}: PNG has no IEND chunk (truncated, {len(data)} bytes)")
    if ext == "webp" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise _Reject("corrupt_image", f"{what}: WebP shorter than its RIFF size (truncated)")
    if ext == "gif" and not tail.endswith(b";"):
        raise _Reject("corrupt_image", f"{what}: GIF has no trailer (truncated)")
    return bytes(data)


def _load_path(ctx: _Ctx, p: str, what: str) -> bytes:
    cands = [p] if os.path.isabs(p) else [os.path.join(d, p) for d in ctx.dirs] + [p]
    for c in cands:
        if os.path.isfile(c):
            with open(c, "rb") as fh:
                return _check_image(fh.read(), f"{what} {p!r}")
    raise _Reject("missing_image", f"{what} {p!r} not found (looked in: {', '.join(dict.fromkeys(cands))}); "
                                   "set the source's image_root")


def _images_from_field(ctx: _Ctx, value: Any, what: str) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[bytes] = []
        for i, v in enumerate(value):
            out.extend(_images_from_field(ctx, v, f"{what}[{i}]"))
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [_check_image(bytes(value), what)]
    if isinstance(value, str):
        return [_load_path(ctx, value, what)] if value else []
    if isinstance(value, dict):  # HF datasets Image feature: {"bytes": ..., "path": ...}
        if value.get("bytes") is not None:
            return [_check_image(bytes(value["bytes"]), what)]
        if value.get("path"):
            return [_load_path(ctx, value["path"], what)]
        return []
    raise _Reject("bad_record", f"{what} must be bytes, a path or a list, got {type(value).__name__}")


def _messages(rec: dict) -> list[dict]:
    raw = rec["messages"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise _Reject("bad_json", f"messages is a string that is not JSON ({e.msg})")
    if not isinstance(raw, list) or not raw:
        raise _Reject("bad_record", "messages must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise _Reject("bad_record", f"messages[{i}] lacks role/content")
        role = LLAVA_ROLES.get(str(m["role"]).lower())
        if role not in ROLES:
            raise _Reject("bad_record", f"messages[{i}] has unknown role {m['role']!r} (use {', '.join(ROLES)})")
        out.append({"role": role, "content": _text(m["content"], f"messages[{i}].content")})
    return out


def _conversations(rec: dict) -> list[dict]:
    raw = rec["conversations"]
    if not isinstance(raw, list) or not raw:
        raise _Reject("bad_record", "conversations must be a non-empty list of {from, value}")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or "from" not in m or "value" not in m:
            raise _Reject("bad_record", f"conversations[{i}] lacks from/value")
        role = LLAVA_ROLES.get(str(m["from"]).lower())
        if role is None:
            raise _Reject("bad_record", f"conversations[{i}] has unknown speaker {m['from']!r} "
                                        f"(use {', '.join(sorted(LLAVA_ROLES))})")
        out.append({"role": role, "content": _text(m["value"], f"conversations[{i}].value")})
    return out


def _answered(messages: list[dict]) -> tuple[list[dict], int]:
    """The conversation up to its last assistant turn, and how many turns after it were dropped.

    Same rule for every input format: no assistant turn at all is a reject (no_answer); user
    turns left unanswered at the end are trimmed, unless one holds an image (its placeholder
    would no longer match the images).
    """
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    if last < 0:
        raise _Reject("no_answer", f"{len(messages)} turn(s), none from the assistant")
    tail = messages[last + 1:]
    if any(IMAGE_TOKEN in m["content"] for m in tail):
        raise _Reject("unanswered_image_turn", f"the last {len(tail)} turn(s) have no answer and hold an <image>")
    return messages[:last + 1], len(tail)


def _origin_id(rec: dict, fallback: str) -> str:
    for k in ("id", "key", "__key__"):
        v = rec.get(k)
        if v is not None and str(v) != "":
            return str(v)
    return fallback


def _record_lang(ctx: _Ctx, rec: dict) -> str:
    v = rec.get("lang") or rec.get("language")
    if not v:
        return ctx.lang
    try:
        return languages.resolve(str(v))
    except languages.UnknownLanguageError as e:
        raise _Reject("bad_record", f"lang: {e}")


def _meta(rec: dict, ctx: _Ctx, pos: str, extra: dict) -> dict:
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


def _normalise(ctx: _Ctx, rec: Any, fallback_id: str, pos: str,
               member_images: list[bytes] | None = None, caption: Any = None) -> tuple[dict | None, dict | None]:
    """One record -> (row, None) or (None, reject)."""
    origin = _origin_id(rec, fallback_id) if isinstance(rec, dict) else fallback_id
    lang = ctx.lang
    try:
        if not isinstance(rec, dict):
            raise _Reject("bad_record", f"record must be a JSON object, got {type(rec).__name__}")
        lang = _record_lang(ctx, rec)
        extra: dict = {}
        if member_images:
            images = list(member_images)
        else:
            images = []
            for k in ("image", "images", "image_path", "image_file"):
                if k in rec:
                    images.extend(_images_from_field(ctx, rec[k], k))
        if rec.get("messages") is not None or rec.get("conversations") is not None:
            messages = _messages(rec) if rec.get("messages") is not None else _conversations(rec)
            messages, trimmed = _answered(messages)
            if trimmed:
                extra[TRIMMED_META] = trimmed
        else:
            if caption is None:
                keys = [k for k in ("caption", "text") if k in rec]
                if not keys:
                    raise _Reject("bad_record", "no messages, conversations, caption or text field "
                                                f"(has: {', '.join(sorted(map(str, rec))) or 'nothing'})")
                caption = rec[keys[0]]
            cap = _text(caption, "caption").strip()
            if not images:
                raise _Reject("bad_record", "caption record without an image (no image/images/image_path field "
                                            "or image member)")
            prompt = CAPTION_PROMPT.get(lang)
            if prompt is None:
                prompt = CAPTION_PROMPT["eng_Latn"]
                extra["prompt_lang"] = "eng_Latn"
            messages = [{"role": "user", "content": "\n".join([IMAGE_TOKEN] * len(images) + [prompt])},
                        {"role": "assistant", "content": cap}]
        n_ph = image_count(messages)
        if n_ph != len(images):
            raise _Reject("placeholder_mismatch", f"{n_ph} <image> placeholder(s) for {len(images)} image(s)")
        row = make_row(source=ctx.source, origin_id=origin, task=ctx.task, lang=lang, messages=messages,
                       images=images, meta=_meta(rec, ctx, pos, extra))
        return row, None
    except _Reject as r:
        return None, _reject(ctx, origin, lang, r.reason, f"{ctx.file} {pos}: {r.detail}")


def _reject(ctx: _Ctx, origin: str, lang: str, reason: str, detail: str) -> dict:
    stub = {"id": make_id(ctx.source, origin, lang, ctx.task), "origin_id": origin,
            "source": ctx.source, "lang": lang}
    return make_reject(stub, step="read", reason=reason, detail=detail)


# ---------------------------------------------------------------------------------------
# Per-format record iterators: yield (row, reject) pairs, one per input record.

Pair = tuple[dict | None, dict | None]


def _iter_jsonl(ctx: _Ctx) -> Iterator[Pair]:
    with open(ctx.file, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue  # blank lines are not records
            fallback, pos = f"{ctx.base}:{n - 1}", f"line {n}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield None, _reject(ctx, fallback, ctx.lang, "bad_utf8",
                                    f"{ctx.file} {pos}: not UTF-8 ({e.reason} at byte {e.start})")
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                yield None, _reject(ctx, fallback, ctx.lang, "bad_json", f"{ctx.file} {pos}: {e.msg} (col {e.colno})")
                continue
            yield _normalise(ctx, rec, fallback, pos)


def _iter_llava(ctx: _Ctx) -> Iterator[Pair]:
    # A LLaVA file is one JSON list of records with image *paths*, so loading it whole holds
    # text only. surrogateescape keeps a bad byte local to the record that holds it.
    with open(ctx.file, "rb") as fh:
        text = fh.read().decode("utf-8", errors="surrogateescape")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data" and text.lstrip().startswith("{"):
            yield from _iter_jsonl(ctx)  # a .json file that is really JSON lines
            return
        yield None, _reject(ctx, f"{ctx.base}:file", ctx.lang, "bad_json",
                            f"{ctx.file} line {e.lineno} col {e.colno}: {e.msg}; the whole file is unreadable")
        return
    if isinstance(data, dict):
        lists = [k for k in ("data", "annotations", "records") if isinstance(data.get(k), list)]
        data = data[lists[0]] if lists else [data]
    for i, rec in enumerate(data):
        yield _normalise(ctx, rec, f"{ctx.base}:{i}", f"item {i}")


def _iter_table_batches(ctx: _Ctx, batches: Iterable, label: str) -> Iterator[Pair]:
    i = 0
    try:
        for batch in batches:
            for rec in batch.to_pylist():
                yield _normalise(ctx, rec, f"{label}:{i}", f"row {i}")
                i += 1
    except Exception as e:  # pyarrow raises OSError/ArrowInvalid on a corrupt page or row group
        yield None, _reject(ctx, f"{label}:broken@{i}", ctx.lang, "broken_file",
                            f"{ctx.file} row {i}: {type(e).__name__}: {e}; rows before it were kept")


def _iter_parquet(ctx: _Ctx, batch_rows: int) -> Iterator[Pair]:
    import pyarrow.parquet as pq
    try:
        pf = pq.ParquetFile(ctx.file)
    except Exception as e:
        raise SourceError(f"source {ctx.source!r}: {ctx.file} is not a readable parquet file ({e}); "
                          "re-export it or remove it from the source") from e
    yield from _iter_table_batches(ctx, pf.iter_batches(batch_size=batch_rows), ctx.base)


def _iter_arrow_file(ctx: _Ctx, batch_rows: int) -> Iterator[Pair]:
    import pyarrow as pa
    src = pa.memory_map(ctx.file)
    try:  # HF datasets writes the IPC stream format; other tools the file format.
        reader: Any = pa.ipc.open_stream(src)
        batches: Iterable = reader
    except pa.ArrowInvalid:
        try:
            reader = pa.ipc.open_file(src)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid as e:
            raise SourceError(f"source {ctx.source!r}: {ctx.file} is not an Arrow file ({e})") from e
    yield from _iter_table_batches(ctx, (b2 for b in batches for b2 in pa.Table.from_batches([b]).to_batches(batch_rows)),
                                   ctx.base)


def _iter_hf_dir(ctx: _Ctx, batch_rows: int) -> Iterator[Pair]:
    import datasets
    ds = datasets.load_from_disk(ctx.file)
    splits = [(name, ds[name]) for name in sorted(ds)] if isinstance(ds, datasets.DatasetDict) else [("", ds)]
    for name, d in splits:
        # Arrow format: image columns stay {bytes, path} structs, never decoded to PIL.
        label = f"{ctx.base}/{name}" if name else ctx.base
        tables = d.with_format("arrow").iter(batch_size=batch_rows)
        yield from _iter_table_batches(ctx, (t for t in tables), label)


def _tar_sample(ctx: _Ctx, sample: TarSample) -> Pair:
    pos = f"member {sample.key}"
    try:
        if sample.reject is not None:
            raise _Reject(*sample.reject)
        rec = sample.doc()
        caption = sample.caption()
        images = [_check_image(d, sample.name(e)) for e, d in sample.image_members()]
        if not rec and not images and caption is None:
            raise _Reject("bad_record", f"sample {sample.key} has no json, text or image member")
        rec.setdefault("key", sample.key)
        return _normalise(ctx, rec, sample.key, pos, member_images=images, caption=caption)
    except (_Reject, SampleError) as r:
        return None, _reject(ctx, sample.key, ctx.lang, r.reason,
                             f"{ctx.file} {pos} ({', '.join(map(os.path.basename, sample.names))}): {r.detail}")


def _iter_tar(ctx: _Ctx) -> Iterator[Pair]:
    keys: set[str] = set()
    for n, item in enumerate(iter_tar(ctx.file)):
        if isinstance(item, TarSample):
            row, rej = _tar_sample(ctx, item)
            if item.key in keys and rej is not None:
                # A key met before, not adjacent: its members were split apart (GNU tar from disk
                # stores a folder in directory order); say so, or the reason alone misleads.
                rej["detail"] += (f"; key {item.key!r} also came earlier in this tar: a sample's members must be "
                                  "adjacent (write the tar sorted, e.g. tar --sort=name)")
            keys.add(item.key)
            yield row, rej
        elif item.reason == "broken_tar" and item.key:
            yield None, _reject(ctx, item.key, ctx.lang, item.reason, f"{ctx.file}: {item.detail}")
        else:
            # A refused member name never becomes an id: the reject is keyed by file and position.
            yield None, _reject(ctx, f"{ctx.base}:{item.reason}@{n}", ctx.lang, item.reason,
                                f"{ctx.file}: {item.detail}")


# ---------------------------------------------------------------------------------------


def read_source_file(file: str, *, source: str, format: str, task: str, lang: str = "eng_Latn",
                     image_root: str | None = None, batch_rows: int = 512
                     ) -> Iterator[tuple[list[dict], list[dict]]]:
    """Stream one file (or HF save_to_disk dir) as (rows, rejects) batches of schema rows.

    Every record of the file yields exactly one row or one reject (stage "read").
    `image_root` resolves relative image paths (default: the file's directory, then the cwd).
    """
    fmt = detect_format(file) if format in (None, "auto") else format
    if fmt not in FORMATS:
        raise SourceError(f"source {source!r}: unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if not os.path.exists(file):
        raise SourceError(f"source {source!r}: {file!r} does not exist; check the source's path")
    try:
        ctx = _Ctx(file, source, task, lang, image_root)
    except languages.UnknownLanguageError as e:
        raise SourceError(f"source {source!r}: {e}") from e
    if fmt == "parquet":
        pairs = _iter_parquet(ctx, batch_rows)
    elif fmt == "jsonl":
        pairs = _iter_jsonl(ctx)
    elif fmt == "llava":
        pairs = _iter_llava(ctx) if not file.lower().endswith((".jsonl", ".ndjson")) else _iter_jsonl(ctx)
    elif fmt == "hf":
        pairs = _iter_hf_dir(ctx, batch_rows) if os.path.isdir(file) else _iter_arrow_file(ctx, batch_rows)
    else:
        pairs = _iter_tar(ctx)
    rows: list[dict] = []
    rejects: list[dict] = []
    for row, rej in pairs:
        if row is not None:
            rows.append(row)
        else:
            rejects.append(rej)
        if len(rows) + len(rejects) >= batch_rows:
            yield rows, rejects
            rows, rejects = [], []
    if rows or rejects:
        yield rows, rejects


def read_source(path: str, *, source: str, format: str | None = None, task: str, lang: str = "eng_Latn",
                image_root: str | None = None, batch_rows: int = 512) -> Iterator[tuple[list[dict], list[dict]]]:
    """All files of a source in order (list_source_files + read_source_file)."""
    for f in list_source_files(path, format, source=source):
        yield from read_source_file(f, source=source, format=format or "auto", task=task, lang=lang,
                                    image_root=image_root, batch_rows=batch_rows)
