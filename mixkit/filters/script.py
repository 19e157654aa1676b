"""The writing system: a second opinion next to LID (a rus_Cyrl row in Latin letters is wrong
whatever the language model says)."""
from __future__ import annotations

from pydantic import Field

from mixkit.core.schema import text_of
from mixkit.filters.base import Filter, FilterSwitch, Rejection
from mixkit.lang import languages
from mixkit.lang.writing_systems import checkable_script, han_variant, script_shares_batch


class ScriptOptions(FilterSwitch):
    min_share: float = Field(0.5, ge=0, le=1)   # share of letters that must be in the language's script
    min_letters: int = Field(3, ge=0)           # fewer letters than this: not judged


class ScriptFilter(Filter):
    """The letters must be in the language's script (and Chinese in its Han variant)."""

    name = "script"
    Options = ScriptOptions
    reasons = {"wrong_script": "letters mostly not in the language's script (or the other Han variant)"}

    def check_detail(self, row):
        return self.check_batch([row])[0]

    def check_batch(self, rows):
        out: list[Rejection | None] = [None] * len(rows)
        idx, texts, expected = [], [], []
        for i, r in enumerate(rows):
            try:
                script = languages.get(r["lang"]).script
            except languages.UnknownLanguageError:
                continue          # LanguageCodeFilter reports these
            if checkable_script(script):
                idx.append(i)
                texts.append(text_of(r))
                expected.append(script)
        if not idx:
            return out
        shares, totals, dominant = script_shares_batch(texts, expected)
        for j, i in enumerate(idx):
            if totals[j] < self.opts.min_letters:
                continue
            if shares[j] < self.opts.min_share:
                out[i] = Rejection("wrong_script", f"{shares[j]:.0%} of letters in {expected[j]} "
                                                   f"(< {self.opts.min_share:.0%}); mostly {dominant[j]}")
            elif expected[j] in ("Hans", "Hant"):
                variant = han_variant(texts[j])
                if variant and not variant.endswith(expected[j]):
                    out[i] = Rejection("wrong_script", f"written in {variant[-4:]} characters, expected {expected[j]}")
        return out
