"""Document-style images: lines of real text on varied backgrounds, in a few layouts.

Each line is one shaped run drawn by Pillow with raqm (never glyph by glyph), in one font that
covers and cleanly shapes the whole line (checked with fontTools and HarfBuzz first).
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mixkit.lang.languages import get
from mixkit.lang.writing_systems import NO_SPACE_JOIN_SCRIPTS, SPACELESS_SCRIPTS
from ocr_synth.augment import degrade, encode_jpeg, rotate
from ocr_synth.fonts import FontSpec, PilFonts, font_runs, pick_font, text_width
from ocr_synth.line_breaking import wrap

RTL_SCRIPTS = frozenset({"Arab", "Hebr"})
# Scripts written without spaces between words: lines are joined without a separator
# for CJK, and long items are never broken inside (breaking Thai/Khmer needs a dictionary).
NO_SPACE_JOIN, SPACELESS = NO_SPACE_JOIN_SCRIPTS, SPACELESS_SCRIPTS     # mixkit.lang.writing_systems holds the facts
LAYOUTS = ("lines", "title_body", "two_column")
FLOW_LAYOUTS = ("page", "two_column")             # running text


def _background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, tuple[int, int, int], str]:
    """(RGB array, text colour, kind)."""
    kind = str(rng.choice(["flat", "gradient", "paper", "dark"], p=[0.3, 0.25, 0.3, 0.15]))
    if kind == "dark":
        base = rng.integers(10, 70, 3)
        ink = tuple(int(x) for x in rng.integers(200, 256, 3))
    else:
        base = rng.integers(205, 256, 3)
        ink = tuple(int(x) for x in rng.integers(0, 70, 3))
    img = np.empty((h, w, 3), np.uint8)
    if kind == "gradient":
        other = np.clip(base.astype(int) - rng.integers(0, 50, 3), 0, 255)
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        col = (base[None, None, :] * (1 - t) + other[None, None, :] * t).astype(np.uint8)   # (h, 1, 3)
        img[:] = cv2.resize(col, (w, h), interpolation=cv2.INTER_NEAREST)   # numpy's 3-wide broadcast is slow
    elif kind == "paper":
        # low-frequency blotches: a tiny random field on the base colour, upscaled in uint8 by
        # OpenCV (one pass over the page instead of three float passes)
        small = rng.integers(-18, 18, (max(2, h // 64), max(2, w // 64), 1))
        tiny = np.clip(base[None, None, :] + small, 0, 255).astype(np.uint8)
        img[:] = cv2.resize(tiny, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        img[:] = np.tile(base.astype(np.uint8), (w, 1))[None]    # one row, copied: numpy fills 3-wide slowly
    return img, ink, kind


def _fill_lines(items: list[str], rng: np.random.Generator, measure, max_w: float, n_lines: int,
                script: str) -> list[str]:
    """Greedy lines of random pool items that fit `max_w` pixels (measured shaped, with raqm)."""
    sep = "" if script in NO_SPACE_JOIN else " "
    lines: list[str] = []
    tries = 0
    while len(lines) < n_lines and tries < n_lines * 4:
        tries += 1
        line = ""
        for _ in range(12):
            item = items[int(rng.integers(len(items)))]
            cand = f"{line}{sep}{item}" if line else item
            if measure(cand) <= max_w:
                line = cand
                continue
            if not line and script not in SPACELESS and " " in item:
                # a long sentence: take as many of its words as fit
                words = item.split(" ")
                for k in range(len(words) - 1, 0, -1):
                    part = " ".join(words[:k])
                    if measure(part) <= max_w:
                        line = part
                        break
            break
        if line:
            lines.append(line)
    return lines


def _flow(blocks, start, cols, y0, y_end, script, spec, body, head, place, max_lines) -> None:
    """Pour consecutive blocks from `start` into the columns in reading order until the page (or the
    text) ends.

    body/head: (font, px, weight, line height). A paragraph cut by the page bottom ends the page
    (its first lines stay: reading order is kept); at most `max_lines` body lines.
    """
    col, y, n_body = 0, y0, 0
    for kind, text in blocks[start:]:                     # never past the end back to the start
        font, px, weight, lh = head if kind == "h" else body
        x0, x1 = cols[col]
        lines = wrap(text, script, (x1 - x0) * 0.99, _unit_width(spec, px, weight),
                     lambda t, px=px, weight=weight: text_width(spec, t, px, weight))
        if kind == "h" and y > y0:
            y += lh // 3                                   # space above a heading
        for line in lines:
            room = lh + (body[3] if kind == "h" else 0)     # a heading needs a body line under it
            if y + room > y_end or (kind == "p" and n_body >= max_lines):
                if col + 1 >= len(cols) or n_body >= max_lines:
                    return
                col, y = col + 1, y0
                x0, x1 = cols[col]
            y = place([line], font, spec, x0, x1, y, lh, px, weight)
            n_body += kind == "p"
        y += lh // 4                                       # paragraph spacing


def _columns(width: int, margin: int, rtl: bool) -> list[tuple[int, int]]:
    """(x0, x1) of two columns in reading order (right column first in right-to-left scripts)."""
    col_w = (width - 2 * margin - int(width * 0.05)) // 2
    cols = [(margin, margin + col_w), (width - margin - col_w, width - margin)]
    return cols[::-1] if rtl else cols


def _draw_runs(draw, runs, f, fspec_default, fonts, fsize, weight, x0, x1, y, ink, rtl) -> None:
    """One line in several fonts: each run drawn whole (shaped), placed by its HarfBuzz advance.

    Right-to-left lines put the runs right to left (a run of digits or Latin inside still reads
    left to right: raqm orders each run itself).
    """
    x = x1 if rtl else x0
    for spec, run in runs:
        w = text_width(spec, run, fsize, weight)
        ff = f if spec == fspec_default else fonts.get(spec, fsize, weight)
        if rtl:
            draw.text((x, y), run, font=ff, fill=ink, anchor="ra", **_rtl(ff))
            x -= w
        else:
            draw.text((x, y), run, font=ff, fill=ink, anchor="la")
            x += w


def _rtl(font) -> dict:
    """Right-to-left base direction for raqm: a run of neutrals (", ") or a line that starts with
    digits or a Latin word would otherwise be laid out left to right inside a right-to-left line."""
    return {"direction": "rtl"} if font.layout_engine == ImageFont.Layout.RAQM else {}


_WIDTHS: dict[tuple, float] = {}


def _unit_width(spec: FontSpec, px: int, weight: int):
    """width_of(unit) for `wrap`, cached across documents (words repeat)."""
    def width_of(u: str) -> float:
        if not u:
            return 0.0
        key = (spec, px, weight, u)
        w = _WIDTHS.get(key)
        if w is None:
            if len(_WIDTHS) > 500_000:
                _WIDTHS.clear()
            w = _WIDTHS[key] = text_width(spec, u, px, weight)
        return w
    return width_of


def render_document(items: list[str], lang: str, chain: tuple[FontSpec, ...], fonts: PilFonts,
                    rng: np.random.Generator, width: int, height: int, *, font_px: tuple[int, int] = (18, 44),
                    max_lines: int = 14, augment: bool = True, jpeg_quality: tuple[int, int] = (70, 95),
                    layout: str | None = None, blocks: list[tuple[str, str]] | None = None,
                    start: int | None = None) -> tuple[bytes, dict, list[str]]:
    """Render a document image. Returns (jpeg bytes, params, lines in reading order).

    With `blocks` (running text: ('h', heading) / ('p', paragraph) in order) the page is a
    passage of consecutive blocks from `start` (the caller's passage; else a random point): headings in a larger bold face, paragraphs
    wrapped to the column (layouts 'page' and, from 600 px, 'two_column', read column by column).
    Without, lines are filled with random `items` (word lists: CLDR names).
    Lines no font can render cleanly are left out and counted in params['skipped_lines'];
    raises ValueError when no line at all could be rendered.
    """
    script = get(lang).script
    rtl = script in RTL_SCRIPTS
    if blocks:
        layout = layout or str(rng.choice(FLOW_LAYOUTS if width >= 600 else FLOW_LAYOUTS[:1]))
    else:
        layout = layout or str(rng.choice(LAYOUTS if width >= 600 else LAYOUTS[:2]))
    bg, ink, bg_kind = _background(rng, height, width)
    img = Image.fromarray(bg)
    draw = ImageDraw.Draw(img)
    scale = width / 1000.0
    size = max(12, int(round(rng.integers(font_px[0], font_px[1] + 1) * scale)))
    weight = int(rng.choice([400, 400, 500, 700]))
    margin = int(width * rng.uniform(0.05, 0.09))
    spec = chain[0]
    font = fonts.get(spec, size, weight)
    asc, desc = font.getmetrics()
    gap = rng.uniform(1.15, 1.5)
    line_h = int((asc + desc) * gap)
    top = int(height * rng.uniform(0.05, 0.1))
    boxes: list[dict] = []
    lines_out: list[str] = []
    skipped: dict[str, int] = {}

    def place(lines: list[str], f, fspec_default: FontSpec, x0: int, x1: int, y: int, lh: int, fsize: int,
              fweight: int = weight) -> int:
        """Draw lines in font `f` (`fspec_default` at fsize px, fweight: headings are bold) from y down."""
        for text in lines:
            if y + lh > height - top // 2:
                break
            fspec, why = pick_font(chain, text, lang)
            if fspec is None:
                runs = font_runs(chain, text) if why == "font_coverage" else None
                if not runs:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
                _draw_runs(draw, runs, f, fspec_default, fonts, fsize, fweight, x0, x1, y, ink, rtl)
                fspec = runs[0][0]
            else:
                ff = f if fspec == fspec_default else fonts.get(fspec, fsize, fweight)
                if rtl:
                    draw.text((x1, y), text, font=ff, fill=ink, anchor="ra", **_rtl(ff))
                else:
                    draw.text((x0, y), text, font=ff, fill=ink, anchor="la")
            boxes.append({"text": text, "box": [x0, y, x1, y + lh], "font": fspec.label})
            lines_out.append(text)
            y += lh
        return y

    # HarfBuzz widths; 1% slack (Pillow's raqm advances matched HarfBuzz's exactly here)
    def measure(t: str) -> float:
        return text_width(spec, t, size, weight) * 1.01

    y = top
    n_fit = max(1, min(max_lines, (height - 2 * top) // max(1, line_h)))
    if blocks:
        tsize = max(size + 2, int(size * rng.uniform(1.2, 1.5)))
        tfont = fonts.get(spec, tsize, 700)
        ta, td = tfont.getmetrics()
        cols = _columns(width, margin, rtl) if layout == "two_column" else [(margin, width - margin)]
        first = int(rng.integers(max(1, len(blocks) - 12)))      # drawn either way: the page's other draws stay put
        _flow(blocks, first if start is None else start, cols, top, height - top // 2, script, spec,
              (font, size, weight, line_h), (tfont, tsize, 700, int((ta + td) * 1.25)), place, max_lines)
    elif layout == "title_body":
        tsize = int(size * rng.uniform(1.4, 1.9))
        tfont = fonts.get(spec, tsize, 700)
        ta, td = tfont.getmetrics()
        title = _fill_lines(items, rng, lambda t: text_width(spec, t, tsize, 700), (width - 2 * margin) * 0.8, 1,
                            script)
        y = place(title, tfont, spec, margin, width - margin, y, int((ta + td) * 1.3), tsize, 700)
        n_fit = max(1, min(max_lines - 1, (height - y - top) // max(1, line_h)))
        body = _fill_lines(items, rng, measure, width - 2 * margin, n_fit, script)
        place(body, font, spec, margin, width - margin, y + line_h // 3, line_h, size)
    elif layout == "two_column":
        for x0, x1 in _columns(width, margin, rtl):
            body = _fill_lines(items, rng, measure, x1 - x0, n_fit, script)
            place(body, font, spec, x0, x1, y, line_h, size)
    else:
        body = _fill_lines(items, rng, measure, width - 2 * margin, n_fit, script)
        place(body, font, spec, margin, width - margin, y, line_h, size)
    if not lines_out:
        raise ValueError(f"no line of {lang} text could be rendered ({skipped or 'empty text pool'})")
    params = {"width": width, "height": height, "layout": layout, "background": bg_kind, "ink": list(ink),
              "font": spec.label, "font_size": size, "weight": weight, "rtl": rtl, "layout_engine": "raqm"
              if font.layout_engine == 1 else "basic", "lines": boxes}
    if skipped:
        params["skipped_lines"] = skipped
    arr = np.asarray(img)
    if augment:
        angle = float(rng.uniform(-2.0, 2.0)) if rng.random() < 0.5 else 0.0
        arr = rotate(arr, angle, tuple(int(c) for c in bg[0, 0]))
        params["rotation"] = round(angle, 3)
        arr = degrade(arr, rng, params)
    q = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
    prior = int(rng.integers(30, 60)) if augment and rng.random() < 0.1 else None
    params["jpeg_quality"] = q
    if prior:
        params["jpeg_prior_quality"] = prior
    return encode_jpeg(np.ascontiguousarray(arr), q, prior), params, lines_out
