"""What inside a line is not prose: inline spans kept away from the model, emphasis pairs,
option markers that separate answer choices, and lines of code."""
from __future__ import annotations

import re

_NUM = r"-?\d+(?:\.\d+)?"
_INLINE = [
    r"``[^`\n]+``|`[^`\n]+`",                                     # inline code
    r"\$\$[^\n]+?\$\$",                                           # one-line display math
    r"\\\(.+?\\\)|\\\[.+?\\\]",                                   # \( ... \)  \[ ... \]
    # $...$ as pandoc reads it: no space inside either dollar, closing one not before a digit, so
    # prices ("$5 and $10", "$5-$10") are prose
    r"(?<![\\$\w])\$(?=[^\s$])(?:\\.|[^$\n\\])+?(?<![\s\\])\$(?![\w$])",
    r"<!--.*?-->",                                                # HTML comment
    r"(?<=\])\([^\s()<>]+\)",                                      # markdown link target: [text](img.png)
    r"</?[A-Za-z_][\w\-]*\s*/?>",                                 # <image>, </s>, <br/>
    r"<[A-Za-z][\w-]*(?:\s+[\w:-]+=(?:\"[^\"]*\"|'[^']*'|[^\s>]+))+\s*/?>",   # tags with attributes
    r"(?:https?://|ftp://|www\.)[^\s<>\"'`)\]]*[^\s<>\"'`)\].,;:!?]",
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",                              # e-mail
    r"\[\s*\[[\d\s.,\-\[\]]+\]\s*\]",                            # nested coordinate lists
    rf"\[\s*{_NUM}(?:\s*,\s*{_NUM})+\s*\]|\(\s*{_NUM}(?:\s*,\s*{_NUM})+\s*\)",   # [0.1, 0.2, ...] (3, 4)
]
_SPAN = re.compile("|".join(f"(?:{p})" for p in _INLINE))
_PRICE_LIKE = re.compile(r"\d[\d.,]*\s+\w")           # "$5 and 10$": money, not math

_EMPH = re.compile(r"(\*\*|__)(?=[^\s*_])(.+?)(?<=[^\s*_])\1|(?<![*\w])(\*)(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![*\w])")

_OPT = re.compile(r"(?<!\S)(\(([A-Ha-h])\)|([A-H])[.)]|([a-h])\))\s+")


def find_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of protected inline spans, in order, not overlapping."""
    out = []
    for m in _SPAN.finditer(text):
        s = m.group(0)
        if s.startswith("$") and not s.startswith("$$") and _PRICE_LIKE.match(s[1:]):
            continue
        out.append((m.start(), m.end()))
    return out


def emphasis_pairs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, marker) of `**x**`, `__x__`, `*x*` in text."""
    out = []
    for m in _EMPH.finditer(text):
        out.append((m.start(), m.end(), m.group(1) or m.group(3)))
    return out


def option_cuts(text: str) -> list[tuple[int, int]]:
    """Option markers of answer choices written on one line ("A. cat B. dog", "(a) x (b) y"):
    kept when they form a run A, B, ... (at least two); each marker with its trailing space."""
    cands = []
    for m in _OPT.finditer(text):
        letter = (m.group(2) or m.group(3) or m.group(4)).upper()
        cands.append((m.start(), m.end(), letter))
    chain: list[tuple[int, int]] = []
    best: list[tuple[int, int]] = []
    want = "A"
    for a, b, letter in cands:
        if letter == want:
            chain.append((a, b))
            want = chr(ord(want) + 1)
        elif letter == "A":
            chain, want = [(a, b)], "B"
        if len(chain) > len(best):
            best = list(chain)
    return best if len(best) >= 2 else []


_CODE_STRICT = re.compile(
    r"^(?:def|class)\s+\w+.*:$"
    r"|^import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+)*;?$"
    r"|^from\s+[\w.]+\s+import\s+.+$"
    r"|^(?:for|while|if|elif|with)\s.*[=<>()\[\]].*:$|^(?:else|try|finally|except.*):$"
    r"|^(?:return|yield|raise|print|printf|console\.log|System\.out\.\w+|echo|let|const|var|int|void|fn|pub|func)\b.*[=();{]"
    r"|^[A-Za-z_][\w.\[\]'\"]*\s*(?:=|\+=|-=|\*=|/=|==)\s*\S.*$"
    r"|^[A-Za-z_][\w.]*\(.*\)\s*;?$"
    r"|^.*=.*;$|^.*\w\(.*\)\s*;$|^.*\)\s*\{$|^[{}\[\]()]+;?$"
    r"|^#include\b|^#!/|^<\?php|^SELECT\s.+\sFROM\s"
)
_SYMBOLS = set("=(){}[];<>_/\\*+-#\"'.:,&|!%")


def is_code_line(line: str, relaxed: bool = False) -> bool:
    """Whether one line is source code. Strict (an unindented line amid prose): a statement shape;
    relaxed (a line of an indented block): also any line dense in symbols or with a call."""
    s = line.strip()
    if not s:
        return False
    if _CODE_STRICT.match(s):
        return True
    if not relaxed:
        return False
    if re.search(r"\w\(.*\)|[=;{}]", s):
        return True
    return sum(c in _SYMBOLS for c in s) / len(s) > 0.25
