"""OCR synthesis throughput on one core: 448x448 document images and charts per second,
including JPEG encoding. Baseline: the same lines drawn on a flat page with Pillow and saved
as JPEG by Pillow (no background, no augmentation), on the same input in the same run.
Rates are per CPU-second of this process (time.process_time), so a shared machine's load
does not distort them; ratio = ours / baseline.

    python benchmarks/bench_ocr.py [--n 200]
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="images per language and kind")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})   # one core
    except (AttributeError, OSError):
        pass
    fonts = PilFonts()
    print(f"{'lang':10} {'doc/s':>7} {'base/s':>7} {'ratio':>6} {'chart/s':>8}")
    tot = {"doc": [0, 0.0], "base": [0, 0.0], "chart": [0, 0.0]}
    for lang in LANGS:
        items, _ = renderable(list(cldr_strings(lang)), lang)
        chain = fonts_for_lang(lang)
        render_document(items, lang, chain, fonts, job_rng(9, lang, 0), 448, 448)   # warm caches
        t = time.process_time()
        all_lines = []
        for i in range(args.n):
            _, _, lines = render_document(items, lang, chain, fonts, job_rng(1, lang, i), 448, 448)
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
        short = [s for s in items if 2 <= len(s) <= 12]
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


if __name__ == "__main__":
    main()
