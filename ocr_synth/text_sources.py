"""Offline text to render: Unicode CLDR strings via Babel, the recipe's text files, build captions.

CLDR gives real words of about 300 languages (territory, language, currency, month, day and
unit names, formatted dates and numbers). Every string is checked to be in the language's
script and not an untranslated copy of the English value (CLDR inherits missing names from
the root locale). Languages without a CLDR locale use a related one; `cldr_locale()` says which.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

from mixkit.languages import get, resolve
from mixkit.scripts import matches_script

# FLORES code -> Babel locale where the ISO code alone is wrong or absent.
_LOCALE_OVERRIDES = {
    "zho_Hant": "zh_Hant", "zho_Hans": "zh_Hans", "arz_Arab": "ar_EG", "azb_Arab": "az_Arab",
    "nob_Latn": "nb", "srp_Cyrl": "sr_Cyrl", "uzn_Latn": "uz_Latn", "pan_Guru": "pa_Guru",
    "snd_Arab": "sd_Arab", "pes_Arab": "fa", "lvs_Latn": "lv", "zsm_Latn": "ms", "swh_Latn": "sw",
    "als_Latn": "sq", "quy_Latn": "qu",
}
# No CLDR locale of its own: the closest one with data, recorded as a fallback.
#   tgl: Filipino is standardised Tagalog; twi: Twi is a dialect of Akan (ak);
#   war: Waray is a Bisayan language like Cebuano; smo: Tongan is the nearest Polynesian locale.
_LOCALE_FALLBACKS = {"tgl_Latn": "fil", "twi_Latn": "ak", "war_Latn": "ceb", "smo_Latn": "to"}
# Sparse locales get the related locale's strings added (same script); recorded as well.
_SUPPLEMENTS = {"azb_Arab": "fa"}
MIN_CLDR_STRINGS = 60

_UNITS = ["length-kilometer", "length-meter", "length-centimeter", "mass-kilogram", "mass-gram",
          "duration-hour", "duration-minute", "duration-day", "duration-week", "duration-month",
          "duration-year", "volume-liter", "temperature-celsius", "speed-kilometer-per-hour",
          "area-square-meter", "digital-megabyte"]
_CODE_LIKE = re.compile(r"^(M\d+|[A-Z]{2,3}|[a-z]{2,3}|\W*)$")
_UNIT_ID = re.compile(r"[a-z]+-[a-z]+")   # root-locale fallback prints the unit id ("3 length-meter")


def cldr_locale(lang: str) -> tuple[str | None, str]:
    """(Babel locale id, how it was chosen: 'exact' | 'override' | 'fallback:<why>' | 'none')."""
    from babel import localedata
    code = resolve(lang)
    avail = set(localedata.locale_identifiers())
    if code in _LOCALE_OVERRIDES and _LOCALE_OVERRIDES[code] in avail:
        return _LOCALE_OVERRIDES[code], "override"
    L = get(code)
    for cand in (L.iso1, L.iso3):
        if cand and cand in avail:
            return cand, "exact"
    if code in _LOCALE_FALLBACKS:
        return _LOCALE_FALLBACKS[code], f"fallback:{_LOCALE_FALLBACKS[code]} (no CLDR locale for {code})"
    return None, "none"


def _expected_script(lang: str) -> str:
    return get(lang).script


def _raw_cldr(locale_id: str) -> list[tuple[str, str]]:
    """(key, string) pairs from one CLDR locale; keys let us compare against English."""
    from babel import Locale
    from babel.dates import format_date
    from babel.numbers import format_currency, format_decimal, format_percent
    from babel.units import format_unit

    L = Locale.parse(locale_id)
    out: list[tuple[str, str]] = []
    for kind, table in (("terr", L.territories), ("lang", L.languages), ("script", L.scripts),
                        ("cur", L.currencies)):
        out += [(f"{kind}:{k}", v) for k, v in table.items()]
    for ctx in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            out += [(f"month:{ctx}:{width}:{k}", v) for k, v in L.months.get(ctx, {}).get(width, {}).items()]
            out += [(f"day:{ctx}:{width}:{k}", v) for k, v in L.days.get(ctx, {}).get(width, {}).items()]
    for tz, d in L.time_zones.items():
        if isinstance(d, dict) and d.get("city"):
            out.append((f"city:{tz}", d["city"]))
    # Formatted values: real phrases with the locale's own digits, separators and word order.
    for i, day in enumerate([dt.date(2024, 1, 5), dt.date(2023, 6, 17), dt.date(2025, 11, 28), dt.date(2022, 3, 9)]):
        for fmt in ("full", "long"):
            try:
                out.append((f"date:{i}:{fmt}", format_date(day, fmt, locale=L)))
            except Exception:  # noqa: BLE001 - sparse locales lack some patterns
                pass
    for i, (n, unit) in enumerate(zip([3, 12, 250, 7.5, 42, 1, 90, 18, 5, 60, 2, 25, 100, 80, 15, 512], _UNITS)):
        for width in ("long", "short"):
            try:
                out.append((f"unit:{unit}:{width}", format_unit(n, unit, width, locale=L)))
            except Exception:  # noqa: BLE001
                pass
    for i, n in enumerate([1234.5, 98765, 3.14159, 2024, 0.75, 15000000]):
        out.append((f"num:{i}", format_decimal(n, locale=L)))
    out.append(("pct:0", format_percent(0.42, locale=L)))
    for cur in ("EUR", "USD"):
        try:
            out.append((f"money:{cur}", format_currency(1299.99, cur, locale=L)))
        except Exception:  # noqa: BLE001
            pass
    return out


@lru_cache(maxsize=1)
def _english() -> dict[str, str]:
    return dict(_raw_cldr("en"))


def _clean(pairs: list[tuple[str, str]], lang: str, compare_english: bool) -> list[str]:
    eng = _english() if compare_english else {}
    script = _expected_script(lang)
    seen: set[str] = set()
    out: list[str] = []
    for key, s in pairs:
        s = " ".join(str(s).split())
        if not s or len(s) > 60 or s in seen or _CODE_LIKE.match(s) or _UNIT_ID.search(s):
            continue
        if compare_english and eng.get(key) == s:
            continue  # untranslated, inherited from root/English
        if not any(c.isalpha() for c in s) and not key.startswith(("num:", "pct:", "money:")):
            continue
        if not matches_script(s, script, min_share=0.95):
            continue
        seen.add(s)
        out.append(s)
    return out


@lru_cache(maxsize=None)
def cldr_strings(lang: str) -> tuple[str, ...]:
    """Real strings of `lang` from CLDR (sorted, deterministic). Empty when no locale fits."""
    code = resolve(lang)
    loc, _ = cldr_locale(code)
    if loc is None:
        return ()
    english = code == "eng_Latn"
    strings = _clean(_raw_cldr(loc), code, compare_english=not english)
    if len(strings) < MIN_CLDR_STRINGS and code in _SUPPLEMENTS:
        strings += [s for s in _clean(_raw_cldr(_SUPPLEMENTS[code]), code, True) if s not in strings]
    return tuple(sorted(strings))


def cldr_report(langs: list[str]) -> dict[str, dict]:
    """Per language: the locale used, how it was chosen, and how many strings it gave."""
    rep = {}
    for lang in langs:
        loc, how = cldr_locale(lang)
        if lang in _SUPPLEMENTS:
            how += f"+supplement:{_SUPPLEMENTS[lang]}"
        rep[lang] = {"locale": loc, "how": how, "strings": len(cldr_strings(lang))}
    return rep


def load_text_files(paths: list[str]) -> dict[str, list[str]]:
    """Texts per language from the recipe's files.

    - `<lang>.txt` (stem is a language code or name): one text per line;
    - `.jsonl`: objects with "lang" and "text";
    - `.tsv`: two columns, lang and text.
    """
    pool: dict[str, list[str]] = {}
    for p in map(Path, paths):
        if not p.is_file():
            raise FileNotFoundError(f"OCR text file {p} does not exist (listed in the recipe's ocr.text_files)")
        if p.suffix == ".jsonl":
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        obj = json.loads(line)
                        pool.setdefault(resolve(obj["lang"]), []).append(str(obj["text"]))
                    except (ValueError, KeyError) as e:
                        raise ValueError(f"{p}:{n}: expected a JSON object with 'lang' and 'text' ({e})") from e
        elif p.suffix == ".tsv":
            with p.open(encoding="utf-8") as fh:
                for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
                    if len(row) < 2:
                        raise ValueError(f"{p}:{n}: expected two tab-separated columns: lang, text")
                    pool.setdefault(resolve(row[0]), []).append(row[1])
        else:
            try:
                lang = resolve(p.stem)
            except ValueError as e:
                raise ValueError(f"{p}: name the file after its language, e.g. deu_Latn.txt ({e})") from e
            pool.setdefault(lang, []).extend(l for l in p.read_text(encoding="utf-8").splitlines() if l.strip())
    return pool


def build_text_pool(langs: list[str], sources: list[str], text_files: list[str] | None = None,
                    captions: dict[str, list[str]] | None = None) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Texts per language from the named sources ('captions', 'text_files', 'cldr'), in that order.

    Returns (pool, origin) where origin[lang] names the sources that gave text, e.g. 'cldr:fil'.
    """
    files = load_text_files(text_files or []) if "text_files" in sources and text_files else {}
    pool: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    for lang in langs:
        items: list[str] = []
        used: list[str] = []
        for src in sources:
            got: list[str] = []
            if src == "captions" and captions:
                got = [" ".join(t.split()) for t in captions.get(lang, []) if t and t.strip()]
            elif src == "text_files":
                got = [" ".join(t.split()) for t in files.get(lang, [])]
            elif src == "cldr":
                got = list(cldr_strings(lang))
            if got:
                loc, how = cldr_locale(lang) if src == "cldr" else (None, "")
                used.append(f"cldr:{loc}" if src == "cldr" else src)
                items += got
        pool[lang] = list(dict.fromkeys(items))
        origin[lang] = "+".join(used)
    return pool, origin
