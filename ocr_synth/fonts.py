"""Fonts per script: discovery, coverage (fontTools cmap), shaping checks (raqm, uharfbuzz).

Fonts come from the installed PyPI wheels manimgx-fonts (Noto Sans per script) and
manimgx-fonts-cjk (one .ttc holding the JP/KR/SC/TC/HK faces), found through
importlib.resources. Scripts no wheel covers (Tibetan) are looked up in the system's font
folders, where Debian's `fonts-noto-core` puts Noto Serif Tibetan.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mixkit.lang.languages import COMPLEX_SCRIPTS, get

DOTTED_CIRCLE = 0x25CC

# Script (ISO 15924, as the language registry writes it) -> Noto file name in manimgx-fonts.
_WHEEL_FONTS = {
    "Latn": "NotoSans[wght].ttf", "Cyrl": "NotoSans[wght].ttf", "Grek": "NotoSans[wght].ttf",
    **{s: f"NotoSans{n}[wght].ttf" for s, n in {
        "Arab": "Arabic", "Armn": "Armenian", "Beng": "Bengali", "Deva": "Devanagari",
        "Ethi": "Ethiopic", "Geor": "Georgian", "Gujr": "Gujarati", "Guru": "Gurmukhi",
        "Hebr": "Hebrew", "Knda": "Kannada", "Khmr": "Khmer", "Laoo": "Lao", "Mlym": "Malayalam",
        "Mymr": "Myanmar", "Orya": "Oriya", "Sinh": "Sinhala", "Taml": "Tamil", "Telu": "Telugu",
        "Thai": "Thai",
    }.items()},
}
# Face index inside NotoSansCJK-VF.otf.ttc (0 JP, 1 KR, 2 SC, 3 TC, 4 HK): each language its
# own glyph forms (the same code point is drawn differently in Japan, Korea, China, Taiwan).
_CJK_FACES = {"Jpan": 0, "Hang": 1, "Kore": 1, "Hans": 2, "Hant": 3}
_CJK_FILE = "NotoSansCJK-VF.otf.ttc"
# Scripts no wheel ships: file names to look for in system font folders, best first.
_SYSTEM_FONTS = {
    "Tibt": ["NotoSerifTibetan-Regular.ttf", "NotoSansTibetan-Regular.ttf", "TibetanMachineUni.ttf"],
}
_SYSTEM_HINT = {"Tibt": "apt-get install fonts-noto-core  (Noto Serif Tibetan; or fonts-tibetan-machine)"}
_SYSTEM_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts"]


class FontUnavailableError(RuntimeError):
    """No installed font covers a script; the message says what to install."""


class ShapingUnavailableError(RuntimeError):
    """Pillow lacks raqm or FriBiDi, so complex scripts would be drawn unshaped."""


@dataclass(frozen=True)
class FontSpec:
    path: str
    index: int = 0           # face index inside a .ttc collection
    name: str = ""           # family name, for meta

    @property
    def label(self) -> str:
        return f"{Path(self.path).name}#{self.index}" if self.path.endswith((".ttc", ".otc")) else Path(self.path).name


def _wheel_file(package: str, name: str) -> str | None:
    try:
        p = resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        return None
    return str(p) if p.is_file() else None


def _system_dirs() -> list[Path]:
    extra = [d for d in os.environ.get("MIXKIT_FONT_DIRS", "").split(os.pathsep) if d]
    return [Path(os.path.expanduser(d)) for d in (*extra, *_SYSTEM_DIRS)]


@lru_cache(maxsize=None)
def _find_system_font(filename: str) -> str | None:
    for d in _system_dirs():
        if d.is_dir():
            for p in sorted(d.rglob(filename)):
                return str(p)
    return None


@lru_cache(maxsize=None)
def fonts_for_script(script: str) -> tuple[FontSpec, ...]:
    """Fonts to try for a script, best first; the last resort is Noto Sans (Latin digits, punctuation).

    Raises FontUnavailableError naming the package to install when nothing covers the script.
    """
    chain: list[FontSpec] = []
    if script in _CJK_FACES:
        p = _wheel_file("manimgx_fonts_cjk", _CJK_FILE)
        if p:
            chain.append(FontSpec(p, _CJK_FACES[script], f"Noto Sans CJK {script}"))
    elif script in _WHEEL_FONTS:
        p = _wheel_file("manimgx_fonts", _WHEEL_FONTS[script])
        if p:
            chain.append(FontSpec(p, 0, _WHEEL_FONTS[script].split("[")[0]))
    for fn in _SYSTEM_FONTS.get(script, []):
        p = _find_system_font(fn)
        if p:
            chain.append(FontSpec(p, 0, fn.rsplit(".", 1)[0]))
    if not chain:
        hint = _SYSTEM_HINT.get(script, "pip install manimgx-fonts manimgx-fonts-cjk")
        raise FontUnavailableError(
            f"no installed font covers script {script!r}; install one: {hint} "
            f"(or put a Noto font for it in a folder listed in MIXKIT_FONT_DIRS)")
    base = _wheel_file("manimgx_fonts", "NotoSans[wght].ttf")
    if base and all(f.path != base for f in chain):
        chain.append(FontSpec(base, 0, "NotoSans"))
    return tuple(chain)


def fonts_for_lang(lang: str) -> tuple[FontSpec, ...]:
    return fonts_for_script(get(lang).script)


@lru_cache(maxsize=None)
def cmap_of(spec: FontSpec) -> frozenset[int]:
    from fontTools.ttLib import TTFont
    f = TTFont(spec.path, fontNumber=spec.index, lazy=True) if spec.path.endswith((".ttc", ".otc")) \
        else TTFont(spec.path, lazy=True)
    return frozenset(f.getBestCmap())


_IGNORABLE = frozenset({0x20, 0x0A, 0x200C, 0x200D, 0x200B, 0x200E, 0x200F, 0xFEFF, 0x00A0, 0x202F})


def missing_chars(spec: FontSpec, text: str) -> str:
    """Characters of `text` the font has no glyph for (joiners and spaces are not drawn as glyphs)."""
    cm = cmap_of(spec)
    return "".join(sorted({c for c in text if ord(c) not in cm and ord(c) not in _IGNORABLE}))


def covers(spec: FontSpec, text: str) -> bool:
    return not missing_chars(spec, text)


# ---- shaping -----------------------------------------------------------------------------

def shaping_support() -> tuple[bool, str]:
    """(ok, message): whether Pillow can shape complex scripts (raqm with FriBiDi loaded)."""
    from PIL import features
    if not features.check("raqm"):
        return False, ("Pillow was built without raqm, so Arabic, Indic, Thai and Khmer text would be drawn "
                       "unshaped. Install Pillow from its PyPI wheels (they bundle raqm): pip install -U pillow")
    if not features.version("fribidi"):
        return False, ("Pillow's raqm could not load FriBiDi, so right-to-left text would be mis-ordered. "
                       "Install it: apt-get install libfribidi0 (Debian/Ubuntu), brew install fribidi (macOS)")
    return True, f"raqm {features.version('raqm')}, fribidi {features.version('fribidi')}"


def require_shaping(langs: list[str]) -> None:
    """Raise ShapingUnavailableError when any of `langs` needs shaping Pillow cannot do."""
    complex_ = [l for l in langs if get(l).script in COMPLEX_SCRIPTS]
    if not complex_:
        return
    ok, msg = shaping_support()
    if not ok:
        raise ShapingUnavailableError(f"refusing to render {len(complex_)} complex-script language(s) "
                                      f"({', '.join(complex_[:5])}...): {msg}")


@lru_cache(maxsize=None)
def _hb_font(spec: FontSpec):
    import uharfbuzz as hb
    blob = hb.Blob.from_file_path(spec.path)
    return hb.Font(hb.Face(blob, spec.index))


@lru_cache(maxsize=None)
def _dotted_gid(spec: FontSpec) -> int | None:
    return _hb_font(spec).get_nominal_glyph(DOTTED_CIRCLE)


def shaping_problem(spec: FontSpec, text: str, lang: str | None = None) -> str:
    """'' when HarfBuzz shapes `text` cleanly in this font; otherwise what went wrong.

    Checks that no glyph is .notdef (id 0) and that HarfBuzz inserted no dotted circle
    (U+25CC), which it does when a combining mark has no valid base (broken cluster).
    """
    import uharfbuzz as hb
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    if lang:
        try:
            buf.language = get(lang).iso1 or get(lang).iso3
        except Exception:  # noqa: BLE001 - language tag is only a hint for shaping
            pass
    hb.shape(_hb_font(spec), buf, {})
    gids = [g.codepoint for g in buf.glyph_infos]
    if 0 in gids:
        return "notdef glyph (id 0)"
    dotted = _dotted_gid(spec)
    if dotted is not None and chr(DOTTED_CIRCLE) not in text and dotted in gids:
        return "dotted circle U+25CC inserted (broken cluster)"
    return ""


@lru_cache(maxsize=None)
def _hb_font_weight(spec: FontSpec, weight: int | None):
    import uharfbuzz as hb
    font = hb.Font(_hb_font(spec).face)
    if weight is not None and "wght" in {a.tag for a in font.face.axis_infos}:
        font.set_variations({"wght": float(weight)})
    return font


def text_width(spec: FontSpec, text: str, size: int, weight: int | None = None) -> float:
    """Advance width in px of `text` shaped by HarfBuzz at `size` px.

    Used instead of Pillow's getlength to fit lines: raqm rebuilds HarfBuzz's shaping plan on
    every call (about 1 ms per call for Noto Sans Devanagari), while this font object keeps it.
    """
    import uharfbuzz as hb
    font = _hb_font_weight(spec, weight)
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(font, buf, {})
    return sum(p.x_advance for p in buf.glyph_positions) * size / font.face.upem


def pick_font(chain: tuple[FontSpec, ...], text: str, lang: str | None = None) -> tuple[FontSpec | None, str]:
    """First font of `chain` that covers and cleanly shapes `text`: (font, '') or (None, reason)."""
    reason = "font_coverage"
    for spec in chain:
        if not covers(spec, text):
            continue
        if shaping_problem(spec, text, lang):
            reason = "shaping_failed"
            continue
        return spec, ""
    return None, reason


class PilFonts:
    """Pillow FreeTypeFont objects, loaded once per worker and cached by (font, size, weight)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, object] = {}

    def get(self, spec: FontSpec, size: int, weight: int | None = None):
        from PIL import ImageFont
        key = (spec, size, weight)
        f = self._cache.get(key)
        if f is None:
            f = ImageFont.truetype(spec.path, size=size, index=spec.index, layout_engine=ImageFont.Layout.RAQM)
            if weight is not None:
                try:
                    axes = f.get_variation_axes()
                    if axes and axes[0].get("name") in (b"Weight", "Weight"):
                        lo, hi = axes[0]["minimum"], axes[0]["maximum"]
                        f.set_variation_by_axes([max(lo, min(hi, weight))])
                except OSError:  # not a variable font
                    pass
            self._cache[key] = f
        return f


def renderable(items: list[str], lang: str) -> tuple[list[str], dict[str, int]]:
    """Items the language's own script font covers and shapes cleanly, and counts of the rest by reason.

    Lines are later drawn in one font each, so a pool item must be whole in the primary font
    (Noto Sans Thai, for one, has no full stop).
    """
    primary = fonts_for_lang(lang)[:1]
    kept: list[str] = []
    dropped: dict[str, int] = {}
    for t in items:
        spec, why = pick_font(primary, t, lang)
        if spec is None:
            dropped[why] = dropped.get(why, 0) + 1
        else:
            kept.append(t)
    return kept, dropped


def font_runs(chain: tuple[FontSpec, ...], text: str) -> list[tuple[FontSpec, str]] | None:
    """`text` cut into runs, each drawn whole in the first font of `chain` that has its characters.

    Noto's script fonts lack ASCII digits and punctuation (Noto Sans Thai has no '1', Noto Sans
    Hebrew no '.'); those come from the chain's Noto Sans. Spaces, joiners and combining marks stay
    in the run they follow, so clusters are never split. None when a character is in no font.
    """
    cmaps = [cmap_of(f) for f in chain]
    runs: list[tuple[FontSpec, str]] = []
    cur, buf = None, []
    for ch in text:
        cp = ord(ch)
        if cur is not None and (cp in _IGNORABLE or unicodedata.category(ch).startswith("M")) \
                and (cp in cmaps[cur] or cp in _IGNORABLE):
            buf.append(ch)
            continue
        k = next((i for i, cm in enumerate(cmaps) if cp in cm or cp in _IGNORABLE), None)
        if k is None:
            return None
        if k != cur and buf:
            runs.append((chain[cur], "".join(buf)))
            buf = []
        cur = k
        buf.append(ch)
    if buf:
        runs.append((chain[cur], "".join(buf)))
    return runs


def renderable_text(items: list[str], lang: str) -> tuple[list[str], dict[str, int]]:
    """Running text drawable in runs: every character in some font of the chain, and the
    script font's part shaped cleanly. Counts of the rest by reason."""
    chain = fonts_for_lang(lang)
    kept: list[str] = []
    dropped: dict[str, int] = {}
    for t in items:
        runs = font_runs(chain, t)
        if runs is None:
            dropped["font_coverage"] = dropped.get("font_coverage", 0) + 1
        elif any(shaping_problem(f, r, lang) for f, r in runs if f == chain[0]):
            dropped["shaping_failed"] = dropped.get("shaping_failed", 0) + 1
        else:
            kept.append(t)
    return kept, dropped
