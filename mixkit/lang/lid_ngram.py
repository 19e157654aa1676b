"""A character n-gram language model (multinomial naive Bayes over 1-4-grams) for the languages
fastText lid.176 has no label for, trained at first use on text that ships with mixkit.

Training text: the train half of the UDHR (`mixkit.lang.udhr.split`); CLDR strings (Babel) only for
languages with no UDHR text. Held-out paragraphs are never trained on: BENCHMARKS.md measures on
them. One model per script group, so a text is only compared with languages written in its script.
Training takes under a second per process (cached). N-grams are 64-bit hash keys computed with
numpy (no Python loop per character), looked up by binary search in the sorted vocabulary.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse

ORDERS = (1, 2, 3, 4)
MIN_COUNT = 2          # n-grams seen once over the whole group are noise (names, typos)
ALPHA = 0.5            # additive smoothing
_PRIME = np.uint64(1_000_003)


def _norm(text: str) -> str:
    return " " + " ".join(text.lower().split()) + " "


def _keys_of_codepoints(cps: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(order, keys) of all n-grams of a code point array: h_n = h_(n-1) * P + c, order in key % 8."""
    out, h = [], cps
    with np.errstate(over="ignore"):               # uint64 arithmetic wraps by design (a hash)
        for n in ORDERS:
            if n > 1:
                if len(h) < 2:
                    break
                h = h[:-1] * _PRIME + cps[n - 1:]
            out.append((n, h * np.uint64(8) + np.uint64(n)))
    return out


def ngram_keys(text: str) -> np.ndarray:
    """64-bit keys of the character 1-4-grams of the lower-cased text (word boundaries marked by
    spaces). Vectorised over the code points: no Python loop per character."""
    cps = np.frombuffer(_norm(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = [k for _, k in _keys_of_codepoints(cps)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _lookup(keys: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into the sorted `keys`, whether it is there) for each of `k`."""
    idx = np.searchsorted(keys, k)
    idx[idx >= len(keys)] = 0
    return idx, keys[idx] == k


class NgramModel:
    """Naive Bayes over character n-grams for one script group."""

    def __init__(self, texts: dict[str, list[str]]):
        self.langs = tuple(sorted(texts))
        per_lang = []
        for lang in self.langs:
            ks = [ngram_keys(t) for t in texts[lang]]
            per_lang.append(np.unique(np.concatenate(ks) if ks else np.zeros(0, np.uint64), return_counts=True))
        allk = np.concatenate([u for u, _ in per_lang])
        allc = np.concatenate([c for _, c in per_lang])
        uk, inv = np.unique(allk, return_inverse=True)
        self.keys = uk[np.bincount(inv, weights=allc) >= MIN_COUNT]
        mat = np.zeros((len(self.keys), len(self.langs)), dtype=np.float32)
        for j, (u, c) in enumerate(per_lang):
            idx, ok = _lookup(self.keys, u)
            mat[idx[ok], j] = c[ok]
        order = (self.keys % np.uint64(8)).astype(np.int8)
        # smoothed log P(n-gram | language), per order so each order is a proper distribution
        self.logp = np.empty_like(mat)
        for n in ORDERS:
            rows = order == n
            sub = mat[rows] + ALPHA
            self.logp[rows] = np.log(sub / sub.sum(axis=0, keepdims=True))

    def posteriors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Posteriors [len(texts), len(langs)] and known n-gram counts for many texts at once: one
        numpy pass over all their code points (texts joined by NUL; n-grams across it dropped),
        one sparse bag-of-n-grams matrix product."""
        n_txt, n_lang = len(texts), len(self.langs)
        if n_txt == 0:
            return np.zeros((0, n_lang)), np.zeros(0, dtype=np.int64)
        if n_txt == 1:
            # one text (the audit's per-sample check): no separators to mask, a gathered sum
            idx, ok = _lookup(self.keys, ngram_keys(texts[0]))
            idx = idx[ok]
            return self._posterior(self.logp[idx].sum(axis=0, dtype=np.float64)[None, :],
                                   np.array([len(idx)], dtype=np.int64))
        normed = [_norm(t) for t in texts]
        cps = np.frombuffer("\0".join(normed).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        owner_cp = np.repeat(np.arange(n_txt), [len(t) + 1 for t in normed])[:len(cps)]
        zeros = np.concatenate([[0], np.cumsum(cps == 0)])
        keys, owners = [], []
        for n, k in _keys_of_codepoints(cps):
            m = len(k)
            clean = zeros[n:n + m] - zeros[:m] == 0          # no separator inside the window
            keys.append(k[clean])
            owners.append(owner_cp[:m][clean])
        idx, ok = _lookup(self.keys, np.concatenate(keys))
        owner = np.concatenate(owners)[ok]
        idx = idx[ok]
        counts = np.bincount(owner, minlength=n_txt)
        # n-gram counts per text (sparse) times log-probabilities: a C loop, no gathered copy
        bag = scipy.sparse.csr_matrix((np.ones(len(idx), np.float32), (owner, idx)), shape=(n_txt, len(self.keys)))
        return self._posterior(np.asarray(bag @ self.logp, dtype=np.float64), counts)

    @staticmethod
    def _posterior(ll: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Naive Bayes is overconfident: temper by the number of n-grams (~ per-character evidence)
        z = (ll - ll.max(axis=1, keepdims=True)) / np.maximum(1.0, counts / 40.0)[:, None]
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p, counts

    def scores(self, text: str) -> tuple[np.ndarray, int]:
        """(posterior per language, number of known n-grams) for one text."""
        p, n = self.posteriors([text])
        return p[0], int(n[0])

    def predict(self, text: str) -> tuple[str, float, dict[str, float]]:
        """(top language, its posterior, {lang: posterior}) for one text."""
        p, n = self.scores(text)
        if n == 0:
            return "", 0.0, {}
        j = int(p.argmax())
        return self.langs[j], float(p[j]), dict(zip(self.langs, p.tolist()))


def _script_group(script: str) -> str:
    return {"Hans": "Hani", "Hant": "Hani", "Jpan": "Hani", "Hira": "Hani", "Kana": "Hani"}.get(script, script)


def training_text(lang: str) -> tuple[list[str], str]:
    """(texts, source name) a language's n-gram profile is trained on; ([], '') when none ships."""
    from mixkit.lang import udhr

    train, _ = udhr.split(lang)
    if train:
        return list(train), f"udhr:{udhr.sources()[lang][0]}"
    from ocr_synth.text_sources import cldr_locale, cldr_strings

    words = list(cldr_strings(lang))
    return (words, f"cldr:{cldr_locale(lang)[0]}") if words else ([], "")


@lru_cache(maxsize=1)
def group_models() -> dict[str, NgramModel]:
    """One model per script group over the study's 100 languages (those with shipped text)."""
    from mixkit.lang.languages import centurio_languages

    by_group: dict[str, dict[str, list[str]]] = {}
    for L in centurio_languages():
        texts, _ = training_text(L.code)
        if texts:
            by_group.setdefault(_script_group(L.script), {})[L.code] = texts
    return {g: NgramModel(t) for g, t in by_group.items()}


def model_for_script(script: str) -> NgramModel | None:
    return group_models().get(_script_group(script))


def model_for_lang(lang: str) -> NgramModel | None:
    from mixkit.lang.languages import get

    m = model_for_script(get(lang).script)
    return m if m is not None and lang in m.langs else None
