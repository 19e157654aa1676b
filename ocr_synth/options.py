"""Recipe options of the OCR synthesis stage (`steps.ocr:` in a recipe), and the quotas they imply."""
from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mixkit.lang.languages import ENGLISH, get, resolve

TASKS = ("ocr", "ocr_line", "ocr_grounding", "chart_qa")
TEXT_SOURCES = ("captions", "text_files", "udhr", "cldr")


class OcrOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # Quotas (the study's pre-training OCR data: 500k English, 10k per non-Latin-script
    # language, 5k per other language; "latin_down" halves Latin-script languages to 2.5k).
    english: int = Field(500_000, ge=0)
    non_latin: int = Field(10_000, ge=0)
    latin: int = Field(5_000, ge=0)
    variant: Literal["default", "latin_down"] = "default"
    scale: float = Field(1.0, gt=0, description="multiplies every quota (small test builds)")
    per_lang: dict[str, int] = Field(default_factory=dict, description="{code: n} overrides")
    # Share of each task among a language's samples (normalised).
    tasks: dict[str, float] = Field(default_factory=lambda: {"ocr": 0.7, "ocr_line": 0.1,
                                                             "ocr_grounding": 0.1, "chart_qa": 0.1})
    # Image geometry: width drawn uniformly from the range; height from the aspect range.
    width: tuple[int, int] = (720, 1280)
    aspect: tuple[float, float] = (0.6, 1.4)   # height / width
    font_size: tuple[int, int] = (18, 44)      # px at 1000 px width, scaled with the width
    jpeg_quality: tuple[int, int] = (70, 95)
    max_lines: int = Field(14, ge=1)
    augment: bool = True                         # rotation, blur, noise, JPEG artefacts
    prompts_in_target_language: bool = False
    # Where the text comes from, in this order: running text (captions, the recipe's corpora, the
    # shipped UDHR) and CLDR words. Never another language's text (see ocr_synth/text_sources.py).
    text_sources: list[Literal["captions", "text_files", "udhr", "cldr"]] = Field(
        default_factory=lambda: ["captions", "text_files", "udhr", "cldr"])
    text_files: list[str] = Field(default_factory=list)
    # A language the sources give no text: "fail" stops the build with how to supply some;
    # "skip" renders nothing for it and reports the skip (ocr_plan, the build log).
    on_missing_text: Literal["fail", "skip"] = "fail"

    @field_validator("per_lang")
    @classmethod
    def _codes(cls, v: dict[str, int]) -> dict[str, int]:
        out = {}
        for k, n in v.items():
            if n < 0:
                raise ValueError(f"per_lang[{k}] must be >= 0, got {n}")
            out[resolve(k)] = int(n)
        return out

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [t for t in v if t not in TASKS]
        if bad:
            raise ValueError(f"unknown OCR task(s) {bad}; valid: {', '.join(TASKS)}")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("task shares must be >= 0 and not all zero")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> "OcrOptions":
        for name in ("width", "aspect", "font_size", "jpeg_quality"):
            lo, hi = getattr(self, name)
            if lo > hi or lo <= 0:
                raise ValueError(f"{name} must be a (low, high) range with 0 < low <= high, got {(lo, hi)}")
        if self.jpeg_quality[1] > 100:
            raise ValueError("jpeg_quality must be <= 100")
        return self


def ocr_plan(options: OcrOptions, langs: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """(quotas, skipped {lang: why}): the study's quotas after checking every language has text of
    its own. Raises MissingTextError (saying how to supply text) when one has none and
    on_missing_text is "fail"; with "skip" its quota is 0, it is listed in `skipped` and logged."""
    from ocr_synth.text_sources import MissingTextError, missing_text

    quotas = _study_quotas(options, langs)
    wanted = [c for c, n in quotas.items() if n > 0]
    missing = missing_text(wanted, list(options.text_sources), options.text_files) if wanted else {}
    if missing and options.on_missing_text == "fail":
        raise MissingTextError("OCR: " + "; ".join(missing.values()))
    for c in missing:
        quotas[c] = 0
    new = sorted(set(missing) - _REPORTED)
    if new:
        _REPORTED.update(new)
        logging.getLogger(__name__).warning("OCR skips %d language(s) with no text (ocr.on_missing_text: skip): %s",
                                            len(new), ", ".join(new))
    return quotas, missing


# A language whose text pool would be rendered more than this many times over warns (build summary, manifest).
REUSE_WARN = 3.0


def text_reuse(options: OcrOptions, quotas: dict[str, int]) -> dict[str, dict]:
    """Per language with a quota: {documents, passages, reuse, origin}: how many times its text pool would
    be read over at the planned quota (documents / distinct passages; None without text). Build captions
    are not known yet and do not count."""
    from ocr_synth.text_sources import PAGE_CHARS, lang_text, load_text_files, passage_starts

    sources = [s for s in options.text_sources if s != "captions"]
    files = load_text_files(options.text_files) if "text_files" in sources and options.text_files else {}
    doc_share = sum(w for t, w in options.tasks.items() if t != "chart_qa") / sum(options.tasks.values())
    out = {}
    for lang, n in sorted(quotas.items()):
        if n <= 0:
            continue
        lt = lang_text(lang, sources, files)
        docs = round(n * doc_share)
        if lt.blocks:
            passages = len(passage_starts(lt.blocks))
        else:                                     # word lists only: pages of random words
            passages = sum(len(w) + 1 for w in lt.words) // PAGE_CHARS if lt.words else 0
            passages = max(passages, 1) if lt.words else 0
        out[lang] = {"documents": docs, "passages": passages, "origin": "+".join(lt.origin),
                     "reuse": round(docs / passages, 2) if passages else None}
    return out


def reuse_warning(reuse: dict[str, dict], threshold: float = REUSE_WARN) -> str:
    """One line naming the languages whose text would be reused more than `threshold` times ('' if none)."""
    over = sorted(((l, r) for l, r in reuse.items() if r["reuse"] and r["reuse"] > threshold),
                  key=lambda kv: (-kv[1]["reuse"], kv[0]))
    if not over:
        return ""
    shown = ", ".join(f"{l} {r['reuse']:.1f}x ({r['documents']} documents, {r['passages']} passages)" for l, r in over[:8])
    return (f"OCR text of {len(over)} language(s) would be reused more than {threshold:g}x at the planned quota: "
            f"{shown}{', ...' if len(over) > 8 else ''}. A model trained on it learns the text, not reading: add "
            "running text to ocr.text_files (e.g. a wikimedia/wikipedia folder such as 20231101.de/) or lower the quotas")


def reuse_report(options: OcrOptions, quotas: dict[str, int]) -> dict:
    """{threshold, warning, by_lang} for a build's manifest and summary; the warning is also logged."""
    reuse = text_reuse(options, quotas)
    warning = reuse_warning(reuse)
    if warning:
        logging.getLogger(__name__).warning(warning)
    return {"threshold": REUSE_WARN, "warning": warning, "by_lang": reuse}


_REPORTED: set[str] = set()     # skips already logged in this process (plan, dry run and build all ask)


def ocr_quotas(options: OcrOptions, langs: list[str]) -> dict[str, int]:
    """Samples per language (see ocr_plan): a language with no text fails or gets 0, as the recipe says."""
    return ocr_plan(options, langs)[0]


def _study_quotas(options: OcrOptions, langs: list[str]) -> dict[str, int]:
    """Samples per language: English / non-Latin / Latin defaults, the variant, scale and overrides."""
    latin = options.latin // 2 if options.variant == "latin_down" else options.latin
    out: dict[str, int] = {}
    for name in langs:
        code = resolve(name)
        if code in options.per_lang:
            n = options.per_lang[code]
        elif code == ENGLISH:
            n = round(options.english * options.scale)
        elif get(code).latin_script:
            n = round(latin * options.scale)
        else:
            n = round(options.non_latin * options.scale)
        out[code] = int(n)
    return out
