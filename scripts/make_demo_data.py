"""Generate recipes/demo_data/: the bundled demo data (images and text made by this script).

    python scripts/make_demo_data.py [--out recipes/demo_data] [--seed 0]

Images are procedural scenes drawn with Pillow and NumPy: a textured background (a colour
gradient in one of three directions, or a mottled, striped or speckled colour), 0-3 thin lines
across the picture, and 2-5 shapes (circle, square, triangle, star, hexagon) in six colours and
three sizes, each centred in its own cell of a 3x3 grid, rotated, shaded, some outlined, some
overlapping. Captions are rendered from the scene's parameters (the shape count, the background,
up to three shapes with size, colour and place, the others with size and colour, which shape
covers which, the lines), so each is true of its image and specific to it: the demo behaves
like real data under deduplication (perceptual image hashes and MinHash text signatures of
different scenes are far apart; only the planted duplicates are copies). Each caption is the
first of its possible wordings that mixkit's default repetition filter accepts in every
language it will be read in.

The non-English text comes from a HAND-MADE PHRASEBOOK in this file (the `_Lang` classes
below: German, French, Japanese, Hindi, Spanish, Russian, Arabic), NOT from a translation
model. A caption is a list of sentences, each (kind, variant, parameters); every language
renders the same sentence from the same parameters with its own grammar (gender, case,
agreement, numeral government). `translate_sentence()` exposes it for the translation stage's
demo cache; `demo_sentences()` lists every distinct English sentence and prompt of captions_en.

Output is byte-deterministic for a given seed and Pillow/libjpeg/NumPy/pyarrow version: every
random draw comes from a Random seeded by (seed, purpose, index), tar members carry fixed
metadata, and nothing depends on time or file-system order.
"""

import argparse
import io
import json
import math
import random
import re
import sys
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mixkit.filters import RepetitionFilter, RepetitionOptions  # noqa: E402
from mixkit.sources import CAPTION_PROMPT  # noqa: E402  (one source of truth for the prompt)

_REPETITION = RepetitionFilter(RepetitionOptions())

SHAPES = ("circle", "square", "triangle", "star", "hexagon")
COLOURS = {"red": (214, 39, 40), "blue": (31, 90, 200), "green": (44, 160, 44),
           "yellow": (240, 200, 20), "orange": (255, 127, 14), "purple": (140, 70, 190)}
SIZE_NAMES = ("small", "medium", "large")
SIZE_RADIUS = {"small": (0.050, 0.065), "medium": (0.080, 0.095), "large": (0.115, 0.135)}  # x image side
BG_COLOURS = {"white": (244, 244, 238), "grey": (140, 140, 144), "black": (24, 24, 28),
              "dark blue": (28, 42, 110), "pink": (238, 166, 190), "dark green": (28, 88, 48),
              "light blue": (158, 200, 236), "pale yellow": (246, 236, 158), "brown": (118, 78, 44)}
BG_STYLES = ("gradient", "mottled", "striped", "speckled")
TEXTURES = ("mottled", "striped", "speckled")
GRADIENT_DIRECTIONS = ("v", "h", "d")   # top->bottom, left->right, top left->bottom right
LINE_COLOURS = {"white": (250, 250, 250), "black": (12, 12, 12), "grey": (128, 128, 128)}
# 3x3 grid cells, row-major: top left ... bottom right
CELLS = ("tl", "t", "tr", "l", "c", "r", "bl", "b", "br")
SIZES = (160, 192, 224)
JPEG_QUALITY = 75

N_CAPTIONS = 600
N_INSTRUCT = 60
N_NATIVE = 60
NATIVE_LANGS = ("deu_Latn", "fra_Latn", "jpn_Jpan", "hin_Deva")
PHRASEBOOK_LANGS = ("spa_Latn", "rus_Cyrl", "arb_Arab")
CAPTION_LANGS = ("eng_Latn", *PHRASEBOOK_LANGS)   # captions_en and the languages it is translated into

# Planted bad records (indexes into captions_en / instruct_en), documented in README.md.
CAP_DUPLICATES = {100: 17, 350: 288}   # record -> the earlier record it copies exactly
CAP_EMPTY = 200
CAP_CORRUPT = 450
INST_MISSING_IMAGE = 42
INST_PLACEHOLDER_MISMATCH = 51


# ---------------------------------------------------------------------------------------
# Scenes


@dataclass(frozen=True)
class Obj:
    """What a caption says about one shape."""
    shape: str
    colour: str
    size: str   # small | medium | large
    cell: str   # one of CELLS: where its centre lies


@dataclass(frozen=True)
class Placement:
    """Where it is drawn, in fractions of the image side; angle in degrees."""
    cx: float
    cy: float
    r: float
    angle: float


@dataclass(frozen=True)
class Background:
    style: str              # gradient | mottled | striped | speckled
    colour: str             # a BG_COLOURS name (the gradient's start)
    colour2: str = ""       # gradient end
    direction: str = ""     # gradient direction (GRADIENT_DIRECTIONS)


@dataclass(frozen=True)
class Scene:
    size: int
    bg: Background
    objects: tuple[Obj, ...]            # in drawing order: a later shape covers an earlier one
    placements: tuple[Placement, ...]
    lines: int
    line_colour: str
    overlaps: tuple[tuple[int, int], ...]   # (upper, lower) object indexes, largest overlap first


def _rng(seed: int, purpose: str, i: int) -> random.Random:
    return random.Random(f"{seed}:{purpose}:{i}")


def _luma(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _bg_colour_at(bg: Background, x: float, y: float) -> tuple[float, ...]:
    """The background's base colour at (x, y) in [0, 1] (gradients interpolate)."""
    c1 = BG_COLOURS[bg.colour]
    if bg.style != "gradient":
        return c1
    t = {"v": y, "h": x, "d": (x + y) / 2}[bg.direction]
    return tuple(a * (1 - t) + b * t for a, b in zip(c1, BG_COLOURS[bg.colour2]))


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Outline of a shape of 'radius' r (the circle's radius; others are sized to match)."""
    a0 = math.radians(angle)
    if shape == "square":
        pts = [(r * 1.15, math.radians(45 + 90 * k)) for k in range(4)]
    elif shape == "triangle":
        pts = [(r * 1.25, math.radians(-90 + 120 * k)) for k in range(3)]
    elif shape == "star":
        pts = [(r * (1.3 if k % 2 == 0 else 0.55), math.radians(-90 + 36 * k)) for k in range(10)]
    elif shape == "hexagon":
        pts = [(r * 1.08, math.radians(60 * k)) for k in range(6)]
    else:
        raise ValueError(shape)
    return [(cx + d * math.cos(a + a0), cy + d * math.sin(a + a0)) for d, a in pts]


def _shape_mask(shape: str, p: Placement, side: int) -> Image.Image:
    """An 'L' mask (255 inside) of a shape drawn on a side x side canvas."""
    mask = Image.new("L", (side, side), 0)
    d = ImageDraw.Draw(mask)
    cx, cy, r = p.cx * side, p.cy * side, p.r * side
    if shape == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    else:
        d.polygon(_polygon(shape, cx, cy, r, p.angle), fill=255)
    return mask


def _place(rng: random.Random, objs: list[tuple[str, str, str, str]], touch: bool) -> list[Placement]:
    """Centres stay inside their cell (so the caption's place is true) and shapes on the canvas.
    With `touch`, the first two shapes (in neighbouring cells) are pulled towards each other."""
    out = []
    cells = [divmod(CELLS.index(o[3]), 3) for o in objs]
    for k, (shape, _colour, size, _cell) in enumerate(objs):
        row, col = cells[k]
        r = rng.uniform(*SIZE_RADIUS[size])
        dx, dy = rng.uniform(-0.07, 0.07), rng.uniform(-0.07, 0.07)
        if touch and k < 2:
            orow, ocol = cells[1 - k]
            pull = rng.uniform(0.07, 0.15)
            if orow != row:
                dy = pull * (orow - row)
            else:
                dx = pull * (ocol - col)
        cx = min(max((col + 0.5) / 3 + dx, r + 0.03), 1 - r - 0.03)
        cy = min(max((row + 0.5) / 3 + dy, r + 0.03), 1 - r - 0.03)
        angle = 0.0 if shape == "circle" else rng.uniform(0, 360)
        out.append(Placement(round(cx, 4), round(cy, 4), round(r, 4), round(angle, 1)))
    return out


def _neighbours(cell: str) -> list[str]:
    row, col = divmod(CELLS.index(cell), 3)
    return [CELLS[r * 3 + c] for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
            if 0 <= r < 3 and 0 <= c < 3]


def _overlaps(objs, placements, side: int = 96) -> list[tuple[int, int]] | None:
    """(upper, lower) index pairs of shapes that overlap visibly, largest overlap first; None
    when a shape would be less than 70 % visible (the scene is then placed again)."""
    masks = [np.asarray(_shape_mask(o[0], p, side)) > 127 for o, p in zip(objs, placements)]
    pairs = []
    for i, j in product(range(len(masks)), repeat=2):
        if i < j:
            inter = int((masks[i] & masks[j]).sum())
            if inter > 0.04 * min(masks[i].sum(), masks[j].sum()):
                pairs.append((inter, j, i))
    for i, m in enumerate(masks):
        above = np.zeros_like(m)
        for k in range(i + 1, len(masks)):
            above |= masks[k]
        if (m & ~above).sum() < 0.7 * m.sum():
            return None
    pairs.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [(j, i) for _, j, i in pairs]


def make_scene(rng: random.Random) -> Scene:
    size = rng.choice(SIZES)
    style = rng.choice(BG_STYLES)
    bg_names = sorted(BG_COLOURS)
    c1 = rng.choice(bg_names)
    if style == "gradient":
        # the ends differ in colour, but not so much in brightness that the gradient alone
        # decides a perceptual hash (every gradient scene would then look alike)
        c2 = rng.choice([c for c in bg_names if math.dist(BG_COLOURS[c], BG_COLOURS[c1]) > 80
                         and abs(_luma(BG_COLOURS[c]) - _luma(BG_COLOURS[c1])) < 110])
        bg = Background(style, c1, c2, rng.choice(GRADIENT_DIRECTIONS))
    else:
        bg = Background(style, c1)
    n = rng.choices((2, 3, 4, 5), weights=(2, 3, 3, 2))[0]
    touch = rng.random() < 0.4   # some scenes have two shapes overlapping
    for _attempt in range(200):
        cells = rng.sample(CELLS, n)
        if touch:  # the second shape goes next to the first, and one of the two is large
            cells[1] = rng.choice(_neighbours(cells[0]))
            cells[2:] = rng.sample([c for c in CELLS if c not in cells[:2]], n - 2)
        kinds = rng.sample(list(product(SHAPES, sorted(COLOURS))), n)  # (shape, colour) unique in a scene
        sizes = [rng.choice(SIZE_NAMES) for _ in range(n)]
        if touch:
            sizes[rng.randrange(2)] = "large"
        objs = [(s, c, z, cell) for (s, c), z, cell in zip(kinds, sizes, cells)]
        placements = _place(rng, objs, touch)
        order = list(range(n))
        rng.shuffle(order)  # drawing order: the touching pair is not always drawn first
        objs, placements = [objs[k] for k in order], [placements[k] for k in order]
        # every shape must stand out from the background behind it
        if any(math.dist(COLOURS[c], _bg_colour_at(bg, p.cx, p.cy)) < 100 for (_, c, _, _), p in zip(objs, placements)):
            continue
        ov = _overlaps(objs, placements)
        if ov is not None:
            break
    else:  # pragma: no cover - 200 failed draws do not happen with these sizes
        raise RuntimeError("could not place the shapes")
    centre = _bg_colour_at(bg, 0.5, 0.5)
    line_choices = [c for c in sorted(LINE_COLOURS) if math.dist(LINE_COLOURS[c], centre) > 110
                    and (bg.style != "gradient" or math.dist(LINE_COLOURS[c], BG_COLOURS[bg.colour2]) > 90)
                    and math.dist(LINE_COLOURS[c], BG_COLOURS[bg.colour]) > 90]
    lines = rng.choices((0, 1, 2, 3), weights=(3, 2, 2, 1))[0] if line_choices else 0
    line_colour = rng.choice(line_choices) if lines else ""
    return Scene(size=size, bg=bg, objects=tuple(Obj(*o) for o in objs), placements=tuple(placements),
                 lines=lines, line_colour=line_colour, overlaps=tuple(ov))


def _smooth_noise(rng: random.Random, side: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-0.5, 0.5]: a random cells x cells grid upsampled bicubically."""
    grid = Image.frombytes("L", (cells, cells), bytes(rng.randrange(256) for _ in range(cells * cells)))
    return np.asarray(grid.resize((side, side), Image.BICUBIC), dtype=np.float32) / 255.0 - 0.5


def _background(bg: Background, side: int, rng: random.Random) -> Image.Image:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    c1 = np.array(BG_COLOURS[bg.colour], dtype=np.float32)
    if bg.style == "gradient":
        t = {"v": y, "h": x, "d": (x + y) / 2}[bg.direction][..., None]
        img = c1 * (1 - t) + np.array(BG_COLOURS[bg.colour2], dtype=np.float32) * t
        img = img + 44 * _smooth_noise(rng, side, rng.randint(4, 6))[..., None]
    elif bg.style == "mottled":
        blot = 70 * _smooth_noise(rng, side, rng.randint(5, 8)) + 34 * _smooth_noise(rng, side, rng.randint(11, 15))
        img = c1 + blot[..., None]
    elif bg.style == "striped":
        theta = math.radians(rng.uniform(0, 180))
        period = rng.uniform(0.12, 0.22)
        phase = rng.uniform(0, 2 * math.pi)
        wave = np.sin(2 * math.pi * (x * math.cos(theta) + y * math.sin(theta)) / period + phase)
        img = c1 + (24 * wave + 20 * _smooth_noise(rng, side, rng.randint(4, 6)))[..., None]
    else:  # speckled
        img = c1 + 24 * _smooth_noise(rng, side, rng.randint(4, 6))[..., None]
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    if bg.style == "speckled":
        d = ImageDraw.Draw(out)
        light = c1.mean() < 128
        for _ in range(rng.randint(70, 130)):
            px, py = rng.uniform(0, side), rng.uniform(0, side)
            pr = side * rng.uniform(0.004, 0.011)
            k = rng.uniform(45, 80) * (1 if light else -1)
            fill = tuple(int(min(255, max(0, v + k))) for v in BG_COLOURS[bg.colour])
            d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=fill)
    return out


def _jitter(rgb, rng: random.Random, amount: int = 14) -> tuple[int, ...]:
    return tuple(min(255, max(0, v + rng.randint(-amount, amount))) for v in rgb)


def draw_scene(scene: Scene, rng: random.Random) -> bytes:
    """JPEG bytes of the scene, drawn at 2x and downsampled for smooth edges."""
    side = scene.size * 2
    img = _background(scene.bg, side, rng)
    d = ImageDraw.Draw(img)
    for _ in range(scene.lines):  # edge to edge, under the shapes
        if rng.random() < 0.5:
            p0, p1 = (0, rng.uniform(0, side)), (side, rng.uniform(0, side))
        else:
            p0, p1 = (rng.uniform(0, side), 0), (rng.uniform(0, side), side)
        d.line([p0, p1], fill=_jitter(LINE_COLOURS[scene.line_colour], rng, 8), width=rng.randint(3, 5))
    for o, p in zip(scene.objects, scene.placements):
        mask = _shape_mask(o.shape, p, side)
        x0, y0, x1, y1 = mask.getbbox()
        # vertical shading: lit from above, a little darker below
        base = np.array(_jitter(COLOURS[o.colour], rng), dtype=np.float32)
        top, bottom = rng.uniform(1.0, 1.18), rng.uniform(0.78, 0.95)
        t = np.linspace(0, 1, y1 - y0, dtype=np.float32)[:, None, None]
        layer = np.broadcast_to(base * (top * (1 - t) + bottom * t), (y1 - y0, x1 - x0, 3))
        img.paste(Image.fromarray(np.clip(layer, 0, 255).astype(np.uint8), "RGB"), (x0, y0), mask.crop((x0, y0, x1, y1)))
        if rng.random() < 0.4:  # a darker outline on some shapes
            dark = tuple(int(v * 0.55) for v in base)
            cx, cy, r = p.cx * side, p.cy * side, p.r * side
            if o.shape == "circle":
                d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=dark, width=3)
            else:
                d.polygon(_polygon(o.shape, cx, cy, r, p.angle), outline=dark, width=3)
    img = img.resize((scene.size, scene.size), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# Captions. A sentence is (kind, variant, parameters); every language renders every sentence.
#   overview  (v, n)            "There are four shapes in the picture."
#   bg        (v, Background)   "The background is mottled pink." /
#                               "The background fades from grey at the top to brown at the bottom."
#   obj       (v, Obj)          "A large red circle is in the top left corner."
#   also      (v, kinds)        "There are also a small blue star and a large green hexagon."
#                               (kinds: 1-2 (shape, colour, size) described without a place)
#   overlap   (v, upper, lower) "The red circle partly covers the blue square."  (upper/lower: (shape, colour))
#   lines     (v, n, colour)    "Two thin white lines cross the picture."
# Variants are different wordings of the same content; a caption cycles through them so that its
# sentences don't repeat one frame (and two captions rarely share one). At most MAX_PLACED
# shapes get a sentence of their own; the rest share one "also" sentence, so that no caption
# repeats the same frame so often that the repetition filter (character n-grams for Japanese)
# takes it for a generation loop.

Sentence = tuple
MAX_PLACED = 3
N_VARIANTS = {"overview": 4, "bg": 3, "obj": 4, "also": 2, "overlap": 2, "lines": 3}


def caption_sentences(scene: Scene, rng: random.Random) -> list[Sentence]:
    n = len(scene.objects)
    nv = N_VARIANTS
    sents: list[Sentence] = [("overview", rng.randrange(nv["overview"]), n)]
    bg = ("bg", rng.randrange(nv["bg"]), scene.bg)
    bg_first = rng.random() < 0.5
    if bg_first:
        sents.append(bg)
    order = list(range(n))
    rng.shuffle(order)
    v0 = rng.randrange(nv["obj"])
    sents += [("obj", (v0 + k) % nv["obj"], scene.objects[i]) for k, i in enumerate(order[:MAX_PLACED])]
    if n > MAX_PLACED:
        rest = tuple((o.shape, o.colour, o.size) for o in (scene.objects[i] for i in order[MAX_PLACED:]))
        sents.append(("also", rng.randrange(nv["also"]), rest))
    if scene.overlaps:
        up, lo = (scene.objects[i] for i in scene.overlaps[0])
        sents.append(("overlap", rng.randrange(nv["overlap"]), (up.shape, up.colour), (lo.shape, lo.colour)))
    if scene.lines:
        sents.append(("lines", rng.randrange(nv["lines"]), scene.lines, scene.line_colour))
    if not bg_first:
        sents.append(bg)
    return sents


class _Lang:
    """One language of the phrasebook: renders each sentence kind (methods named after it)."""
    code = ""
    sep = " "  # between sentences

    def render(self, sent: Sentence) -> str:
        kind, v, *params = sent
        return getattr(self, kind)(v, *params)

    def bg(self, v, b: Background) -> str:
        return self.gradient(v, b) if b.style == "gradient" else self.texture(v, b)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class English(_Lang):
    code = "eng_Latn"
    NUM = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
    SIZE = {"small": "small", "medium": "medium-sized", "large": "large"}
    POS = {"tl": "in the top left corner", "t": "at the top", "tr": "in the top right corner",
           "l": "on the left", "c": "in the centre", "r": "on the right",
           "bl": "in the bottom left corner", "b": "at the bottom", "br": "in the bottom right corner"}
    GRAD = {"v": ("at the top", "at the bottom"), "h": ("on the left", "on the right"),
            "d": ("in the top left", "in the bottom right")}

    def np(self, o: Obj) -> str:
        return f"a {self.SIZE[o.size]} {o.colour} {o.shape}"

    def overview(self, v, n):
        return (f"There are {self.NUM[n]} shapes in the picture.", f"The image shows {self.NUM[n]} shapes.",
                f"{_cap(self.NUM[n])} shapes are scattered across the picture.",
                f"In total, {self.NUM[n]} shapes can be seen.")[v]

    def obj(self, v, o):
        return (f"{_cap(self.np(o))} is {self.POS[o.cell]}.", f"{_cap(self.POS[o.cell])} there is {self.np(o)}.",
                f"{_cap(self.np(o))} appears {self.POS[o.cell]}.", f"{_cap(self.POS[o.cell])}, you can see {self.np(o)}.")[v]

    def texture(self, v, b):
        return (f"The background is {b.style} {b.colour}.", f"Everything sits on a {b.style} {b.colour} background.",
                f"The shapes are set against a {b.style} {b.colour} background.")[v]

    def gradient(self, v, b):
        p1, p2 = self.GRAD[b.direction]
        return (f"The background fades from {b.colour} {p1} to {b.colour2} {p2}.",
                f"The background is a gradient from {b.colour} {p1} to {b.colour2} {p2}.",
                f"Behind the shapes, the colour shifts from {b.colour} {p1} to {b.colour2} {p2}.")[v]

    def lines(self, v, n, c):
        np_ = f"a thin {c} line" if n == 1 else f"{self.NUM[n]} thin {c} lines"
        if v == 0:
            return f"{_cap(np_)} {'crosses' if n == 1 else 'cross'} the picture."
        if v == 1:
            return f"The picture is crossed by {np_}."
        return f"{_cap(np_)} {'runs' if n == 1 else 'run'} across the image."

    def also(self, v, kinds):
        nps = " and ".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        if v == 0:
            return f"There {'is' if len(kinds) == 1 else 'are'} also {nps}."
        return f"{_cap(nps)} {'is' if len(kinds) == 1 else 'are'} also visible."

    def overlap(self, v, up, lo):
        a, b = f"the {up[1]} {up[0]}", f"the {lo[1]} {lo[0]}"
        return (f"{_cap(a)} partly covers {b}.", f"{_cap(b)} is partly hidden behind {a}.")[v]


class German(_Lang):
    code = "deu_Latn"
    SHAPE = {"circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
             "star": ("Stern", "m"), "hexagon": ("Sechseck", "n")}
    COLOUR = {"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb", "orange": "orangefarben",
              "purple": "violett"}
    SIZE = {"small": "klein", "medium": "mittelgroß", "large": "groß"}
    NUM = {2: "zwei", 3: "drei", 4: "vier", 5: "fünf", 6: "sechs"}
    POS = {"tl": "in der oberen linken Ecke", "t": "oben", "tr": "in der oberen rechten Ecke",
           "l": "links", "c": "in der Mitte", "r": "rechts",
           "bl": "in der unteren linken Ecke", "b": "unten", "br": "in der unteren rechten Ecke"}
    # background colour -> (predicative, attributive stem, noun)
    BG = {"white": ("weiß", "weiß", "Weiß"), "grey": ("grau", "grau", "Grau"), "black": ("schwarz", "schwarz", "Schwarz"),
          "dark blue": ("dunkelblau", "dunkelblau", "Dunkelblau"), "pink": ("rosa", "rosafarben", "Rosa"),
          "dark green": ("dunkelgrün", "dunkelgrün", "Dunkelgrün"), "light blue": ("hellblau", "hellblau", "Hellblau"),
          "pale yellow": ("hellgelb", "hellgelb", "Hellgelb"), "brown": ("braun", "braun", "Braun")}
    TEXTURE = {"mottled": "gefleckt", "striped": "gestreift", "speckled": "gesprenkelt"}
    GRAD = {"v": ("oben", "unten"), "h": ("links", "rechts"), "d": ("oben links", "unten rechts")}
    LINE = {"white": "weiß", "black": "schwarz", "grey": "grau"}

    def np(self, o, acc=False):  # indefinite: ein großer roter Kreis / einen großen roten Kreis / ein großes rotes Quadrat
        noun, g = self.SHAPE[o.shape]
        if g == "m" and acc:
            return f"einen {self.SIZE[o.size]}en {self.COLOUR[o.colour]}en {noun}"
        e = "er" if g == "m" else "es"
        return f"ein {self.SIZE[o.size]}{e} {self.COLOUR[o.colour]}{e} {noun}"

    def also(self, v, kinds):
        if v == 0:
            return f"Außerdem gibt es {' und '.join(self.np(Obj(s, c, z, ''), acc=True) for s, c, z in kinds)}."
        nps = " und ".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        return f"{_cap(nps)} {'ist' if len(kinds) == 1 else 'sind'} ebenfalls zu sehen."

    def definite(self, sc, case):  # weak adjective after the definite article
        noun, g = self.SHAPE[sc[0]]
        art, e = {("nom", "m"): ("der", "e"), ("nom", "n"): ("das", "e"), ("acc", "m"): ("den", "en"),
                  ("acc", "n"): ("das", "e"), ("dat", "m"): ("dem", "en"), ("dat", "n"): ("dem", "en")}[(case, g)]
        return f"{art} {self.COLOUR[sc[1]]}{e} {noun}"

    def overview(self, v, n):
        return (f"Auf dem Bild sind {self.NUM[n]} Formen zu sehen.", f"Das Bild zeigt {self.NUM[n]} Formen.",
                f"{_cap(self.NUM[n])} Formen sind über das Bild verteilt.",
                f"Insgesamt sind {self.NUM[n]} Formen erkennbar.")[v]

    def obj(self, v, o):
        return (f"{_cap(self.np(o))} befindet sich {self.POS[o.cell]}.",
                f"{_cap(self.POS[o.cell])} ist {self.np(o)} zu sehen.",
                f"{_cap(self.POS[o.cell])} liegt {self.np(o)}.",
                f"{_cap(self.POS[o.cell])} erkennt man {self.np(o, acc=True)}.")[v]

    def texture(self, v, b):
        pred, attr, _ = self.BG[b.colour]
        t = self.TEXTURE[b.style]
        return (f"Der Hintergrund ist {pred} und {t}.", f"Alles liegt auf einem {t}en {attr}en Hintergrund.",
                f"Die Formen heben sich von einem {t}en {attr}en Hintergrund ab.")[v]

    def gradient(self, v, b):
        p1, p2 = self.GRAD[b.direction]
        c1, c2 = self.BG[b.colour][2], self.BG[b.colour2][2]
        return (f"Der Hintergrund geht von {c1} {p1} in {c2} {p2} über.",
                f"Der Hintergrund ist ein Farbverlauf von {c1} {p1} zu {c2} {p2}.",
                f"Hinter den Formen wechselt die Farbe von {c1} {p1} zu {c2} {p2}.")[v]

    def lines(self, v, n, c):
        a = self.LINE[c]
        if n == 1:
            return ("Eine dünne {a}e Linie durchzieht das Bild.", "Das Bild wird von einer dünnen {a}en Linie durchzogen.",
                    "Quer über das Bild verläuft eine dünne {a}e Linie.")[v].format(a=a)
        return (f"{_cap(self.NUM[n])} dünne {a}e Linien durchziehen das Bild.",
                f"Das Bild wird von {self.NUM[n]} dünnen {a}en Linien durchzogen.",
                f"Quer über das Bild verlaufen {self.NUM[n]} dünne {a}e Linien.")[v]

    def overlap(self, v, up, lo):
        if v == 0:
            return f"{_cap(self.definite(up, 'nom'))} verdeckt teilweise {self.definite(lo, 'acc')}."
        return f"{_cap(self.definite(lo, 'nom'))} ist teilweise hinter {self.definite(up, 'dat')} verborgen."


class _Romance(_Lang):
    SHAPE: dict = {}     # shape -> (noun, gender)
    COLOUR: dict = {}    # colour -> (m, f)
    NUM: dict = {}
    POS: dict = {}
    GRAD: dict = {}
    ONE = ("un", "une")
    DEF = ("le", "la")
    T: dict = {}

    def definite(self, sc):
        noun, g = self.SHAPE[sc[0]]
        f = g == "f"
        art = "l'" if noun[0] in "aeéèiouh" and self.code == "fra_Latn" else self.DEF[f] + " "
        return f"{art}{noun} {self.COLOUR[sc[1]][f]}"

    def overview(self, v, n):
        return self.T["overview"][v].format(n=self.NUM[n], N=_cap(self.NUM[n]))

    def obj(self, v, o):
        np_ = self.np(o)
        pos = self.POS[o.cell]
        return self.T["obj"][v].format(np=np_, NP=_cap(np_), pos=pos, Pos=_cap(pos))

    def gradient(self, v, b):
        p1, p2 = self.GRAD[b.direction]
        return self.T["gradient"][v].format(c1=self.BG[b.colour], c2=self.BG[b.colour2], p1=p1, p2=p2)

    def texture(self, v, b):
        return self.T["texture"][v].format(c=self.BG[b.colour], t=self.TEXTURE[b.style])


class French(_Romance):
    code = "fra_Latn"
    SHAPE = {"circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
             "star": ("étoile", "f"), "hexagon": ("hexagone", "m")}
    COLOUR = {"red": ("rouge", "rouge"), "blue": ("bleu", "bleue"), "green": ("vert", "verte"),
              "yellow": ("jaune", "jaune"), "orange": ("orange", "orange"),  # invariable colour noun
              "purple": ("violet", "violette")}
    NUM = {2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six"}
    POS = {"tl": "dans le coin supérieur gauche", "t": "en haut", "tr": "dans le coin supérieur droit",
           "l": "à gauche", "c": "au centre", "r": "à droite",
           "bl": "dans le coin inférieur gauche", "b": "en bas", "br": "dans le coin inférieur droit"}
    BG = {"white": "blanc", "grey": "gris", "black": "noir", "dark blue": "bleu foncé", "pink": "rose",
          "dark green": "vert foncé", "light blue": "bleu clair", "pale yellow": "jaune pâle", "brown": "marron"}
    TEXTURE = {"mottled": "marbré", "striped": "rayé", "speckled": "moucheté"}
    GRAD = {"v": ("en haut", "en bas"), "h": ("à gauche", "à droite"), "d": ("en haut à gauche", "en bas à droite")}
    LINE = {"white": ("blanche", "blanches"), "black": ("noire", "noires"), "grey": ("grise", "grises")}
    T = {"overview": ("Il y a {n} formes sur l'image.", "L'image montre {n} formes.", "{N} formes sont réparties sur l'image.",
                      "Au total, on distingue {n} formes."),
         "obj": ("{NP} se trouve {pos}.", "{Pos}, il y a {np}.", "On aperçoit {np} {pos}.", "{Pos}, on distingue {np}."),
         "texture": ("Le fond est {c} et {t}.", "Le tout repose sur un fond {c} {t}.",
                     "Les formes se détachent sur un fond {c} {t}."),
         "gradient": ("Le fond passe du {c1} {p1} au {c2} {p2}.", "Le fond est un dégradé allant du {c1} {p1} au {c2} {p2}.",
                      "Derrière les formes, la couleur passe du {c1} {p1} au {c2} {p2}.")}

    def np(self, o):
        noun, g = self.SHAPE[o.shape]
        f = g == "f"
        colour = self.COLOUR[o.colour][f]
        if o.size == "medium":
            return f"{self.ONE[f]} {noun} {colour} de taille moyenne"
        adj = {"small": ("petit", "petite"), "large": ("grand", "grande")}[o.size][f]
        return f"{self.ONE[f]} {adj} {noun} {colour}"

    def lines(self, v, n, c):
        if n == 1:
            np_ = f"une fine ligne {self.LINE[c][0]}"
            return (f"{_cap(np_)} traverse l'image.", f"L'image est traversée par {np_}.", f"{_cap(np_)} court sur l'image.")[v]
        np_ = f"{self.NUM[n]} fines lignes {self.LINE[c][1]}"
        return (f"{_cap(np_)} traversent l'image.", f"L'image est traversée par {np_}.", f"{_cap(np_)} courent sur l'image.")[v]

    def also(self, v, kinds):
        nps = " et ".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        return (f"Il y a aussi {nps}.", f"On voit également {nps}.")[v]

    def overlap(self, v, up, lo):
        if v == 0:
            return f"{_cap(self.definite(up))} recouvre en partie {self.definite(lo)}."
        hidden = "cachée" if self.SHAPE[lo[0]][1] == "f" else "caché"
        return f"{_cap(self.definite(lo))} est en partie {hidden} derrière {self.definite(up)}."


class Spanish(_Romance):
    code = "spa_Latn"
    SHAPE = {"circle": ("círculo", "m"), "square": ("cuadrado", "m"), "triangle": ("triángulo", "m"),
             "star": ("estrella", "f"), "hexagon": ("hexágono", "m")}
    COLOUR = {"red": ("rojo", "roja"), "blue": ("azul", "azul"), "green": ("verde", "verde"),
              "yellow": ("amarillo", "amarilla"), "orange": ("naranja", "naranja"),  # invariable colour noun
              "purple": ("morado", "morada")}
    SIZE = {"small": ("pequeño", "pequeña"), "medium": ("mediano", "mediana"), "large": ("grande", "grande")}
    NUM = {2: "dos", 3: "tres", 4: "cuatro", 5: "cinco", 6: "seis"}
    ONE = ("un", "una")
    DEF = ("el", "la")
    POS = {"tl": "en la esquina superior izquierda", "t": "en la parte superior", "tr": "en la esquina superior derecha",
           "l": "a la izquierda", "c": "en el centro", "r": "a la derecha",
           "bl": "en la esquina inferior izquierda", "b": "en la parte inferior", "br": "en la esquina inferior derecha"}
    BG = {"white": "blanco", "grey": "gris", "black": "negro", "dark blue": "azul oscuro", "pink": "rosa",
          "dark green": "verde oscuro", "light blue": "azul claro", "pale yellow": "amarillo pálido", "brown": "marrón"}
    TEXTURE = {"mottled": "jaspeado", "striped": "rayado", "speckled": "moteado"}
    GRAD = {"v": ("arriba", "abajo"), "h": ("a la izquierda", "a la derecha"),
            "d": ("arriba a la izquierda", "abajo a la derecha")}
    LINE = {"white": ("blanca", "blancas"), "black": ("negra", "negras"), "grey": ("gris", "grises")}
    T = {"overview": ("Hay {n} figuras en la imagen.", "La imagen muestra {n} figuras.",
                      "{N} figuras están repartidas por la imagen.", "En total se distinguen {n} figuras."),
         "obj": ("{NP} está {pos}.", "{Pos} hay {np}.", "Se ve {np} {pos}.", "{Pos} se distingue {np}."),
         "texture": ("El fondo es {c} y {t}.", "Todo descansa sobre un fondo {c} {t}.",
                     "Las figuras destacan sobre un fondo {c} {t}."),
         "gradient": ("El fondo pasa del {c1} {p1} al {c2} {p2}.", "El fondo es un degradado del {c1} {p1} al {c2} {p2}.",
                      "Detrás de las figuras, el color pasa del {c1} {p1} al {c2} {p2}.")}

    def np(self, o):
        noun, g = self.SHAPE[o.shape]
        f = g == "f"
        return f"{self.ONE[f]} {noun} {self.COLOUR[o.colour][f]} {self.SIZE[o.size][f]}"

    def lines(self, v, n, c):
        if n == 1:
            np_ = f"una fina línea {self.LINE[c][0]}"
            return (f"{_cap(np_)} cruza la imagen.", f"La imagen está atravesada por {np_}.", f"{_cap(np_)} recorre la imagen.")[v]
        np_ = f"{self.NUM[n]} finas líneas {self.LINE[c][1]}"
        return (f"{_cap(np_)} cruzan la imagen.", f"La imagen está atravesada por {np_}.", f"{_cap(np_)} recorren la imagen.")[v]

    def also(self, v, kinds):
        nps = " y ".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        return (f"También hay {nps}.", f"Además se {'ve' if len(kinds) == 1 else 'ven'} {nps}.")[v]

    def overlap(self, v, up, lo):
        if v == 0:
            return f"{_cap(self.definite(up))} tapa en parte {self.definite(lo)}."
        hidden = "oculta" if self.SHAPE[lo[0]][1] == "f" else "oculto"
        behind = self.definite(up)
        behind = "del " + behind[3:] if behind.startswith("el ") else "de " + behind
        return f"{_cap(self.definite(lo))} queda en parte {hidden} detrás {behind}."


class Japanese(_Lang):
    code = "jpn_Jpan"
    sep = ""
    # Sentence endings differ between templates: Japanese is judged by character n-grams, and
    # "…っています" at the end of every sentence would read as a repetition loop.
    SHAPE = {"circle": "円", "square": "正方形", "triangle": "三角形", "star": "星", "hexagon": "六角形"}
    COLOUR = {"red": "赤い", "blue": "青い", "green": "緑の", "yellow": "黄色い", "orange": "オレンジ色の",
              "purple": "紫の"}
    SIZE = {"small": "小さな", "medium": "中くらいの", "large": "大きな"}
    NUM = {2: "二つ", 3: "三つ", 4: "四つ", 5: "五つ", 6: "六つ"}
    POS = {"tl": "左上", "t": "上部", "tr": "右上", "l": "左側", "c": "中央", "r": "右側",
           "bl": "左下", "b": "下部", "br": "右下"}
    BG = {"white": "白", "grey": "灰色", "black": "黒", "dark blue": "紺色", "pink": "ピンク", "dark green": "深緑",
          "light blue": "水色", "pale yellow": "淡い黄色", "brown": "茶色"}
    TEXTURE = {"mottled": "まだら模様", "striped": "縞模様", "speckled": "細かい斑点模様"}
    GRAD = {"v": ("上", "下"), "h": ("左", "右"), "d": ("左上", "右下")}
    LINE = {"white": "白い", "black": "黒い", "grey": "灰色の"}
    LINE_NUM = {1: "一本", 2: "二本", 3: "三本"}

    def np(self, o):
        return f"{self.SIZE[o.size]}{self.COLOUR[o.colour]}{self.SHAPE[o.shape]}"

    def overview(self, v, n):
        return (f"画像には図形が{self.NUM[n]}あります。", f"写っているのは{self.NUM[n]}の図形です。",
                f"{self.NUM[n]}の図形が画像全体に散らばっています。", f"全部で{self.NUM[n]}の図形が確認できます。")[v]

    def obj(self, v, o):
        pos, np_ = self.POS[o.cell], self.np(o)
        return (f"{pos}に{np_}があります。", f"{np_}が{pos}に見えます。", f"{pos}には{np_}が描かれています。",
                f"{pos}では{np_}が目に入ります。")[v]

    def texture(self, v, b):
        c, t = self.BG[b.colour], self.TEXTURE[b.style]
        return (f"背景は{c}の{t}です。", f"図形はすべて{c}の{t}の背景の上にあります。",
                f"図形は{c}の{t}の背景に映えています。")[v]

    def gradient(self, v, b):
        (p1, p2), c1, c2 = self.GRAD[b.direction], self.BG[b.colour], self.BG[b.colour2]
        return (f"背景は{p1}の{c1}から{p2}の{c2}へと変わるグラデーションです。",
                f"背景は、{p1}が{c1}、{p2}が{c2}のグラデーションです。",
                f"図形の後ろでは、色が{p1}の{c1}から{p2}の{c2}へ移り変わります。")[v]

    def lines(self, v, n, c):
        return (f"画像を横切る細い{self.LINE[c]}線が{self.LINE_NUM[n]}あります。",
                f"細い{self.LINE[c]}線が{self.LINE_NUM[n]}、画像を貫いています。",
                f"細い{self.LINE[c]}線が{self.LINE_NUM[n]}、画像の端から端まで伸びています。")[v]

    def also(self, v, kinds):
        nps = "と".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        return (f"ほかに{nps}もあります。", f"{nps}も見えます。")[v]

    def overlap(self, v, up, lo):
        a, b = f"{self.COLOUR[up[1]]}{self.SHAPE[up[0]]}", f"{self.COLOUR[lo[1]]}{self.SHAPE[lo[0]]}"
        return (f"{a}が{b}の一部を覆い隠しています。", f"{b}の一部は{a}の後ろに隠れて見えません。")[v]


class Hindi(_Lang):
    code = "hin_Deva"
    # All five nouns are masculine: adjectives take the masculine forms (direct / oblique).
    SHAPE = {"circle": ("वृत्त", "वृत्त"), "square": ("वर्ग", "वर्ग"), "triangle": ("त्रिभुज", "त्रिभुज"),
             "star": ("तारा", "तारे"), "hexagon": ("षट्भुज", "षट्भुज")}
    COLOUR = {"red": ("लाल", "लाल"), "blue": ("नीला", "नीले"), "green": ("हरा", "हरे"), "yellow": ("पीला", "पीले"),
              "orange": ("नारंगी", "नारंगी"), "purple": ("बैंगनी", "बैंगनी")}
    SIZE = {"small": "छोटा", "medium": "मझोला", "large": "बड़ा"}
    NUM = {2: "दो", 3: "तीन", 4: "चार", 5: "पाँच", 6: "छह"}
    POS = {"tl": "ऊपर बाएँ कोने में", "t": "ऊपर", "tr": "ऊपर दाएँ कोने में", "l": "बाईं ओर", "c": "बीच में",
           "r": "दाईं ओर", "bl": "नीचे बाएँ कोने में", "b": "नीचे", "br": "नीचे दाएँ कोने में"}
    # background colour -> (feminine, for पृष्ठभूमि; masculine oblique, before रंग)
    BG = {"white": ("सफ़ेद", "सफ़ेद"), "grey": ("धूसर", "धूसर"), "black": ("काली", "काले"),
          "dark blue": ("गहरी नीली", "गहरे नीले"), "pink": ("गुलाबी", "गुलाबी"), "dark green": ("गहरी हरी", "गहरे हरे"),
          "light blue": ("हल्की नीली", "हल्के नीले"), "pale yellow": ("हल्की पीली", "हल्के पीले"), "brown": ("भूरी", "भूरे")}
    TEXTURE = {"mottled": "धब्बेदार", "striped": "धारीदार", "speckled": "बिंदीदार"}
    GRAD = {"v": ("ऊपर", "नीचे"), "h": ("बाईं ओर", "दाईं ओर"), "d": ("ऊपर बाईं ओर", "नीचे दाईं ओर")}
    LINE = {"white": "सफ़ेद", "black": "काली", "grey": "धूसर"}  # रेखा is feminine

    def np(self, o):
        return f"एक {self.SIZE[o.size]} {self.COLOUR[o.colour][0]} {self.SHAPE[o.shape][0]}"

    def overview(self, v, n):
        return (f"चित्र में {self.NUM[n]} आकृतियाँ हैं।", f"चित्र में {self.NUM[n]} आकृतियाँ दिखाई देती हैं।",
                f"{self.NUM[n]} आकृतियाँ पूरे चित्र में बिखरी हुई हैं।", f"कुल मिलाकर {self.NUM[n]} आकृतियाँ दिखती हैं।")[v]

    def obj(self, v, o):
        pos, np_ = self.POS[o.cell], self.np(o)
        return (f"{pos} {np_} है।", f"{np_} {pos} दिखाई देता है।", f"{pos} {np_} बना हुआ है।",
                f"{pos} {np_} नज़र आता है।")[v]

    def texture(self, v, b):
        c, t = self.BG[b.colour][0], self.TEXTURE[b.style]
        return (f"पृष्ठभूमि {c} और {t} है।", f"सब कुछ एक {t} {c} पृष्ठभूमि पर है।",
                f"आकृतियाँ एक {t} {c} पृष्ठभूमि पर उभरी हुई हैं।")[v]

    def gradient(self, v, b):
        (p1, p2), c1, c2 = self.GRAD[b.direction], self.BG[b.colour][1], self.BG[b.colour2][1]
        return (f"पृष्ठभूमि {p1} {c1} रंग से {p2} {c2} रंग तक बदलती है।",
                f"पृष्ठभूमि में {p1} {c1} रंग से {p2} {c2} रंग तक का ग्रेडिएंट है।",
                f"आकृतियों के पीछे का रंग {p1} {c1} रंग से {p2} {c2} रंग में बदलता है।")[v]

    def lines(self, v, n, c):
        np_ = f"एक पतली {self.LINE[c]} रेखा" if n == 1 else f"{self.NUM[n]} पतली {self.LINE[c]} रेखाएँ"
        aux = "है" if n == 1 else "हैं"
        return (f"{np_} चित्र को पार करती {aux}।", f"चित्र के आर-पार {np_} खिंची हुई {aux}।",
                f"{np_} पूरे चित्र में फैली हुई {aux}।")[v]

    def also(self, v, kinds):
        nps = " और ".join(self.np(Obj(s, c, z, "")) for s, c, z in kinds)
        one = len(kinds) == 1
        return (f"इसके अलावा {nps} भी {'है' if one else 'हैं'}।", f"{nps} भी दिखाई {'देता है' if one else 'देते हैं'}।")[v]

    def overlap(self, v, up, lo):
        subj = lambda sc: f"{self.COLOUR[sc[1]][0]} {self.SHAPE[sc[0]][0]}"  # noqa: E731
        obl = lambda sc: f"{self.COLOUR[sc[1]][1]} {self.SHAPE[sc[0]][1]}"   # noqa: E731
        if v == 0:
            return f"{subj(up)} {obl(lo)} को आंशिक रूप से ढकता है।"
        return f"{subj(lo)} आंशिक रूप से {obl(up)} के पीछे छिपा है।"


class Russian(_Lang):
    code = "rus_Cyrl"
    # shape -> (nominative, accusative, instrumental, gender)
    SHAPE = {"circle": ("круг", "круг", "кругом", "m"), "square": ("квадрат", "квадрат", "квадратом", "m"),
             "triangle": ("треугольник", "треугольник", "треугольником", "m"),
             "star": ("звезда", "звезду", "звездой", "f"),
             "hexagon": ("шестиугольник", "шестиугольник", "шестиугольником", "m")}
    # colour -> (m nom, f nom, f acc, m instr, f instr); masculine inanimate accusative = nominative
    COLOUR = {"red": ("красный", "красная", "красную", "красным", "красной"),
              "blue": ("синий", "синяя", "синюю", "синим", "синей"),
              "green": ("зелёный", "зелёная", "зелёную", "зелёным", "зелёной"),
              "yellow": ("жёлтый", "жёлтая", "жёлтую", "жёлтым", "жёлтой"),
              "orange": ("оранжевый", "оранжевая", "оранжевую", "оранжевым", "оранжевой"),
              "purple": ("фиолетовый", "фиолетовая", "фиолетовую", "фиолетовым", "фиолетовой")}
    SIZE = {"small": ("маленький", "маленькая", "маленькую"), "large": ("большой", "большая", "большую")}  # medium: "... среднего размера"
    # фигура (f): 2-4 take the genitive singular, 5-6 the genitive plural
    SHAPES_N = {2: "две фигуры", 3: "три фигуры", 4: "четыре фигуры", 5: "пять фигур", 6: "шесть фигур"}
    POS = {"tl": "в левом верхнем углу", "t": "вверху", "tr": "в правом верхнем углу", "l": "слева", "c": "в центре",
           "r": "справа", "bl": "в левом нижнем углу", "b": "внизу", "br": "в правом нижнем углу"}
    # background colour -> (m nom, m gen, m prep, m dat)
    BG = {"white": ("белый", "белого", "белом", "белому"), "grey": ("серый", "серого", "сером", "серому"),
          "black": ("чёрный", "чёрного", "чёрном", "чёрному"),
          "dark blue": ("тёмно-синий", "тёмно-синего", "тёмно-синем", "тёмно-синему"),
          "pink": ("розовый", "розового", "розовом", "розовому"),
          "dark green": ("тёмно-зелёный", "тёмно-зелёного", "тёмно-зелёном", "тёмно-зелёному"),
          "light blue": ("голубой", "голубого", "голубом", "голубому"),
          "pale yellow": ("светло-жёлтый", "светло-жёлтого", "светло-жёлтом", "светло-жёлтому"),
          "brown": ("коричневый", "коричневого", "коричневом", "коричневому")}
    TEXTURE = {"mottled": ("пятнистый", "пятнистом"), "striped": ("полосатый", "полосатом"),
               "speckled": ("крапчатый", "крапчатом")}
    GRAD = {"v": ("вверху", "внизу"), "h": ("слева", "справа"), "d": ("вверху слева", "внизу справа")}
    LINE = {"white": ("белая", "белые"), "black": ("чёрная", "чёрные"), "grey": ("серая", "серые")}  # линия (f)
    LINE_NUM = {2: "две", 3: "три"}

    def np(self, o, acc=False):  # nominative, or accusative (masculine inanimate: = nominative)
        nom, acc_noun, _, g = self.SHAPE[o.shape]
        f = g == "f"
        colour = self.COLOUR[o.colour][(2 if acc else 1) if f else 0]
        noun = acc_noun if acc else nom
        if o.size == "medium":
            return f"{colour} {noun} среднего размера"
        return f"{self.SIZE[o.size][(2 if acc else 1) if f else 0]} {colour} {noun}"

    def ref(self, sc, case):
        nom, acc, ins, g = self.SHAPE[sc[0]]
        c = self.COLOUR[sc[1]]
        f = g == "f"
        return {"nom": f"{c[1] if f else c[0]} {nom}", "acc": f"{c[2] if f else c[0]} {acc}",
                "ins": f"{c[4] if f else c[3]} {ins}"}[case]

    def overview(self, v, n):
        return (f"На изображении {self.SHAPES_N[n]}.", f"На картинке изображены {self.SHAPES_N[n]}.",
                f"По картинке разбросаны {self.SHAPES_N[n]}.", f"Всего можно насчитать {self.SHAPES_N[n]}.")[v]

    def obj(self, v, o):
        f = self.SHAPE[o.shape][3] == "f"
        pos, np_ = self.POS[o.cell], self.np(o)
        return (f"{_cap(np_)} находится {pos}.", f"{_cap(pos)} расположен{'а' if f else ''} {np_}.",
                f"{_cap(pos)} {'видна' if f else 'виден'} {np_}.", f"{_cap(pos)} можно увидеть {self.np(o, acc=True)}.")[v]

    def texture(self, v, b):
        c, t = self.BG[b.colour], self.TEXTURE[b.style]
        return (f"Фон {c[0]} и {t[0]}.", f"Всё это расположено на {c[2]} {t[1]} фоне.",
                f"Фигуры выделяются на {c[2]} {t[1]} фоне.")[v]

    def gradient(self, v, b):
        (p1, p2), c1, c2 = self.GRAD[b.direction], self.BG[b.colour], self.BG[b.colour2]
        return (f"Фон плавно переходит от {c1[1]} {p1} к {c2[3]} {p2}.",
                f"Фон — градиент от {c1[1]} {p1} до {c2[1]} {p2}.",
                f"За фигурами цвет меняется от {c1[1]} {p1} к {c2[3]} {p2}.")[v]

    def lines(self, v, n, c):
        if n == 1:
            np_, verb = f"тонкая {self.LINE[c][0]} линия", ("пересекает", "проходит", "тянется")
        else:  # with 2-3, a feminine noun's adjective is preferably nominative plural
            np_, verb = f"{self.LINE_NUM[n]} тонкие {self.LINE[c][1]} линии", ("пересекают", "проходят", "тянутся")
        return (f"Изображение {verb[0]} {np_}.", f"Через всё изображение {verb[1]} {np_}.",
                f"По изображению {verb[2]} {np_}.")[v]

    def also(self, v, kinds):
        objs = [Obj(s, c, z, "") for s, c, z in kinds]
        nps = " и ".join(self.np(o) for o in objs)
        seen = "видны" if len(objs) > 1 else "видна" if self.SHAPE[objs[0].shape][3] == "f" else "виден"
        return (f"Кроме того, на картинке есть {nps}.", f"Также {seen} {nps}.")[v]

    def overlap(self, v, up, lo):
        if v == 0:
            return f"{_cap(self.ref(up, 'nom'))} частично закрывает {self.ref(lo, 'acc')}."
        f = self.SHAPE[lo[0]][3] == "f"
        return f"{_cap(self.ref(lo, 'nom'))} частично {'скрыта' if f else 'скрыт'} за {self.ref(up, 'ins')}."


class Arabic(_Lang):
    code = "arb_Arab"
    # shape -> (indefinite, definite, gender)
    SHAPE = {"circle": ("دائرة", "الدائرة", "f"), "square": ("مربع", "المربع", "m"),
             "triangle": ("مثلث", "المثلث", "m"), "star": ("نجمة", "النجمة", "f"),
             "hexagon": ("شكل سداسي", "الشكل السداسي", "m")}
    COLOUR = {"red": ("أحمر", "حمراء"), "blue": ("أزرق", "زرقاء"), "green": ("أخضر", "خضراء"),
              "yellow": ("أصفر", "صفراء"), "orange": ("برتقالي", "برتقالية"), "purple": ("بنفسجي", "بنفسجية")}
    SIZE = {"small": ("صغير", "صغيرة"), "medium": ("متوسط الحجم", "متوسطة الحجم"), "large": ("كبير", "كبيرة")}
    # شكل (m): 2 is the dual (nominative / accusative), 3-10 take the feminine-marked numeral
    SHAPES_N = {2: ("شكلان", "شكلين"), 3: ("ثلاثة أشكال",) * 2, 4: ("أربعة أشكال",) * 2,
                5: ("خمسة أشكال",) * 2, 6: ("ستة أشكال",) * 2}
    POS = {"tl": "في الزاوية العلوية اليسرى", "t": "في الأعلى", "tr": "في الزاوية العلوية اليمنى",
           "l": "على اليسار", "c": "في الوسط", "r": "على اليمين",
           "bl": "في الزاوية السفلية اليسرى", "b": "في الأسفل", "br": "في الزاوية السفلية اليمنى"}
    # background colour -> (feminine adjective, for خلفية; definite masculine colour noun)
    BG = {"white": ("بيضاء", "الأبيض"), "grey": ("رمادية", "الرمادي"), "black": ("سوداء", "الأسود"),
          "dark blue": ("زرقاء داكنة", "الأزرق الداكن"), "pink": ("وردية", "الوردي"),
          "dark green": ("خضراء داكنة", "الأخضر الداكن"), "light blue": ("زرقاء فاتحة", "الأزرق الفاتح"),
          "pale yellow": ("صفراء فاتحة", "الأصفر الفاتح"), "brown": ("بنية", "البني")}
    TEXTURE = {"mottled": "مبقعة", "striped": "مخططة", "speckled": "منقطة"}
    GRAD = {"v": ("في الأعلى", "في الأسفل"), "h": ("على اليسار", "على اليمين"), "d": ("في أعلى اليسار", "في أسفل اليمين")}
    # line colour -> (m sg, m dual, f sg for the non-human plural)
    LINE = {"white": ("أبيض", "أبيضان", "بيضاء"), "black": ("أسود", "أسودان", "سوداء"),
            "grey": ("رمادي", "رماديان", "رمادية")}

    def np(self, o):
        noun, _, g = self.SHAPE[o.shape]
        f = g == "f"
        return f"{noun} {self.COLOUR[o.colour][f]} {self.SIZE[o.size][f]}"

    def definite(self, sc):
        _, noun, g = self.SHAPE[sc[0]]
        return f"{noun} ال{self.COLOUR[sc[1]][g == 'f']}"

    def overview(self, v, n):
        nom, acc = self.SHAPES_N[n]
        return (f"في الصورة {nom}.", f"تعرض الصورة {acc}.",
                f"{'يتوزع' if n == 2 else 'تتوزع'} {nom} في أنحاء الصورة.", f"في المجموع، يمكن رؤية {acc}.")[v]

    def obj(self, v, o):
        f = self.SHAPE[o.shape][2] == "f"
        pos, np_ = self.POS[o.cell], self.np(o)
        return (f"{'توجد' if f else 'يوجد'} {np_} {pos}.", f"{pos} {np_}.", f"{'تظهر' if f else 'يظهر'} {np_} {pos}.",
                f"{pos} يمكن رؤية {np_}.")[v]

    def texture(self, v, b):
        c, t = self.BG[b.colour][0], self.TEXTURE[b.style]
        return (f"الخلفية {c} {t}.", f"يقع كل شيء على خلفية {c} {t}.", f"تبرز الأشكال على خلفية {c} {t}.")[v]

    def gradient(self, v, b):
        (p1, p2), c1, c2 = self.GRAD[b.direction], self.BG[b.colour][1], self.BG[b.colour2][1]
        return (f"تتدرج الخلفية من {c1} {p1} إلى {c2} {p2}.", f"الخلفية تدرج لوني من {c1} {p1} إلى {c2} {p2}.",
                f"خلف الأشكال يتغير اللون من {c1} {p1} إلى {c2} {p2}.")[v]

    def lines(self, v, n, c):
        sg, du, pl = self.LINE[c]
        np_ = {1: f"خط {sg} رفيع", 2: f"خطان {du} رفيعان", 3: f"ثلاثة خطوط {pl} رفيعة"}[n]
        # a verb before its subject agrees in gender only; a non-human plural counts as feminine
        return (f"{'تعبر' if n == 3 else 'يعبر'} الصورة {np_}.", f"{'تمتد' if n == 3 else 'يمتد'} عبر الصورة {np_}.",
                f"{'تمر' if n == 3 else 'يمر'} بالصورة {np_}.")[v]

    def also(self, v, kinds):
        objs = [Obj(s, c, z, "") for s, c, z in kinds]
        nps = " و".join(self.np(o) for o in objs)  # و is written joined to the next word
        # a verb before its subject agrees with the first conjunct's gender
        verb = "تظهر" if self.SHAPE[objs[0].shape][2] == "f" else "يظهر"
        return (f"هناك أيضًا {nps}.", f"{verb} أيضًا {nps}.")[v]

    def overlap(self, v, up, lo):
        if v == 0:
            verb = "تغطي" if self.SHAPE[up[0]][2] == "f" else "يغطي"
            return f"{self.definite(up)} {verb} جزءًا من {self.definite(lo)}."
        hidden = "مختبئة" if self.SHAPE[lo[0]][2] == "f" else "مختبئ"
        return f"{self.definite(lo)} {hidden} جزئيًا خلف {self.definite(up)}."


PHRASEBOOK = {c.code: c() for c in (English, German, French, Spanish, Japanese, Hindi, Russian, Arabic)}


def render_caption(sentences: list[Sentence], lang: str) -> str:
    book = PHRASEBOOK[lang]
    return book.sep.join(book.render(s) for s in sentences)


def _all_sentences():
    """Every sentence the caption plans can produce (a few thousand)."""
    nv = N_VARIANTS
    for v, n in product(range(nv["overview"]), range(2, 6)):
        yield ("overview", v, n)
    names = sorted(BG_COLOURS)
    for v, c, t in product(range(nv["bg"]), names, TEXTURES):
        yield ("bg", v, Background(t, c))
    for v, c1, c2, d in product(range(nv["bg"]), names, names, GRADIENT_DIRECTIONS):
        if c1 != c2:
            yield ("bg", v, Background("gradient", c1, c2, d))
    for v, s, c, z, cell in product(range(nv["obj"]), SHAPES, sorted(COLOURS), SIZE_NAMES, CELLS):
        yield ("obj", v, Obj(s, c, z, cell))
    kinds = list(product(SHAPES, sorted(COLOURS), SIZE_NAMES))
    for v, k in product(range(nv["also"]), kinds):
        yield ("also", v, (k,))
    for v, (a, b) in product(range(nv["also"]), permutations(kinds, 2)):
        if a[:2] != b[:2]:  # (shape, colour) is unique in a scene
            yield ("also", v, (a, b))
    for v, (a, b) in product(range(nv["overlap"]), permutations(list(product(SHAPES, sorted(COLOURS))), 2)):
        yield ("overlap", v, a, b)
    for v, n, c in product(range(nv["lines"]), (1, 2, 3), sorted(LINE_COLOURS)):
        yield ("lines", v, n, c)


@lru_cache(maxsize=1)
def _sentence_index() -> dict[str, Sentence]:
    """Every English sentence the templates can produce -> its (kind, variant, parameters)."""
    en = PHRASEBOOK["eng_Latn"]
    index: dict[str, Sentence] = {}
    for s in _all_sentences():
        text = en.render(s)
        if index.setdefault(text, s) != s:  # the English must say everything the translations say
            raise AssertionError(f"two sentences render as {text!r}: {index[text]} and {s}")
    return index


_SENT_SPLIT = re.compile(r"(?<=\.)\s+")


def translate_sentence(sentence_en: str, lang: str) -> str | None:
    """The phrasebook's rendering of an English demo sentence (or whole caption, or the
    caption prompt) in `lang`; None when the sentence or the language is not covered.
    Languages: deu_Latn fra_Latn jpn_Jpan hin_Deva spa_Latn rus_Cyrl arb_Arab."""
    if lang not in PHRASEBOOK or lang == "eng_Latn":
        return None
    s = sentence_en.strip()
    if s == CAPTION_PROMPT["eng_Latn"]:
        return CAPTION_PROMPT.get(lang)
    index = _sentence_index()
    if s in index:
        return PHRASEBOOK[lang].render(index[s])
    parts = _SENT_SPLIT.split(s)
    if len(parts) > 1 and all(p in index for p in parts):
        return PHRASEBOOK[lang].sep.join(PHRASEBOOK[lang].render(index[p]) for p in parts)
    return None


# ---------------------------------------------------------------------------------------
# Instructions (English, LLaVA-style)

MC_SUFFIX = "Answer with the option's letter from the given choices directly."


def instruct_turns(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    """2-3 question/answer pairs that the scene answers: places, colours, sizes, the count,
    the background, the lines, a yes/no question and a lettered multiple-choice question."""
    en = PHRASEBOOK["eng_Latn"]
    objs = list(scene.objects)
    o, o2 = rng.sample(objs, 2)
    pos, size = en.POS[o.cell], en.SIZE[o.size]
    lines = en.lines(0, scene.lines, scene.line_colour) if scene.lines else ""
    # about one shape: every record asks at least one of these, so records differ in substance
    specific = [
        (f"Where is the {o.colour} {o.shape}?", f"The {o.colour} {o.shape} is {pos}."),
        (f"What is {pos}?", f"There is {en.np(o)} {pos}."),
        (f"What colour is the {o.shape} {pos}?", f"The {o.shape} {pos} is {o.colour}."),
        (f"How big is the {o.colour} {o.shape} compared with the {o2.colour} {o2.shape}?",
         f"The {o.colour} {o.shape} is {size} and the {o2.colour} {o2.shape} is {en.SIZE[o2.size]}."),
    ]
    general = [
        ("How many shapes are in the picture?", en.overview(0, len(objs))),
        ("What does the background look like?", en.bg(rng.randrange(N_VARIANTS["bg"]), scene.bg)),
        ("Are there any lines in the picture?",
         f"Yes, {lines[:1].lower()}{lines[1:]}" if lines else "No, there are no lines in the picture."),
    ]
    # yes/no: half the time about a shape that is there, half about one that is not
    if rng.random() < 0.5:
        yn = (f"Is there a {o.colour} {o.shape} in the image?", "Yes.")
    else:
        present = {(x.shape, x.colour) for x in objs}
        s, c = rng.choice(sorted((s, c) for s, c in product(SHAPES, sorted(COLOURS)) if (s, c) not in present))
        yn = (f"Is there a {c} {s} in the image?", "No.")
    # multiple choice with lettered options
    if rng.random() < 0.5:
        opts = [str(k) for k in sorted(rng.sample([k for k in range(1, 8) if k != len(objs)], 3) + [len(objs)])]
        right = str(len(objs))
        q = rng.choice(("How many shapes are in the image?", "How many shapes does the picture contain?",
                        "Count the shapes in the image. How many are there?"))
    else:
        opts = sorted([o.colour, *rng.sample([c for c in sorted(COLOURS) if c != o.colour], 3)])
        rng.shuffle(opts)
        right = o.colour
        q = f"What colour is the {size} {o.shape} {pos}?"
    letters = "ABCD"
    mc = (q + "\n" + "\n".join(f"{letters[i]}. {x}" for i, x in enumerate(opts)) + "\n" + MC_SUFFIX,
          letters[opts.index(right)])
    first = ("Describe the image briefly.", render_caption(caption_sentences(scene, rng), "eng_Latn"))
    # Every record asks one of yes/no or multiple choice, so both kinds are well represented,
    # and one question about a particular shape (or the full description), so records differ.
    special = mc if rng.random() < 0.5 else yn
    n_turns = rng.choice((2, 3))
    if rng.random() < 0.3:  # starts with the full description
        body = [special] if n_turns == 2 else [special, rng.choice(specific)]
        rng.shuffle(body)
        return [first] + body
    body = [special, rng.choice(specific)] + ([rng.choice(general)] if n_turns == 3 else [])
    rng.shuffle(body)
    return body


# ---------------------------------------------------------------------------------------
# Writing


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
    tf.addfile(ti, io.BytesIO(data))


def _repeats_itself(text: str) -> bool:
    row = {"messages": [{"role": "assistant", "content": text}]}
    return _REPETITION.check_detail(row) is not None


def choose_caption(scene: Scene, rng: random.Random, langs: tuple[str, ...]) -> list[Sentence] | None:
    """The first wording of the scene's caption (variants and order are drawn from `rng`) that
    mixkit's default repetition filter accepts in every language of `langs`; None if 50 don't.
    Templated text that names five shapes can read as a loop to an n-gram rule (above all
    Japanese, judged by character n-grams); a writer would rephrase, and so does this."""
    for _attempt in range(50):
        sents = caption_sentences(scene, rng)
        if not any(_repeats_itself(render_caption(sents, lang)) for lang in langs):
            return sents
    return None


def _caption_scenes(seed: int, n: int, purpose: str, langs: tuple[str, ...]
                    ) -> list[tuple[Scene, list[Sentence], random.Random]]:
    out = []
    for i in range(n):
        rng = _rng(seed, purpose, i)
        sents = None
        while sents is None:  # a scene no wording of which passes (rare) is replaced by another
            scene = make_scene(rng)
            sents = choose_caption(scene, rng, langs)
        out.append((scene, sents, _rng(seed, purpose + "-draw", i)))
    return out


def demo_sentences(seed: int = 0) -> list[str]:
    """Every distinct English sentence and prompt in captions_en (sorted): what the
    translation stage's demo cache must hold."""
    en = PHRASEBOOK["eng_Latn"]
    out = {CAPTION_PROMPT["eng_Latn"]}
    for i, (_, sents, _) in enumerate(_caption_scenes(seed, N_CAPTIONS, "caption", CAPTION_LANGS)):
        if i in CAP_DUPLICATES or i == CAP_EMPTY:
            continue
        out.update(en.render(s) for s in sents)
    return sorted(out)


def write_captions(out: Path, seed: int) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq
    ids, caps, imgs = [], [], []
    for i, (scene, sents, draw_rng) in enumerate(_caption_scenes(seed, N_CAPTIONS, "caption", CAPTION_LANGS)):
        ids.append(f"cap_{i:05d}")
        if i in CAP_DUPLICATES:  # exact copy of an earlier record (caption and image)
            src = CAP_DUPLICATES[i]
            caps.append(caps[src])
            imgs.append(imgs[src])
            continue
        caption = render_caption(sents, "eng_Latn")
        jpg = draw_scene(scene, draw_rng)
        if i == CAP_EMPTY:
            caption = ""
        if i == CAP_CORRUPT:
            jpg = jpg[: len(jpg) * 6 // 10]  # cut short: no JPEG end marker
        caps.append(caption)
        imgs.append(jpg)
    table = pa.table({"id": pa.array(ids, pa.string()), "caption": pa.array(caps, pa.string()),
                      "image": pa.array(imgs, pa.binary())})
    pq.write_table(table, out / "captions_en.parquet", row_group_size=100, compression="zstd")
    return {"records": len(ids)}


def write_instruct(out: Path, seed: int) -> dict:
    img_dir = out / "images"
    img_dir.mkdir(exist_ok=True)
    for old in img_dir.glob("*.jpg"):
        old.unlink()
    records, n_images = [], 0
    for i in range(N_INSTRUCT):
        rng = _rng(seed, "instruct", i)
        scene = make_scene(rng)
        rid = f"inst_{i:04d}"
        turns = instruct_turns(scene, rng)
        image = f"images/{rid}.jpg"
        if i == INST_MISSING_IMAGE:
            image = f"images/{rid}_missing.jpg"  # planted: the file is never written
        else:
            (img_dir / f"{rid}.jpg").write_bytes(draw_scene(scene, _rng(seed, "instruct-draw", i)))
            n_images += 1
        conv = []
        for k, (q, a) in enumerate(turns):
            if k == 0:
                q = "<image>\n" + q
            if k == 1 and i == INST_PLACEHOLDER_MISMATCH:
                q = "<image>\n" + q  # planted: two placeholders for one image
            conv += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
        records.append({"id": rid, "image": image, "conversations": conv})
    (out / "instruct_en.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {"records": len(records), "images": n_images}


def write_native(out: Path, seed: int) -> dict:
    nat = out / "native"
    nat.mkdir(exist_ok=True)
    counts = {}
    for lang in NATIVE_LANGS:
        with tarfile.open(nat / f"{lang}.tar", "w", format=tarfile.USTAR_FORMAT) as tf:
            for i, (scene, sents, draw_rng) in enumerate(_caption_scenes(seed, N_NATIVE, f"native-{lang}", (lang,))):
                key = f"{lang.split('_')[0]}{i:05d}"
                caption = render_caption(sents, lang)
                jpg = draw_scene(scene, draw_rng)
                meta = {"key": key, "status": "success", "width": scene.size, "height": scene.size,
                        "lang": lang, "caption": caption}
                _tar_add(tf, f"{key}.jpg", jpg)
                _tar_add(tf, f"{key}.txt", caption.encode("utf-8"))
                _tar_add(tf, f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        counts[lang] = N_NATIVE
    return counts


def write_phrasebook(out: Path, seed: int) -> dict:
    lines = []
    for s in demo_sentences(seed):
        for lang in PHRASEBOOK_LANGS:
            t = translate_sentence(s, lang)
            assert t, (s, lang)
            lines.append(json.dumps({"en": s, "lang": lang, "text": t, "origin": "hand-made phrasebook"},
                                    ensure_ascii=False, sort_keys=True))
    (out / "phrasebook.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"lines": len(lines), "sentences": len(lines) // len(PHRASEBOOK_LANGS)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "recipes" / "demo_data"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"captions_en": write_captions(out, args.seed), "instruct_en": write_instruct(out, args.seed),
               "native": write_native(out, args.seed), "phrasebook": write_phrasebook(out, args.seed)}
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    summary["total_bytes"] = total
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
