"""Structure-preserving segmentation: a message becomes a template of protected literals and
prose segments; only the prose goes to the model, the template puts the translations back.

Protected (never shown to NLLB, restored byte for byte): `<image>` and other `<tag>` tokens,
newlines (NLLB's SentencePiece normaliser turns them into spaces), code fences and inline
code spans, URLs and e-mail addresses, markdown structure (headings, bullets, numbered items,
block quotes, table pipes, emphasis markers), multiple-choice option letters, text without
letters (numbers, formulas, punctuation), and whole-message fixed answers (option letters,
numbers, yes/no when the recipe says so). NLLB mangles inline placeholder tokens, so a
protected span cuts the prose around it into separate segments instead of being masked.
Prose is split into sentences (NLLB is trained on sentences); a sentence longer than the
token limit is split at clause punctuation, and one that still does not fit is reported so the
row is rejected ('segment_too_long') rather than truncated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from translation.options import KeepAnswers

_TAG = r"<[A-Za-z_/][A-Za-z0-9_\-/]*>"                      # <image>, <ocr>, </s>
_URL = r"(?:https?://|ftp://|www\.)[^\s<>\"'`)\]]*[^\s<>\"'`)\].,;:!?]"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_CODE = r"`[^`\n]+`"
_LATEX = r"\$[^$\n]+\$"
_EMPH = r"\*\*|__|\*(?=\S)|(?<=\S)\*"                      # markdown emphasis markers
_INLINE = re.compile("|".join(f"(?:{p})" for p in (_CODE, _TAG, _URL, _EMAIL, _LATEX, _EMPH)))
# Line prefixes that carry structure: indentation, block quotes, headings, bullets, numbered
# items ("1.", "2)"), option letters ("A.", "(B)", "C)", "D:"), checkboxes, table pipes.
_PREFIX = re.compile(
    r"^(?:\s*(?:>\s*)+)?\s*"
    r"(?:#{1,6}\s+|[-*+\u2022]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+|\(?[A-Ha-h]\)\s+|[A-H][.:]\s+|\(\d{1,3}\)\s+|\|\s*)?"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_LETTER = re.compile(r"[^\W\d_]")
# Sentence ends: . ! ? (and closing quotes) followed by space and an upper-case letter, digit or quote.
_SENT_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]?[A-Z0-9])")
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|No|Fig|e\.g|i\.e|approx|Inc|Ltd|Co)\.|\b[A-Z]\.)$")
_CLAUSE = re.compile(r"(?<=[,;:])\s+")
_YES_NO = re.compile(r"(?i)(yes|no)[.!]?")
_OPTION = re.compile(r"\(?[A-Ha-h]\)?[.)]?")
_NUMBER = re.compile(r"[-+\u2212]?\d[\d,.\s]*%?")


def chars_estimate(text: str) -> int:
    """Token estimate without a tokenizer (~3 characters per NLLB token for English)."""
    return max(1, len(text) // 3)


@dataclass
class Template:
    """parts: literal strings and ints (index into `segments`)."""

    parts: list[str | int] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)        # sentences that could not be split small enough

    def lit(self, s: str) -> None:
        if s:
            if self.parts and isinstance(self.parts[-1], str):
                self.parts[-1] += s
            else:
                self.parts.append(s)

    def seg(self, s: str) -> None:
        self.parts.append(len(self.segments))
        self.segments.append(s)

    def render(self, translations: list[str], join_sentences: str | None = None) -> str:
        if len(translations) != len(self.segments):
            raise ValueError(f"template has {len(self.segments)} segments, got {len(translations)} translations")
        out = []
        for i, p in enumerate(self.parts):
            if isinstance(p, int):
                out.append(translations[p])
            elif join_sentences is not None and p.strip() == "" and "\n" not in p and \
                    0 < i < len(self.parts) - 1 and isinstance(self.parts[i - 1], int) and isinstance(self.parts[i + 1], int):
                out.append(join_sentences)          # between two sentences (CJK writes no space)
            else:
                out.append(p)
        return "".join(out)

    @property
    def literals(self) -> list[str]:
        return [p for p in self.parts if isinstance(p, str)]


def is_fixed_answer(text: str, keep: KeepAnswers) -> bool:
    s = text.strip()
    if not s:
        return True
    if keep.option_letters and _OPTION.fullmatch(s):
        return True
    if keep.numbers and _NUMBER.fullmatch(s):
        return True
    if keep.yes_no == "keep" and _YES_NO.fullmatch(s):
        return True
    return any(re.fullmatch(p, s) for p in keep.patterns)


def split_sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        head = text[start:m.start()]
        if _ABBREV.search(head.rstrip("\"'\u201d\u2019)")):
            continue
        out.append(text[start:m.end()])
        start = m.end()
    out.append(text[start:])
    return [s for s in out if s]


def _split_long(sentence: str, max_tokens: int, count: Callable[[str], int]) -> list[str] | None:
    """Split at clause punctuation, greedily packing pieces under max_tokens; None if impossible."""
    if count(sentence) <= max_tokens:
        return [sentence]
    pieces, start = [], 0
    for m in _CLAUSE.finditer(sentence):
        pieces.append(sentence[start:m.end()])
        start = m.end()
    pieces.append(sentence[start:])
    out: list[str] = []
    for p in pieces:
        if out and count(out[-1] + p) <= max_tokens:
            out[-1] += p
        else:
            out.append(p)
    if any(count(p) > max_tokens for p in out):
        return None
    return out


class Segmenter:
    def __init__(self, keep: KeepAnswers | None = None, max_tokens: int = 200,
                 count_tokens: Callable[[str], int] = chars_estimate, sentences: bool = True):
        self.keep = keep or KeepAnswers()
        self.max_tokens = max_tokens
        self.count = count_tokens
        self.sentences = sentences

    def segment(self, text: str) -> Template:
        t = Template()
        if is_fixed_answer(text, self.keep):
            t.lit(text)
            return t
        in_fence = False
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            eol = line[len(body):]
            if _FENCE.match(body):
                in_fence = not in_fence
                t.lit(line)
                continue
            if in_fence:
                t.lit(line)
                continue
            self._line(body, t)
            t.lit(eol)
        return t

    def _line(self, line: str, t: Template) -> None:
        m = _PREFIX.match(line)
        prefix = m.group(0) if m else ""
        t.lit(prefix)
        rest = line[len(prefix):]
        pos = 0
        for mm in _INLINE.finditer(rest):
            self._prose(rest[pos:mm.start()], t)
            t.lit(mm.group(0))
            pos = mm.end()
        self._prose(rest[pos:], t)

    def _prose(self, text: str, t: Template) -> None:
        if not text:
            return
        # table cells
        if "|" in text:
            cells = text.split("|")
            for i, c in enumerate(cells):
                if i:
                    t.lit("|")
                self._prose(c, t)
            return
        core = text.strip()
        if not core or not _LETTER.search(core) or (self.keep.option_letters and _OPTION.fullmatch(core)):
            t.lit(text)                               # numbers, punctuation, formulas, lone letters
            return
        lead = text[:len(text) - len(text.lstrip())]
        tail = text[len(text.rstrip()):]
        t.lit(lead)
        sents = split_sentences(core) if self.sentences else [core]
        for i, s in enumerate(sents):
            s_core = s.rstrip()
            for piece_i, piece in enumerate(self._fit(s_core, t)):
                p_core = piece.strip()
                t.lit(piece[:len(piece) - len(piece.lstrip())])
                if _LETTER.search(p_core):
                    t.seg(p_core)
                else:
                    t.lit(p_core)
                t.lit(piece[len(piece.rstrip()):])
            t.lit(s[len(s_core):])
        t.lit(tail)

    def _fit(self, sentence: str, t: Template) -> list[str]:
        if self.count(sentence) <= self.max_tokens:
            return [sentence]
        pieces = _split_long(sentence, self.max_tokens, self.count)
        if pieces is None:
            t.too_long.append(sentence)
            return [sentence]
        return pieces


_DIGITS = re.compile(r"\d+(?:[.,\s]\d+)*")


def numbers_in(text: str) -> list[str]:
    """Digit runs with group/decimal separators removed ('1,000' and '1.000' both -> '1000')."""
    return sorted(re.sub(r"[.,\s]", "", m.group(0)) for m in _DIGITS.finditer(text))
