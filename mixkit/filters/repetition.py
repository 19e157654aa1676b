"""Repetition loops (a known failure of MT output) and spam: repeated n-grams and token runs."""
from __future__ import annotations

import regex
from pydantic import Field, field_validator

from mixkit.filters.base import Filter, FilterSwitch, Rejection
from mixkit.lang.writing_systems import SPACELESS_SCRIPTS, dominant_script

# Letters, combining marks and digits: `\w` alone splits Devanagari (and other Indic) words at
# their vowel signs, which made ordinary Hindi look like a repetition loop.
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}_]+")
_GRAPHEME = regex.compile(r"\X")


def tokens_of(text: str) -> list[str]:
    """Words for spaced scripts; single characters for CJK, Thai, Lao, Khmer, Burmese, Tibetan
    (scripts written without spaces between words: mixkit.lang.writing_systems holds the facts)."""
    words = _WORD.findall(text.casefold())
    if words and dominant_script(text[:400]) in SPACELESS_SCRIPTS:
        return [g for w in words for g in _GRAPHEME.findall(w)]   # user-perceived characters
    return words


def duplicate_ngram_fraction(tokens: list[str], n: int) -> float:
    """Share of characters inside n-grams seen before (Gopher / datatrove `find_all_duplicate`)."""
    total = sum(map(len, tokens))
    if total == 0 or len(tokens) < n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated, i = 0, 0
    while i <= len(tokens) - n:
        gram = tuple(tokens[i:i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / total


def longest_run(tokens: list[str]) -> tuple[int, str]:
    best, cur, tok = 0, 0, ""
    prev = None
    for t in tokens:
        cur = cur + 1 if t == prev else 1
        prev = t
        if cur > best:
            best, tok = cur, t
    return best, tok


class RepetitionOptions(FilterSwitch):
    min_tokens: int = Field(10, ge=1)           # shorter texts are judged by max_token_run only
    # n -> max share of characters inside repeated n-grams (Gopher's duplicate n-gram fractions)
    max_duplicate_ngram_fraction: dict[int, float] = {3: 0.30, 5: 0.15, 8: 0.10}
    max_token_run: int = Field(5, ge=2)         # the same token more than this many times in a row

    @field_validator("max_duplicate_ngram_fraction")
    @classmethod
    def _fracs(cls, v: dict[int, float]) -> dict[int, float]:
        for n, f in v.items():
            if n < 1 or not 0 < f <= 1:
                raise ValueError(f"n-gram size must be >= 1 and fraction in (0, 1]; got {n}: {f}")
        return dict(sorted(v.items()))


class RepetitionFilter(Filter):
    name = "repetition"
    Options = RepetitionOptions
    reasons = {"repeated_ngrams": "repeated n-grams above their fraction, or a token repeated in a row"}

    def check_detail(self, row):
        # Judge each message on its own: a prompt repeated in every turn is not a loop.
        for m in row["messages"]:
            toks = tokens_of(m["content"])
            run, tok = longest_run(toks)
            if run > self.opts.max_token_run:
                return Rejection("repeated_ngrams", f"{tok!r} repeated {run} times in a row")
            if len(toks) < self.opts.min_tokens:
                continue
            for n, limit in self.opts.max_duplicate_ngram_fraction.items():
                frac = duplicate_ngram_fraction(toks, n)
                if frac > limit:
                    return Rejection("repeated_ngrams", f"{frac:.2f} of characters in repeated {n}-grams > {limit}")
        return None
