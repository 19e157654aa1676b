"""Unicode script detection from code point ranges: a second opinion next to LID (a rus_Cyrl
sample written in Latin letters is wrong whatever fastText says)."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

# (start, end, ISO 15924) — ranges of the scripts the registry uses.
_RANGES = [
    (0x0041, 0x024F, "Latn"), (0x1E00, 0x1EFF, "Latn"), (0x0370, 0x03FF, "Grek"), (0x1F00, 0x1FFF, "Grek"),
    (0x0400, 0x052F, "Cyrl"), (0x0530, 0x058F, "Armn"), (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"), (0x0750, 0x077F, "Arab"), (0x08A0, 0x08FF, "Arab"), (0xFB50, 0xFDFF, "Arab"),
    (0xFE70, 0xFEFF, "Arab"), (0x0900, 0x097F, "Deva"), (0x0980, 0x09FF, "Beng"), (0x0A00, 0x0A7F, "Guru"),
    (0x0A80, 0x0AFF, "Gujr"), (0x0B00, 0x0B7F, "Orya"), (0x0B80, 0x0BFF, "Taml"), (0x0C00, 0x0C7F, "Telu"),
    (0x0C80, 0x0CFF, "Knda"), (0x0D00, 0x0D7F, "Mlym"), (0x0D80, 0x0DFF, "Sinh"), (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Laoo"), (0x0F00, 0x0FFF, "Tibt"), (0x1000, 0x109F, "Mymr"), (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0x1200, 0x139F, "Ethi"), (0x1780, 0x17FF, "Khmr"), (0x2D30, 0x2D7F, "Tfng"),
    (0x3040, 0x309F, "Hira"), (0x30A0, 0x30FF, "Kana"), (0x3130, 0x318F, "Hang"), (0x3400, 0x4DBF, "Hani"),
    (0x4E00, 0x9FFF, "Hani"), (0xAC00, 0xD7AF, "Hang"), (0xF900, 0xFAFF, "Hani"), (0x20000, 0x2FFFF, "Hani"),
]

# The letter scripts a language's script accepts (Japanese is written in kana and kanji); any
# other script accepts itself.
_ACCEPTED = {"Jpan": ("Hira", "Kana", "Hani"), "Hans": ("Hani",), "Hant": ("Hani",), "Hang": ("Hang", "Hani"),
             "Kore": ("Hang", "Hani")}


def char_script(ch: str) -> str:
    cp = ord(ch)
    for lo, hi, script in _RANGES:
        if lo <= cp <= hi:
            return script
    return ""


def script_counts(text: str) -> Counter:
    """Letters (alphabetic characters and combining marks) per script; other characters are not counted."""
    return Counter(s for s in (char_script(c) for c in text if c.isalpha() or unicodedata.category(c).startswith("M")) if s)


def dominant_script(text: str) -> str:
    c = script_counts(text)
    return c.most_common(1)[0][0] if c else ""


# Characters that differ between Simplified and Traditional Chinese (a small, frequent set).
_SIMPLIFIED = set("这个们来时国说会对学发经过还后动现实开关种见问长进无应间机东车书门马鸟鱼头语话读写")
_TRADITIONAL = set("這個們來時國說會對學發經過還後動現實開關種見問長進無應間機東車書門馬鳥魚頭語話讀寫")


def han_variant(text: str) -> str:
    """'zho_Hans' or 'zho_Hant' when the text shows variant-specific characters, else ''."""
    s = sum(ch in _SIMPLIFIED for ch in text)
    t = sum(ch in _TRADITIONAL for ch in text)
    if s > t:
        return "zho_Hans"
    if t > s:
        return "zho_Hant"
    return ""


# -- vectorised batch counting (filters run this on every row) ---------------------------------
SCRIPTS: tuple[str, ...] = tuple(sorted({s for _, _, s in _RANGES}))   # index 0.. ; -1 = not a letter
_SCRIPT_INDEX = {s: i for i, s in enumerate(SCRIPTS)}


@lru_cache(maxsize=1)
def _bmp_table():
    """Script index + 1 for every BMP code point that is a letter or mark (0 = none)."""
    import numpy as np

    table = np.zeros(0x10000, dtype=np.uint8)
    for lo, hi, script in _RANGES:
        for cp in range(lo, min(hi, 0xFFFF) + 1):
            ch = chr(cp)
            if ch.isalpha() or unicodedata.category(ch).startswith("M"):
                table[cp] = _SCRIPT_INDEX[script] + 1
    return table


def script_counts_batch(texts: list[str]):
    """Letter counts per script for many texts at once: int64 array [len(texts), len(SCRIPTS)].

    Same counting as `script_counts` (letters and marks only), done with one table lookup
    over the concatenated code points instead of a Python loop per character.
    """
    import numpy as np

    n, k = len(texts), len(SCRIPTS)
    if n == 0:
        return np.zeros((0, k), dtype=np.int64)
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    idx = np.zeros(len(cps), dtype=np.int64)
    bmp = cps < 0x10000
    idx[bmp] = _bmp_table()[cps[bmp]]
    # Supplementary planes: only the CJK extensions (all letters) are in the ranges.
    idx[(cps >= 0x20000) & (cps <= 0x2FFFF)] = _SCRIPT_INDEX["Hani"] + 1
    hit = idx > 0
    flat = owner[hit] * k + (idx[hit] - 1)
    return np.bincount(flat, minlength=n * k).reshape(n, k)




def checkable_script(expected: str) -> bool:
    """Whether `matches_script` can judge this script (its letters are in the ranges above)."""
    return all(s in _SCRIPT_INDEX for s in _ACCEPTED.get(expected, (expected,)))


@lru_cache(maxsize=1)
def _letter_runs() -> dict[str, list[tuple[int, int]]]:
    """Code point runs per script of the letters `script_counts` counts (the first range listing
    a code point wins, as in char_script)."""
    runs: dict[str, list[tuple[int, int]]] = {}
    seen: set[int] = set()
    for lo, hi, script in _RANGES:
        start = None
        for cp in range(lo, hi + 2):
            ch = chr(cp) if cp <= hi else ""
            if ch and cp not in seen and (ch.isalpha() or unicodedata.category(ch).startswith("M")):
                seen.add(cp)
                if start is None:
                    start = cp
            elif start is not None:
                runs.setdefault(script, []).append((start, cp - 1))
                start = None
    return runs


@lru_cache(maxsize=None)
def _letters(scripts: tuple[str, ...] | None, astral: bool) -> re.Pattern:
    """A character class of the letters of `scripts` (None: of every script). BMP-only classes
    compile to a bitmap (constant time per character); astral ones to a list of ranges."""
    cls = "".join(re.escape(chr(lo)) + ("-" + re.escape(chr(hi)) if hi > lo else "")
                  for s, rs in _letter_runs().items() if scripts is None or s in scripts
                  for lo, hi in rs if astral or hi <= 0xFFFF)
    return re.compile(f"[{cls}]+" if cls else "(?!)")       # runs: fewer matches to remove


def matches_script(text: str, expected: str, min_share: float = 0.5) -> bool:
    """Whether the letters of `text` are mostly (>= min_share) in the script a language expects.

    Jpan accepts Hira/Kana/Hani; Hans/Hant accept Hani; Hang (Korean) accepts Hang and Hani.
    Text with no letters (numbers, punctuation) passes. The same counting as `script_counts`,
    done by compiled character classes instead of a Python loop per character (the audit runs
    it on every sample).
    """
    accepted = _ACCEPTED.get(expected, (expected,))
    if text.isascii():                       # ASCII letters are all Latin: the share is all or none
        if not any(c.isalpha() for c in text):
            return True
        return (1.0 if "Latn" in accepted else 0.0) >= min_share
    astral = max(text) > "\uffff"
    n = len(text)
    total = n - len(_letters(None, astral).sub("", text))
    if total == 0:
        return True
    return (n - len(_letters(accepted, astral).sub("", text))) / total >= min_share


def script_shares_batch(texts: list[str], expected: list[str]):
    """Per text: (share of letters in the expected script, total letters, dominant script).

    Returns (shares float array, totals int array, dominant list[str]). Texts without letters
    get share 1.0 (numbers and punctuation say nothing about the script).
    """
    import numpy as np

    counts = script_counts_batch(texts)
    totals = counts.sum(axis=1)
    shares = np.ones(len(texts), dtype=np.float64)
    for i, exp in enumerate(expected):
        if totals[i]:
            cols = [_SCRIPT_INDEX[s] for s in _ACCEPTED.get(exp, (exp,)) if s in _SCRIPT_INDEX]
            shares[i] = counts[i, cols].sum() / totals[i] if cols else 1.0
    dominant = [SCRIPTS[int(j)] if t else "" for j, t in zip(counts.argmax(axis=1), totals)]
    return shares, totals, dominant


# -- scripts written without spaces between words (the one definition) -------------------------
# Both kinds of code are listed: the registry's script of a language (Hans, Hant, Jpan) and the
# letter scripts `char_script` returns (Hani, Hira, Kana). Korean (Hang) is written with spaces.
SPACELESS_SCRIPTS = frozenset({"Hans", "Hant", "Jpan", "Hani", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})
# Of those, the ones whose words run together with no separator at all (CJK). Thai, Lao, Khmer,
# Burmese and Tibetan put spaces between phrases, so phrase lists are joined with a space there.
NO_SPACE_JOIN_SCRIPTS = frozenset({"Hans", "Hant", "Jpan", "Hani", "Hira", "Kana"})


def _spaceless_class() -> str:
    ranges = [(lo, hi) for lo, hi, s in _RANGES if s in SPACELESS_SCRIPTS] + [(0xFF66, 0xFF9F)]   # + halfwidth kana
    return "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in sorted(ranges))


# One code point of a spaceless script (token counting: each one is a token).
SPACELESS_CHAR = re.compile(f"[{_spaceless_class()}]")
