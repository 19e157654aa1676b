"""Sentence and clause boundaries for any source script.

- . ! ? … followed by space and a capital, a caseless letter (Arabic, Devanagari, ...), a digit
  or an opening quote, unless the word before is an abbreviation of the source language
  ("Dr.", "z.B.", "etc.", "т.е."), an initial ("J.") or a dotted abbreviation ("e.g.");
- 。！？ (and half-width ｡) end a sentence with no space after them;
- । ॥ (Indic), ؟ ۔ (Arabic, Urdu), ። ፧ (Ethiopic), ။ (Myanmar), ។ ៕ (Khmer), ։ (Armenian)
  end a sentence before whitespace;
- Thai, Lao and Khmer write no full stop: a space between two of their letters separates
  sentences (or clauses), so it is a boundary.
Boundaries are (start, end) offsets; the whitespace between sentences belongs to neither.
"""
from __future__ import annotations

import re

from mixkit.lang.writing_systems import char_script

_CLOSERS = "\"'\u201d\u2019\u00bb)]}\u300d\u300f\uff09*_"
_OPENERS = "\"'\u201c\u2018\u00ab(\u300c\u300e\u00bf\u00a1"
_LATIN_END = re.compile(rf"[.!?\u2026]+[{re.escape(_CLOSERS)}]*(?=\s+(\S))")
_CJK_END = re.compile(rf"[\u3002\uff01\uff1f\uff61]+[{re.escape(_CLOSERS)}]*")
_OTHER_END = re.compile(rf"[\u0964\u0965\u061f\u06d4\u1362\u1367\u104b\u17d4\u17d5\u0589]+[{re.escape(_CLOSERS)}]*(?=\s)")
_SPACED_SCRIPTS = {"Thai", "Laoo", "Khmr"}
_CLAUSE = re.compile(r"[,;:\u060c\u061b]\s+|[\uff0c\uff1b\uff1a\u3001]\s*")

_COMMON = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "no", "fig", "figs", "approx", "inc",
           "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
           "eq", "eqs", "ref", "vol", "pp", "p", "ch", "sec", "al", "cf", "dept", "est", "min", "max"}
# per ISO 639-3 prefix of the source's FLORES code (lower case, without the final dot)
ABBREVIATIONS: dict[str, set[str]] = {
    "eng": {"e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "mt", "ave", "blvd", "gen", "gov", "sgt", "capt", "lt"},
    "deu": {"z.b", "d.h", "u.a", "usw", "bzw", "ca", "nr", "evtl", "ggf", "vgl", "s", "hr", "fr", "abb", "bd",
            "bsp", "inkl", "zzgl", "str", "u.ä", "o.ä", "z.t", "i.d.r", "sog", "jh"},
    "fra": {"m", "mme", "mlle", "mm", "p.ex", "env", "n°", "av", "bd", "chap", "éd", "j.-c", "c.-à-d"},
    "spa": {"sr", "sra", "srta", "ud", "uds", "p.ej", "aprox", "pág", "núm", "av", "dña", "d", "ee.uu", "lic", "ing"},
    "por": {"sr", "sra", "p.ex", "pág", "núm", "av", "dra", "v.exa", "aprox"},
    "ita": {"sig", "sig.ra", "dott", "ecc", "es", "pag", "avv", "ing", "prof.ssa"},
    "nld": {"bijv", "o.a", "enz", "d.w.z", "blz", "mevr", "dhr", "nl", "vgl", "m.b.t"},
    "rus": {"т.е", "т.д", "т.п", "г", "гг", "ул", "стр", "им", "др", "см", "рис", "тыс", "млн", "руб", "т.к", "т.н"},
    "ukr": {"т.д", "т.п", "вул", "р", "рр", "ім", "див", "тис", "млн"},
    "pol": {"np", "itd", "itp", "tzn", "prof", "dr", "ul", "ok", "r", "godz", "wg", "tj", "ds"},
    "ces": {"např", "tzv", "atd", "tj", "resp", "ul", "č", "str", "mj"},
    "swe": {"t.ex", "bl.a", "s.k", "osv", "ca", "dvs", "resp"},
    "tur": {"vb", "vs", "örn", "sn", "dr", "prof", "yy"},
    "ind": {"dll", "dsb", "yth", "bpk", "sdr", "no", "hlm"},
    "vie": {"tp", "ts", "gs", "ths", "pgs"},
}
_DOTTED = re.compile(r"^(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}$")     # e.g  z.B  i.d.R


def _starts_sentence(ch: str) -> bool:
    if ch.isdigit() or ch in _OPENERS:
        return True
    if not ch.isalpha():
        return ch == "\ue000"                  # a masked span (code, a URL) can start a sentence
    return ch.isupper() or not ch.islower()     # capital, or a letter of a caseless script


def _is_abbreviation(head: str, lang: str) -> bool:
    word = re.split(r"\s", head.rstrip())[-1].lstrip(_OPENERS + "*_")
    word = word.rstrip(".").lower()
    if not word or word[-1].isdigit():
        return False
    if len(word) == 1 and word.isalpha():       # an initial: "J. Smith"
        return True
    if _DOTTED.match(word):
        return True
    return word in _COMMON or word in ABBREVIATIONS.get(lang.split("_")[0], ())


def _last_word(text: str, end: int) -> str:
    """The last whitespace-separated word of text[:end] (without copying the text before it:
    a long line has many sentence ends)."""
    while end and text[end - 1].isspace():
        end -= 1
    k = end
    while k and not text[k - 1].isspace():
        k -= 1
    return text[k:end]


def _boundaries(text: str, lang: str) -> list[int]:
    """Offsets where a sentence ends (before the whitespace that follows it)."""
    ends: set[int] = set()
    for m in _LATIN_END.finditer(text):
        if m.group(0)[0] == "." and _is_abbreviation(_last_word(text, m.start() + 1), lang):
            continue
        if m.group(1).isdigit() and re.search(r"(?i)\bnos?$", text[max(0, m.start() - 4):m.start()]):
            continue                            # "No. 5"
        if _starts_sentence(m.group(1)):
            ends.add(m.end())
    for m in _CJK_END.finditer(text):
        if m.end() < len(text):
            ends.add(m.end())
    for m in _OTHER_END.finditer(text):
        ends.add(m.end())
    for m in re.finditer(r"\s+", text):
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


def split_clauses(text: str) -> list[tuple[int, int]]:
    """Contiguous pieces covering `text`, cut after clause punctuation (, ; : ، ؛ ， ； ： 、) and
    at Thai/Lao/Khmer spaces (a long sentence packed back under the token limit by the caller)."""
    cuts = {m.end() for m in _CLAUSE.finditer(text)}
    for m in re.finditer(r"\s+", text):
        if m.start() and m.end() < len(text) and char_script(text[m.start() - 1]) in _SPACED_SCRIPTS:
            cuts.add(m.end())
    out, start = [], 0
    for c in sorted(cuts):
        if 0 < c < len(text):
            out.append((start, c))
            start = c
    out.append((start, len(text)))
    return out
