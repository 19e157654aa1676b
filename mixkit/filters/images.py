"""Checks of the images: they decode, are large enough and not too narrow (runs last: a decode
costs more than every text check)."""
from __future__ import annotations

import io

from pydantic import Field, model_validator

from mixkit.core.text import error_text
from mixkit.filters.base import Filter, FilterSwitch, Rejection


class ImageOptions(FilterSwitch):
    min_side: int = Field(32, ge=1)             # pixels; smaller width or height -> image_too_small
    min_aspect: float = Field(1 / 5, gt=0)      # width / height bounds -> aspect_ratio
    max_aspect: float = Field(5.0, gt=0)
    full_decode: bool = True                    # decode pixels to catch truncated/corrupt files (JPEG at 1/8 scale)

    @model_validator(mode="after")
    def _bounds(self) -> "ImageOptions":
        if self.min_aspect >= self.max_aspect:
            raise ValueError("images.min_aspect must be below images.max_aspect")
        return self


def _image_problem(data: bytes, opts: ImageOptions) -> Rejection | None:
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
    except Exception as e:   # any decoder error means the same thing to the user
        return Rejection("undecodable_image", error_text(e)[:200])
    if min(w, h) < opts.min_side:
        return Rejection("image_too_small", f"{w}x{h} < min_side {opts.min_side}")
    aspect = w / h
    if not opts.min_aspect <= aspect <= opts.max_aspect:
        return Rejection("aspect_ratio", f"{w}x{h} aspect {aspect:.2f} outside [{opts.min_aspect:.2f}, {opts.max_aspect:.2f}]")
    if opts.full_decode:
        try:
            if im.format == "JPEG":
                im.draft("L", (max(1, w // 8), max(1, h // 8)))   # 1/8-scale DCT decode: still reads every byte
            im.load()
        except Exception as e:
            return Rejection("undecodable_image", error_text(e)[:200])
    return None


class ImageFilter(Filter):
    name = "images"
    Options = ImageOptions
    reasons = {"undecodable_image": "an image that does not decode", "image_too_small": "a side under min_side",
               "aspect_ratio": "width / height outside [min_aspect, max_aspect]"}

    def check_detail(self, row):
        for k, data in enumerate(row.get("images") or []):
            r = _image_problem(data, self.opts)
            if r:
                return Rejection(r.reason, f"image {k}: {r.detail}")
        return None
