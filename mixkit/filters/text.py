"""Checks of the text as a whole: its length and its share of letters."""
from __future__ import annotations

import unicodedata

from pydantic import Field, model_validator

from mixkit.core.schema import text_of
from mixkit.filters.base import Filter, FilterSwitch, Rejection


class TextLengthOptions(FilterSwitch):
    min_chars: int = Field(5, ge=0)                 # 0: no lower bound (empty text is still empty_text)
    max_chars: int | None = Field(20000, ge=1)      # null: no upper bound

    @model_validator(mode="after")
    def _bounds(self) -> "TextLengthOptions":
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) is below min_chars ({self.min_chars})")
        return self


class TextLengthFilter(Filter):
    """All message text (placeholders removed): empty, shorter or longer than the bounds."""

    name = "text_length"
    Options = TextLengthOptions
    reasons = {"empty_text": "no text in any message", "text_too_short": "fewer characters than min_chars",
               "text_too_long": "more characters than max_chars"}

    def check_detail(self, row):
        n = len(text_of(row))
        if n == 0:
            return Rejection("empty_text", "no text in any message")
        if n < self.opts.min_chars:
            return Rejection("text_too_short", f"{n} chars < text_length.min_chars {self.opts.min_chars}")
        if self.opts.max_chars is not None and n > self.opts.max_chars:
            return Rejection("text_too_long", f"{n} chars > text_length.max_chars {self.opts.max_chars}")
        return None


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or unicodedata.category(ch)[0] == "M"


class NonLetterOptions(FilterSwitch):
    max_ratio: float = Field(0.6, gt=0, le=1)      # digits/punctuation/symbols among non-space characters


class NonLetterFilter(Filter):
    name = "non_letters"
    Options = NonLetterOptions
    reasons = {"too_many_non_letters": "a larger share of digits, punctuation and symbols than max_ratio"}

    def check_detail(self, row):
        chars = "".join(text_of(row).split())
        if not chars:
            return None
        letters = sum(map(_is_letter, chars))
        ratio = 1 - letters / len(chars)
        if ratio > self.opts.max_ratio:
            return Rejection("too_many_non_letters", f"non-letter ratio {ratio:.2f} > {self.opts.max_ratio}")
        return None
