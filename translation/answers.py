"""Short answers ("Yes", "no.", "False", "Left"): too short for any output check (LID needs ~20
characters), so they are not translated one by one. Per target language a table of the fixed
answers is built once (each English entry translated through the normal cached path), checked
for consistency, and every short answer of that language is rendered from it with the source's
casing and end punctuation.

Consistency: an entry must be short (at most 4 words and 40 characters), contain no digits, be
mostly in the target's script, and differ from the other entries of its group (yes != no,
true != false, ...). An inconsistent entry is not used: rows needing it are rejected with
reason 'short_answer' and the problem, never given an unchecked answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from mixkit.lang import languages
from mixkit.lang.writing_systems import matches_script

GROUPS: tuple[tuple[str, ...], ...] = (
    ("yes", "no"), ("true", "false"), ("correct", "incorrect"), ("left", "right"), ("up", "down"),
    ("top", "bottom"), ("none", "both"), ("unknown",), ("maybe",),
)
ENTRIES: tuple[str, ...] = tuple(k for g in GROUPS for k in g)
_MATCH = re.compile(r"(?i)\s*(" + "|".join(ENTRIES) + r")\s*([.!]?)\s*")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class ShortAnswer:
    key: str          # "yes"
    style: str        # "lower" | "title" | "upper"
    punct: str        # "", "." or "!"


def match(text: str) -> ShortAnswer | None:
    m = _MATCH.fullmatch(text)
    if not m:
        return None
    w = m.group(1)
    style = "upper" if w.isupper() and len(w) > 1 else "title" if w[0].isupper() else "lower"
    return ShortAnswer(w.lower(), style, m.group(2))


def source_text(key: str) -> str:
    """What the model translates for an entry: a capitalised one-word sentence."""
    return key.capitalize() + "."


def _bare(s: str) -> str:
    return s.strip().rstrip(".!。！।؟?").strip()


@dataclass
class AnswerTable:
    lang: str
    entries: dict[str, str] = field(default_factory=dict)      # key -> bare translation
    problems: dict[str, str] = field(default_factory=dict)     # key -> why it is not used
    raw: dict[str, str] = field(default_factory=dict)          # key -> bare translation, checked or not

    @classmethod
    def build(cls, lang: str, translations: dict[str, str]) -> "AnswerTable":
        """translations: key -> model output for source_text(key)."""
        script = languages.get(lang).script
        t = cls(lang)
        bare = {k: _bare(v) for k, v in translations.items()}
        for k, v in bare.items():
            if not v:
                t.problems[k] = "empty translation"
            elif len(_WORDS.findall(v)) > 4 or len(v) > 40:
                t.problems[k] = f"{v!r} is not a short answer"
            elif any(c.isdigit() for c in v):
                t.problems[k] = f"{v!r} contains digits"
            elif not matches_script(v, script, 0.5):
                t.problems[k] = f"{v!r} is not in the {script} script"
        for group in GROUPS:
            seen: dict[str, str] = {}
            for k in group:
                if k not in bare or k in t.problems:
                    continue
                norm = bare[k].casefold()
                if norm in seen:
                    msg = f"{k!r} and {seen[norm]!r} both translate to {bare[k]!r}"
                    t.problems[k] = t.problems[seen[norm]] = msg
                seen[norm] = k
        t.entries = {k: v for k, v in bare.items() if k not in t.problems}
        t.raw = {k: v for k, v in bare.items() if v}
        return t

    def render(self, a: ShortAnswer, unchecked: bool = False) -> str:
        """From the checked entries; unchecked=True (checks disabled) also from the others."""
        v = (self.raw if unchecked else self.entries)[a.key]
        if a.style == "upper":
            v = v.upper()
        elif a.style == "title":
            v = v[:1].upper() + v[1:]
        elif a.style == "lower" and v[:1].isupper() and v[1:2].islower():
            v = v[:1].lower() + v[1:]
        return v + a.punct

