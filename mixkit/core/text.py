"""Text normalisation: the one form texts are compared in (exact dedup, audit duplicates,
translation copy checks), and error text that reads the same in every run."""
from __future__ import annotations

import re
import unicodedata

_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def error_text(err: BaseException) -> str:
    """`Type: message` without object addresses (PIL names the BytesIO it was given): the same
    bad input gives the same reject detail in every run."""
    return f"{type(err).__name__}: {_ADDRESS.sub('', str(err))}"
