"""Images: a hash of the exact bytes, and a perceptual 2 x 64-bit difference hash (dHash)."""
from __future__ import annotations

import io

import numpy as np


def image_dhash(data: bytes) -> tuple[int, int] | None:
    """(horizontal, vertical) 64-bit difference hashes of a 9x9 grayscale reduction, or None if
    the image doesn't decode. A JPEG is decoded at reduced scale (`Image.draft`): only 9x9 is needed."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG":
            im.draft("L", (64, 64))          # decode at up to 1/8 scale
        g = np.asarray(im.convert("L").resize((9, 9), Image.Resampling.BOX), dtype=np.int16)
    except Exception:
        return None
    weights = (np.uint64(1) << np.arange(64, dtype=np.uint64))
    hbits = (g[:8, 1:] > g[:8, :-1]).ravel()
    vbits = (g[1:, :8] > g[:-1, :8]).ravel()
    return int(weights[hbits].sum()), int(weights[vbits].sum())


def images_hash(images: list[bytes]) -> int:
    """64-bit hash of all of a row's image bytes (lengths included, so [ab] and [a, b] differ)."""
    import xxhash

    h = xxhash.xxh3_64()
    for data in images:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.intdigest()
