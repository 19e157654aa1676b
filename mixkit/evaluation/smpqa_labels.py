"""Where SMPQA chart labels come from, in the order the study's recipe suggests.

The Centurio paper drew its labels from word-frequency lists and kept the less frequent half
of the top list (common enough to be real words, not so common that they are function words).
Per language, the first source that yields enough labels wins:

  1. the user's label files (SmpqaOptions.label_files), taken as given;
  2. PyPI `wordfreq` where it has a list for exactly this language: ranks top//2+1 .. top;
  3. word frequencies counted in the natural text shipped with mixkit (the UDHR, mixkit.lang.udhr),
     same rule; only for scripts that put spaces between words (a Thai or Khmer "word" split
     at spaces is a phrase);
  4. Unicode CLDR words via Babel (territory, language, month and day names).

Every candidate must look like a label (short, no digits or punctuation), be written in the
language's own script, and pass the OCR stage's font-coverage check; one label is kept per
normalised form (an answer must identify its label).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from mixkit.lang.languages import get
from mixkit.lang.writing_systems import SPACELESS_SCRIPTS, script_counts

# Characters that make a poor chart label (numbers, brackets, list punctuation, quotes).
_BAD_LABEL = re.compile(r"[()\[\]{},.;:/%\"'«»“”„+=<>|&*#@!?¿¡]")
# wordfreq codes that differ from the registry's ISO 639-1 code. Filipino is standardised
# Tagalog (the CLDR path makes the same choice); wordfreq's Norwegian list is Bokmål.
_WORDFREQ_CODES = {"nob_Latn": "nb", "tgl_Latn": "fil"}
# wordfreq's Chinese list is Simplified: it is no list for Traditional Chinese.
_NO_WORDFREQ = {"zho_Hant"}


def label_like(text: str) -> bool:
    """A short word or two: no digits or punctuation that would make it a phrase or a number."""
    t = text.strip()
    if not 2 <= len(t) <= 16 or any(c.isdigit() for c in t) or _BAD_LABEL.search(t):
        return False
    return len(t.split()) <= 2


def in_own_script(text: str, script: str) -> bool:
    """Every letter of `text` is in `script` (wordfreq's Chinese list holds 'of', Hindi's holds 'i')."""
    counts = script_counts(text)
    accepted = {"Jpan": {"Hira", "Kana", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"},
                "Hang": {"Hang"}}.get(script, {script})
    return bool(counts) and set(counts) <= accepted


def less_frequent_half(ranked: list[str], top: int) -> list[str]:
    """The paper's rule: of the `top` most frequent words, the less frequent half."""
    head = ranked[:top]
    return head[len(head) // 2:]


def wordfreq_code(lang: str) -> str | None:
    """wordfreq's code for exactly this language, or None. Never wordfreq's own fallback:
    `top_n_list('zu', n)` silently returns the *English* list (wordfreq 3.1)."""
    if lang in _NO_WORDFREQ:
        return None
    try:
        import wordfreq
    except ImportError:     # a dependency; a broken install falls through to the next source
        return None
    have = wordfreq.available_languages(wordlist="best")
    info = get(lang)
    for cand in (_WORDFREQ_CODES.get(lang), info.iso1, info.iso3):
        if cand and cand in have:
            return cand
    return None


@lru_cache(maxsize=None)
def wordfreq_candidates(lang: str, top: int) -> tuple[tuple[str, ...], str] | None:
    code = wordfreq_code(lang)
    if code is None:
        return None
    import wordfreq

    ranked = wordfreq.top_n_list(code, top, wordlist="best")
    source = f"wordfreq:{code} ({_version('wordfreq')}, ranks {top // 2 + 1}-{top})"
    return tuple(less_frequent_half(ranked, top)), source


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _strip_punct(token: str) -> str:
    i, j = 0, len(token)
    while i < j and unicodedata.category(token[i])[0] in "PS":
        i += 1
    while j > i and unicodedata.category(token[j - 1])[0] in "PS":
        j -= 1
    return token[i:j]


def ranked_words(paragraphs: list[str]) -> list[str]:
    """Words of running text, most frequent first (ties: first seen first), case-folded like wordfreq."""
    counts: Counter = Counter()
    first: dict[str, int] = {}
    for p in paragraphs:
        for tok in p.split():
            w = _strip_punct(tok).casefold()
            if w:
                counts[w] += 1
                first.setdefault(w, len(first))
    return sorted(counts, key=lambda w: (-counts[w], first[w]))


@lru_cache(maxsize=None)
def natural_text_candidates(lang: str, top: int) -> tuple[tuple[str, ...], str] | None:
    if get(lang).script in SPACELESS_SCRIPTS:
        return None
    try:
        from mixkit.lang import udhr
    except ImportError:     # natural text is optional: CLDR follows
        return None
    paras = [t for kind, t in udhr.blocks(lang) if kind == "p"]
    if not paras:
        return None
    return tuple(less_frequent_half(ranked_words(paras), top)), f"udhr:{lang} (word counts, less frequent half)"


def cldr_candidates(lang: str) -> tuple[tuple[str, ...], str]:
    from ocr_synth.text_sources import cldr_locale, cldr_strings

    loc, _ = cldr_locale(lang)
    return tuple(cldr_strings(lang)), f"cldr:{loc}"


def filter_labels(cands: list[str] | tuple[str, ...], lang: str, key=None) -> tuple[list[str], dict[str, int]]:
    """(labels that look like labels, are in the language's script and render, one per key(label);
    dropped counts by reason)."""
    from ocr_synth.fonts import renderable

    script = get(lang).script
    dropped: Counter = Counter()
    ok = []
    for t in dict.fromkeys(" ".join(c.split()) for c in cands):
        if not label_like(t):
            dropped["not_a_word"] += 1
        elif not in_own_script(t, script):
            dropped["other_script"] += 1
        else:
            ok.append(t)
    kept, why = renderable(ok, lang)
    dropped.update(why)
    if key is not None:         # one label per normalised form: an answer must identify its label
        seen: dict[str, str] = {}
        for t in kept:
            seen.setdefault(key(t), t)
        dropped["duplicate"] += len(kept) - len(seen)
        kept = [t for k, t in seen.items() if k]
    return kept, {k: v for k, v in dropped.items() if v}


def frequency_labels(lang: str, top: int, min_labels: int, key=None) -> tuple[list[str], int, dict[str, int], str]:
    """(labels, candidates, dropped, source) from the first source with at least `min_labels`;
    when none has enough, the last one tried with `source` naming every attempt."""
    tried = []
    sources = (lambda: wordfreq_candidates(lang, top), lambda: natural_text_candidates(lang, top),
               lambda: cldr_candidates(lang))
    for source_fn in sources:           # lazily: CLDR is only read when the lists before it fall short
        found = source_fn()
        if found is None:
            continue
        cands, source = found
        kept, dropped = filter_labels(cands, lang, key)
        if len(kept) >= min_labels:
            return kept, len(cands), dropped, source
        tried.append(f"{source}: {len(kept)}")
    return kept, len(cands), dropped, "; ".join(tried)
