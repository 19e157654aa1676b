"""Telling apart two languages written the same by their words: the language check's last say between them.

Malay and Indonesian share spelling and most words, and no detector of the ensemble separates them on
software text (tuning third of the held-out set, each asked to choose between the two: fastText picks Malay on
31% of Malay sentences, the n-gram model on 49%; CLD3 picks Indonesian on 70% of Indonesian ones, lingua on
73%). What differs is vocabulary: Malay `fail`, `kata laluan`, `muat turun`, `tetapan`, `kerana`; Indonesian
`berkas`, `kata sandi`, `unduh`, `pengaturan`, `karena`. A word model per member sums log P(word | first) -
log P(word | second) over the words either knows, P(word) half from desktop translations (mixkit/data/ui_text,
Debian packages that are not sources of the held-out set) and half from wordfreq's list (Wikipedia, subtitles,
web text): from desktop text alone it read the UDHR's Malay as Indonesian (35% of short texts right; 55%
with wordfreq).

Not Bosnian and Croatian: a word model of the same kind gets 64% of Bosnian and 74% of Croatian sentences
right (tuning third), 58% and 78% with Serbian desktop text added for Bosnian's Eastern words; neither member
reaches 80%, and Croatian would lose (83% now), so they stay a close pair the check does not split.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

# (first, second): the pairs a word model decides between, once the ensemble's top answer is one of them.
PAIRS = (("zsm_Latn", "ind_Latn"),)
CODES = frozenset(c for pair in PAIRS for c in pair)
# Probability of a word one member's text lacks (the other's has it): how much one such word weighs.
FLOOR = 1e-5
_WORD = re.compile(r"\w+")


class PairModel:
    """log P(word | language) for the two members of a pair: each member's [(texts, weights or None)] sources,
    each a word distribution, mixed in equal parts."""

    def __init__(self, first: list[tuple[list[str], list[float] | None]],
                 second: list[tuple[list[str], list[float] | None]]):
        self.logp = tuple(self._logp(sources) for sources in (first, second))

    @staticmethod
    def _logp(sources: list[tuple[list[str], list[float] | None]]) -> dict[str, float]:
        p: Counter = Counter()
        sources = [(ts, ws) for ts, ws in sources if ts]
        for texts, weights in sources:
            counts: Counter = Counter()
            for t, w in zip(texts, weights or [1.0] * len(texts)):
                for word in _WORD.findall(t.lower()):
                    counts[word] += w
            total = sum(counts.values())
            for word, n in counts.items():
                p[word] += n / total / len(sources)
        return {w: math.log(x) for w, x in p.items()}

    def lean(self, text: str) -> float:
        """> 0 when the words are the first member's, < 0 the second's, 0 when neither knows any of them."""
        a, b = self.logp
        floor = math.log(FLOOR)
        s = 0.0
        for w in _WORD.findall(text.lower()):
            if w in a or w in b:
                s += a.get(w, floor) - b.get(w, floor)
        return s


def pair_of(code: str) -> tuple[str, str] | None:
    return next((p for p in PAIRS if code in p), None)


@lru_cache(maxsize=None)
def model(pair: tuple[str, str]) -> PairModel:
    from mixkit.lang.lid_ngram import ui_text, wordfreq_words

    def sources(lang: str) -> list[tuple[list[str], list[float] | None]]:
        words, freqs = wordfreq_words(lang)
        return [(ui_text(lang, any_lang=True), None), (list(words), list(freqs))]

    return PairModel(sources(pair[0]), sources(pair[1]))
