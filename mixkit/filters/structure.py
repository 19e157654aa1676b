"""Checks of a row's structure: placeholders match the images, the language code is known."""
from __future__ import annotations

from mixkit.core.schema import image_count
from mixkit.filters.base import Filter, Rejection
from mixkit.lang import languages


class PlaceholderFilter(Filter):
    """`<image>` placeholders must match the images one for one."""

    name = "placeholders"
    reasons = {"placeholder_mismatch": "number of <image> placeholders != number of images"}

    def check_detail(self, row):
        n_tok, n_img = image_count(row["messages"]), len(row.get("images") or [])
        if n_tok != n_img:
            return Rejection("placeholder_mismatch", f"{n_tok} <image> placeholder(s), {n_img} image(s)")
        return None


class LanguageCodeFilter(Filter):
    """A row whose `lang` the registry doesn't know can't be checked or planned: always runs."""

    name = "language_code"
    Options = None
    reasons = {"unknown_language": "a `lang` the registry does not know"}

    def check_detail(self, row):
        try:
            languages.resolve(row.get("lang") or "")
        except languages.UnknownLanguageError as e:
            return Rejection("unknown_language", str(e))
        return None
