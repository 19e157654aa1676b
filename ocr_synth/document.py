"""Document-style images: lines of real text on varied backgrounds, in a few layouts.

Each line is one shaped run drawn by Pillow with raqm (never glyph by glyph), in one font that
covers and cleanly shapes the whole line (checked with fontTools and HarfBuzz first).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mixkit.languages import get
from ocr_synth.augment import degrade, encode_jpeg, rotate
from ocr_synth.fonts import FontSpec, PilFonts, pick_font, text_width

RTL_SCRIPTS = frozenset({"Arab", "Hebr"})
# Scripts written without spaces between words: lines are joined without a separator
# for CJK, and long items are never broken inside (breaking Thai/Khmer needs a dictionary).
NO_SPACE_JOIN = frozenset({"Jpan", "Hans", "Hant"})
SPACELESS = frozenset({"Jpan", "Hans", "Hant", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})
LAYOUTS = ("lines", "title_body", "two_column")


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
    img[:] = base.astype(np.uint8)
    if kind == "gradient":
        other = np.clip(base.astype(int) - rng.integers(0, 50, 3), 0, 255)
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        img[:] = (base[None, None, :] * (1 - t) + other[None, None, :] * t).astype(np.uint8)
    elif kind == "paper":
        # low-frequency blotches: a tiny random field upscaled (cheap and smooth)
        small = rng.integers(-18, 18, (max(2, h // 64), max(2, w // 64), 1)).astype(np.float32)
        import cv2
        field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
        img[:] = np.clip(base[None, None, :].astype(np.float32) + field, 0, 255).astype(np.uint8)
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


def render_document(items: list[str], lang: str, chain: tuple[FontSpec, ...], fonts: PilFonts,
                    rng: np.random.Generator, width: int, height: int, *, font_px: tuple[int, int] = (18, 44),
                    max_lines: int = 14, augment: bool = True, jpeg_quality: tuple[int, int] = (70, 95),
                    layout: str | None = None) -> tuple[bytes, dict, list[str]]:
    """Render a document image. Returns (jpeg bytes, params, lines in reading order).

    Lines no font can render cleanly are left out and counted in params['skipped_lines'];
    raises ValueError when no line at all could be rendered.
    """
    script = get(lang).script
    rtl = script in RTL_SCRIPTS
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

    def place(lines: list[str], f, fspec_default: FontSpec, x0: int, x1: int, y: int, lh: int, fsize: int) -> int:
        for text in lines:
            if y + lh > height - top // 2:
                break
            fspec, why = pick_font(chain, text, lang)
            if fspec is None:
                skipped[why] = skipped.get(why, 0) + 1
                continue
            ff = f if fspec == fspec_default else fonts.get(fspec, fsize, weight)
            if rtl:
                draw.text((x1, y), text, font=ff, fill=ink, anchor="ra")
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
    if layout == "title_body":
        tsize = int(size * rng.uniform(1.4, 1.9))
        tfont = fonts.get(spec, tsize, 700)
        ta, td = tfont.getmetrics()
        title = _fill_lines(items, rng, lambda t: text_width(spec, t, tsize, 700), (width - 2 * margin) * 0.8, 1,
                            script)
        y = place(title, tfont, spec, margin, width - margin, y, int((ta + td) * 1.3), tsize)
        n_fit = max(1, min(max_lines - 1, (height - y - top) // max(1, line_h)))
        body = _fill_lines(items, rng, measure, width - 2 * margin, n_fit, script)
        place(body, font, spec, margin, width - margin, y + line_h // 3, line_h, size)
    elif layout == "two_column":
        col_gap = int(width * 0.05)
        col_w = (width - 2 * margin - col_gap) // 2
        cols = [(margin, margin + col_w), (width - margin - col_w, width - margin)]
        if rtl:
            cols.reverse()   # right column is read first
        for x0, x1 in cols:
            body = _fill_lines(items, rng, measure, col_w, n_fit, script)
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
