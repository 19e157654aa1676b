"""Bar and pie charts with target-language labels (SMPQA-like), drawn with Pillow + raqm.

Why Pillow and not matplotlib: labels must be shaped correctly in every script, and the
whole pipeline (font choice per script, cmap coverage, HarfBuzz verification) is already
built around Pillow's raqm layout. matplotlib 3.11 does lay text out with libraqm, but it
draws through its own font manager (no per-string coverage fallback, no .ttc face choice
per language in rcParams) and is about 10x slower per image.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from ocr_synth.augment import encode_jpeg
from ocr_synth.fonts import PilFonts, fonts_for_lang, pick_font, text_width

# SMPQA draws colours from a fixed list; these are matplotlib's tab10.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf"]
_FONTS = PilFonts()   # one cache per process (fonts load once per worker)


def _rgb(hex_: str) -> tuple[int, int, int]:
    return tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5))


def render_chart(labels: list[str], values: list[float], kind: str, lang: str, rng: np.random.Generator,
                 **style) -> tuple[bytes, dict]:
    """Render a bar or pie chart; returns (JPEG bytes, params).

    style (all optional; drawn from `rng` when absent): width, height, orientation
    ('vertical' | 'horizontal', bars), explode (pie: index of the slice pulled out or None),
    colors (list of hex), font_size (px), jpeg_quality, title (str, in the target language),
    show_values (bool).
    Raises ValueError when a label cannot be rendered (no covering font / broken shaping).
    """
    if kind not in ("bar", "pie"):
        raise ValueError(f"kind must be 'bar' or 'pie', got {kind!r}")
    if len(labels) != len(values) or not labels:
        raise ValueError("labels and values must be non-empty lists of the same length")
    if kind == "pie" and any(v <= 0 for v in values):
        raise ValueError("pie values must be > 0")
    labels = [str(l) for l in labels]   # numpy strings would reach HarfBuzz's strict str check
    chain = fonts_for_lang(lang)
    specs = []
    for lab in labels + ([style["title"]] if style.get("title") else []):
        spec, why = pick_font(chain, lab, lang)
        if spec is None:
            raise ValueError(f"{why}: cannot render chart label {lab!r} in {lang}")
        specs.append(spec)
    w = int(style.get("width") or rng.integers(448, 801))
    h = int(style.get("height") or round(w * rng.uniform(0.75, 1.0)))
    colors = list(style.get("colors") or [COLORS[i] for i in rng.permutation(len(COLORS))[:len(labels)]])
    if len(colors) < len(labels):
        colors = (colors * len(labels))[:len(labels)]
    fsize = int(style.get("font_size") or max(12, round(w * rng.uniform(0.026, 0.036))))
    show_values = bool(style.get("show_values", rng.random() < 0.5))
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    params: dict = {"kind": kind, "labels": list(labels), "values": [float(v) for v in values], "colors": colors,
                    "width": w, "height": h, "font_size": fsize, "fonts": sorted({s.label for s in specs}),
                    "show_values": show_values, "layout_engine": "raqm"}
    top = int(h * 0.06)
    if style.get("title"):
        tf = _FONTS.get(specs[-1], int(fsize * 1.3), 700)
        draw.text((w / 2, top), style["title"], font=tf, fill=(0, 0, 0), anchor="ma")
        top += int(fsize * 1.3 * 1.6)
        params["title"] = style["title"]
    if kind == "bar":
        _bars(draw, labels, values, specs, colors, fsize, w, h, top, rng, style, params, show_values)
    else:
        _pie(draw, labels, values, specs, colors, fsize, w, h, top, rng, style, params, show_values)
    q = int(style.get("jpeg_quality") or rng.integers(85, 96))
    params["jpeg_quality"] = q
    return encode_jpeg(np.asarray(img), q), params


def _fit_size(specs, labels, fsize: int, max_w: float, min_size: int = 10) -> int:
    """Largest font size <= fsize at which every label fits `max_w` px."""
    widest = max(text_width(s, l, fsize) for s, l in zip(specs, labels))
    return max(min_size, min(fsize, int(fsize * max_w / max(widest, 1))))


def _bars(draw, labels, values, specs, colors, fsize, w, h, top, rng, style, params, show_values) -> None:
    n = len(labels)
    vmax = max(values)
    nice = float(math.ceil(vmax / 10.0) * 10) or 1.0
    orientation = style.get("orientation") or ("vertical" if rng.random() < 0.5 else "horizontal")
    left, right, bottom = int(w * 0.1), int(w * 0.05), int(h * 0.06)
    # ticks and values in Western digits, Noto Sans (script fonts may lack digits)
    tick_font = _FONTS.get(fonts_for_lang("eng_Latn")[0], max(10, int(fsize * 0.8)))
    ink = (40, 40, 40)
    if orientation == "vertical":
        slot = (w - left - right) / n
        lsize = _fit_size(specs, labels, fsize, slot * 0.95)
        if lsize < 12 and not style.get("orientation"):
            orientation = "horizontal"   # labels too long to sit under vertical bars
    params["orientation"] = orientation
    if orientation == "vertical":
        asc = max(_FONTS.get(s, lsize).getmetrics()[0] + _FONTS.get(s, lsize).getmetrics()[1] for s in specs)
        y0, y1 = top + fsize, h - bottom - int(asc * 1.4)
        draw.line([(left, y0), (left, y1), (w - right, y1)], fill=ink, width=1)
        for k in range(0, 6):
            v = nice * k / 5
            y = y1 - (y1 - y0) * v / nice
            draw.line([(left - 4, y), (left, y)], fill=ink)
            draw.text((left - 6, y), f"{v:g}", font=tick_font, fill=ink, anchor="rm")
        for i, (lab, v, spec) in enumerate(zip(labels, values, specs)):
            cx = left + slot * (i + 0.5)
            bw = slot * 0.6
            yt = y1 - (y1 - y0) * v / nice
            draw.rectangle([cx - bw / 2, yt, cx + bw / 2, y1], fill=_rgb(colors[i]))
            draw.text((cx, y1 + 4), lab, font=_FONTS.get(spec, lsize), fill=ink, anchor="ma")
            if show_values:
                draw.text((cx, yt - 3), f"{v:g}", font=tick_font, fill=ink, anchor="md")
        params["label_size"] = lsize
    else:
        lsize = _fit_size(specs, labels, fsize, w * 0.3)
        lw = max(text_width(s, l, lsize) for s, l in zip(specs, labels))
        x0, x1 = int(w * 0.04 + lw + 8), w - right - int(fsize * 2)
        y0, y1 = top + fsize // 2, h - bottom - fsize
        slot = (y1 - y0) / n
        draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=ink, width=1)
        for k in range(0, 6):
            v = nice * k / 5
            x = x0 + (x1 - x0) * v / nice
            draw.line([(x, y1), (x, y1 + 4)], fill=ink)
            draw.text((x, y1 + 6), f"{v:g}", font=tick_font, fill=ink, anchor="ma")
        for i, (lab, v, spec) in enumerate(zip(labels, values, specs)):
            cy = y0 + slot * (i + 0.5)
            bh = slot * 0.6
            xr = x0 + (x1 - x0) * v / nice
            draw.rectangle([x0, cy - bh / 2, xr, cy + bh / 2], fill=_rgb(colors[i]))
            draw.text((x0 - 6, cy), lab, font=_FONTS.get(spec, lsize), fill=ink, anchor="rm")
            if show_values:
                draw.text((xr + 4, cy), f"{v:g}", font=tick_font, fill=ink, anchor="lm")
        params["label_size"] = lsize


def _pie(draw, labels, values, specs, colors, fsize, w, h, top, rng, style, params, show_values) -> None:
    total = float(sum(values))
    lsize = _fit_size(specs, labels, fsize, w * 0.2)
    r = min(w * 0.25, (h - top) * 0.36)
    cx, cy = w / 2, top + (h - top) / 2
    explode = style.get("explode", int(rng.integers(len(labels))) if rng.random() < 0.3 else None)
    start = float(style.get("start_angle", rng.uniform(0, 360)))
    params.update({"explode": explode, "start_angle": round(start, 2), "label_size": lsize})
    a = start
    ink = (40, 40, 40)
    for i, (lab, v, spec) in enumerate(zip(labels, values, specs)):
        sweep = 360.0 * v / total
        mid = math.radians(a + sweep / 2)
        off = r * 0.1 if explode == i else 0.0
        ox, oy = cx + off * math.cos(mid), cy + off * math.sin(mid)
        draw.pieslice([ox - r, oy - r, ox + r, oy + r], a, a + sweep, fill=_rgb(colors[i]),
                      outline=(255, 255, 255))
        lx, ly = ox + (r + 8) * math.cos(mid), oy + (r + 8) * math.sin(mid)
        anchor = ("l" if math.cos(mid) > 0.2 else "r" if math.cos(mid) < -0.2 else "m") + \
                 ("t" if math.sin(mid) > 0.2 else "b" if math.sin(mid) < -0.2 else "m")
        text = f"{lab}" if not show_values else f"{lab} ({v:g})"
        if show_values and pick_font((spec,), text)[0] is None:
            text = lab   # the script font lacks digits or brackets: label only
        draw.text((lx, ly), text, font=_FONTS.get(spec, lsize), fill=ink, anchor=anchor)
        a += sweep
