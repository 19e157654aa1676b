"""Structure-preserving segmentation: a message becomes a template of protected literals and
translation units; only the units' text goes to the model, the template puts it back.

Never shown to NLLB, restored byte for byte:
- blocks: fenced code (``` ~~~), indented code blocks that look like code, display math
  ($$...$$, \\[...\\], \\begin{env}...\\end{env}) spanning lines;
- line structure: newlines (NLLB's SentencePiece normaliser turns them into spaces), headings,
  bullets, numbered items, block quotes, table pipes, option letters ("A.", "(B)", "C)"), also
  several options on one line;
- inline spans (translation.spans): code, math ($...$ but not prices, \\(...\\)), URLs,
  e-mails, `<tags>`, coordinate lists;
- text without letters, and whole-message fixed answers (option letters, numbers).

A sentence keeps its inline spans without being cut (DESIGN: NLLB translates sentences):
- a tag (`<image>`) at either edge of a sentence stays outside the unit (plain literal);
- any other span inside or at the edge ("The command is `ls`.") becomes a numbered
  placeholder `[1]` in the unit's text. After decoding every
  placeholder must come back exactly once; otherwise the unit is translated again cut at its
  spans (`Unit.pieces`, exact by construction) — the stage does that;
- markdown emphasis (`**x**`, `*x*`, `__x__`) inside a sentence: markers are removed for the
  model and put back around the same words when they occur verbatim in the translation (names,
  numbers, code-like words); otherwise the sentence keeps its translation without them and the
  loss is counted (`emphasis_dropped` in the row's meta).

Prose is split into sentences for any source script (translation.sentences); a sentence longer
than the token limit is split at clause punctuation, and one that still does not fit is
reported so the row is rejected ('segment_too_long') rather than truncated.
"""
from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Callable

from translation.options import KeepAnswers
from translation.sentences import split_clauses, split_sentences
from translation.spans import emphasis_pairs, find_spans, is_code_line, option_cuts

_PREFIX = re.compile(
    r"^(?:\s*(?:>\s*)+)?\s*"
    r"(?:#{1,6}\s+|[-*+\u2022]\s+(?:\[[ xX]\]\s+)?|\d{1,3}[.)]\s+|\(?[A-Ha-h]\)\s+|[A-H][.:]\s+|\(\d{1,3}\)\s+|\|\s*)?"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_MATH_OPEN = re.compile(r"^\s*(\$\$|\\\[|\\begin\{([A-Za-z]+\*?)\})")
_INDENT = re.compile(r"^(?: {4}|\t)")
_LETTER = re.compile(r"[^\W\d_]")
_OPTION = re.compile(r"\(?[A-Ha-h]\)?[.)]?")
_NUMBER = re.compile(r"[-+\u2212]?\d[\d,.\s]*%?")
_PLACEHOLDER = re.compile(r"\[\s*(\d{1,2})\s*\]")
_SENTENCE_GAP = " \u00a0\u3000"   # spaces between two sentences of a line (not tabs between cells, not \r or \u2028)
MASK = "\ue000"          # stands for a protected character while splitting (never a sentence end)


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

    @property
    def segments(self) -> list[str]:
        """The strings the model receives first."""
        return [u.text for u in self.units]

    def lit(self, s: str) -> None:
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


def is_fixed_answer(text: str, keep: KeepAnswers) -> bool:
    s = text.strip()
    if not s:
        return True
    if keep.option_letters and _OPTION.fullmatch(s):
        return True
    if keep.numbers and _NUMBER.fullmatch(s):
        return True
    if keep.yes_no == "keep" and re.fullmatch(r"(?i)(yes|no)[.!]?", s):
        return True
    return any(re.fullmatch(p, s) for p in keep.patterns)


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
            t.lit(text)
            return t
        lines = text.splitlines(keepends=True)
        code = _indented_code(lines) | _json_lines(lines)
        fence, math_end = False, None
        for n, line in enumerate(lines):
            body = line.rstrip("\r\n")
            eol = line[len(body):]
            if fence or _FENCE.match(body):
                if _FENCE.match(body):
                    fence = not fence
                t.lit(line)
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
                    t.lit(line)
                    math_end = end
                    continue
                if not _LETTER.search(rest[rest.index(end) + len(end):]):
                    t.lit(line)                     # the whole line is one formula
                    continue
            if n in code or is_code_line(body):
                t.lit(line)
                continue
            self._line(body, t)
            t.lit(eol)
        return t

    # -- one line ----------------------------------------------------------------------------
    def _line(self, line: str, t: Template) -> None:
        m = _PREFIX.match(line)
        prefix = m.group(0) if m else ""
        t.lit(prefix)
        rest = line[len(prefix):]
        spans = find_spans(rest)
        masked = _mask(rest, spans)
        pos = 0
        for a, b in option_cuts(masked) + [(len(rest), len(rest))]:
            self._chunk(rest, masked, spans, pos, a, t)
            t.lit(rest[a:b])
            pos = b

    def _chunk(self, text: str, masked: str, spans, start: int, end: int, t: Template) -> None:
        """text[start:end] (no option markers inside): table cells (`|`, and tab-separated
        columns: SentencePiece would turn a tab into a space), then sentences."""
        if start >= end:
            return
        if "|" in masked[start:end] or "\t" in masked[start:end]:
            pos = start
            for i, ch in enumerate(masked[start:end], start):
                if ch in "|\t":
                    self._chunk(text, masked, spans, pos, i, t)
                    t.lit(ch)
                    pos = i + 1
            self._chunk(text, masked, spans, pos, end, t)
            return
        core_m = masked[start:end]
        if not _LETTER.search(core_m.replace(MASK, "")) or \
                (self.keep.option_letters and _OPTION.fullmatch(core_m.strip())):
            t.lit(text[start:end])                 # numbers, punctuation, formulas, lone letters
            return
        bounds = split_sentences(core_m, self.lang) if self.sentences else [(0, len(core_m))]
        pos = start
        for a, b in bounds:
            t.lit(text[pos:start + a])
            self._sentence(text, masked, spans, start + a, start + b, t)
            pos = start + b
        t.lit(text[pos:end])

    def _sentence(self, text, masked, spans, a, b, t: Template) -> None:
        # edges: whitespace and tags (<image>) at either end stay outside the unit; code, math,
        # URLs at an edge are part of the sentence ("The command is `ls`.") and become placeholders
        tags = {i for sa, sb in _overlapping(spans, a, b) if text.startswith("<", sa) for i in range(sa, sb)}
        lead_end = a
        while lead_end < b and (lead_end in tags or masked[lead_end].isspace()):
            lead_end += 1
        tail_start = b
        while True:                 # trailing tags, also before final punctuation ("look: <image>.")
            k = tail_start
            while k > lead_end and not _LETTER.match(masked[k - 1]) and masked[k - 1] != MASK and \
                    not masked[k - 1].isdigit():
                k -= 1
            if k > lead_end and k - 1 in tags:
                while k > lead_end and (k - 1 in tags or masked[k - 1].isspace()):
                    k -= 1
                tail_start = k
                continue
            while tail_start > lead_end and masked[tail_start - 1].isspace():
                tail_start -= 1
            break
        t.lit(text[a:lead_end])
        if lead_end < tail_start:
            for pa, pb in self._fit(text, masked, lead_end, tail_start, t):
                self._unit(text, masked, spans, pa, pb, t)
        t.lit(text[tail_start:b])

    def _fit(self, text, masked, a, b, t: Template) -> list[tuple[int, int]]:
        """The sentence, or its clauses packed under max_tokens; too long -> reported whole."""
        if self.count(text[a:b]) <= self.max_tokens:
            return [(a, b)]
        pieces = split_clauses(masked[a:b])
        out: list[tuple[int, int]] = []
        for pa, pb in pieces:
            if out and self.count(text[a + out[-1][0]:a + pb]) <= self.max_tokens:
                out[-1] = (out[-1][0], pb)
            else:
                out.append((pa, pb))
        if any(self.count(text[a + x:a + y]) > self.max_tokens for x, y in out):
            t.too_long.append(text[a:b])
            return [(a, b)]
        return [(a + x, a + y) for x, y in out]

    def _unit(self, text, masked, spans, a, b, t: Template) -> None:
        """text[a:b] -> leading/trailing whitespace literal + one Unit."""
        ca, cb = a, b
        while ca < cb and text[ca].isspace():
            ca += 1
        while cb > ca and text[cb - 1].isspace():
            cb -= 1
        t.lit(text[a:ca])
        if ca == cb:
            t.lit(text[ca:b])
            return
        label = _leading_label(masked, ca, cb)
        if label:                                   # "**Note:** rest": the label is its own unit
            (ia, ib), marker, _ = label
            t.lit(marker)
            self._unit(text, masked, spans, ia, ib, t)
            rest = ib + len(marker)
            while rest < cb and (masked[rest] in ":\uff1a" or masked[rest].isspace()):
                rest += 1
            t.lit(marker + text[ib + len(marker):rest])
            self._unit(text, masked, spans, rest, cb, t)
        elif not _LETTER.search(masked[ca:cb].replace(MASK, "")):
            t.lit(text[ca:cb])
        else:
            inner = [s for s in _overlapping(spans, ca, cb) if ca <= s[0] and s[1] <= cb]
            u = _build_unit(text, inner, ca, cb)
            if inner and _PLACEHOLDER.search(_mask(text[ca:cb], [(x - ca, y - ca) for x, y in inner])):
                for prose, piece in u.pieces:       # the text itself has "[1]": placeholders would be ambiguous
                    t.unit(Unit(piece, pieces=[(True, piece)])) if prose else t.lit(piece)
            else:
                t.unit(u)
        t.lit(text[cb:b])


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


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    out = list(text)
    for a, b in spans:
        out[a:b] = MASK * (b - a)
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


def _indented_code(lines: list[str]) -> set[int]:
    """Line numbers of indented (unfenced) code blocks: a run of lines indented by 4 spaces or a
    tab, after a blank line, the start, or a line ending in ':', in which some line looks like
    code, or (outside a list, where CommonMark makes it code) no line reads as a sentence.
    Indented prose under a list item stays prose."""
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
            if any(is_code_line(lines[k].strip(), relaxed=True) for k in block) or \
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
