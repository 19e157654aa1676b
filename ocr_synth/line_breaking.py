"""Line breaking of running text: where a line may break, and greedy filling of a width.

Scripts written with spaces break after a space (and Ethiopic also after its word separator ፡,
Tibetan after a syllable's tsheg);
scripts written without spaces (mixkit.lang.writing_systems.SPACELESS_SCRIPTS: CJK, Thai, Lao, Khmer, Burmese,
Tibetan) break between grapheme clusters, so a mark never leaves its base (nor a Thai/Lao preposed vowel its consonant). A word wider than the
line is broken by grapheme cluster too. Widths come from HarfBuzz per break unit (cached): a line's
width is the sum of its units, checked once with one shaping of the whole line.
"""
from __future__ import annotations

import regex

from mixkit.lang.writing_systems import SPACELESS_SCRIPTS

_SPACED_UNITS = regex.compile(r"\S+\s*|\s+")
_ETHIOPIC_UNITS = regex.compile(r"[^\s፡]+፡?\s*|፡\s*|\s+")
# Tibetan: a syllable keeps its tsheg (U+0F0B) or shad (U+0F0D-0F12) at its end, never at a line start.
_TIBETAN_UNITS = regex.compile(r"(?:(?![\u0F0B\u0F0D-\u0F12])\X)+[\u0F0B\u0F0D-\u0F12]*\s*|[\u0F0B\u0F0D-\u0F12]+\s*|\s+")
# A grapheme cluster, with Thai and Lao preposed vowels (เ แ โ ใ ไ, ເ ແ ໂ ໃ ໄ) kept on the consonant
# they are read after: \X makes them clusters of their own, and a line ending in one breaks the syllable.
_CLUSTERS = regex.compile(r"[\u0E40-\u0E44\u0EC0-\u0EC4]*\X")


def break_units(text: str, script: str) -> list[str]:
    """Pieces of `text` between break opportunities; joined they give `text` back."""
    if script == "Tibt":
        return _TIBETAN_UNITS.findall(text)
    if script in SPACELESS_SCRIPTS:
        return _CLUSTERS.findall(text)
    if script == "Ethi":
        return _ETHIOPIC_UNITS.findall(text)
    return _SPACED_UNITS.findall(text)


def wrap(text: str, script: str, max_w: float, width_of, line_width=None) -> list[str]:
    """Lines of `text` no wider than `max_w` px, in reading order.

    width_of(unit) -> px of one break unit (cache it: words repeat); line_width(line) -> px of a
    whole shaped line, used to check each line once (shaping across units can differ slightly
    from their sum); a line over the width gives back its last units.
    """
    units: list[str] = []
    for u in break_units(text, script):
        if width_of(u.rstrip()) > max_w and len(u) > 1:
            units += _CLUSTERS.findall(u)          # a word longer than the line: break inside it
        else:
            units.append(u)
    spaceless = script in SPACELESS_SCRIPTS
    lines: list[str] = []
    cur: list[str] = []
    w = 0.0
    for u in units:
        uw = width_of(u)
        if cur and w + width_of(u.rstrip()) > max_w:
            units_left = _after_last_space(cur) if spaceless else []
            lines.append(_close(cur, line_width, max_w, units_left))
            cur, w = units_left, sum(width_of(x) for x in units_left)
        cur.append(u)
        w += uw
    if cur:
        rest: list[str] = []
        lines.append(_close(cur, line_width, max_w, rest))
        while rest:                                # units given back by the last line
            more: list[str] = []
            lines.append(_close(rest, line_width, max_w, more))
            rest = more
    return [l for l in lines if l]


def _after_last_space(units: list[str]) -> list[str]:
    """Thai, Lao, Khmer, Burmese and Tibetan put spaces between phrases: when one falls in the
    last 40% of a full line, break there instead of mid-phrase (the units after it move on)."""
    for j in range(len(units) - 1, int(len(units) * 0.6), -1):
        if units[j].isspace():
            rest = units[j + 1:]
            del units[j + 1:]
            return rest
    return []


def _close(units: list[str], line_width, max_w: float, given_back: list[str]) -> str:
    """The line made of `units` (trailing space dropped); units that overflow go to `given_back`."""
    line = "".join(units).rstrip()
    if line_width is None:
        return line
    while len(units) > 1 and line_width(line) > max_w:
        given_back.insert(0, units.pop())
        line = "".join(units).rstrip()
    return line
