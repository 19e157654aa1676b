"""Write N conversations shaped like public LVLM instruction sets, as JSON lines of mixkit's
`messages` layout (what `mixkit translate` reads), offline and deterministic for a seed.

    python scripts/make_instruct_sample.py --n 1000 --seed 0 --out runs/instruct_sample.jsonl

The shapes and their shares follow a LLaVA-NeXT-style mix: LLaVA-Instruct (detailed
descriptions, reasoning, multi-turn), ShareGPT4V long captions, ALLaVA questions with a
rationale and a bold answer, DocVQA / ChartQA ("Answer the question using a single word or
phrase."), ScienceQA multiple choice, MathV360K/Geo (choices, LaTeX solutions, bare LaTeX
answers), code help (fenced and indented code, inline code, tracebacks, paths, URLs, JSON
templates), and Qwen2-VL / InternVL / Kosmos-2 grounding. The text is written from templates
and word lists in this file (no data set is downloaded); it measures segmentation, not
language.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OBJECTS = ["dog", "cat", "red car", "bicycle", "woman in a blue coat", "man holding an umbrella", "wooden bench",
           "street lamp", "yellow bus", "stack of books", "coffee cup", "laptop", "fire hydrant", "sailboat",
           "traffic light", "potted plant", "kite", "horse", "child with a backpack", "pizza"]
PLACES = ["a busy street", "a quiet park", "a kitchen", "an office", "a beach at sunset", "a snowy mountain road",
          "a farmers' market", "a train station", "a classroom", "a living room"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "grey"]
SIGNS = ["Welcome Back! Classes Start Monday.", "Fresh Bread! Open Daily.", "Stop. Road Closed.",
         "Sale! Everything Must Go.", "Caution: Wet Floor."]
CITIES = ["Paris", "Berlin", "Tokyo", "Nairobi", "Lima", "Delhi", "Cairo", "Oslo"]


def pick(r: random.Random, xs, k: int | None = None):
    return r.choice(xs) if k is None else r.sample(xs, k)


def msg(*turns):
    return [{"role": role, "content": text} for role, text in turns]


def llava_instruct(r):
    a, b, c = pick(r, OBJECTS, 3)
    place = pick(r, PLACES)
    kind = r.randrange(3)
    if kind == 0:
        return msg(("user", "<image>\nDescribe the image in detail."),
                   ("assistant", f"The image shows {place} with a {a} in the foreground. Next to it there is a {b}, "
                                 f"and further back a {c} can be seen. The colours are mostly {pick(r, COLOURS)} and "
                                 f"{pick(r, COLOURS)}, which gives the scene a calm feeling. There are also bags, "
                                 "boxes, chairs, etc. The light suggests it is late afternoon."))
    if kind == 1:
        return msg(("user", f"What might the {a} be used for in this setting?\n<image>"),
                   ("assistant", f"In {place}, the {a} is probably used by the people nearby, e.g. to rest or to "
                                 f"carry things. Since the {b} is close to it, they may belong to the same person. "
                                 "This is common in the U.S. It is also common in many other countries."))
    return msg(("user", "<image>\nHow many people are in the picture?"), ("assistant", str(r.randint(1, 9))),
               ("user", f"Is there a {a}?"), ("assistant", pick(r, ["Yes", "No", "Yes.", "No."])),
               ("user", "What is the weather like?"),
               ("assistant", f"It looks {pick(r, ['sunny', 'cloudy', 'rainy'])}; the ground is "
                             f"{pick(r, ['dry', 'wet'])} and the sky is {pick(r, COLOURS)}."))


def sharegpt4v(r):
    a, b = pick(r, OBJECTS, 2)
    sign = pick(r, SIGNS)
    return msg(("user", "<image>\nWhat do you see happening in this image?"),
               ("assistant", f"The image captures {pick(r, PLACES)}. In the centre, a {a} stands next to a {b}. "
                             f"Above them, a sign reads \"{sign}\" in {pick(r, COLOURS)} letters on a "
                             f"{pick(r, COLOURS)} background. The photo was taken at about {r.randint(1, 11)} p.m. "
                             "The shadows are long. The composition draws the eye from the sign down to the "
                             f"{a}, while the {b} balances the left side of the frame.\n\nOverall, the scene feels "
                             "lively but relaxed."))


def allava(r):
    opts = pick(r, ["sunny", "rainy", "snowy", "foggy", "windy", "stormy"], 4)
    ans = r.randrange(4)
    letters = "ABCD"
    q = "Which of the following best describes the weather? " + " ".join(f"{letters[i]}. {o}" for i, o in enumerate(opts))
    return msg(("user", f"<image>\n{q}"),
               ("assistant", f"Looking at the sky and the ground, the conditions are clearly {opts[ans]}. "
                             f"People are dressed accordingly, and the {pick(r, OBJECTS)} in the corner confirms "
                             f"it.\n\n**Answer:** {letters[ans]}"))


def docvqa(r):
    kind = r.randrange(4)
    suffix = "\nAnswer the question using a single word or phrase."
    if kind == 0:
        return msg(("user", f"<image>\nWhat is the date on the invoice?{suffix}"),
                   ("assistant", f"{pick(r, ['March', 'June', 'October'])} {r.randint(1, 28)}, {r.randint(1990, 2023)}"))
    if kind == 1:
        return msg(("user", f"<image>\nWhat is the website at the bottom of the page?{suffix}"),
                   ("assistant", pick(r, ["www.acme-supplies.com", "acme-supplies.com", "greenfield.org"])))
    if kind == 2:
        return msg(("user", f"<image>\nWho signed the letter?{suffix}"),
                   ("assistant", f"{pick(r, ['J. K.', 'A. B.', 'M.'])} {pick(r, ['Smith', 'Okafor', 'Tanaka'])}"))
    return msg(("user", f"<image>\nWhere is the report stored?{suffix}"),
               ("assistant", pick(r, ["C:\\Reports\\2021\\q3.pdf", "/srv/reports/2021/q3.pdf"])))


def chartqa(r):
    first = 2015 + r.randrange(4)
    years = list(range(first, first + 4))
    vals = [round(r.uniform(1, 9), 1) for _ in years]
    if r.random() < 0.4:
        rows = "\n".join(f"{y},{v},{round(v * 0.3, 1)}" for y, v in zip(years, vals))
        return msg(("user", "<image>\nConvert the chart into a CSV table."), ("assistant", "Year,Revenue,Profit\n" + rows))
    if r.random() < 0.5:
        return msg(("user", "<image>\nWhat is the difference between the highest and the lowest value?"),
                   ("assistant", str(round(max(vals) - min(vals), 1))))
    return msg(("user", "<image>\nDescribe the trend shown in the chart."),
               ("assistant", f"The values rise from {vals[0]} in {years[0]} to {vals[-1]} in {years[-1]}. "
                             f"The largest jump is between {years[1]} and {years[2]}.[^1]\n\n"
                             "[^1]: Values are in millions of dollars."))


def scienceqa(r):
    props = pick(r, ["sticky", "fragile", "hard", "soft", "smooth", "bumpy", "stretchy"], 3)
    ans = r.randrange(3)
    return msg(("user", f"Context: Select the best answer.\nQuestion: Which property do these three objects have in "
                        f"common?\nOptions: (A) {props[0]} (B) {props[1]} (C) {props[2]}\n<image>"),
               ("assistant", f"The answer is {'ABC'[ans]}. All three objects are {props[ans]}."))


def mathv(r):
    angle = r.choice([30, 40, 50, 70])
    base = (180 - angle) // 2
    choices = [base, base - 10, base + 10, angle]
    r.shuffle(choices)
    letter = "ABCD"[choices.index(base)]
    if r.random() < 0.3:
        k = r.randint(2, 9)
        return msg(("user", f"<image>\nWhat is the area of the circle with radius {k}?"), ("assistant", f"{k * k}\\pi"))
    return msg(("user", f"<image>\nAs shown in the figure, in triangle ABC, AB = AC and the angle A is {angle}°. What is "
                        "the measure of angle B?\nChoices:\n" + "\n".join(f"{'ABCD'[i]}:{c}°" for i, c in enumerate(choices))),
               ("assistant", f"Since AB = AC, the base angles are equal, so $ \\angle B = \\frac{{180^\\circ - "
                             f"{angle}^\\circ}}{{2}} $ = {base}°. Therefore, the answer is {letter}."))


def code_help(r):
    kind = r.randrange(4)
    if kind == 0:
        mod = pick(r, ["numpy", "pandas", "torch", "requests"])
        return msg(("user", f"I get this error:\nTraceback (most recent call last):\n  File \"main.py\", line "
                            f"{r.randint(1, 40)}, in <module>\n    import {mod}\nModuleNotFoundError: No module named "
                            f"'{mod}'\nWhat should I do?"),
                   ("assistant", f"The package is not installed. Do this:\n1. Activate the environment:\n"
                                 f"    - Run `source .venv/bin/activate` first.\n    - Then check that `which python` "
                                 f"points into it.\n2. Install it with `pip install {mod}` (see "
                                 f"https://pypi.org/project/{mod}/).\n3. Run the script again."))
    if kind == 1:
        n = r.randint(2, 9)
        return msg(("user", f"How do I print the numbers 0 to {n} in Python?"),
                   ("assistant", f"Use a loop:\n```python\nfor i in range({n + 1}):\n    print(i)\n```\n"
                                 "Each number is printed on its own line."))
    if kind == 2:
        return msg(("user", "Return the answer as JSON in the form {\"answer\": \"<letter>\", \"reason\": \"<one "
                            "sentence>\"}."),
                   ("assistant", f"{{\"answer\": \"{pick(r, 'ABCD')}\", \"reason\": \"The {pick(r, OBJECTS)} is on "
                                 "the left.\"}"))
    path = pick(r, ["C:\\Users\\alice\\project\\config.yaml", "/etc/app/config.yaml", "~/project/config.yaml"])
    return msg(("user", "Where does the app read its settings from?"),
               ("assistant", f"It reads them from {path}. You can change the port there; restart the app afterwards. "
                             "Here is an example:\n\n    port: 8080\n    host: 0.0.0.0\n\nSave the file and run it."))


def grounding(r):
    a = pick(r, OBJECTS)
    x1, y1 = r.randint(0, 400), r.randint(0, 400)
    x2, y2 = x1 + r.randint(50, 500), y1 + r.randint(50, 500)
    kind = r.randrange(3)
    if kind == 0:
        return msg(("user", f"<|vision_start|><|image_pad|><|vision_end|>Locate the {a} in the image and output its "
                            "bounding box."),
                   ("assistant", f"<|object_ref_start|>the {a}<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})"
                                 "<|box_end|>"))
    if kind == 1:
        return msg(("user", "<image>\nPlease provide the bounding box coordinate of the region this sentence "
                            f"describes: <ref>the {a}</ref>"),
                   ("assistant", f"<ref>the {a}</ref><box>[[{x1}, {y1}, {x2}, {y2}]]</box>"))
    return msg(("user", "<grounding> Describe this image in detail:"),
               ("assistant", f"<grounding> An image of<phrase> a {a}</phrase><object><patch_index_{x1:04d}>"
                             f"<patch_index_{min(x2, 1023):04d}></object> in {pick(r, PLACES)}."))


# (shape, share of the sample)
SHAPES = [(llava_instruct, 0.25), (sharegpt4v, 0.10), (allava, 0.10), (docvqa, 0.10), (chartqa, 0.10),
          (scienceqa, 0.08), (mathv, 0.10), (code_help, 0.10), (grounding, 0.07)]


def make_sample(n: int, seed: int = 0) -> list[dict]:
    """n rows {"id", "source", "messages"}; row i depends only on (seed, i)."""
    names = [f.__name__ for f, _ in SHAPES]
    weights = [w for _, w in SHAPES]
    out = []
    for i in range(n):
        r = random.Random(f"{seed}:{i}")
        k = r.choices(range(len(SHAPES)), weights)[0]
        out.append({"id": f"{names[k]}-{i:05d}", "source": names[k], "messages": SHAPES[k][0](r)})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        for row in make_sample(a.n, a.seed):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {a.n} conversations to {a.out}")


if __name__ == "__main__":
    main()
