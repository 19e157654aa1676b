"""The streaming measure of one shard (runs in a worker process): small counters plus one 64-bit
text hash per sample, merged by mixkit.audit.result.

Each tar is streamed once through `mixkit.core.shard_format.iter_tar` (the reader sources, the
trainer and export use); `.json` and caption members are read, image members are counted and
skipped without reading.

Reading a sample
----------------
Members are grouped into samples by WebDataset key (the member path up to the first dot of
its file name). The sample format (shard_format.sample_format_of) says where its text is:
  * "mixkit"       `KEY.json` with `messages` [{role, content}]
  * "llava"        `KEY.json` with `conversations` [{from, value}]
  * "img2dataset"  `KEY.txt` caption (`KEY.json` is metadata)
  * "other"        anything else (image only, json without text): the json `caption`/`text`
The text is all turns' text with `<image>` placeholders removed (mixkit.core.schema.text_of).
Images are members with an extension in shard_format.IMAGE_EXTS (`KEY.0.jpg` included).
The declared language is the json's `lang`, `language` or `LANGUAGE` field, resolved through
the registry (aliases like `de` or `German` work). Values the registry does not know are
tallied in `unresolved_lang` and the sample is treated as undeclared. An undeclared sample
gets the language fastText LID predicts (marked *detected*); `und` when there is no text or
the model's label is not a registry language.
`source` = json `source`, else the sample format; `task` = json `task`, else `instruct` (llava),
`caption` (img2dataset) or `unknown`.

LID checks of declared languages are sampled to keep the audit near tar-read speed: in each
shard, the first LID_CHECK_FIRST samples of each language are checked, then those whose text
hash is divisible by LID_CHECK_EVERY; LID reads the first LID_MAX_CHARS characters.
Undeclared samples are always run through LID.
"""
from __future__ import annotations

from array import array
from collections import Counter
from functools import lru_cache

import xxhash

from mixkit.audit.columns import GroupCounts, LangCounts, Sample
from mixkit.audit.gallery import GalleryPicker
from mixkit.core import storage
from mixkit.core.schema import text_of_messages
from mixkit.core.shard_format import (SAFETY_REASONS, TEXT_MEMBERS, SampleError, TarProblem, TarSample, iter_tar,
                                      sample_format_of)
from mixkit.core.text import normalise_text
from mixkit.lang import languages
from mixkit.lang.writing_systems import SPACELESS_CHAR, matches_script

UND = "und"
LANG_FIELDS = ("lang", "language", "LANGUAGE")
LID_BATCH = 256            # samples per batched LID call (results do not depend on it)
LID_MAX_CHARS = 200
LID_CHECK_FIRST = 4
LID_CHECK_EVERY = 16
TOKENISATION = "spaced-words+nospace-chars"
LID_SAMPLING = (f"first {LID_CHECK_FIRST} declared samples per language per shard, then 1 in "
                f"{LID_CHECK_EVERY} by text hash; first {LID_MAX_CHARS} characters")
DEFAULT_TASK = {"llava": "instruct", "img2dataset": "caption"}     # by sample format; else "unknown"


def count_tokens(text: str) -> int:
    """Tokens as documented in TOKENISATION: no-space-script code points + whitespace words."""
    if text.isascii():
        return len(text.split())
    rest, n = SPACELESS_CHAR.subn(" ", text)
    return n + len(rest.split())


def text_hash(text: str) -> int:
    return xxhash.xxh3_64_intdigest(normalise_text(text).encode("utf-8"))


def sample_messages(doc: dict, fmt: str, caption: str | None) -> list:
    """A sample's turns as {role, content}, whatever its format (roles as written)."""
    if fmt == "mixkit":
        return doc["messages"]
    if fmt == "llava":
        return [{"role": m.get("from"), "content": m.get("value")} for m in doc["conversations"] if isinstance(m, dict)]
    text = caption if fmt == "img2dataset" else (doc.get("caption") or doc.get("text"))
    return [{"role": "assistant", "content": text}] if isinstance(text, str) else []


@lru_cache(maxsize=None)
def resolve_or_none(value: str) -> str | None:
    """The registry code a declared language value stands for, or None."""
    try:
        return languages.resolve(value)
    except (languages.UnknownLanguageError, ValueError):
        return None


@lru_cache(maxsize=None)
def language_or_none(code: str):
    """The registry's Language of a code, or None (und, codes it does not know)."""
    try:
        return languages.get(code)
    except (languages.UnknownLanguageError, ValueError):
        return None


_LIDS: dict = {}


def get_lid(model_path: str | None = None):
    """One LanguageIdentifier per model and process (building one maps every label: costly).
    Filled in the parent before the pool forks, so workers inherit it."""
    from mixkit.lang.lid import LanguageIdentifier, default_model_path

    key = str(model_path or default_model_path())
    if key not in _LIDS:
        _LIDS[key] = LanguageIdentifier(key)
    return _LIDS[key]


class ShardMeasure:
    """The counters of one shard: per language, source and task, confusions, text hashes,
    sample formats, errors, safety findings and gallery candidates."""

    def __init__(self, path: str, lid_model: str | None):
        self.path = path
        self.lid_model = lid_model
        self._lid = None
        self.bytes = 0
        self.members = 0
        self.langs: dict[str, LangCounts] = {}
        self.confusions: dict[str, Counter] = {}
        self.hashes: dict[str, array] = {}
        self.sources: dict[str, GroupCounts] = {}
        self.tasks: dict[str, GroupCounts] = {}
        self.formats: Counter = Counter()
        self.unresolved: Counter = Counter()
        self.errors: list[dict] = []
        self.safety: list[dict] = []
        self.gallery = GalleryPicker(path)
        self._checkable: dict[str, bool] = {}
        self._pending: list[tuple[Sample, bool]] = []    # samples waiting for a batched LID call
        self._keys: set[str] = set()                     # keys seen in this shard
        self._declared_seen: Counter = Counter()         # declared samples per language so far

    # -- helpers ---------------------------------------------------------------------------
    @property
    def lid(self):
        if self._lid is None:
            self._lid = get_lid(self.lid_model)
        return self._lid

    def error(self, member: str, msg: str) -> None:
        self.errors.append({"shard": self.path, "member": member, "error": msg})

    def _can_check(self, code: str) -> bool:
        if code not in self._checkable:
            try:
                self._checkable[code] = self.lid.can_check(code)
            except (languages.UnknownLanguageError, ValueError):
                self._checkable[code] = False
        return self._checkable[code]

    # -- one sample --------------------------------------------------------------------------
    def add(self, s: TarSample) -> None:
        if s.reject is not None:
            self.problem(TarProblem(s.reject[0], ", ".join(s.names), s.reject[1] + "; not counted", s.key))
            return
        if s.key in self._keys:      # far from its first group: a sample split apart (unsorted tar) or a duplicate
            self.error(", ".join(s.names), f"key {s.key!r} appeared earlier in this shard: the sample is split "
                                           f"apart or duplicated (write tars sorted by name); not counted again")
            return
        self._keys.add(s.key)
        try:
            doc = s.doc()
        except SampleError as e:
            what = "invalid JSON" if e.reason in ("bad_json", "bad_utf8") else "not a JSON object"
            self.error(s.name("json"), f"{what} ({e.detail}); sample {s.key} not counted")
            return
        caption = None
        data = s.caption()
        if data is not None:
            try:
                caption = data.decode("utf-8")
            except UnicodeDecodeError as e:
                self.error(s.key, f"caption is not UTF-8 ({e}); sample {s.key} not counted")
                return
        fmt = sample_format_of(doc, caption is not None)
        messages = sample_messages(doc, fmt, caption)
        text = text_of_messages(messages)
        source = doc.get("source") or fmt
        task = doc.get("task") or DEFAULT_TASK.get(fmt, "unknown")
        if type(source) is not str or type(task) is not str:     # foreign json: 5, ["x"], {...}
            source, task = str(source), str(task)

        raw = next((doc[k] for k in LANG_FIELDS if isinstance(doc.get(k), str) and doc[k].strip()), None)
        code = resolve_or_none(raw) if raw else None
        if raw and code is None:
            self.unresolved[raw] += 1
        h = text_hash(text) if text else None
        sample = Sample(s, doc, fmt, messages, text, source, task, s.image_count, code, h)
        if code is None and text:
            self._pending.append((sample, False))          # its language comes from LID
        elif code is not None and text and self._can_check(code) and (
                self._declared_seen[code] < LID_CHECK_FIRST or h % LID_CHECK_EVERY == 0):
            self._pending.append((sample, True))           # a sampled check of the declared language
        else:
            self._commit(sample, None, False)
        if code is not None:
            self._declared_seen[code] += 1
        if len(self._pending) >= LID_BATCH:
            self._flush()

    def _flush(self) -> None:
        """LID for the queued samples in one batch (several times cheaper per text than one by one)."""
        if not self._pending:
            return
        preds = self.lid.predict([s.text[:LID_MAX_CHARS] for s, _ in self._pending])
        for (s, check), (pred, _) in zip(self._pending, preds):
            self._commit(s, pred, check)
        self._pending.clear()

    def _commit(self, s: Sample, pred: str | None, check: bool) -> None:
        code = s.declared
        if code is None:
            code = (pred or UND) if s.text else UND
        if check:
            s.lid_checked = True
            s.lid_agrees = self.lid.same_language(code, pred)
            if not s.lid_agrees:
                self.confusions.setdefault(code, Counter())[pred or UND] += 1
        s.tokens = count_tokens(s.text)
        info = language_or_none(code)
        s.script_mismatch = info is not None and bool(s.text) and not matches_script(s.text, info.script)
        counts = self.langs.get(code)
        if counts is None:
            counts = self.langs[code] = LangCounts()
        counts.count(s)
        if s.hash is not None:
            self.hashes.setdefault(code, array("Q")).append(s.hash)
        for table, name in ((self.sources, s.source), (self.tasks, s.task)):
            group = table.get(name)
            if group is None:
                group = table[name] = GroupCounts()
            group.count(s)
        self.formats[s.format] += 1
        self.gallery.offer(code, str(s.doc.get("id") or s.tar.key), str(s.task), s.text, s.tar)

    # -- the tar -----------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            fh = storage.open_read(self.path)           # a URL is streamed, never downloaded whole
            self.bytes = storage.size(self.path)
        except OSError as e:
            self.error("", f"cannot open shard: {e.strerror or e}")
            return self.result()
        with fh:
            self._stream(fh)
        return self.result()

    def _stream(self, fh) -> None:
        # json and captions are read; images are counted from their headers, never read
        for item in iter_tar(fh, read=TEXT_MEMBERS.__contains__, name=self.path):
            if isinstance(item, TarSample):
                self.members += len(item.names)
                self.add(item)
            else:
                self.members += 1
                self.problem(item)
        self._flush()

    def problem(self, p: TarProblem) -> None:
        """Reader refusals: links, devices and unsafe names are safety findings; the rest errors."""
        if p.reason in SAFETY_REASONS:
            self.safety.append({"shard": self.path, "member": p.member, "reason": p.reason, "detail": p.detail})
        else:
            self.error(p.member, p.detail)

    def result(self) -> dict:
        return {
            "shard": self.path, "bytes": self.bytes, "members": self.members,
            "langs": self.langs, "confusions": {k: dict(v) for k, v in self.confusions.items()},
            "hashes": {k: v.tobytes() for k, v in self.hashes.items()},
            "sources": self.sources, "tasks": self.tasks, "formats": dict(self.formats),
            "unresolved": dict(self.unresolved), "errors": self.errors,
            "safety": self.safety, "gallery": self.gallery.entries(),
        }


def audit_shard(path: str, lid_model: str | None = None) -> dict:
    """Counters of one shard (the unit of work of the process pool)."""
    return ShardMeasure(str(path), lid_model).run()
