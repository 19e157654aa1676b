"""OCR synthesis throughput on one core: 448x448 document images and charts per second,
including JPEG encoding. Baseline: the same lines drawn on a flat page with Pillow and saved
as JPEG by Pillow (no background, no augmentation), on the same input in the same run.
Rates are per CPU-second of this process (time.process_time), so a shared machine's load
does not distort them; ratio = ours / baseline.

Documents are made of the text the render stage uses (running text: wrapped paragraphs and
headings where the language has some; CLDR word lists before issue 14, or with --text cldr).
--widths 720,1280,2040 adds megapixels per CPU-second at the study's image widths (square
pages, augmentation on as in the stage). The script also runs against an older checkout of
ocr_synth (PYTHONPATH=<old tree>): it falls back to word lists where the renderer has no blocks.

    python benchmarks/bench_ocr.py [--n 200] [--widths 720,1280,2040] [--text stage|cldr]
"""
from __future__ import annotations

import argparse
import inspect
import io
import os
import time

from PIL import Image, ImageDraw

from ocr_synth.charts import render_chart
from ocr_synth.document import render_document
from ocr_synth.fonts import PilFonts, fonts_for_lang, renderable
from ocr_synth.jobs import job_rng
from ocr_synth.text_sources import cldr_strings

LANGS = ["eng_Latn", "rus_Cyrl", "arb_Arab", "hin_Deva", "tha_Thai", "jpn_Jpan", "kor_Hang", "amh_Ethi",
         "khm_Khmr", "bod_Tibt"]


def _text(lang: str, mode: str) -> tuple[list[str], list | None]:
    """(word items, running-text blocks or None) as the render stage would use them."""
    items, _ = renderable(list(cldr_strings(lang)), lang)
    if mode == "cldr" or "blocks" not in inspect.signature(render_document).parameters:
        return items, None
    from ocr_synth.options import OcrOptions
    from ocr_synth.stage import OcrRenderStage

    t = OcrRenderStage(OcrOptions(enabled=True)).text(lang)
    return t.words, (t.blocks or None)


def megapixels(widths: list[int], n: int, mode: str) -> None:
    fonts = PilFonts()
    print(f"\n{'width':>6} {'doc/s':>7} {'MP/s':>7}   (square pages, augment on; all {len(LANGS)} languages)")
    for w in widths:
        t_all, px = 0.0, 0
        for lang in LANGS:
            items, blocks = _text(lang, mode)
            chain = fonts_for_lang(lang)
            kw = {"blocks": blocks} if blocks else {}
            render_document(items, lang, chain, fonts, job_rng(9, lang, 0), w, w, **kw)   # warm caches
            t = time.process_time()
            for i in range(n):
                render_document(items, lang, chain, fonts, job_rng(1, lang, i), w, w, **kw)
            t_all += time.process_time() - t
            px += n * w * w
        print(f"{w:6d} {n * len(LANGS) / t_all:7.1f} {px / 1e6 / t_all:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="images per language and kind")
    ap.add_argument("--widths", default="", help="comma-separated widths for the megapixel rate, e.g. 720,1280,2040")
    ap.add_argument("--text", choices=["stage", "cldr"], default="stage")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})   # one core
    except (AttributeError, OSError):
        pass
    fonts = PilFonts()
    print(f"{'lang':10} {'doc/s':>7} {'base/s':>7} {'ratio':>6} {'chart/s':>8}")
    tot = {"doc": [0, 0.0], "base": [0, 0.0], "chart": [0, 0.0]}
    for lang in LANGS:
        items, blocks = _text(lang, args.text)
        kw = {"blocks": blocks} if blocks else {}
        chain = fonts_for_lang(lang)
        render_document(items, lang, chain, fonts, job_rng(9, lang, 0), 448, 448, **kw)   # warm caches
        t = time.process_time()
        all_lines = []
        for i in range(args.n):
            _, _, lines = render_document(items, lang, chain, fonts, job_rng(1, lang, i), 448, 448, **kw)
            all_lines.append(lines)
        dt_doc = time.process_time() - t
        # baseline: same lines, flat page, Pillow only
        f = fonts.get(chain[0], 17)
        t = time.process_time()
        for lines in all_lines:
            im = Image.new("RGB", (448, 448), "white")
            d = ImageDraw.Draw(im)
            for k, line in enumerate(lines):
                d.text((30, 20 + 28 * k), line, font=f, fill=(0, 0, 0))
            im.save(io.BytesIO(), "JPEG", quality=85)
        dt_base = time.process_time() - t
        short = [s for s in renderable(list(cldr_strings(lang)), lang)[0] if 2 <= len(s) <= 12]
        t = time.process_time()
        for i in range(args.n):
            rng = job_rng(2, lang, i)
            n = int(rng.integers(4, 9))
            labels = [short[j] for j in rng.choice(len(short), n, replace=False)]
            render_chart(labels, list(rng.integers(30, 101, n).astype(float)), "bar" if i % 2 else "pie", lang, rng,
                         width=448, height=448)
        dt_chart = time.process_time() - t
        for k, dt in (("doc", dt_doc), ("base", dt_base), ("chart", dt_chart)):
            tot[k][0] += args.n
            tot[k][1] += dt
        print(f"{lang:10} {args.n / dt_doc:7.1f} {args.n / dt_base:7.1f} {dt_base / dt_doc:6.2f} {args.n / dt_chart:8.1f}")
    d, b, c = (tot[k][0] / tot[k][1] for k in ("doc", "base", "chart"))
    print(f"{'all':10} {d:7.1f} {b:7.1f} {d / b:6.2f} {c:8.1f}")
    if args.widths:
        megapixels([int(w) for w in args.widths.split(",")], max(4, args.n // 10), args.text)


if __name__ == "__main__":
    main()
