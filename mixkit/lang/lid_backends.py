"""The language check's other detectors, each mapped to FLORES-200 codes: CLD3 and lingua.

- CLD3 (`cld3-py`, import `gcld3`; Apache-2.0): a small neural model, 107 languages, about as fast as
  fastText. It answers one language per text with a probability. Its romanised variants
  (`ru-Latn`, `hi-Latn`, ...) are not languages of the study and map to nothing.
- lingua (`lingua-language-detector`; Apache-2.0; models inside the wheel): n-gram models of 75
  languages, strong on short text and close pairs, but slow (about 1 ms per text over all its
  languages, 1.3 GB with every model loaded). It is built per group of candidate languages, so a
  check loads and scores only the few models it asks about (`LinguaBackend.scores(text, codes)`).

`knows` is the set of FLORES codes a detector has a label for: the language check lets a language
be judged only by the detectors that know it.
"""
from __future__ import annotations

from functools import lru_cache

from mixkit.lang import languages
from mixkit.lang.writing_systems import han_variant

# Labels the registry cannot map by their ISO code alone.
_CLD3_LABELS = {"no": "nob_Latn", "iw": "heb_Hebr", "fil": "tgl_Latn", "ms": "zsm_Latn", "sw": "swh_Latn",
                "uz": "uzn_Latn", "fa": "pes_Arab", "ar": "arb_Arab", "sr": "srp_Cyrl", "lv": "lvs_Latn",
                "et": "est_Latn", "sq": "als_Latn", "ku": "kmr_Latn", "mn": "khk_Cyrl",
                "ne": "npi_Deva"}
_LINGUA_LABELS = {"ARA": "arb_Arab", "FAS": "pes_Arab", "MSA": "zsm_Latn", "SQI": "als_Latn", "SWA": "swh_Latn",
                  "ZHO": "zho_Hans", "AZE": "azj_Latn", "LAV": "lvs_Latn", "EST": "est_Latn", "SRP": "srp_Cyrl",
                  "MON": "khk_Cyrl", "NOB": "nob_Latn", "NNO": "nno_Latn"}


def _code(label: str, table: dict[str, str]) -> str:
    if label in table:
        return table[label]
    if "-" in label:                              # CLD3's romanised variants: no language of the registry
        return ""
    return languages.lookup(label) or ""


class Cld3Backend:
    """CLD3: one (code, probability) per text."""

    name = "cld3"

    def __init__(self):
        import gcld3

        self._model = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
        self._find = self._model.FindLanguage
        self.knows = frozenset(c for c in (_code(l, _CLD3_LABELS) for l in CLD3_LABELS) if c) | {"zho_Hant"}

    def top(self, texts: list[str]) -> list[tuple[str, float]]:
        out = []
        find = self._find
        for t in texts:
            r = find(t)
            if r.language == "zh":                        # one label for both Chinese scripts: the text says which
                out.append((han_variant(t) or "zho_Hans", float(r.probability)))
            else:
                out.append((_code(r.language, _CLD3_LABELS), float(r.probability)) if r.language != "und" else ("", 0.0))
        return out


class LinguaBackend:
    """lingua over a chosen set of languages: {code: confidence} per text (confidences sum to 1)."""

    name = "lingua"

    def __init__(self):
        from lingua import Language

        self._by_code: dict[str, object] = {}
        for lang in Language.all():
            code = _code(lang.iso_code_639_3.name, _LINGUA_LABELS)
            if code:
                self._by_code[code] = lang
        self._by_code["zho_Hant"] = self._by_code["zho_Hans"]      # lingua's Chinese: either script
        self.knows = frozenset(self._by_code)

    @lru_cache(maxsize=64)
    def _detector(self, codes: frozenset[str]):
        from lingua import LanguageDetectorBuilder

        return LanguageDetectorBuilder.from_languages(*[self._by_code[c] for c in sorted(codes)]).build()

    def scores(self, texts: list[str], codes: frozenset[str]) -> list[dict[str, float]]:
        """Confidence per language of `codes` it knows (at least two), one dict per text."""
        codes = frozenset(c for c in codes if c in self._by_code)
        if len(codes) < 2:
            return [{} for _ in texts]
        det = self._detector(codes)
        code_of = {self._by_code[c]: c for c in sorted(codes, reverse=True)}    # zho_Hans wins where both are asked
        out = []
        for t in texts:
            out.append({code_of[v.language]: float(v.value) for v in det.compute_language_confidence_values(t)})
        return out


# CLD3's label set (from its model: the 107 languages of the gcld3 release).
CLD3_LABELS = ("af am ar be bg bn bs ca ceb co cs cy da de el en eo es et eu fa fi fil fr fy ga gd gl gu ha haw hi hmn "
               "hr ht hu hy id ig is it iw ja jv ka kk km kn ko ku ky la lb lo lt lv mg mi mk ml mn mr ms mt my ne "
               "nl no ny pa pl ps pt ro ru sd si sk sl sm sn so sq sr st su sv sw ta te tg th tr uk ur uz vi xh yi "
               "yo zh zu").split()


@lru_cache(maxsize=1)
def cld3() -> Cld3Backend:
    return Cld3Backend()


@lru_cache(maxsize=1)
def lingua() -> LinguaBackend:
    return LinguaBackend()
