"""Structure-preserving segmentation: a message becomes a template of protected literals and
translation units; only the units' text goes to the model, the template puts it back.

Never shown to NLLB, restored byte for byte (each protected piece is counted by its kind,
`Template.protected`, which the dry run sums):
- blocks: fenced code (``` ~~~; a fence closes only with its own character, at least as
  long), indented code blocks whose lines read as code, display math ($$...$$, \\[...\\],
  \\begin{env}...\\end{env}) spanning lines, JSON, CSV rows, pasted tracebacks and a lone
  pasted exception line ("ValueError: ...");
- line structure: newlines (NLLB's SentencePiece normaliser turns them into spaces), headings,
  bullets, numbered items, keycap numbers (1️⃣), footnote definitions, reference-list numbers
  ("[1] Smith, J."), block quotes, table
  pipes, block-level HTML tags (a one-line `<table>` is cells, not one unit), option labels
  ("A.", "(B)", "C)"; past H and roman numerals "(ii)", "II." when they continue a run), also
  several options on one line when their run opens the line or follows ':' '?' '.' ("Statements
  (i) and (iii) are true" lists nothing);
- inline spans (translation.spans): code, math (also `$ x $`, bare `16\\pi` and Unicode math
  "∠B = (180° − 40°) ÷ 2 = 70°"), chat-template tokens, grounding boxes (also MiniGPT-v2's
  `{<x><y><x><y>}`), tags, URLs, e-mails, file paths, domains, footnote and citation markers
  ("images [1]."), coordinate lists, inline JSON templates, TextVQA's "Reference OCR token:"
  list, snake_case names;
- text without letters, a lone option label ("**Answer:** C"), a unit that is one code
  ("7ABC123", "INV-2019-04417"), and whole-message fixed answers (option letters, numbers).

A sentence keeps its inline spans without being cut (DESIGN: NLLB translates sentences):
- a tag, a chat-template token, a footnote marker (spans.EDGE_KINDS) at either edge of a
  sentence stays outside the unit (plain literal), unless its partner is inside the unit
  ("reading a <ref>newspaper</ref><box>..</box>." keeps `</ref>` and what sticks to it) or it
  is the sentence's subject ("<region1> is at ..."); MiniGPT-v2's `<p>a girl</p> [box]` is a
  phrase in its sentence, no paragraph;
- any other span inside or at the edge ("The command is `ls`.") becomes a numbered
  placeholder `[1]` in the unit's text. After decoding every
  placeholder must come back exactly once; otherwise the unit is translated again cut at its
  spans (`Unit.pieces`, exact by construction) — the stage does that;
- markdown emphasis (`**x**`, `*x*`, `__x__`) inside a sentence: markers are removed for the
  model and put back around the same words when they occur verbatim in the translation (names,
  numbers, code-like words); otherwise the sentence keeps its translation without them and the
  loss is counted (`emphasis_dropped` in the row's meta).

Prose is split into sentences for any source script (translation.sentences). A sentence whose
text for the model (spans count as their placeholder) is longer than the token limit is cut at
its strongest clause breaks first (; : —), then at commas,
never inside a span, brackets, quotes or an emphasis pair; one that still does not fit is
reported so the row is rejected ('segment_too_long') rather than truncated.
"""
from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from translation.options import KeepAnswers
from translation.sentences import CLAUSE_LEVELS, FOOTNOTE_MASK, clause_cuts, split_sentences
from translation.spans import (EDGE_KINDS, classify_spans, emphasis_pairs, is_code_line, label_readings, option_cuts,
                               roman_value)

_ROMAN2 = r"(?=[ivx]{2})x{0,3}(?:ix|iv|v?i{0,3})|(?=[IVX]{2})X{0,3}(?:IX|IV|V?I{0,3})"     # ii  IV  xii
_PREFIX = re.compile(
    r"^(?:\s*(?:>\s*)+)?\s*"
    r"(?:#{1,6}\s+|[-*+\u2022]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+|\(\d{1,3}\)\s+|\(?[A-Ha-h]\)\s+"
    r"|[A-H]\.\s+(?![A-Z]\.\s)"                      # "A. cat", not "A. B. Smith"
    r"|[A-H]:(?:\s+|(?=[^\sA-Za-z\\/]))"               # "A: cat", "A:70°", not "C:\x" or "A:B"
    rf"|\((?:{_ROMAN2})\)\s+|(?:{_ROMAN2})[.)]\s+"
    r"|(?:[0-9#*]\ufe0f?\u20e3|\U0001F51F)\s*"          # keycap numbers: 1️⃣ First step
    r"|\[\^[^\]\s]{1,20}\]:\s*"                         # footnote definition: [^1]: text
    r"|\[\d{1,3}\]\s+"                                   # reference list: [1] Smith, J. (2021).
    r"|\|\s*)?"
)
# a single-letter or roman label that only counts inside a run ("I. nine" after "H. eight")
_LINE_LABEL = re.compile(r"^(?:\s*(?:>\s*)+)?\s*(?:\(([A-Za-z]|[ivxIVX]{2,6})\)|([A-Za-z]|[ivxIVX]{2,6})([.)]))\s+")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
_MATH_OPEN = re.compile(r"^\s*(\$\$|\\\[|\\begin\{([A-Za-z]+\*?)\})")
_INDENT = re.compile(r"^(?: {4}|\t)")
_LETTER = re.compile(r"[^\W\d_]")
_NUMBER = re.compile(r"[-+\u2212]?\d[\d,.\s]*%?")
_PLACEHOLDER = re.compile(r"\[\s*(\d{1,2})\s*\]")
_LONE_LABEL = re.compile(r"\(?([A-Za-z]{1,6})\)?[.):]?")
_TAIL_LABEL = re.compile(r"[:\uff1a]\s*(\(?[A-Za-z]{1,6}\)?\.?)$")        # "Answer: C" -> C stays
_BLOCK_TAG = re.compile(r"</?\s*(?:table|thead|tbody|tfoot|tr|td|th|caption|p|div|br|hr|li|ul|ol|dl|dt|dd|"
                        r"h[1-6]|section|article|header|footer|blockquote|pre)\b", re.I)
_INVISIBLE = "\u200b\ufeff"          # zero-width space, BOM: no text, kept out of a unit's edges
# a unit that is one token of letters and digits: a code or an identifier (not "2nd", not a word)
_CODE_WORD = re.compile(r"(?=\S*\d)(?=\S*[A-Za-z])[A-Za-z0-9][\w\-/.#+]*[A-Za-z0-9]")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_SUBJECT_TAG = re.compile(r"<[A-Za-z_][\w-]*> [a-z]")        # a tag followed by the sentence's verb
_GROUNDED_P = re.compile(r"</p>\s*(?:\[\s*-?\d|\{<\d)")
_SENTENCE_GAP = " \u00a0\u3000"   # spaces between two sentences of a line (not tabs between cells, not \r or \u2028)
MASK = "\ue000"          # stands for a protected character while splitting (never a sentence end)
_MASK_RUN = re.compile(f"[{MASK}{FOOTNOTE_MASK}]+")


def chars_estimate(text: str) -> int:
    """Token estimate without a tokenizer (~3 characters per NLLB token for English)."""
    return max(1, len(text) // 3)


@dataclass
class Unit:
    """One sentence (or clause) for the model.

    text: what the model receives (placeholders `[k]` for interior spans, emphasis markers removed)
    spans: the protected strings behind `[1]`, `[2]`, ...
    emphasis: (marker, start, end) of emphasised words in `text`
    pieces: (is_prose, string) — the same sentence cut at its spans, for the fallback
    """

    text: str
    spans: list[str] = field(default_factory=list)
    emphasis: list[tuple[str, int, int]] = field(default_factory=list)
    pieces: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def fallback_segments(self) -> list[str]:
        return [s for prose, s in self.pieces if prose]

    @property
    def emphasised(self) -> list[str]:
        """The emphasised words, as the model would translate them on their own."""
        return [self.text[a:b] for _, a, b in self.emphasis if _LETTER.search(self.text[a:b])
                and not _PLACEHOLDER.search(self.text[a:b])]

    def restore(self, translation: str, hints: dict[str, str] | None = None) -> tuple[str | None, int]:
        """(text with spans and emphasis back, emphasis pairs dropped); None when a placeholder
        did not come back exactly once (the caller then uses the fallback). Emphasis goes back
        around the same words, or around hints[words] (their translation on their own) when
        the translation contains it."""
        out = translation
        if self.spans:
            found = [int(m.group(1)) for m in _PLACEHOLDER.finditer(out)]
            if sorted(found) != list(range(1, len(self.spans) + 1)):
                return None, 0
        dropped = 0
        # emphasis first (positions refer to the text with placeholders), right to left
        placed: list[tuple[int, int, str]] = []
        for marker, a, b in self.emphasis:
            words = self.text[a:b]
            rel = a / max(1, len(self.text))
            pos = _closest(out, words, rel)
            if pos < 0 and hints and hints.get(words):
                words = hints[words].strip().rstrip(".!?。！？।")
                pos = _closest(out, words, rel)
            if pos < 0 or any(pos < e and pos + len(words) > s for s, e, _ in placed):
                dropped += 1
                continue
            placed.append((pos, pos + len(words), marker))
        for s, e, marker in sorted(placed, reverse=True):
            out = out[:s] + marker + out[s:e] + marker + out[e:]
        if self.spans:
            out = _PLACEHOLDER.sub(lambda m: self.spans[int(m.group(1)) - 1], out)
        return out, dropped

    def render_pieces(self, translations: list[str]) -> str:
        it = iter(translations)
        return "".join(next(it) if prose else s for prose, s in self.pieces)


def _closest(text: str, words: str, rel: float) -> int:
    """Start of the occurrence of `words` in `text` closest to relative position `rel`; -1 if none."""
    if not words:
        return -1
    best, i = -1, text.find(words)
    while i >= 0:
        if best < 0 or abs(i / max(1, len(text)) - rel) < abs(best / max(1, len(text)) - rel):
            best = i
        i = text.find(words, i + 1)
    return best


@dataclass
class Template:
    """parts: literal strings and ints (index into `units`)."""

    parts: list[str | int] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)        # sentences that could not be split small enough
    protected: Counter = field(default_factory=Counter)      # kind -> pieces kept from the model

    @property
    def segments(self) -> list[str]:
        """The strings the model receives first."""
        return [u.text for u in self.units]

    def count(self, kind: str) -> None:
        self.protected[kind] += 1

    def lit(self, s: str, kind: str | None = None) -> None:
        """Append a literal; `kind` counts it as one protected piece of that kind."""
        if kind and s:
            self.protected[kind] += 1
        if s:
            if self.parts and isinstance(self.parts[-1], str):
                self.parts[-1] += s
            else:
                self.parts.append(s)

    def unit(self, u: Unit) -> None:
        self.parts.append(len(self.units))
        self.units.append(u)

    def render(self, translations: list[str], join_sentences: str | None = None) -> str:
        """translations: final text per unit (spans already restored)."""
        if len(translations) != len(self.units):
            raise ValueError(f"template has {len(self.units)} units, got {len(translations)} translations")
        out = []
        for i, p in enumerate(self.parts):
            if isinstance(p, int):
                out.append(translations[p])
            elif join_sentences is not None and p and not p.strip(_SENTENCE_GAP) and \
                    0 < i < len(self.parts) - 1 and isinstance(self.parts[i - 1], int) and isinstance(self.parts[i + 1], int):
                out.append(join_sentences)          # between two sentences (CJK writes no space)
            else:
                out.append(p)
        return "".join(out)

    def render_identity(self) -> str:
        return self.render([u.restore(u.text)[0] for u in self.units])

    @property
    def literals(self) -> list[str]:
        return [p for p in self.parts if isinstance(p, str)]

    @property
    def model_chars(self) -> int:
        """Characters of prose the model receives (placeholders not counted)."""
        return sum(len(_PLACEHOLDER.sub("", u.text)) if u.spans else len(u.text) for u in self.units)


def is_label(text: str) -> bool:
    """A lone option or list label: one letter or a roman numeral, with its brackets or dot."""
    m = _LONE_LABEL.fullmatch(text.strip())
    return bool(m) and (len(m.group(1)) == 1 or roman_value(m.group(1)) > 0)


def is_fixed_answer(text: str, keep: KeepAnswers) -> bool:
    s = text.strip()
    if not s:
        return True
    if keep.option_letters and is_label(s):
        return True
    if keep.numbers and _NUMBER.fullmatch(s):
        return True
    if keep.yes_no == "keep" and re.fullmatch(r"(?i)(yes|no)[.!]?", s):
        return True
    return any(re.fullmatch(p, s) for p in keep.patterns)


@dataclass
class _Line:
    """One prose line being cut: the text, the text with protected spans masked, the spans
    (sorted, disjoint) and their kinds by start."""

    text: str
    masked: str
    spans: list[tuple[int, int]]
    kinds: dict[int, str]


class Segmenter:
    def __init__(self, keep: KeepAnswers | None = None, max_tokens: int = 200,
                 count_tokens: Callable[[str], int] = chars_estimate, sentences: bool = True, lang: str = "eng_Latn"):
        self.keep = keep or KeepAnswers()
        self.max_tokens = max_tokens
        self.count = count_tokens
        self.sentences = sentences
        self.lang = lang

    # -- blocks ------------------------------------------------------------------------------
    def segment(self, text: str) -> Template:
        t = Template()
        if is_fixed_answer(text, self.keep):
            t.lit(text, "fixed_answer" if text.strip() else None)
            return t
        lines = text.splitlines(keepends=True)
        blocks = _block_kinds(text, lines)
        labels = _label_run_lines(lines)
        fence, math_end = None, None
        for n, line in enumerate(lines):
            body = line.rstrip("\r\n")
            eol = line[len(body):]
            if fence:
                m = _FENCE.match(body)
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                    fence = None                    # closed by its own character, at least as long
                t.lit(line)
                continue
            m = _FENCE.match(body)
            if m:
                if m.group(1) not in m.group(2):    # ```code``` on one line opens nothing
                    fence = m.group(1)
                t.lit(line, "code_block")
                continue
            if math_end is not None:
                t.lit(line)
                if math_end in body:
                    math_end = None
                continue
            m = _MATH_OPEN.match(body)
            if m:
                end = {"$$": "$$", "\\[": "\\]"}.get(m.group(1), f"\\end{{{m.group(2)}}}")
                rest = body[m.end():]
                if end not in rest:                 # display math continues on the next lines
                    t.lit(line, "math")
                    math_end = end
                    continue
                if not _LETTER.search(rest[rest.index(end) + len(end):]):
                    t.lit(line, "math")             # the whole line is one formula
                    continue
            if n in blocks:
                t.lit(line, blocks[n] if blocks.get(n - 1) != blocks[n] else None)
                continue
            if ":" in body and _EXCEPTION_LINE.match(body):
                t.lit(line, "traceback")            # "ValueError: ..." pasted alone: output, not prose
                continue
            if is_code_line(body):
                t.lit(line, "code_block" if n == 0 or not is_code_line(lines[n - 1]) else None)
                continue
            self._line(body, t, n in labels)
            t.lit(eol)
        return t

    # -- one line ----------------------------------------------------------------------------
    def _line(self, line: str, t: Template, run_label: bool = False) -> None:
        m = (_LINE_LABEL if run_label else _PREFIX).match(line)
        prefix = m.group(0) if m else ""
        t.lit(prefix, _prefix_kind(prefix) if prefix.strip() else None)
        rest = line[len(prefix):]
        found = classify_spans(rest)
        ln = _Line(rest, _mask(rest, found), [(a, b) for a, b, _ in found], {a: k for a, _, k in found})
        for kind in ln.kinds.values():
            t.count(kind)
        cuts = [(a, b, "option_label") for a, b in option_cuts(ln.masked)]
        # a block-level tag that touches text or another tag separates cells ("<td>Name</td><td>");
        # one named between spaces ("use the <p> tag") is a placeholder in its sentence
        # MiniGPT-v2 / Shikra grounding "<p>a girl</p> [0.3, 0.2, 0.5, 0.9]" is a phrase, no paragraph
        grounded = "</p>" in rest and _GROUNDED_P.search(rest)
        cuts += [(a, b, "tag") for a, b in ln.spans if ln.kinds[a] == "tag" and _BLOCK_TAG.match(rest, a)
                 and not (rest[a - 1:a].isspace() and rest[b:b + 1].isspace())
                 and not (grounded and rest[a:b] in ("<p>", "</p>"))]
        pos = 0
        for a, b, kind in sorted(cuts) + [(len(rest), len(rest), None)]:
            self._chunk(ln, pos, a, t)
            t.lit(rest[a:b])
            if kind == "option_label":
                t.count(kind)
            pos = b

    def _chunk(self, ln: _Line, start: int, end: int, t: Template) -> None:
        """text[start:end] (no option markers inside): table cells (`|`, and tab-separated
        columns: SentencePiece would turn a tab into a space), then sentences."""
        if start >= end:
            return
        text, masked = ln.text, ln.masked
        if "|" in masked[start:end] or "\t" in masked[start:end]:
            pos = start
            for i, ch in enumerate(masked[start:end], start):
                if ch in "|\t":
                    self._chunk(ln, pos, i, t)
                    t.lit(ch)
                    pos = i + 1
            self._chunk(ln, pos, end, t)
            return
        core_m = masked[start:end]
        bare = _MASK_RUN.sub("", core_m)
        if not _LETTER.search(bare) or (self.keep.option_letters and is_label(core_m)):
            kind = "option_label" if _LETTER.search(bare) else "no_letters" if bare.strip() else None
            t.lit(text[start:end], kind)          # numbers, punctuation, formulas, lone letters
            return
        bounds = split_sentences(core_m, self.lang) if self.sentences else [(0, len(core_m))]
        pos = start
        for a, b in bounds:
            t.lit(text[pos:start + a])
            self._sentence(ln, start + a, start + b, t)
            pos = start + b
        t.lit(text[pos:end])

    def _sentence(self, ln: _Line, a: int, b: int, t: Template) -> None:
        # edges: whitespace and tags (<image>, <|box_start|>, [^1]) at either end stay outside
        # the unit; code, math, URLs at an edge are part of the sentence ("The command is `ls`.")
        # and become placeholders
        text, masked = ln.text, ln.masked
        edge = {i for sa, sb in _overlapping(ln.spans, a, b) if ln.kinds[sa] in EDGE_KINDS for i in range(sa, sb)}
        lead_end = a
        while lead_end < b and (lead_end in edge or masked[lead_end].isspace()):
            if ln.kinds.get(lead_end) == "tag" and _SUBJECT_TAG.match(ln.text, lead_end):
                break               # "<region1> is at ...": the tag is the sentence's subject
            lead_end += 1
        tail_start = b
        while True:                 # trailing tags, also before final punctuation ("look: <image>.")
            k = tail_start
            while k > lead_end and not _LETTER.match(masked[k - 1]) and masked[k - 1] not in (MASK, FOOTNOTE_MASK) \
                    and not masked[k - 1].isdigit():
                k -= 1
            if k > lead_end and k - 1 in edge:
                while k > lead_end and (k - 1 in edge or masked[k - 1].isspace()):
                    k -= 1
                tail_start = k
                continue
            while tail_start > lead_end and masked[tail_start - 1].isspace():
                tail_start -= 1
            break
        if edge and (lead_end > a or tail_start < b):
            lead_end, tail_start = _keep_tag_pairs(ln, a, b, lead_end, tail_start)
        label = _TAIL_LABEL.search(masked, lead_end, tail_start)
        label_at = label.start(1) if label and is_label(label.group(1)) and label.start() > lead_end else tail_start
        t.lit(text[a:lead_end])
        if lead_end < label_at:
            for pa, pb in self._fit(ln, lead_end, label_at, t):
                self._unit(ln, pa, pb, t)
        if label_at < tail_start:                   # "Answer: C": the label is no prose
            t.lit(text[label_at:tail_start], "option_label")
        t.lit(text[tail_start:b])

    def _fits(self, ln: _Line, a: int, b: int) -> bool:
        """Whether text[a:b] fits the token limit as the model sees it (a span as its placeholder)."""
        view = _MASK_RUN.sub("[1]", ln.masked[a:b]) if ln.spans else ln.text[a:b]
        return self.count(view) <= self.max_tokens

    def _fit(self, ln: _Line, a: int, b: int, t: Template) -> list[tuple[int, int]]:
        """The sentence, or its clauses packed under max_tokens; too long -> reported whole."""
        if self._fits(ln, a, b):
            return [(a, b)]
        keep = [(a + x, a + y - 1) for x, y, _ in emphasis_pairs(ln.masked[a:b])]
        pieces = self._pack(ln, a, b, 0, keep)
        if pieces is None:
            t.too_long.append(ln.text[a:b])
            return [(a, b)]
        return pieces

    def _pack(self, ln: _Line, a: int, b: int, level: int, keep: list[tuple[int, int]]):
        """text[a:b] cut at the clause breaks of `level`, neighbours packed back together while
        they fit; a piece that does not fit is cut at the next level. None: no cut makes it fit."""
        if self._fits(ln, a, b):
            return [(a, b)]
        if level == len(CLAUSE_LEVELS):
            return None
        inner = [(x - a, y - a) for x, y in keep if a <= x and y < b]
        bounds = [a, *(a + c for c in clause_cuts(ln.masked[a:b], level, inner)), b]
        packed: list[tuple[int, int]] = []
        for x, y in zip(bounds, bounds[1:]):
            if packed and self._fits(ln, packed[-1][0], y):
                packed[-1] = (packed[-1][0], y)
            else:
                packed.append((x, y))
        out: list[tuple[int, int]] = []
        for x, y in packed:
            sub = self._pack(ln, x, y, level + 1, keep)
            if sub is None:
                return None
            out.extend(sub)
        return out

    def _unit(self, ln: _Line, a: int, b: int, t: Template) -> None:
        """text[a:b] -> leading/trailing whitespace literal + one Unit."""
        text, masked = ln.text, ln.masked
        ca, cb = a, b
        while ca < cb and (text[ca].isspace() or text[ca] in _INVISIBLE):
            ca += 1
        while cb > ca and (text[cb - 1].isspace() or text[cb - 1] in _INVISIBLE):
            cb -= 1
        t.lit(text[a:ca])
        if ca == cb:
            t.lit(text[ca:b])
            return
        label = _leading_label(masked, ca, cb)
        if label:                                   # "**Note:** rest": the label is its own unit
            (ia, ib), marker, _ = label
            t.lit(marker)
            self._unit(ln, ia, ib, t)
            rest = ib + len(marker)
            while rest < cb and (masked[rest] in ":\uff1a" or masked[rest].isspace()):
                rest += 1
            t.lit(marker + text[ib + len(marker):rest])
            self._unit(ln, rest, cb, t)
        elif not _LETTER.search(_MASK_RUN.sub("", masked[ca:cb])):
            t.lit(text[ca:cb])
        elif self.keep.option_letters and is_label(masked[ca:cb]):
            t.lit(text[ca:cb], "option_label")      # "**Answer:** C": the C is no prose
        elif masked.find(" ", ca, cb) < 0 and _CODE_WORD.fullmatch(masked[ca:cb]) and \
                not _ORDINAL.fullmatch(masked[ca:cb]):
            t.lit(text[ca:cb], "identifier")        # "7ABC123", "INV-2019-04417": a code, not a word
        else:
            inner = [s for s in _overlapping(ln.spans, ca, cb) if ca <= s[0] and s[1] <= cb]
            u = _build_unit(text, inner, ca, cb)
            if inner and _PLACEHOLDER.search(_mask(text[ca:cb], [(x - ca, y - ca, "") for x, y in inner])):
                for prose, piece in u.pieces:       # the text itself has "[1]": placeholders would be ambiguous
                    t.unit(Unit(piece, pieces=[(True, piece)])) if prose else t.lit(piece)
            else:
                t.unit(u)
        t.lit(text[cb:b])


_PAIR_TAG = re.compile(r"<\|(\w+?)_(start|end)\|>|<(/?)([A-Za-z][\w-]*)(?:\s[^<>]*)?>")


def _pair_of(token: str) -> tuple[str, int] | None:
    """(name, +1 opening / -1 closing) of a tag or chat-template token that has a partner
    (<ref> </ref>, <|object_ref_start|> <|object_ref_end|>); None for any other token."""
    m = _PAIR_TAG.fullmatch(token)
    if not m or token.endswith("/>"):
        return None
    if m.group(1):
        return m.group(1), 1 if m.group(2) == "start" else -1
    return m.group(4).lower(), -1 if m.group(3) else 1


def _keep_tag_pairs(ln: _Line, a: int, b: int, lead_end: int, tail_start: int) -> tuple[int, int]:
    """The sentence's unit bounds, widened so that no tag pair is cut by the edges: a closing
    tag trimmed at the end whose opening one is in the unit ("reading a <ref>newspaper</ref>
    <box>..</box>.") comes back in with what sticks to it up to the next space, an opening one
    trimmed at the start whose closing one is in the unit likewise. A pair around the whole
    unit stays outside."""
    text, masked = ln.text, ln.masked
    spans = _overlapping(ln.spans, a, b)
    opened: list[str] = []                  # opening tags in the unit without their closer there
    closed: list[str] = []                  # closing tags in the unit without their opener there
    for sa, sb in spans:
        if lead_end <= sa and sb <= tail_start:
            pair = _pair_of(text[sa:sb])
            if pair and pair[1] > 0:
                opened.append(pair[0])
            elif pair and pair[0] in opened:
                opened.remove(pair[0])
            elif pair:
                closed.append(pair[0])
    new_tail = tail_start
    for sa, sb in spans:
        pair = _pair_of(text[sa:sb]) if sa >= tail_start else None
        if pair and pair[1] < 0 and pair[0] in opened:
            opened.remove(pair[0])
            new_tail = sb
    if new_tail > tail_start:
        while new_tail < b and not masked[new_tail].isspace():
            new_tail += 1
    new_lead = lead_end
    for sa, sb in reversed(spans):
        pair = _pair_of(text[sa:sb]) if sb <= lead_end else None
        if pair and pair[1] > 0 and pair[0] in closed:
            closed.remove(pair[0])
            new_lead = sa
    return new_lead, new_tail


def _prefix_kind(prefix: str) -> str | None:
    """The protected kind a line prefix counts as (a bullet or a heading mark counts as none)."""
    if "\u20e3" in prefix or "\U0001F51F" in prefix:
        return "keycap"
    if "[^" in prefix:
        return "footnote"
    if re.match(r"\s*\[\d", prefix):
        return "citation"
    if re.match(r"\s*[A-H]:", prefix):
        return "option_label"
    m = _LINE_LABEL.match(prefix)
    return "option_label" if m and label_readings(m.group(1) or m.group(2), bool(m.group(1)), m.group(3) or ")") \
        else None


def _leading_label(masked: str, a: int, b: int):
    """A sentence that opens with an emphasised label or is wholly emphasised: ((inner start,
    inner end), marker, pair end), else None."""
    pairs = emphasis_pairs(masked[a:b])
    if not pairs or pairs[0][0] != 0:
        return None
    pa, pb, marker = pairs[0]
    inner_end = a + pb - len(marker)
    after = masked[a + pb:b].lstrip()
    if a + pb == b or masked[inner_end - 1] in ":：" or after.startswith((":", "：")):
        return (a + len(marker), inner_end), marker, a + pb
    return None


def _overlapping(spans: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """The spans (sorted, disjoint) that overlap [a, b): found by bisection, so a line with
    thousands of spans and sentences stays linear."""
    i = bisect.bisect_left(spans, (a,))
    if i and spans[i - 1][1] > a:
        i -= 1
    j = bisect.bisect_left(spans, (b,), lo=i)
    return spans[i:j]


def _mask(text: str, spans: list[tuple[int, int, str]]) -> str:
    """text with each span's characters replaced by MASK (FOOTNOTE_MASK for footnote markers,
    which the sentence splitter reads as closing a sentence)."""
    out = list(text)
    for a, b, kind in spans:
        out[a:b] = (FOOTNOTE_MASK if kind == "footnote" else MASK) * (b - a)
    return "".join(out)


def _build_unit(text: str, spans: list[tuple[int, int]], a: int, b: int) -> Unit:
    """Unit for text[a:b]: interior spans -> [k]; emphasis pairs in the prose -> removed."""
    u = Unit(text="")
    model: list[str] = []
    pieces: list[tuple[bool, str]] = []
    pos = a
    for k, (sa, sb) in enumerate(spans, 1):
        _prose_into(text[pos:sa], model, u, pieces)
        model.append(f"[{k}]")
        u.spans.append(text[sa:sb])
        pieces.append((False, text[sa:sb]))
        pos = sb
    _prose_into(text[pos:b], model, u, pieces)
    u.text = "".join(model)
    u.pieces = _merge_pieces(pieces)
    return u


def _prose_into(s: str, model: list[str], u: Unit, pieces: list[tuple[bool, str]]) -> None:
    """Append prose `s` to the model text (emphasis markers removed, positions recorded); the
    fallback pieces cut at the markers as well (exact)."""
    base = sum(len(x) for x in model)
    pos, removed = 0, 0
    buf = []
    for ma, mb, marker in emphasis_pairs(s):      # (start, end) of the whole `**x**`
        buf.append(s[pos:ma])
        inner = s[ma + len(marker):mb - len(marker)]
        start = base + ma - removed
        u.emphasis.append((marker, start, start + len(inner)))
        buf.append(inner)
        _cut_prose(s[pos:ma], pieces)
        pieces.append((False, marker))
        _cut_prose(inner, pieces)
        pieces.append((False, marker))
        removed += 2 * len(marker)
        pos = mb
    buf.append(s[pos:])
    _cut_prose(s[pos:], pieces)
    model.append("".join(buf))


def _cut_prose(s: str, pieces: list[tuple[bool, str]]) -> None:
    """Fallback piece: letters go to the model (whitespace at its edges stays literal)."""
    if not s:
        return
    core = s.strip()
    if not core or not _LETTER.search(core):
        pieces.append((False, s))
        return
    lead = s[:len(s) - len(s.lstrip())]
    tail = s[len(s.rstrip()):]
    if lead:
        pieces.append((False, lead))
    pieces.append((True, core))
    if tail:
        pieces.append((False, tail))


def _merge_pieces(pieces: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    for prose, s in pieces:
        if out and not prose and not out[-1][0]:
            out[-1] = (False, out[-1][1] + s)
        elif s:
            out.append((prose, s))
    return out


_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)]|\(?[A-Ha-h]\))\s")
_PROSE_LINE = re.compile(r"(?:[^\W\d_]+[,;]?\s+){3,}[^\W\d_]+[.!?:]?\s*$")     # 4+ words ending a sentence
_TRACEBACK_START = re.compile(r"^\s*Traceback \(most recent call last\):\s*$")
_TRACEBACK_FRAME = re.compile(r"^\s*File \".*\", line \d+")
_EXCEPTION_LINE = re.compile(r"^(?:Exception in thread \"[^\"]*\" )?[A-Za-z_][\w.$]*(?:Error|Exception|Warning|"
                             r"Interrupt|Exit|Fault)\b(?::.*)?\s*$")
_STACK_AT = re.compile(r"^\s+at [\w$.<>/\[\]-]+ ?\(.*\)\s*$|^\s+at [\w$.<>/-]+:\d+:\d+\s*$")


def _block_kinds(text: str, lines: list[str]) -> dict[int, str]:
    """Line number -> kind of the non-prose block it belongs to (later kinds win a line); each
    detector runs only on a text that can hold its block."""
    kinds: dict[int, str] = {}
    detectors = (("code_block", _indented_code, text.startswith(("    ", "\t")) or "\n    " in text or "\n\t" in text),
                 ("csv", _csv_lines, "\n" in text and text.count(",") >= 2),
                 ("json", _json_lines, "{" in text or "[" in text),
                 ("traceback", _traceback_lines, "Traceback" in text or 'File "' in text or " at " in text))
    for kind, find, possible in detectors:
        if possible:
            kinds.update(dict.fromkeys(find(lines), kind))
    return kinds


def _label_run_lines(lines: list[str]) -> set[int]:
    """Lines whose label continues a run of one sequence over the message's lines (A, B, ...,
    I, J; i, ii, iii; I, II, III), from its first item on: "I. nine" after "H. eight", "(i) x"
    before "(ii) y". A single letter past H or a lone "(i)" is a label only in such a run."""
    runs: dict[str, list[int]] = {}
    out: set[int] = set()
    for n, line in enumerate(lines):
        m = _LINE_LABEL.match(line)
        if not m:
            continue
        label = m.group(1) or m.group(2)
        for seq, k in label_readings(label, bool(m.group(1)), m.group(3) or ")"):
            run = runs.get(seq, [])
            if k == 1:
                run = [n]
            elif len(run) == k - 1:
                run = run + [n]
            else:
                continue
            runs[seq] = run
            if len(run) >= 2:
                out.update(run)
    return out


def _traceback_lines(lines: list[str]) -> set[int]:
    """Line numbers of pasted stack traces: Python's ("Traceback (most recent call last):",
    its frames, up to and with the exception line) and Java/JavaScript "at ..." frames with the
    exception line above them."""
    out: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        if _TRACEBACK_START.match(lines[i]) or _TRACEBACK_FRAME.match(lines[i]):
            j = i + 1
            while j < n and (lines[j][:1].isspace() and lines[j].strip() or _TRACEBACK_FRAME.match(lines[j])):
                j += 1
            if j < n and _EXCEPTION_LINE.match(lines[j].rstrip("\r\n")):
                j += 1
            out.update(range(i, j))
            i = j
        elif _STACK_AT.match(lines[i]):
            j = i
            while j < n and _STACK_AT.match(lines[j]):
                j += 1
            if i and _EXCEPTION_LINE.match(lines[i - 1].rstrip("\r\n")):
                out.add(i - 1)
            out.update(range(i, j))
            i = j
        else:
            i += 1
    return out


def _csv_fields(line: str) -> list[str] | None:
    """The fields of one CSV line (double quotes respected), None when it has no comma."""
    s = line.rstrip("\r\n")
    if "," not in s:
        return None
    fields, cur, quoted = [], [], False
    for c in s:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            fields.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    fields.append("".join(cur))
    return fields


def _csv_lines(lines: list[str]) -> set[int]:
    """Line numbers of CSV rows: two or more consecutive lines with the same number of fields,
    written as tools write them (no space after a comma) or with a number in every row after the
    first; a list of words with ', ' and sentences stay prose."""
    out: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        first = _csv_fields(lines[i])
        j = i + 1
        while first and j < n:
            f = _csv_fields(lines[j])
            if not f or len(f) != len(first):
                break
            j += 1
        if first and j - i >= 2:
            rows = [_csv_fields(lines[k]) for k in range(i, j)]
            tight = all(not x[:1].isspace() for r in rows for x in r)
            numeric = all(any(re.fullmatch(r"\s*[-+]?[\d.,%$]+\s*", x) for x in r) for r in rows[1:])
            prose = any(_PROSE_LINE.search(lines[k]) and lines[k].rstrip().endswith((".", "!", "?"))
                        for k in range(i, j))
            if (tight or numeric) and not prose:
                out.update(range(i, j))
        i = max(j, i + 1)
    return out


def _json_lines(lines: list[str]) -> set[int]:
    """Line numbers of unfenced JSON objects/arrays (one line or pretty-printed over several, no
    blank line inside): data, not prose ({"label": "dog", "bbox": [...]}: keys and structure
    must come back as they are)."""
    out: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].lstrip().startswith(("{", "[")):
            i += 1
            continue
        first = lines[i].strip()
        if first.endswith(("}", "]")):                # one line
            j = i
        else:                                         # pretty-printed: up to the closer at the same indent
            indent = len(lines[i]) - len(lines[i].lstrip())
            j = i + 1
            while j < n and lines[j].strip() and not (
                    lines[j].strip() in ("}", "]") and len(lines[j]) - len(lines[j].lstrip()) == indent):
                j += 1
            if j >= n or not lines[j].strip():        # no closer in this paragraph: not a JSON block
                i = j
                continue
        try:
            v = json.loads("".join(lines[i:j + 1]))
        except ValueError:
            v = None
        if isinstance(v, (dict, list)):
            out.update(range(i, j + 1))
        i = j + 1
    return out


def _reads_as_code(line: str) -> bool:
    """A line of an indented block as evidence that the block is code: inline code in it is
    no evidence (a sub-bullet "- Run `x = 1` first." is prose), and a list item must itself be
    a statement."""
    s = re.sub(r"``[^`\n]+``|`[^`\n]+`", "x", line.strip())
    item = _LIST_ITEM.match(s)
    if item:
        return is_code_line(s[item.end():])
    return is_code_line(s, relaxed=True)


def _indented_code(lines: list[str]) -> set[int]:
    """Line numbers of indented (unfenced) code blocks: a run of lines indented by 4 spaces or a
    tab, after a blank line, the start, or a line ending in ':', in which some line reads as
    code (_reads_as_code), or (outside a list, where CommonMark makes it code) no line reads as
    a sentence. Indented prose under a list item stays prose."""
    out: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        prev = lines[i - 1].strip() if i else ""
        if _INDENT.match(lines[i]) and lines[i].strip() and (i == 0 or not prev or prev.endswith(":")):
            j = i
            while j < n and (_INDENT.match(lines[j]) or not lines[j].strip()):
                j += 1
            while j > i and not lines[j - 1].strip():
                j -= 1
            block = range(i, j)
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            in_list = bool(_LIST_ITEM.match(before) or _INDENT.match(before))
            if any(_reads_as_code(lines[k]) for k in block) or \
                    (not in_list and not any(_PROSE_LINE.search(lines[k]) for k in block)):
                out.update(block)
            i = max(j, i + 1)
        else:
            i += 1
    return out


def numbers_in(text: str) -> list[str]:
    """Digit runs as ASCII (native digits ৩ ٣ ३ count as 3), group/decimal separators removed
    ('1,000' and '1.000' both -> '1000'); placeholders `[k]` are not numbers."""
    text = _PLACEHOLDER.sub(" ", text)
    out = []
    for m in re.finditer(r"\d+(?:[.,\s٫٬]\d+)*", text):
        digits = "".join(str(int(c)) if c.isdigit() else "" for c in m.group(0))
        out.append(digits)
    return sorted(out)
