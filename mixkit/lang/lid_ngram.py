"""A character n-gram language model (multinomial naive Bayes over 1-4-grams) for all of the study's
languages, one voter of the language check (mixkit/lang/lid.py) and the only one for the languages
no other detector knows (Wolof, Bambara, Tigrinya, ...). Trained at first use on text that ships
with mixkit or its dependencies, never on the held-out sets the benchmarks measure on:

- the train two thirds of the UDHR (`mixkit.lang.udhr.split`);
- word frequencies from `wordfreq` (Wikipedia, subtitles, news, web text; CC-BY-SA 4.0), for the
  languages it covers, each word weighted by its frequency;
- CLDR strings (Babel: names of languages, territories, months, formatted dates; Unicode licence);
- for Occitan, Croatian, Bosnian and their Romance and Slavic neighbours (UI_TEXT_LANGS), human translations
  of desktop programs from Debian (mixkit/data/ui_text, built by scripts/extract_lid_ui_text.py; GPL/LGPL).

Each source's n-gram counts get a fixed share of a language's mass (SOURCE_WEIGHTS), so a large word
list does not drown the running text. Languages often typed without their diacritics (Yoruba,
Vietnamese, Hausa, Igbo) also learn their text with the marks stripped.
One model per script group, so a text is only compared with languages written in its script.
Training takes about 4 s (most of it reading CLDR through Babel); the trained arrays are cached on disk
($MIXKIT_CACHE_DIR/lid_ngram/<hash of the training inputs>, memory-mapped), so a process loads them. N-grams are 64-bit hash keys computed with
numpy (no Python loop per character), looked up by binary search in the sorted vocabulary.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse

ORDERS = (1, 2, 3, 4)
MIN_COUNT = 2          # n-grams seen once over the whole group are noise (names, typos)
# Additive smoothing. 0.5 flattened the profiles learned from little text (a UDHR and a few CLDR strings) more
# than the rich ones over a vocabulary of every language's n-grams: Swati's software texts went to Zulu (tuning
# third: Swati sentences right 67% at 0.5, 82% at 0.1; every language's mean right share up too).
ALPHA = 0.1
_PRIME = np.uint64(1_000_003)


# Ethiopic word space (፡) separates words in older and formal Amharic (the UDHR) where modern text
# uses spaces: the model must not learn the separator as a sign of the language.
_WORD_SPACES = str.maketrans({"\u1361": " "})


def _norm(text: str) -> str:
    return " " + " ".join(text.translate(_WORD_SPACES).lower().split()) + " "


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


def _joined_keys(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(keys, owner) of the n-grams of many texts in one numpy pass: texts joined by NUL, n-grams
    across a separator dropped, owner = index of the text each n-gram comes from."""
    normed = [_norm(t) for t in texts]
    cps = np.frombuffer("\0".join(normed).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner_cp = np.repeat(np.arange(len(texts)), [len(t) + 1 for t in normed])[:len(cps)]
    zeros = np.concatenate([[0], np.cumsum(cps == 0)])
    keys, owners = [], []
    for n, k in _keys_of_codepoints(cps):
        m = len(k)
        clean = zeros[n:n + m] - zeros[:m] == 0          # no separator inside the window
        keys.append(k[clean])
        owners.append(owner_cp[:m][clean])
    return np.concatenate(keys), np.concatenate(owners)


def _weighted_counts(texts: list[str], weights: list[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """(unique keys, summed weight) of the n-grams of texts, each text counted `weights[i]` times."""
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(0)
    keys, owner = _joined_keys(texts)
    w = np.ones(len(texts)) if weights is None else np.asarray(weights, dtype=np.float64)
    uk, inv = np.unique(keys, return_inverse=True)
    return uk, np.bincount(inv, weights=w[owner], minlength=len(uk))


class NgramModel:
    """Naive Bayes over character n-grams for one script group.

    texts: {lang: [text, ...]} or {lang: [(source texts, per-text weights or None, share), ...]}: each
    source's n-gram mass is scaled to its share of the language's (the raw n-gram count of all of them).
    """

    def __init__(self, texts: dict[str, list]):
        self.langs = tuple(sorted(texts))
        per_lang = []
        for lang in self.langs:
            parts = texts[lang]
            if parts and isinstance(parts[0], str):
                parts = [(parts, None, 1.0)]
            raw = sum(sum(len(_norm(t)) for t in ts) * len(ORDERS) for ts, _, _ in parts)  # ~ n-gram count
            shares = sum(share for ts, _, share in parts if ts)
            counted = []
            for ts, ws, share in parts:
                if ts:
                    uk, c = _weighted_counts(ts, ws)
                    counted.append((uk, c * (raw * share / shares / max(c.sum(), 1e-9))))
            allk = np.concatenate([u for u, _ in counted]) if counted else np.zeros(0, np.uint64)
            allc = np.concatenate([c for _, c in counted]) if counted else np.zeros(0)
            uk, inv = np.unique(allk, return_inverse=True)
            per_lang.append((uk, np.bincount(inv, weights=allc, minlength=len(uk))))
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

    @classmethod
    def from_arrays(cls, langs: tuple[str, ...], keys: np.ndarray, logp: np.ndarray) -> "NgramModel":
        """A trained model from its arrays (the on-disk cache): sorted n-gram keys, log P(n-gram | language)."""
        if keys.ndim != 1 or logp.shape != (len(keys), len(langs)):
            raise ValueError(f"n-gram model arrays do not fit: {keys.shape} keys, {logp.shape} log-probabilities, "
                             f"{len(langs)} languages")
        m = cls.__new__(cls)
        m.langs, m.keys, m.logp = langs, keys, logp
        return m

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
        keys, owner = _joined_keys(texts)
        idx, ok = _lookup(self.keys, keys)
        owner = owner[ok]
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


# Share of a language's n-gram mass per source (renormalised over the sources it has).
SOURCE_WEIGHTS = {"udhr": 1.0, "wordfreq": 1.0, "cldr": 0.3, "ui": 1.0}
# Languages that also learn from desktop translations (mixkit/data/ui_text). Whole families or none: a language
# with software text next to a neighbour without it takes that neighbour's software text (Swati fell from 71%
# to 5% right when Zulu and Xhosa had some and it had none). Occitan (read as Catalan from the UDHR alone: 55%
# right on the tuning third, 93% with these) and its Romance neighbours; Croatian and Bosnian and the Slavic
# languages written in Latin letters. Chosen on the tuning third of the held-out set (benchmarks/lid_tune.py).
UI_TEXT_LANGS = frozenset({"oci_Latn", "cat_Latn", "spa_Latn", "por_Latn", "glg_Latn", "fra_Latn", "ita_Latn",
                           "srd_Latn", "ron_Latn", "hrv_Latn", "bos_Latn", "slv_Latn", "ces_Latn", "slk_Latn",
                           "pol_Latn"})
WORDFREQ_WORDS = 5000
# Languages often typed without their tone marks or diacritics: learned both ways (share of the plain copy).
STRIPPED_TOO = {"yor_Latn": 0.7, "vie_Latn": 0.5, "hau_Latn": 0.5, "ibo_Latn": 0.7}
# wordfreq's code where it is not the language's ISO 639-1. Its 'sh' (Serbo-Croatian in Latin letters) serves
# Croatian and Bosnian alike, written the same (a close pair): without it the model, knowing Slovenian from a
# word list and these two from the UDHR only, read their short texts as Slovenian. Serbian here is Cyrillic.
_WORDFREQ = {"tgl_Latn": "fil", "nob_Latn": "nb", "zsm_Latn": "ms", "zho_Hant": None, "srp_Cyrl": None,
             "hrv_Latn": "sh", "bos_Latn": "sh"}


def strip_marks(text: str) -> str:
    """The text without combining marks (ẹ̀ -> e, ệ -> e, ɓ stays): how it is often typed."""
    import unicodedata

    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text)
                                                 if not unicodedata.combining(c)))


@lru_cache(maxsize=None)
def wordfreq_words(lang: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(top words, frequencies) of a language from wordfreq; ((), ()) when it has no list."""
    code = _wordfreq_code(lang)
    if not code:
        return (), ()
    import wordfreq

    # the table itself, in frequency bins of one centibel (word_frequency() would tokenise each word,
    # and needs MeCab for Japanese)
    words, freqs = [], []
    for i, bin_words in enumerate(wordfreq.get_frequency_list(code, wordlist="small")):
        words += bin_words
        freqs += [10 ** (-i / 100)] * len(bin_words)
        if len(words) >= WORDFREQ_WORDS:
            break
    return tuple(words[:WORDFREQ_WORDS]), tuple(freqs[:WORDFREQ_WORDS])


def ui_text(lang: str, any_lang: bool = False) -> list[str]:
    """The desktop translations a language's n-gram profile learns from (mixkit/data/ui_text/<code>.txt): [] for a
    language not in UI_TEXT_LANGS; any_lang: the file of any language (lid_pairs' word models). A file that should
    be there and is not is an error: a model trained without it would be silently worse."""
    from importlib import resources

    if not (any_lang or lang in UI_TEXT_LANGS):
        return []
    f = resources.files("mixkit").joinpath("data", "ui_text", f"{lang}.txt")
    if not f.is_file():
        raise FileNotFoundError(f"{f} is missing: the language check's desktop text for {lang} did not come with this "
                                "install of mixkit; reinstall mixkit, or rebuild it with scripts/extract_lid_ui_text.py")
    return f.read_text(encoding="utf-8").splitlines()


def training_sources(lang: str) -> list[tuple[str, list[str], list[float] | None, float]]:
    """[(source name, texts, per-text weights or None, share)] a language's n-gram profile learns from."""
    from mixkit.lang import udhr
    from ocr_synth.text_sources import cldr_locale, cldr_strings

    out = []
    train, _ = udhr.split(lang)
    if train:
        out.append((f"udhr:{udhr.sources()[lang][0]}", list(train), None, SOURCE_WEIGHTS["udhr"]))
    words, freqs = wordfreq_words(lang)
    if words:
        out.append(("wordfreq", list(words), list(freqs), SOURCE_WEIGHTS["wordfreq"]))
    cldr = list(cldr_strings(lang))
    if cldr:
        out.append((f"cldr:{cldr_locale(lang)[0]}", cldr, None, SOURCE_WEIGHTS["cldr"]))
    ui = ui_text(lang)
    if ui:
        out.append(("ui:debian", ui, None, SOURCE_WEIGHTS["ui"]))
    if lang in STRIPPED_TOO:
        out += [(f"{name} (no marks)", [strip_marks(t) for t in ts], ws, share * STRIPPED_TOO[lang])
                for name, ts, ws, share in list(out)]
    return out


def _wordfreq_code(lang: str) -> str | None:
    from mixkit.lang.languages import get

    code = _WORDFREQ.get(lang, get(lang).iso1)
    if not code:
        return None
    import wordfreq

    return code if code in wordfreq.available_languages(wordlist="small") else None


@lru_cache(maxsize=None)
def source_names(lang: str) -> str:
    """The names of the texts a language's profile learns from, joined by '+' (what `training_text` names),
    without reading them: the language check names them per language, and reading CLDR takes Babel ~50 ms."""
    from mixkit.lang import udhr
    from ocr_synth.text_sources import cldr_locale

    names = []
    if udhr.split(lang)[0]:
        names.append(f"udhr:{udhr.sources()[lang][0]}")
    if _wordfreq_code(lang):
        names.append("wordfreq")
    locale = cldr_locale(lang)[0]
    if locale:
        names.append(f"cldr:{locale}")
    if ui_text(lang):
        names.append("ui:debian")
    return "+".join(names)


def training_text(lang: str) -> tuple[list[str], str]:
    """(texts, source names joined by '+') a language's n-gram profile is trained on; ([], '') when none ships."""
    sources = [s for s in training_sources(lang) if "(no marks)" not in s[0]]
    return [t for _, ts, _, _ in sources for t in ts], "+".join(name for name, _, _, _ in sources)


def build_group_models() -> dict[str, NgramModel]:
    """One model per script group over the study's 100 languages (those with shipped text), trained now."""
    from mixkit.lang.languages import centurio_languages

    by_group: dict[str, dict[str, list]] = {}
    for L in centurio_languages():
        parts = [(ts, ws, share) for _, ts, ws, share in training_sources(L.code)]
        if parts:
            by_group.setdefault(_script_group(L.script), {})[L.code] = parts
    return {g: NgramModel(t) for g, t in by_group.items()}


@lru_cache(maxsize=1)
def group_models() -> dict[str, NgramModel]:
    """The trained models, from the on-disk cache when it holds this version (`model_cache_dir`), else
    trained (about 4 s, most of it reading CLDR through Babel) and written there for the next process."""
    folder = model_cache_dir()
    cached = load_models(folder)
    if cached is not None:
        return cached
    models = build_group_models()
    if folder.exists():                  # unreadable (cut short, or written by hand): replace it
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    save_models(models, folder)
    return models


# ---- on-disk cache: every Ray actor and audit worker would otherwise train the models again ----------
def _cache_key() -> str:
    """Hash of everything the models are trained from: this module's and the CLDR reader's code, the shipped
    UDHR and desktop text and language table, and the versions of wordfreq, Babel and numpy."""
    import hashlib
    from importlib import metadata, resources

    import ocr_synth.text_sources

    h = hashlib.sha256()
    for path in (__file__, ocr_synth.text_sources.__file__):
        with open(path, "rb") as fh:
            h.update(fh.read())
    data = resources.files("mixkit").joinpath("data")
    h.update(data.joinpath("languages.tsv").read_bytes())
    for folder in ("udhr", "ui_text"):
        for f in sorted(data.joinpath(folder).iterdir(), key=lambda f: f.name):
            h.update(f"{folder}/{f.name}".encode() + b"\0" + f.read_bytes())
    for dist in ("wordfreq", "babel", "numpy"):
        h.update(f"{dist}={metadata.version(dist)}".encode())
    return h.hexdigest()[:20]


def model_cache_dir() -> Path:
    """$MIXKIT_CACHE_DIR/lid_ngram/<hash of the training inputs>, else under ~/.cache/mixkit."""
    base = os.environ.get("MIXKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mixkit")
    return Path(base) / "lid_ngram" / _cache_key()


def save_models(models: dict[str, NgramModel], folder: Path) -> bool:
    """Write the models (one .npy per array) to a temporary folder beside `folder`, then rename it into place:
    a reader never sees half a cache, and of two processes writing at once one wins. False when the cache
    cannot be written (read-only home): the models then live in memory only."""
    import json
    import shutil
    import tempfile

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    except OSError:
        return False
    try:
        index = {}
        for i, (group, m) in enumerate(sorted(models.items())):
            np.save(tmp / f"{i}.keys.npy", m.keys)
            np.save(tmp / f"{i}.logp.npy", m.logp)
            index[group] = {"file": i, "langs": list(m.langs)}
        (tmp / "index.json").write_text(json.dumps(index), encoding="utf-8")
        os.rename(tmp, folder)
        return True
    except OSError:                       # another process renamed its copy first, or the disk is full
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_models(folder: Path) -> dict[str, NgramModel] | None:
    """The cached models, memory-mapped (processes on one machine share the pages); None when absent or unreadable."""
    import json

    try:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        return {group: NgramModel.from_arrays(tuple(e["langs"]), np.load(folder / f"{e['file']}.keys.npy", mmap_mode="r"),
                                              np.load(folder / f"{e['file']}.logp.npy", mmap_mode="r"))
                for group, e in index.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_for_script(script: str) -> NgramModel | None:
    return group_models().get(_script_group(script))


def model_for_lang(lang: str) -> NgramModel | None:
    from mixkit.lang.languages import get

    m = model_for_script(get(lang).script)
    return m if m is not None and lang in m.langs else None
