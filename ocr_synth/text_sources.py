"""Offline text to render, per language, never another language's:

- running text (documents read in order): the shipped UDHR translations (`mixkit.lang.udhr`, 95 of
  the 100 languages), the recipe's own corpora (`ocr.text_files`: txt, jsonl, tsv or parquet files,
  or folders in the `wikimedia/wikipedia` layout as downloaded: `20231101.de/train-*.parquet`) and
  build captions;
- words (chart labels, grounding queries, and documents of languages without running text):
  Unicode CLDR strings via Babel (territory, language, currency, month, day and unit names,
  formatted dates and numbers). Every string is checked to be in the language's script and not
  an untranslated copy of an English value (CLDR inherits missing names from the root locale).

A language with no locale of its own gets no CLDR words, except where the locale is the same
language under another name or a labelled variety (`cldr_locale()` says which, and
`mixkit languages` shows it): Filipino for Tagalog, Akan for Twi, and Arabic as written in Egypt
(Modern Standard Arabic, a different variety) for Egyptian Arabic.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mixkit.core import storage
from mixkit.lang.languages import get, lookup, resolve
from mixkit.runtime.partitions import parquet_file, read_table
from mixkit.lang.writing_systems import matches_script

# FLORES code -> Babel locale where the ISO code alone is wrong or absent.
_LOCALE_OVERRIDES = {
    "zho_Hant": "zh_Hant", "zho_Hans": "zh_Hans", "azb_Arab": "az_Arab",
    "nob_Latn": "nb", "srp_Cyrl": "sr_Cyrl", "uzn_Latn": "uz_Latn", "pan_Guru": "pa_Guru",
    "snd_Arab": "sd_Arab", "pes_Arab": "fa", "lvs_Latn": "lv", "zsm_Latn": "ms", "swh_Latn": "sw",
    "als_Latn": "sq", "quy_Latn": "qu",
}
# No CLDR locale under the language's own code, but one for the same language under another name
# or a stated variety of it. Each is labelled wherever the text's origin is shown. Nothing else:
# Samoan gets no Tongan, Waray no Cebuano.
_LOCALE_VARIETIES = {
    "tgl_Latn": ("fil", "Filipino, the standardised form of Tagalog"),
    "twi_Latn": ("ak", "Akan, of which Twi is a variety"),
    "arz_Arab": ("ar_EG", "Modern Standard Arabic as used in Egypt: a different variety from Egyptian Arabic"),
}
HOW_TO_ADD_TEXT = ("add a text file for it to the recipe's ocr.text_files (e.g. {code}.txt with one paragraph "
                   "per line, or a jsonl/parquet file with 'lang' and 'text'), or set ocr.on_missing_text: skip")


class MissingTextError(ValueError):
    """A language has no text of its own to render; the message says how to supply some."""

_UNITS = ["length-kilometer", "length-meter", "length-centimeter", "mass-kilogram", "mass-gram",
          "duration-hour", "duration-minute", "duration-day", "duration-week", "duration-month",
          "duration-year", "volume-liter", "temperature-celsius", "speed-kilometer-per-hour",
          "area-square-meter", "digital-megabyte"]
_CODE_LIKE = re.compile(r"^(M\d+|[A-Z]{2,3}|[a-z]{2,3}|\W*)$")
_UNIT_ID = re.compile(r"[a-z]+-[a-z]+")   # root-locale fallback prints the unit id ("3 length-meter")
_ROOT_DATE = re.compile(r"\bM\d\d\b")      # root-locale date pattern ("2024 M01 5, Fri")


def cldr_locale(lang: str) -> tuple[str | None, str]:
    """(Babel locale id, how it was chosen: 'exact' | 'override' | 'variety:<what>' | 'none')."""
    from babel import localedata
    code = resolve(lang)
    avail = set(localedata.locale_identifiers())
    if code in _LOCALE_OVERRIDES and _LOCALE_OVERRIDES[code] in avail:
        return _LOCALE_OVERRIDES[code], "override"
    if code in _LOCALE_VARIETIES and _LOCALE_VARIETIES[code][0] in avail:
        loc, what = _LOCALE_VARIETIES[code]
        return loc, f"variety:{what}"
    L = get(code)
    for cand in (L.iso1, L.iso3):
        if cand and cand in avail:
            return cand, "exact"
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


@lru_cache(maxsize=1)
def _english_values() -> frozenset[str]:
    return frozenset(_english().values())


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """English day and month names (wide and abbreviated): a sign of an untranslated date."""
    return frozenset(v for k, v in _english().items() if k.startswith(("day:", "month:")) and len(v) >= 3)


def _clean(pairs: list[tuple[str, str]], lang: str, compare_english: bool) -> list[str]:
    eng = _english() if compare_english else {}
    eng_values = _english_values() if compare_english else frozenset()
    script = _expected_script(lang)
    seen: set[str] = set()
    out: list[str] = []
    for key, s in pairs:
        s = " ".join(str(s).split())
        if not s or len(s) > 60 or s in seen or _CODE_LIKE.match(s) or _UNIT_ID.search(s):
            continue
        if compare_english and (eng.get(key) == s or (s in eng_values and not key.startswith(("num:", "pct:")))):
            continue  # untranslated, inherited from root/English (also under another key: "Tue")
        if _ROOT_DATE.search(s) or (key.startswith("unit:") and sum(c.isalpha() for c in s) < 2):
            continue  # root-locale fallbacks: "2024 M01 5, Fri", "2 y"
        if compare_english and any(w in _english_words() for w in re.findall(r"\w+", s)):
            continue  # an English day or month name inside a formatted date
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
    return tuple(sorted(_clean(_raw_cldr(loc), code, compare_english=not english)))


def _paragraphs(text: str) -> list[str]:
    """A record's text as paragraphs: one per non-empty line, whitespace collapsed."""
    return [" ".join(l.split()) for l in str(text).splitlines() if l.strip()]


# ---- Wikipedia dumps in the wikimedia/wikipedia layout ------------------------------------------
# One folder per wiki, `<dump date>.<wiki code>` (20231101.de), holding train-NNNNN-of-NNNNN.parquet
# files with columns id, url, title, text.
_WIKI_FOLDER = re.compile(r"^\d{8}\.([a-z][a-z0-9-]*)$")
# Wiki codes that are not the language's ISO code (als is Alemannic on Wikipedia, not Albanian).
WIKI_CODES = {"als": "gsw_Latn", "simple": "eng_Latn", "no": "nob_Latn", "zh-yue": "yue_Hant",
              "zh-min-nan": "nan_Latn", "bat-smg": "sgs_Latn", "be-tarask": "bel_Cyrl", "fiu-vro": "vro_Latn",
              "roa-rup": "rup_Latn", "zh-classical": "lzh_Hant"}
# Lines that are not running text: table rows, templates, wiki and HTML markup, lists of links.
_MARKUP = re.compile(r"\{\{|\}\}|\{\||\|\}|^\s*[|!]|\|\||\[\[|\]\]|</?[a-zA-Z][^>]*>|^\s*[*#:;]|=={1,}|&[a-z]+;|\t")
_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_REF = re.compile(r"<ref[^>]*>.*?</ref>|<ref[^>]*/>", re.S)


def wiki_language(folder: str | Path) -> str | None:
    """FLORES code of a wikimedia/wikipedia folder (`20231101.de` -> deu_Latn); None if the name is not one."""
    m = _WIKI_FOLDER.match(storage.path(folder).name)
    if not m:
        return None
    code = m.group(1)
    found = WIKI_CODES.get(code) or lookup(code)
    if not found:
        raise ValueError(f"{folder}: Wikipedia '{code}' is no language the registry knows; "
                         "leave the folder out of ocr.text_files or rename it after a FLORES-200 code")
    return found


def clean_article(text: str, min_chars: int = 40) -> list[str]:
    """An article's running text as paragraphs: table rows, templates, markup, list items and short
    lines (headings, captions, references) dropped; links reduced to their text."""
    text = _LINK.sub(r"\1", _REF.sub("", str(text)))
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if len(line) < min_chars or _MARKUP.search(line):
            continue
        if sum(c.isalpha() for c in line) < 0.6 * len(line.replace(" ", "")):     # numbers, citations, data
            continue
        out.append(line)
    return out


def _wiki_files(folder):
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{folder}: no parquet files (expected train-00000-of-000NN.parquet as in "
                                "wikimedia/wikipedia)")
    return files


def expand_text_files(paths: list[str]) -> list[tuple]:
    """The recipe's ocr.text_files as (file, language from a wikimedia folder name or None):
    a wiki folder (`20231101.de`), or a folder holding several, stands for its parquet files.
    Paths or URLs (s3://bucket/wikipedia/20231101.de: storage.path), read in place."""
    out: list[tuple] = []
    for p in map(storage.path, paths):
        if p.is_dir():
            lang = wiki_language(p)
            if lang:
                out += [(f, lang) for f in _wiki_files(p)]
                continue
            wikis = sorted(d for d in p.iterdir() if d.is_dir() and _WIKI_FOLDER.match(d.name))
            if not wikis:
                raise FileNotFoundError(f"OCR text folder {p} holds no wikimedia/wikipedia folders "
                                        "(named like 20231101.de); list files or such folders in ocr.text_files")
            out += [(f, wiki_language(d)) for d in wikis for f in _wiki_files(d)]
        elif p.is_file():
            out.append((p, wiki_language(p.parent) if p.suffix == ".parquet" else None))
        else:
            raise FileNotFoundError(f"OCR text file {p} does not exist (listed in the recipe's ocr.text_files)")
    return out


def load_text_files(paths: list[str]) -> dict[str, list[str]]:
    """Paragraphs per language from the recipe's files, in file order (a document reads them in order).

    - `<lang>.txt` (stem is a language code or name): one paragraph per line;
    - `.jsonl`: objects with "lang" and "text" (a text's lines are paragraphs);
    - `.tsv`: two columns, lang and text;
    - `.parquet`: columns "lang" and "text", or only "text" in a file named after its language;
    - a `wikimedia/wikipedia` folder (`20231101.de/`, or a folder holding several): its parquet files,
      the language from the folder name, each article cleaned of markup and tables (`clean_article`).
    """
    pool: dict[str, list[str]] = {}
    for p, wiki_lang in expand_text_files(paths):
        if wiki_lang:
            if "text" not in parquet_file(p).schema_arrow.names:
                raise ValueError(f"{p}: expected the wikimedia/wikipedia columns id, url, title, text")
            got = pool.setdefault(wiki_lang, [])
            for batch in parquet_file(p).iter_batches(columns=["text"], batch_size=2048):
                for text in batch.column(0).to_pylist():
                    got.extend(clean_article(text or ""))
            continue
        if p.suffix == ".jsonl":
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        obj = json.loads(line)
                        pool.setdefault(resolve(obj["lang"]), []).extend(_paragraphs(obj["text"]))
                    except (ValueError, KeyError, TypeError) as e:
                        raise ValueError(f"{p}:{n}: expected a JSON object with 'lang' and 'text' ({e})") from e
        elif p.suffix == ".tsv":
            with io.TextIOWrapper(storage.open_read(p), encoding="utf-8") as fh:
                for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
                    if len(row) < 2:
                        raise ValueError(f"{p}:{n}: expected two tab-separated columns: lang, text")
                    pool.setdefault(resolve(row[0]), []).extend(_paragraphs(row[1]))
        elif p.suffix == ".parquet":
            cols = parquet_file(p).schema_arrow.names
            if "text" not in cols:
                raise ValueError(f"{p}: expected a 'text' column (and 'lang', or a file named after its language); "
                                 f"found {cols}")
            table = read_table(p, columns=[c for c in ("lang", "text") if c in cols]).to_pydict()
            if "lang" in table:
                langs = table["lang"]
            else:
                langs = [_lang_of_file(p)] * len(table["text"])
            for lang, text in zip(langs, table["text"]):
                if text:
                    pool.setdefault(resolve(lang), []).extend(_paragraphs(text))
        else:
            pool.setdefault(_lang_of_file(p), []).extend(_paragraphs(p.read_text(encoding="utf-8")))
    return pool


def _lang_of_file(p: Path) -> str:
    try:
        return resolve(p.stem)
    except ValueError as e:
        raise ValueError(f"{p}: name the file after its language, e.g. deu_Latn.txt ({e})") from e


# About what one document page holds (max_lines lines of some 60 characters): a passage of running
# text is a run of consecutive blocks of at least this many characters.
PAGE_CHARS = 800


def passage_starts(blocks: list[tuple[str, str]], page_chars: int = PAGE_CHARS) -> list[int]:
    """Indexes of the blocks where the pool's passages begin (disjoint runs of >= page_chars characters)."""
    starts, acc = [0] if blocks else [], 0
    for i, (_, t) in enumerate(blocks):
        acc += len(t)
        if acc >= page_chars and i + 1 < len(blocks):
            starts.append(i + 1)
            acc = 0
    return starts


@dataclass
class LangText:
    """What one language's documents and charts are made of."""

    blocks: list[tuple[str, str]] = field(default_factory=list)   # running text in order: ('h'|'p', text)
    words: list[str] = field(default_factory=list)                # short strings (CLDR)
    origin: list[str] = field(default_factory=list)               # e.g. ['udhr:hat_kreyol', 'cldr:ht']

    @property
    def empty(self) -> bool:
        return not self.blocks and not self.words

    def items(self) -> list[str]:
        """Every string, paragraphs first (the old flat pool)."""
        return [t for _, t in self.blocks] + self.words


def lang_text(lang: str, sources: list[str], files: dict[str, list[str]] | None = None,
              captions: dict[str, list[str]] | None = None) -> LangText:
    """One language's text from the named sources ('captions', 'text_files', 'udhr', 'cldr')."""
    from mixkit.lang import udhr

    out = LangText()
    for src in sources:
        if src == "captions" and captions and captions.get(lang):
            got = [("p", " ".join(t.split())) for t in captions[lang] if t and t.strip()]
            out.blocks += got
            out.origin += ["captions"] if got else []
        elif src == "text_files" and files and files.get(lang):
            out.blocks += [("p", t) for t in files[lang]]
            out.origin.append("text_files")
        elif src == "udhr" and udhr.blocks(lang):
            out.blocks += list(udhr.blocks(lang))
            out.origin.append(f"udhr:{udhr.sources()[lang][0]}")
        elif src == "cldr":
            words = list(cldr_strings(lang))
            if words:
                loc, how = cldr_locale(lang)
                out.words += words
                out.origin.append(f"cldr:{loc}" + (f" ({how[8:]})" if how.startswith("variety:") else ""))
    return out


def text_coverage(langs: list[str], sources: list[str], text_files: list[str] | None = None) -> dict[str, dict]:
    """Per language: {'origin', 'paragraphs', 'words', 'chars'} of its text from these sources."""
    files = load_text_files(text_files or []) if "text_files" in sources and text_files else {}
    out = {}
    for lang in langs:
        t = lang_text(resolve(lang), sources, files)
        out[resolve(lang)] = {"origin": "+".join(t.origin), "paragraphs": sum(k == "p" for k, _ in t.blocks),
                              "words": len(t.words), "chars": sum(len(x) for x in t.items())}
    return out


def file_languages(paths: list[str]) -> set[str]:
    """Languages the recipe's text files hold, read cheaply (file and folder names, 'lang' fields only)."""
    out: set[str] = set()
    for p, wiki_lang in expand_text_files(paths):
        if wiki_lang:
            out.add(wiki_lang)
        elif p.suffix == ".parquet":
            if "lang" in parquet_file(p).schema_arrow.names:
                out.update(resolve(x) for x in set(read_table(p, columns=["lang"]).column("lang").to_pylist()) if x)
            else:
                out.add(_lang_of_file(p))
        elif p.suffix in (".jsonl", ".tsv"):
            out.update(load_text_files([str(p)]))
        elif p.read_text(encoding="utf-8").strip():
            out.add(_lang_of_file(p))
    return out


def missing_text(langs: list[str], sources: list[str], text_files: list[str] | None = None) -> dict[str, str]:
    """{lang: message} for the languages these sources give no text at all (captions are not
    known before a build and count as none)."""
    from mixkit.lang import udhr

    in_files = file_languages(text_files or []) if "text_files" in sources else set()
    out = {}
    for lang in map(resolve, langs):
        if ("text_files" in sources and lang in in_files) or ("udhr" in sources and udhr.blocks(lang)) \
                or ("cldr" in sources and cldr_strings(lang)):
            continue
        out[lang] = (f"no {get(lang).name} ({lang}) text from ocr.text_sources {list(sources)}; "
                     + HOW_TO_ADD_TEXT.format(code=lang))
    return out
