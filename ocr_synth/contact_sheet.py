"""A contact sheet: one PNG grid of a few rendered images per script, for a person to look at."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw

from mixkit.core import storage
from mixkit.lang.languages import get
from ocr_synth.fonts import PilFonts, fonts_for_lang


def contact_sheet(rows: list[dict], path: str, per_script: int = 3, thumb: int = 224, cols: int = 9) -> int:
    """Write a grid of thumbnails (captioned lang/task), `per_script` per script; returns images placed."""
    picked: list[dict] = []
    seen: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: (get(r["lang"]).script, r["lang"], r["id"])):
        s = get(r["lang"]).script
        if seen.get(s, 0) < per_script and r.get("images"):
            seen[s] = seen.get(s, 0) + 1
            picked.append(r)
    if not picked:
        return 0
    cap = 18
    rows_n = (len(picked) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * thumb, rows_n * (thumb + cap)), "white")
    draw = ImageDraw.Draw(sheet)
    font = PilFonts().get(fonts_for_lang("eng_Latn")[0], 12)
    for i, r in enumerate(picked):
        im = Image.open(io.BytesIO(r["images"][0])).convert("RGB")
        im.thumbnail((thumb, thumb))
        x, y = (i % cols) * thumb, (i // cols) * (thumb + cap)
        sheet.paste(im, (x + (thumb - im.width) // 2, y + cap))
        draw.text((x + 3, y + 2), f"{r['lang']} {r['task']}", font=font, fill=(0, 0, 120))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=False)
    storage.write_bytes(path, buf.getvalue())         # a path or a URL, whole or not at all
    return len(picked)
