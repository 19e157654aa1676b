"""Generate recipes/demo_data/: the bundled demo data (images and text made by this script).

    python scripts/make_demo_data.py [--out recipes/demo_data] [--seed 0]

Images are small procedural scenes drawn with Pillow: coloured shapes (circle, square,
triangle, star) in counts of 1-4 on a white, grey or black background, alone or as two
groups (left/right or top/bottom). Every caption is rendered from the scene's parameters,
so it is true of its image.

The non-English text comes from a HAND-MADE PHRASEBOOK in this file (the `_Lang` tables
below: German, French, Japanese, Hindi, Spanish, Russian, Arabic), NOT from a translation
model. Each English caption sentence is one of a few templates; each language renders the
same template from the same parameters with its own grammar (gender, number agreement,
numeral government). `translate_sentence()` exposes it for the translation stage's demo
cache; `demo_sentences()` lists every distinct English sentence and prompt of captions_en.

Output is byte-deterministic for a given seed and Pillow/libjpeg/pyarrow version: every
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
from itertools import product
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mixkit.sources import CAPTION_PROMPT  # noqa: E402  (one source of truth for the prompt)

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = {"red": (214, 39, 40), "blue": (31, 90, 200), "green": (44, 160, 44),
           "yellow": (240, 200, 20), "orange": (255, 127, 14), "purple": (140, 70, 190)}
BACKGROUNDS = {"white": (246, 246, 246), "grey": (150, 150, 150), "black": (22, 22, 22)}
LAYOUTS = ("single", "lr", "tb")  # one group anywhere; two groups left/right; top/bottom
SIZES = (160, 192, 224)
JPEG_QUALITY = 80

N_CAPTIONS = 600
N_INSTRUCT = 60
N_NATIVE = 60
NATIVE_LANGS = ("deu_Latn", "fra_Latn", "jpn_Jpan", "hin_Deva")
PHRASEBOOK_LANGS = ("spa_Latn", "rus_Cyrl", "arb_Arab")

# Planted bad records (indexes into captions_en / instruct_en), documented in README.md.
CAP_DUPLICATES = {100: 17, 350: 288}   # record -> the earlier record it copies exactly
CAP_EMPTY = 200
CAP_CORRUPT = 450
INST_MISSING_IMAGE = 42
INST_PLACEHOLDER_MISMATCH = 51


# ---------------------------------------------------------------------------------------
# Scenes


@dataclass(frozen=True)
class Group:
    shape: str
    colour: str
    count: int


@dataclass(frozen=True)
class Scene:
    size: int
    bg: str
    layout: str
    groups: tuple[Group, ...]


def _rng(seed: int, purpose: str, i: int) -> random.Random:
    return random.Random(f"{seed}:{purpose}:{i}")


def make_scene(rng: random.Random) -> Scene:
    layout = rng.choices(LAYOUTS, weights=(2, 1, 1))[0]
    shapes = rng.sample(SHAPES, 2)
    colours = rng.sample(sorted(COLOURS), 2)  # two groups differ in shape and in colour
    n = 1 if layout == "single" else 2
    groups = tuple(Group(shapes[k], colours[k], rng.randint(1, 4)) for k in range(n))
    return Scene(size=rng.choice(SIZES), bg=rng.choice(sorted(BACKGROUNDS)), layout=layout, groups=groups)


def _shape_points(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "triangle":
        return [(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a))) for a in (-90, 30, 150)]
    if shape == "star":
        return [(cx + (r if k % 2 == 0 else r * 0.45) * math.cos(math.radians(-90 + 36 * k)),
                 cy + (r if k % 2 == 0 else r * 0.45) * math.sin(math.radians(-90 + 36 * k))) for k in range(10)]
    raise ValueError(shape)


def draw_scene(scene: Scene, rng: random.Random) -> bytes:
    """JPEG bytes of the scene; shapes never overlap and stay inside their group's region."""
    ss = 2  # draw at 2x and downsample for smooth edges
    s = scene.size * ss
    img = Image.new("RGB", (s, s), BACKGROUNDS[scene.bg])
    d = ImageDraw.Draw(img)
    if scene.layout == "single":
        regions = [(0, 0, s, s)]
    elif scene.layout == "lr":
        regions = [(0, 0, s // 2, s), (s // 2, 0, s, s)]
    else:
        regions = [(0, 0, s, s // 2), (0, s // 2, s, s)]
    placed: list[tuple[float, float, float]] = []
    for g, (x0, y0, x1, y1) in zip(scene.groups, regions):
        for _ in range(g.count):
            r = s * rng.uniform(0.07, 0.10)
            for _attempt in range(500):
                cx = rng.uniform(x0 + r + 4, x1 - r - 4)
                cy = rng.uniform(y0 + r + 4, y1 - r - 4)
                if all(math.hypot(cx - px, cy - py) > r + pr + 6 for px, py, pr in placed):
                    break
                r *= 0.99
            placed.append((cx, cy, r))
            fill = COLOURS[g.colour]
            if g.shape == "circle":
                d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
            elif g.shape == "square":
                h = r * 0.85
                d.rectangle((cx - h, cy - h, cx + h, cy + h), fill=fill)
            else:
                d.polygon(_shape_points(g.shape, cx, cy, r * 1.1), fill=fill)
    img = img.resize((scene.size, scene.size), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# Caption templates. A sentence is (template id, parameters); every language renders it.
#   count    "There are three red circles on a white background."      (one group)
#   np       "Three red circles."                                       (one group)
#   shows    "The image shows three red circles."                       (one group)
#   np_bg    "Three red circles on a white background."                 (one group)
#   bg       "The background is white."
#   lr / tb  "Two blue squares on the left and a green star on the right." (two groups)
#   both     "There are two blue squares and a green star on a white background."

Sentence = tuple  # (template, bg, groups...)

CAPTION_PLANS = {
    "single": [("count",), ("np", "bg"), ("shows", "bg"), ("np_bg",)],
    "lr": [("lr", "bg"), ("both",), ("lr",)],
    "tb": [("tb", "bg"), ("both",), ("tb",)],
}


def caption_sentences(scene: Scene, rng: random.Random) -> list[Sentence]:
    plan = rng.choice(CAPTION_PLANS[scene.layout])
    return [("bg", scene.bg) if t == "bg" else (t, scene.bg, *scene.groups) for t in plan]


class _Lang:
    """One language of the phrasebook: noun phrases and the seven sentence templates."""
    code = ""
    sep = " "  # between sentences

    def np(self, g: Group, cap: bool = False) -> str:
        raise NotImplementedError

    def render(self, sent: Sentence) -> str:
        raise NotImplementedError


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class English(_Lang):
    code = "eng_Latn"
    NUM = {2: "two", 3: "three", 4: "four"}

    def np(self, g, cap=False):
        if g.count == 1:
            s = f"{'an' if g.colour[0] in 'aeiou' else 'a'} {g.colour} {g.shape}"
        else:
            s = f"{self.NUM[g.count]} {g.colour} {g.shape}s"
        return _cap(s) if cap else s

    def render(self, sent):
        t, bg, *gs = sent
        if t == "bg":
            return f"The background is {bg}."
        be = "is" if gs[0].count == 1 else "are"
        return {
            "count": lambda: f"There {be} {self.np(gs[0])} on a {bg} background.",
            "np": lambda: f"{self.np(gs[0], True)}.",
            "shows": lambda: f"The image shows {self.np(gs[0])}.",
            "np_bg": lambda: f"{self.np(gs[0], True)} on a {bg} background.",
            "lr": lambda: f"{self.np(gs[0], True)} on the left and {self.np(gs[1])} on the right.",
            "tb": lambda: f"{self.np(gs[0], True)} at the top and {self.np(gs[1])} at the bottom.",
            "both": lambda: f"There {be} {self.np(gs[0])} and {self.np(gs[1])} on a {bg} background.",
        }[t]()


class German(_Lang):
    code = "deu_Latn"
    SHAPE = {"circle": ("Kreis", "Kreise", "m"), "square": ("Quadrat", "Quadrate", "n"),
             "triangle": ("Dreieck", "Dreiecke", "n"), "star": ("Stern", "Sterne", "m")}
    STEM = {"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb",
            "orange": "orangefarben", "purple": "violett"}
    NUM = {2: "zwei", 3: "drei", 4: "vier"}
    BG = {"white": ("weiß", "weißem"), "grey": ("grau", "grauem"), "black": ("schwarz", "schwarzem")}

    def np(self, g, cap=False, acc=False):
        sg, pl, gen = self.SHAPE[g.shape]
        a = self.STEM[g.colour]
        if g.count > 1:
            s = f"{self.NUM[g.count]} {a}e {pl}"
        elif gen == "n":
            s = f"ein {a}es {sg}"
        else:
            s = f"einen {a}en {sg}" if acc else f"ein {a}er {sg}"
        return _cap(s) if cap else s

    @staticmethod
    def verb(g):
        return "ist" if g.count == 1 else "sind"

    def render(self, sent):
        t, bg, *gs = sent
        if t == "bg":
            return f"Der Hintergrund ist {self.BG[bg][0]}."
        dat = self.BG[bg][1]
        return {
            "count": lambda: f"Auf {dat} Hintergrund {self.verb(gs[0])} {self.np(gs[0])} zu sehen.",
            "np": lambda: f"{self.np(gs[0], True)}.",
            "shows": lambda: f"Das Bild zeigt {self.np(gs[0], acc=True)}.",
            "np_bg": lambda: f"{self.np(gs[0], True)} auf {dat} Hintergrund.",
            "lr": lambda: f"Links {self.verb(gs[0])} {self.np(gs[0])} und rechts {self.verb(gs[1])} {self.np(gs[1])}.",
            "tb": lambda: f"Oben {self.verb(gs[0])} {self.np(gs[0])} und unten {self.verb(gs[1])} {self.np(gs[1])}.",
            "both": lambda: f"Auf {dat} Hintergrund sind {self.np(gs[0])} und {self.np(gs[1])} zu sehen.",
        }[t]()


class _Romance(_Lang):
    SHAPE: dict = {}
    ADJ: dict = {}  # colour -> (m sg, f sg, m pl, f pl)
    NUM: dict = {}
    ONE = ("un", "una")
    BG: dict = {}
    T: dict = {}

    def np(self, g, cap=False):
        sg, pl, gen = self.SHAPE[g.shape]
        forms = self.ADJ[g.colour]
        if g.count == 1:
            s = f"{self.ONE[gen == 'f']} {sg} {forms[gen == 'f']}"
        else:
            s = f"{self.NUM[g.count]} {pl} {forms[2 + (gen == 'f')]}"
        return _cap(s) if cap else s

    def render(self, sent):
        t, bg, *gs = sent
        if t == "bg":
            return self.T["bg"].format(bg=self.BG[bg])
        nps = [self.np(g) for g in gs]
        caps = [self.np(g, True) for g in gs]
        return self.T[t].format(bg=self.BG[bg], np1=nps[0], NP1=caps[0], np2=(nps + [""])[1])


class French(_Romance):
    code = "fra_Latn"
    SHAPE = {"circle": ("cercle", "cercles", "m"), "square": ("carré", "carrés", "m"),
             "triangle": ("triangle", "triangles", "m"), "star": ("étoile", "étoiles", "f")}
    ADJ = {"red": ("rouge", "rouge", "rouges", "rouges"), "blue": ("bleu", "bleue", "bleus", "bleues"),
           "green": ("vert", "verte", "verts", "vertes"), "yellow": ("jaune", "jaune", "jaunes", "jaunes"),
           "orange": ("orange", "orange", "orange", "orange"),  # invariable colour noun
           "purple": ("violet", "violette", "violets", "violettes")}
    NUM = {2: "deux", 3: "trois", 4: "quatre"}
    ONE = ("un", "une")
    BG = {"white": "blanc", "grey": "gris", "black": "noir"}
    T = {"bg": "Le fond est {bg}.",
         "count": "Il y a {np1} sur un fond {bg}.",
         "np": "{NP1}.",
         "shows": "L'image montre {np1}.",
         "np_bg": "{NP1} sur un fond {bg}.",
         "lr": "{NP1} à gauche et {np2} à droite.",
         "tb": "{NP1} en haut et {np2} en bas.",
         "both": "Il y a {np1} et {np2} sur un fond {bg}."}


class Spanish(_Romance):
    code = "spa_Latn"
    SHAPE = {"circle": ("círculo", "círculos", "m"), "square": ("cuadrado", "cuadrados", "m"),
             "triangle": ("triángulo", "triángulos", "m"), "star": ("estrella", "estrellas", "f")}
    ADJ = {"red": ("rojo", "roja", "rojos", "rojas"), "blue": ("azul", "azul", "azules", "azules"),
           "green": ("verde", "verde", "verdes", "verdes"),
           "yellow": ("amarillo", "amarilla", "amarillos", "amarillas"),
           "orange": ("naranja", "naranja", "naranja", "naranja"),  # invariable colour noun
           "purple": ("morado", "morada", "morados", "moradas")}
    NUM = {2: "dos", 3: "tres", 4: "cuatro"}
    ONE = ("un", "una")
    BG = {"white": "blanco", "grey": "gris", "black": "negro"}
    T = {"bg": "El fondo es {bg}.",
         "count": "Hay {np1} sobre un fondo {bg}.",
         "np": "{NP1}.",
         "shows": "La imagen muestra {np1}.",
         "np_bg": "{NP1} sobre un fondo {bg}.",
         "lr": "{NP1} a la izquierda y {np2} a la derecha.",
         "tb": "{NP1} arriba y {np2} abajo.",
         "both": "Hay {np1} y {np2} sobre un fondo {bg}."}


class Japanese(_Lang):
    code = "jpn_Jpan"
    sep = ""
    SHAPE = {"circle": "円", "square": "正方形", "triangle": "三角形", "star": "星"}
    ADJ = {"red": "赤い", "blue": "青い", "green": "緑の", "yellow": "黄色い", "orange": "オレンジ色の",
           "purple": "紫の"}
    NUM = {1: "一つ", 2: "二つ", 3: "三つ", 4: "四つ"}
    BG = {"white": ("白い", "白"), "grey": ("灰色の", "灰色"), "black": ("黒い", "黒")}

    def thing(self, g):
        return f"{self.ADJ[g.colour]}{self.SHAPE[g.shape]}"

    def render(self, sent):
        t, bg, *gs = sent
        if t == "bg":
            return f"背景は{self.BG[bg][1]}です。"
        b = self.BG[bg][0]
        g1 = gs[0]
        n1 = self.NUM[g1.count]
        if t in ("lr", "tb"):
            g2 = gs[1]
            p1, p2 = ("左", "右") if t == "lr" else ("上", "下")
            return f"{p1}に{self.thing(g1)}が{n1}、{p2}に{self.thing(g2)}が{self.NUM[g2.count]}あります。"
        if t == "both":
            g2 = gs[1]
            return f"{b}背景に{n1}の{self.thing(g1)}と{self.NUM[g2.count]}の{self.thing(g2)}があります。"
        return {
            "count": f"{b}背景に{self.thing(g1)}が{n1}あります。",
            "np": f"{self.thing(g1)}が{n1}。",
            "shows": f"画像には{self.thing(g1)}が{n1}描かれています。",
            "np_bg": f"{b}背景に描かれた{n1}の{self.thing(g1)}。",
        }[t]


class Hindi(_Lang):
    code = "hin_Deva"
    # All four nouns are masculine, so adjectives take the masculine forms (sg / pl).
    SHAPE = {"circle": ("वृत्त", "वृत्त"), "square": ("वर्ग", "वर्ग"), "triangle": ("त्रिभुज", "त्रिभुज"),
             "star": ("तारा", "तारे")}
    ADJ = {"red": ("लाल", "लाल"), "blue": ("नीला", "नीले"), "green": ("हरा", "हरे"), "yellow": ("पीला", "पीले"),
           "orange": ("नारंगी", "नारंगी"), "purple": ("बैंगनी", "बैंगनी")}
    NUM = {1: "एक", 2: "दो", 3: "तीन", 4: "चार"}
    BG = {"white": "सफ़ेद", "grey": "धूसर", "black": "काली"}  # पृष्ठभूमि is feminine: काली

    def np(self, g, cap=False):
        k = 0 if g.count == 1 else 1
        return f"{self.NUM[g.count]} {self.ADJ[g.colour][k]} {self.SHAPE[g.shape][k]}"

    @staticmethod
    def be(g):
        return "है" if g.count == 1 else "हैं"

    def render(self, sent):
        t, bg, *gs = sent
        b = self.BG[bg]
        if t == "bg":
            return f"पृष्ठभूमि {b} है।"
        g1 = gs[0]
        return {
            "count": lambda: f"{b} पृष्ठभूमि पर {self.np(g1)} {self.be(g1)}।",
            "np": lambda: f"{self.np(g1)}।",
            "shows": lambda: f"चित्र में {self.np(g1)} {'दिखाई देता है' if g1.count == 1 else 'दिखाई देते हैं'}।",
            "np_bg": lambda: f"{b} पृष्ठभूमि पर {self.np(g1)}।",
            "lr": lambda: f"बाईं ओर {self.np(g1)} {self.be(g1)} और दाईं ओर {self.np(gs[1])} {self.be(gs[1])}।",
            "tb": lambda: f"ऊपर {self.np(g1)} {self.be(g1)} और नीचे {self.np(gs[1])} {self.be(gs[1])}।",
            "both": lambda: f"{b} पृष्ठभूमि पर {self.np(g1)} और {self.np(gs[1])} हैं।",
        }[t]()


class Russian(_Lang):
    code = "rus_Cyrl"
    SHAPE = {"circle": ("круг", "круга", "m"), "square": ("квадрат", "квадрата", "m"),
             "triangle": ("треугольник", "треугольника", "m"), "star": ("звезда", "звезды", "f")}
    # colour -> (m nom sg, f nom sg, gen pl, nom pl)
    ADJ = {"red": ("красный", "красная", "красных", "красные"), "blue": ("синий", "синяя", "синих", "синие"),
           "green": ("зелёный", "зелёная", "зелёных", "зелёные"), "yellow": ("жёлтый", "жёлтая", "жёлтых", "жёлтые"),
           "orange": ("оранжевый", "оранжевая", "оранжевых", "оранжевые"),
           "purple": ("фиолетовый", "фиолетовая", "фиолетовых", "фиолетовые")}
    BG = {"white": ("белый", "белом"), "grey": ("серый", "сером"), "black": ("чёрный", "чёрном")}

    def np(self, g, cap=False):
        nom, gen_sg, gen = self.SHAPE[g.shape]
        a = self.ADJ[g.colour]
        f = gen == "f"
        if g.count == 1:  # like English "a": no numeral
            s = f"{a[1] if f else a[0]} {nom}"
        else:
            # 2-4 govern the genitive singular noun; the adjective is genitive plural with
            # masculine nouns and (preferably) nominative plural with feminine ones.
            num = {2: "две" if f else "два", 3: "три", 4: "четыре"}[g.count]
            s = f"{num} {a[3] if f else a[2]} {gen_sg}"
        return _cap(s) if cap else s

    def render(self, sent):
        t, bg, *gs = sent
        if t == "bg":
            return f"Фон {self.BG[bg][0]}."
        p = self.BG[bg][1]
        return {
            "count": lambda: f"На {p} фоне {self.np(gs[0])}.",
            "np": lambda: f"{self.np(gs[0], True)}.",
            "shows": lambda: f"На изображении {self.np(gs[0])}.",
            "np_bg": lambda: f"{self.np(gs[0], True)} на {p} фоне.",
            "lr": lambda: f"Слева {self.np(gs[0])}, справа {self.np(gs[1])}.",
            "tb": lambda: f"Сверху {self.np(gs[0])}, снизу {self.np(gs[1])}.",
            "both": lambda: f"На {p} фоне {self.np(gs[0])} и {self.np(gs[1])}.",
        }[t]()


class Arabic(_Lang):
    code = "arb_Arab"
    # shape -> (singular, dual nominative, plural, gender)
    SHAPE = {"circle": ("دائرة", "دائرتان", "دوائر", "f"), "square": ("مربع", "مربعان", "مربعات", "m"),
             "triangle": ("مثلث", "مثلثان", "مثلثات", "m"), "star": ("نجمة", "نجمتان", "نجوم", "f")}
    # colour -> (m sg, f sg, m dual, f dual); non-human plurals take the feminine singular.
    ADJ = {"red": ("أحمر", "حمراء", "أحمران", "حمراوان"), "blue": ("أزرق", "زرقاء", "أزرقان", "زرقاوان"),
           "green": ("أخضر", "خضراء", "أخضران", "خضراوان"), "yellow": ("أصفر", "صفراء", "أصفران", "صفراوان"),
           "orange": ("برتقالي", "برتقالية", "برتقاليان", "برتقاليتان"),
           "purple": ("بنفسجي", "بنفسجية", "بنفسجيان", "بنفسجيتان")}
    # 3-10 take the opposite gender of the noun's singular.
    NUM = {3: ("ثلاثة", "ثلاث"), 4: ("أربعة", "أربع")}
    BG = {"white": "بيضاء", "grey": "رمادية", "black": "سوداء"}  # خلفية is feminine

    def np(self, g, cap=False):
        sg, dual, pl, gen = self.SHAPE[g.shape]
        a = self.ADJ[g.colour]
        f = gen == "f"
        if g.count == 1:  # indefinite, like English "a"
            return f"{sg} {a[1] if f else a[0]}"
        if g.count == 2:
            return f"{dual} {a[3] if f else a[2]}"
        return f"{self.NUM[g.count][1 if f else 0]} {pl} {a[1]}"

    def render(self, sent):
        t, bg, *gs = sent
        b = self.BG[bg]
        if t == "bg":
            return f"الخلفية {b}."
        return {
            "count": lambda: f"هناك {self.np(gs[0])} على خلفية {b}.",
            "np": lambda: f"{self.np(gs[0])}.",
            "shows": lambda: f"في الصورة {self.np(gs[0])}.",
            "np_bg": lambda: f"{self.np(gs[0])} على خلفية {b}.",
            "lr": lambda: f"على اليسار {self.np(gs[0])}، وعلى اليمين {self.np(gs[1])}.",
            "tb": lambda: f"في الأعلى {self.np(gs[0])}، وفي الأسفل {self.np(gs[1])}.",
            "both": lambda: f"هناك {self.np(gs[0])} و{self.np(gs[1])} على خلفية {b}.",
        }[t]()


PHRASEBOOK = {c.code: c() for c in (English, German, French, Spanish, Japanese, Hindi, Russian, Arabic)}


def render_caption(sentences: list[Sentence], lang: str) -> str:
    book = PHRASEBOOK[lang]
    return book.sep.join(book.render(s) for s in sentences)


@lru_cache(maxsize=1)
def _sentence_index() -> dict[str, Sentence]:
    """Every English sentence the templates can produce -> its (template, parameters)."""
    groups = [Group(s, c, n) for s, c, n in product(SHAPES, sorted(COLOURS), (1, 2, 3, 4))]
    en = PHRASEBOOK["eng_Latn"]
    index: dict[str, Sentence] = {}
    for bg in sorted(BACKGROUNDS):
        index[en.render(("bg", bg))] = ("bg", bg)
        for t in ("count", "np", "shows", "np_bg"):
            for g in groups:
                index.setdefault(en.render((t, bg, g)), (t, bg, g))
        for g1, g2 in product(groups, groups):
            if g1.shape != g2.shape and g1.colour != g2.colour:
                for t in ("lr", "tb", "both"):
                    index.setdefault(en.render((t, bg, g1, g2)), (t, bg, g1, g2))
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

PLACE = {("lr", 0): "on the left", ("lr", 1): "on the right", ("tb", 0): "at the top", ("tb", 1): "at the bottom"}
MC_SUFFIX = "Answer with the option's letter from the given choices directly."


def _plural(shape: str, n: int) -> str:
    return shape if n == 1 else shape + "s"


def instruct_turns(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    """2-3 question/answer pairs that the scene answers: counts, colours, positions, a
    yes/no question and a lettered multiple-choice question."""
    pool = []
    g = rng.choice(scene.groups)
    num = {1: "one", 2: "two", 3: "three", 4: "four"}
    pool.append((f"How many {g.colour} {g.shape}s are there?",
                 f"There {'is' if g.count == 1 else 'are'} {num[g.count]} {g.colour} {_plural(g.shape, g.count)}."))
    pool.append(("What colour is the background?", f"The background is {scene.bg}."))
    pool.append((f"What colour {'is the' if g.count == 1 else 'are the'} {_plural(g.shape, g.count)}?",
                 f"{'It is' if g.count == 1 else 'They are'} {g.colour}."))
    if scene.layout != "single":
        k = scene.groups.index(g)
        pool.append((f"Where {'is the' if g.count == 1 else 'are the'} {g.colour} {_plural(g.shape, g.count)}?",
                     f"{'It is' if g.count == 1 else 'They are'} {PLACE[(scene.layout, k)]}."))
    # yes/no: half the time about a shape that is there, half about one that is not
    if rng.random() < 0.5:
        yn = (f"Is there a {g.colour} {g.shape} in the image?", "Yes.")
    else:
        present = {(x.shape, x.colour) for x in scene.groups}
        absent = sorted((s, c) for s, c in product(SHAPES, sorted(COLOURS)) if (s, c) not in present)
        s, c = rng.choice(absent)
        yn = (f"Is there a {c} {s} in the image?", "No.")
    # multiple choice with lettered options
    if rng.random() < 0.5:
        opts = ["1", "2", "3", "4"]
        right = str(g.count)
        q = f"How many {g.shape}s are in the image?"
    else:
        others = rng.sample([c for c in sorted(COLOURS) if c != g.colour], 3)
        opts = sorted([g.colour, *others])
        rng.shuffle(opts)
        right = g.colour
        q = f"What colour {'is the' if g.count == 1 else 'are the'} {_plural(g.shape, g.count)}?"
    letters = "ABCD"
    mc = (q + "\n" + "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(opts)) + "\n" + MC_SUFFIX,
          letters[opts.index(right)])
    n_turns = rng.choice((2, 3))
    first = ("Describe the image briefly.", render_caption(caption_sentences(scene, rng), "eng_Latn"))
    rest = rng.sample(pool, len(pool))
    # Every record asks one of yes/no or multiple choice, so both kinds are well represented;
    # the plain form of the multiple-choice question is not asked beside it.
    special = mc if rng.random() < 0.5 else yn
    chosen = [special] + [p for p in rest if not (special is mc and mc[0].startswith(p[0]))]
    turns = ([first] if rng.random() < 0.3 else []) + chosen
    return turns[:n_turns]


# ---------------------------------------------------------------------------------------
# Writing


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
    tf.addfile(ti, io.BytesIO(data))


def _caption_scenes(seed: int, n: int, purpose: str) -> list[tuple[Scene, list[Sentence], random.Random]]:
    out = []
    for i in range(n):
        rng = _rng(seed, purpose, i)
        scene = make_scene(rng)
        out.append((scene, caption_sentences(scene, rng), _rng(seed, purpose + "-draw", i)))
    return out


def demo_sentences(seed: int = 0) -> list[str]:
    """Every distinct English sentence and prompt in captions_en (sorted): what the
    translation stage's demo cache must hold."""
    en = PHRASEBOOK["eng_Latn"]
    out = {CAPTION_PROMPT["eng_Latn"]}
    for i, (_, sents, _) in enumerate(_caption_scenes(seed, N_CAPTIONS, "caption")):
        if i in CAP_DUPLICATES or i == CAP_EMPTY:
            continue
        out.update(en.render(s) for s in sents)
    return sorted(out)


def write_captions(out: Path, seed: int) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq
    ids, caps, imgs = [], [], []
    for i, (scene, sents, draw_rng) in enumerate(_caption_scenes(seed, N_CAPTIONS, "caption")):
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
            for i, (scene, sents, draw_rng) in enumerate(_caption_scenes(seed, N_NATIVE, f"native-{lang}")):
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
