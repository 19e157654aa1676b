"""Sentence and clause boundaries for any source script.

- . ! ? … followed by space and a capital, a caseless letter (Arabic, Devanagari, ...), a digit
  or an opening quote end a sentence, also with a footnote marker after them ("true.[^1] Next",
  "true.[2] Next"). A '.' after an abbreviation is read by what the abbreviation is:
  - a title or a word that is always followed by more ("Dr.", "e.g.", "z.B.", "Fig.", "т.е."):
    never a sentence end;
  - one that can end a sentence ("etc.", "usw.", "Inc.", "a.m."): an end before a capital;
    an initialism in capitals ("U.S.", "U.K.") only before a word that opens sentences in the
    language ("Then", "It", "The"; SENTENCE_OPENERS), so "the U.S. Army" stays whole;
  - a unit after a number ("5 min.", "3 km."): an end before a capital;
  - a single capital: an initial ("J. Smith") unless an answer word or a colon comes before it
    ("The answer is B.", "Answer: C.") or an opener after it.
  A common abbreviation that is also a word ("fig.", "no.", "et al.") ends a sentence before a
  word that opens one; one that can end a sentence does not before a bracket or a number
  ("Vinícius Jr. (45')").
- A sentence inside quotes stays inside the sentence that quotes it ('reads "Welcome Back!
  Classes Start Monday." in white'), and one inside brackets inside its sentence ("VAT (MwSt.
  7%) is"): ends between paired quotes or brackets are not boundaries.
- 。！？ (and half-width ｡) end a sentence with no space after them;
- । ॥ (Indic), ؟ ۔ (Arabic, Urdu), ። ፧ (Ethiopic), ။ (Myanmar), ។ ៕ (Khmer), ։ (Armenian)
  end a sentence before whitespace;
- Thai, Lao and Khmer write no full stop: a space between two of their letters separates
  sentences (or clauses), so it is a boundary.
Boundaries are (start, end) offsets; the whitespace between sentences belongs to neither.
"""
from __future__ import annotations

import bisect
import re

from mixkit.lang.writing_systems import char_script

FOOTNOTE_MASK = "\ue001"        # stands for a footnote marker ([^1]) in the text being split
_CLOSERS = "\"'\u201d\u2019\u00bb)]}\u300d\u300f\uff09*_" + FOOTNOTE_MASK
_OPENERS = "\"'\u201c\u2018\u00ab(\u300c\u300e\u00bf\u00a1"
_AFTER_END = rf"(?:[{re.escape(_CLOSERS)}]|\[\d{{1,3}}\]|[\u00b9\u00b2\u00b3\u2070-\u2079])*"
_LATIN_END = re.compile(rf"[.!?\u2026]+{_AFTER_END}(?=\s+(\S))")
_CJK_END = re.compile(rf"[\u3002\uff01\uff1f\uff61]+[{re.escape(_CLOSERS)}]*")
_OTHER_END = re.compile(rf"[\u0964\u0965\u061f\u06d4\u1362\u1367\u104b\u17d4\u17d5\u0589]+{_AFTER_END}(?=\s)")
_SPACED_SCRIPTS = {"Thai", "Laoo", "Khmr"}
_SPACED_SCRIPT_CHAR = re.compile("[\u0e00-\u0eff\u1780-\u17ff\u19e0-\u19ff]")     # a letter of one of them

# -- abbreviations -------------------------------------------------------------------------------
# Lower case, without the final dot. Never a sentence end (titles, "see", months before a day):
_COMMON = {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "no", "nos", "fig", "figs", "approx", "eq", "eqs", "ref",
           "vol", "pp", "p", "ch", "sec", "al", "cf", "dept", "est", "min", "max", "jan", "feb", "mar", "apr",
           "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
# per ISO 639-3 prefix of the source's FLORES code
ABBREVIATIONS: dict[str, set[str]] = {
    "eng": {"e.g", "i.e", "mt", "ave", "blvd", "gen", "gov", "sgt", "capt", "lt", "proc", "conf"},
    "deu": {"z.b", "d.h", "u.a", "bzw", "ca", "nr", "evtl", "ggf", "vgl", "s", "hr", "fr", "abb", "bd",
            "bsp", "inkl", "zzgl", "str", "z.t", "i.d.r", "sog", "jh"},
    "fra": {"m", "mme", "mlle", "mm", "p.ex", "env", "n°", "av", "bd", "chap", "éd", "j.-c", "c.-à-d"},
    "spa": {"sr", "sra", "srta", "ud", "uds", "p.ej", "aprox", "pág", "núm", "av", "dña", "d", "lic", "ing"},
    "por": {"sr", "sra", "p.ex", "pág", "núm", "av", "dra", "v.exa", "aprox"},
    "ita": {"sig", "sig.ra", "dott", "es", "pag", "avv", "ing", "prof.ssa"},
    "nld": {"bijv", "o.a", "d.w.z", "blz", "mevr", "dhr", "nl", "vgl", "m.b.t"},
    "rus": {"т.е", "г", "гг", "ул", "стр", "им", "см", "рис", "тыс", "млн", "руб", "т.к", "т.н"},
    "ukr": {"вул", "р", "рр", "ім", "див", "тис", "млн"},
    "pol": {"np", "tzn", "prof", "dr", "ul", "ok", "r", "godz", "wg", "tj", "ds"},
    "ces": {"např", "tzv", "tj", "resp", "ul", "č", "str", "mj"},
    "swe": {"t.ex", "bl.a", "s.k", "ca", "dvs", "resp"},
    "tur": {"vs", "örn", "sn", "dr", "prof", "yy"},
    "ind": {"yth", "bpk", "sdr", "no", "hlm"},
    "vie": {"tp", "ts", "gs", "ths", "pgs"},
}
# Common ones that are also words ("a fig.", "said no.", "Smith et al."): an end before a word that
# opens sentences ("It", "The"; not a lone capital: "Fig. A")
_COMMON_WORDS = {"no", "fig", "figs", "min", "max", "al", "sec"}
# Abbreviations that can end a sentence ("... and so on."): common ones, then per language
_COMMON_ENDING = {"etc", "inc", "ltd", "co", "corp", "jr", "sr"}
ENDING_ABBREVIATIONS: dict[str, set[str]] = {
    "eng": {"u.s", "u.k", "u.n", "e.u", "d.c", "a.m", "p.m"},
    "deu": {"usw", "u.ä", "o.ä", "u.v.m"},
    "fra": {"cie"},
    "spa": {"ee.uu", "cía"},
    "ita": {"ecc"},
    "nld": {"enz"},
    "rus": {"т.д", "т.п", "др"},
    "ukr": {"т.д", "т.п", "ін"},
    "pol": {"itd", "itp"},
    "ces": {"atd"},
    "swe": {"osv", "m.m"},
    "tur": {"vb"},
    "ind": {"dll", "dsb"},
}
# Units that end a sentence after a number ("Bake for 20 min. Then ...")
UNITS = {"min", "mins", "sec", "secs", "s", "ms", "h", "hr", "hrs", "km", "m", "cm", "mm", "kg", "g", "mg", "lb",
         "lbs", "oz", "ft", "in", "yd", "yds", "mi", "mph", "ml", "l", "gal", "qt", "pt", "sq", "cal", "kcal",
         "t", "kt", "w", "kw", "kwh", "wh", "mah", "v", "kv", "hz", "khz", "mhz", "ghz", "kb", "mb", "gb", "tb",
         "db", "px", "dpi", "rpm", "psi", "kpa", "hpa", "ha"}
# Words that open sentences (lower case): after an initialism or a single capital they mean a new one
SENTENCE_OPENERS: dict[str, set[str]] = {
    "eng": {"a", "an", "the", "this", "that", "these", "those", "there", "then", "it", "its", "he", "she", "they",
            "we", "i", "you", "my", "your", "our", "their", "his", "her", "one", "some", "many", "most", "all",
            "each", "every", "both", "no", "not", "yes", "also", "but", "and", "or", "so", "yet", "however",
            "therefore", "thus", "hence", "finally", "first", "second", "third", "next", "after", "before",
            "when", "while", "if", "although", "because", "since", "as", "in", "on", "at", "for", "from", "to",
            "with", "by", "what", "which", "who", "where", "why", "how", "is", "are", "was", "were", "do",
            "does", "did", "can", "could", "will", "would", "should", "let", "please", "note", "overall",
            "meanwhile", "additionally", "furthermore", "moreover", "here", "today", "now", "option", "answer"},
    "deu": {"der", "die", "das", "ein", "eine", "er", "sie", "es", "wir", "ich", "dann", "danach", "aber", "und",
            "auch", "dies", "diese", "dieser", "in", "im", "am", "auf", "mit", "wenn", "als", "so"},
    "fra": {"le", "la", "les", "un", "une", "il", "elle", "ils", "elles", "nous", "je", "on", "ce", "cette",
            "puis", "ensuite", "mais", "et", "dans", "en", "sur", "avec", "si", "quand"},
    "spa": {"el", "la", "los", "las", "un", "una", "él", "ella", "ellos", "nosotros", "yo", "este", "esta",
            "luego", "después", "pero", "y", "en", "con", "si", "cuando"},
}
# Words after which a single capital is an answer, not an initial ("The answer is B.")
ANSWER_WORDS: dict[str, set[str]] = {
    "eng": {"is", "are", "was", "were", "be", "answer", "option", "choice", "choose", "select", "pick", "letter",
            "correct", "then"},
}
_DOTTED = re.compile(r"^(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}$")     # e.g  z.B  i.d.R  U.S
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*")


def _starts_sentence(ch: str) -> bool:
    if ch.isdigit() or ch in _OPENERS:
        return True
    if not ch.isalpha():
        return ch == "\ue000"                  # a masked span (code, a URL) can start a sentence
    return ch.isupper() or not ch.islower()     # capital, or a letter of a caseless script


def _last_word(text: str, end: int) -> tuple[str, int]:
    """The last whitespace-separated word of text[:end] and its start (without copying the text
    before it: a long line has many sentence ends)."""
    while end and text[end - 1].isspace():
        end -= 1
    k = end
    while k and not text[k - 1].isspace():
        k -= 1
    return text[k:end], k


_WORD = re.compile(r"[^\W\d_]+")


def _next_word(text: str, start: int) -> str:
    m = _WORD.match(text, start)
    return m.group(0).lower() if m else ""


def _dot_ends_sentence(text: str, dot: int, next_start: int, lang: str) -> bool:
    """Whether the '.' at text[dot] ends a sentence whose successor starts at next_start (a
    character that can start one)."""
    word, k = _last_word(text, dot + 1)
    core = word.lstrip(_OPENERS + "*_").rstrip(".")
    low = core.lower()
    if not low or low[-1].isdigit():
        return True
    code = lang.split("_")[0]
    if low in ABBREVIATIONS.get(code, ()):                        # the language's own: "z.B.", "M."
        return False
    nxt = _next_word(text, next_start)
    # an opener, unless it is itself an initial ("J. A. Smith")
    opener = nxt in SENTENCE_OPENERS.get(code, ()) and text[next_start + len(nxt):next_start + len(nxt) + 1] != "."
    prev = _last_word(text, k)[0]
    if low in UNITS and _NUMBER.fullmatch(prev):                 # "20 min. Then"
        return text[next_start].isalpha()
    if len(core) == 1 and core.isalpha():                         # "J. Smith" or "is B. The"
        return opener or prev.endswith((":", "\uff1a")) or \
            prev.lower().strip("*_") in ANSWER_WORDS.get(code, ())
    initialism = core.isupper() and "." in core                   # U.S  U.K  D.C
    if low in _COMMON_ENDING or low in ENDING_ABBREVIATIONS.get(code, ()):
        # "Vinícius Jr. (45')", "etc. 3": a bracket or a number after it goes on
        return opener if initialism else not (text[next_start] == "(" or text[next_start].isdigit())
    if _DOTTED.match(low):
        return initialism and opener
    if low in _COMMON_WORDS:
        return opener and len(nxt) > 1
    return low not in _COMMON


_PARENS = re.compile(r"\([^()\n]{1,300}\)")
_STRAIGHT_OPEN_AFTER = " \t([{:\u2014\u2013-/\u00a0"
_CURLY = {"\u201c": "\u201d", "\u00ab": "\u00bb", "\u201e": "\u201c\u201d", "\u2039": "\u203a"}
_MAX_QUOTE = 300


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(open, close) offsets of paired double quotes ("...", “...”, «...», „...“), at most
    _MAX_QUOTE characters apart; an inch mark (15") opens nothing."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        close = None
        if c == '"' and (i == 0 or text[i - 1] in _STRAIGHT_OPEN_AFTER) and i + 1 < n and not text[i + 1].isspace():
            j = i + 1
            while j < n and j - i <= _MAX_QUOTE and not (text[j] == '"' and not text[j - 1].isspace()):
                j += 1
            close = j if j < n and text[j] == '"' and j - i <= _MAX_QUOTE else None
        elif c in _CURLY:
            j = i + 1
            while j < n and j - i <= _MAX_QUOTE and text[j] not in _CURLY[c]:
                j += 1
            close = j if j < n and text[j] in _CURLY[c] else None
        if close is not None:
            out.append((i, close))
            i = close + 1
        else:
            i += 1
    return out


def _inside_any(spans: list[tuple[int, int]], n: int) -> list[bool]:
    """inside[i] for i in 0..n: whether a < i <= b for some (a, b) of spans (one pass over a
    difference array, so many spans and many positions stay linear)."""
    diff = [0] * (n + 2)
    for a, b in spans:
        diff[a + 1] += 1
        diff[min(b, n) + 1] -= 1
    out, depth = [], 0
    for i in range(n + 1):
        depth += diff[i]
        out.append(depth > 0)
    return out


class _Enclosed:
    """Whether an offset lies inside paired quotes or brackets of a text ('reads "Welcome Back!
    Classes Start Monday." in', "VAT (MwSt. 7%) is"): found on the first question, answered by
    bisection (a long line with many pairs and many sentence ends stays n log n)."""

    def __init__(self, text: str):
        self.text = text
        self.starts: list[int] | None = None

    def inside(self, i: int) -> bool:
        if self.starts is None:
            text = self.text
            spans = quoted_spans(text) if ('"' in text or any(q in text for q in _CURLY)) else []
            if "(" in text:
                spans += [(m.start(), m.end() - 1) for m in _PARENS.finditer(text)]
            spans.sort()
            self.starts, self.reach, far = [a for a, _ in spans], [], -1
            for _, b in spans:
                far = max(far, b)
                self.reach.append(far)          # the furthest close of the pairs opened so far
        k = bisect.bisect_left(self.starts, i)  # pairs opened before i
        return k > 0 and self.reach[k - 1] >= i


def _boundaries(text: str, lang: str) -> list[int]:
    """Offsets where a sentence ends (before the whitespace that follows it)."""
    ends: set[int] = set()
    quoted = _Enclosed(text)
    for m in _LATIN_END.finditer(text):
        nxt = m.group(1)
        if not _starts_sentence(nxt):
            continue
        if m.group(0)[0] == "." and not _dot_ends_sentence(text, m.start(), m.start(1), lang):
            continue
        if nxt.isdigit() and re.search(r"(?i)\bnos?$", text[max(0, m.start() - 4):m.start()]):
            continue                            # "No. 5"
        if quoted.inside(m.end()):
            continue                            # a quoted (or bracketed) sentence inside this one
        ends.add(m.end())
    for m in _CJK_END.finditer(text):
        if m.end() < len(text):
            ends.add(m.end())
    for m in _OTHER_END.finditer(text):
        if not quoted.inside(m.end()):
            ends.add(m.end())
    for m in re.finditer(r"\s+", text) if _SPACED_SCRIPT_CHAR.search(text) else ():
        a, b = m.start(), m.end()
        if a and b < len(text) and char_script(text[a - 1]) in _SPACED_SCRIPTS and \
                char_script(text[b]) in _SPACED_SCRIPTS:
            ends.add(a)
    return sorted(ends)


def split_sentences(text: str, lang: str = "eng_Latn") -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`; whitespace between sentences is in no sentence."""
    out, start = [], 0
    for e in _boundaries(text, lang):
        if e <= start:
            continue
        out.append((start, e))
        start = e
        while start < len(text) and text[start].isspace():
            start += 1
    if start < len(text):
        out.append((start, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


# Clause breaks, strongest first: a long sentence is cut at the first level that makes its
# pieces fit, and only a piece that still does not fit is cut at the next level.
CLAUSE_LEVELS = (
    re.compile(r"[;:\u061b]\s+|\s+[\u2014\u2013]\s+|[\uff1b\uff1a]\s*"),
    re.compile(r"[,\u060c]\s+|[\uff0c\u3001]\s*"),
)


def clause_cuts(text: str, level: int, keep_whole: list[tuple[int, int]] = ()) -> list[int]:
    """Offsets inside `text` where a clause of that level starts (after its punctuation and
    space), never inside brackets, quotes or the spans in keep_whole; Thai, Lao and Khmer
    spaces count at the comma level."""
    cuts = {m.end() for m in CLAUSE_LEVELS[level].finditer(text)}
    if level == len(CLAUSE_LEVELS) - 1 and _SPACED_SCRIPT_CHAR.search(text):
        for m in re.finditer(r"\s+", text):
            if m.start() and m.end() < len(text) and char_script(text[m.start() - 1]) in _SPACED_SCRIPTS:
                cuts.add(m.end())
    inside = _inside_any(list(keep_whole) + quoted_spans(text) + _bracket_spans(text), len(text))
    return sorted(c for c in cuts if 0 < c < len(text) and not inside[c])


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """(open, close) of balanced () [] pairs."""
    out, stack = [], []
    for i, c in enumerate(text):
        if c in "([":
            stack.append(i)
        elif c in ")]" and stack:
            out.append((stack.pop(), i))
    return out
