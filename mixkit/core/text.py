"""Text normalisation: the one form texts are compared in (exact dedup, audit duplicates,
translation copy checks)."""
from __future__ import annotations

import unicodedata


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
