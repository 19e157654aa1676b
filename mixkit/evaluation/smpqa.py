"""SMPQA-style benchmark generation: bar and pie charts with labels in a language, and the
study's two question types (reading: "What is the label of the biggest bar?", grounding:
"Is the bar with label 'X' the biggest?" -> yes/no).

Plots are a pure function of (seed, plot index): kind, number of bars, values, colours,
orientation, exploded slice and size are the same in every language; only the labels differ
(drawn for each language from its own pool with a generator seeded by (seed, plot, language)).
Values are unambiguous: any two values of a plot differ by at least `margin` (15 %) of the
smaller one, so every "biggest / second smallest / bigger than" question has a visible answer
even on a pie chart drawn without numbers.
Labels follow the paper: the less frequent half of a word-frequency list (PyPI `wordfreq`, else
word counts of the natural text shipped in mixkit.lang.udhr, else CLDR words; see smpqa_labels), or
user files. No label of a plot is part of another (whole labels only: "Tlh" is never asked about
next to "Tlhakole"). Every label must pass the OCR stage's font-coverage and shaping check
(`ocr_synth.fonts.renderable`): pool words that fail are left out (and counted); a user-given
label that fails is an error.

One plot gives two samples in the mixkit schema, both holding the plot image: task
`smpqa_reading` (5 question/answer turns) and `smpqa_grounding` (8 turns, 4 yes and 4 no). The
questions and answers are also in meta["questions"] ({question, answer, type}); the harness asks
each question on its own. Questions are English (as in SMPQA) with labels quoted in the language.
"""
from __future__ import annotations

import json
import math
import time
import unicodedata
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mixkit.lang.languages import ENGLISH, get
from mixkit.core.schema import IMAGE_TOKEN, make_id, make_row

SOURCE = "smpqa"
PROMPT_SUFFIX = "Answer the question using a single word or phrase."
PROMPT_TEMPLATE = "{QUESTION}\n" + PROMPT_SUFFIX
CONTROL_LANG = ENGLISH          # the Latin-script control set: the same plots with English labels
READING, GROUNDING = "smpqa_reading", "smpqa_grounding"
MIN_POOL = 9                    # 8 bars at most + 1 label that is not in the plot (grounding "no")
# The paper's 11 languages: English, 4 more Latin-script ones of different resource tiers, and
# 6 major non-Latin scripts (its "zh" is Simplified, like wordfreq's Chinese list).
PAPER_LANGS = ("eng_Latn", "deu_Latn", "ita_Latn", "ind_Latn", "zul_Latn", "arb_Arab", "hin_Deva",
               "kor_Hang", "rus_Cyrl", "tha_Thai", "zho_Hans")


class SmpqaError(ValueError):
    """A language that cannot get a benchmark (too few renderable labels, labels that fail coverage)."""


@dataclass(frozen=True)
class PlotSpec:
    index: int
    kind: str                    # bar | pie
    values: tuple[int, ...]      # 30..100, any two differ by >= margin: every rank question is unambiguous
    colors: tuple[str, ...]
    orientation: str | None      # bars: vertical | horizontal
    explode: int | None          # pies: index of the slice pulled out
    start_angle: float
    width: int
    height: int
    font_size: int
    jpeg_quality: int

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass
class SmpqaOptions:
    per_kind: int = 50                        # configurations per chart kind (50 + 50 = 100 images)
    bars: tuple[int, int] = (4, 8)            # number of bars / slices, inclusive
    values: tuple[int, int] = (30, 100)       # value range, inclusive
    width: tuple[int, int] = (448, 640)       # image width in px
    font_scale: float = 0.034                 # label font size as a share of the width
    latin_control: bool = True                # add the English (Latin-script) control set
    label_files: list[str] = field(default_factory=list)   # <lang>.txt / .jsonl / .tsv (text_sources format)
    margin: float = 0.15                      # any two values differ by >= 15 % of the smaller one
    freq_top: int = 1000                      # word-frequency list length; labels from its less frequent half

    def __post_init__(self) -> None:
        if self.per_kind < 1:
            raise ValueError("per_kind must be >= 1")
        lo, hi = self.bars
        if not 2 <= lo <= hi <= 10:
            raise ValueError(f"bars must be a range within 2..10 (the palette has 10 colours), got {self.bars}")
        if not 0 <= self.margin <= 1:
            raise ValueError(f"margin must be within 0..1, got {self.margin}")
        if _chain_top(self.values[0], hi, self.margin) > self.values[1]:
            raise ValueError(f"value range {self.values} is too narrow for {hi} values that differ by "
                             f"{self.margin:.0%}: widen values, lower margin or bars")
        if self.freq_top < 2 * MIN_POOL:
            raise ValueError(f"freq_top must be >= {2 * MIN_POOL}, got {self.freq_top}")


def _step(v: int, margin: float) -> int:
    """The smallest integer value that is `margin` bigger than v."""
    return max(v + 1, math.ceil(v * (1 + margin) - 1e-9))


def _chain_top(lo: int, n: int, margin: float) -> int:
    v = lo
    for _ in range(n - 1):
        v = _step(v, margin)
    return v


def spaced_values(rng: np.random.Generator, n: int, lo: int, hi: int, margin: float) -> list[int]:
    """n integers in lo..hi, sorted ascending, each `margin` bigger than the one before; every
    value is drawn uniformly from the room that still leaves space for the ones after it."""
    ceil = [hi] * n                       # the largest value position i can take
    for i in range(n - 2, -1, -1):
        v = ceil[i + 1]
        while v > lo and _step(v, margin) > ceil[i + 1]:
            v -= 1
        ceil[i] = v
    out: list[int] = []
    for i in range(n):
        floor = lo if i == 0 else _step(out[-1], margin)
        out.append(int(rng.integers(floor, ceil[i] + 1)))
    return out


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([int(p) & 0xFFFFFFFF for p in parts])


def _lang_key(lang: str) -> int:
    return zlib.crc32(lang.encode("utf-8"))


def plot_specs(seed: int = 0, options: SmpqaOptions | None = None) -> list[PlotSpec]:
    """The benchmark's plots: per_kind bar charts then per_kind pie charts, the same in every language."""
    from ocr_synth.charts import COLORS

    o = options or SmpqaOptions()
    specs = []
    for i in range(2 * o.per_kind):
        rng = _rng(seed, 0x53504D51, i)
        kind = "bar" if i < o.per_kind else "pie"
        n = int(rng.integers(o.bars[0], o.bars[1] + 1))
        ordered = spaced_values(rng, n, o.values[0], o.values[1], o.margin)
        values = tuple(ordered[j] for j in rng.permutation(n))
        colors = tuple(COLORS[j] for j in rng.permutation(len(COLORS))[:n])
        width = int(rng.integers(o.width[0], o.width[1] + 1))
        height = int(round(width * rng.uniform(0.7, 1.0)))
        orientation = ("vertical" if rng.random() < 0.5 else "horizontal") if kind == "bar" else None
        explode = int(rng.integers(n)) if kind == "pie" and rng.random() < 0.5 else None
        specs.append(PlotSpec(index=i, kind=kind, values=values, colors=colors, orientation=orientation,
                              explode=explode, start_angle=round(float(rng.uniform(0, 360)), 2),
                              width=width, height=height, font_size=max(12, round(width * o.font_scale)),
                              jpeg_quality=int(rng.integers(88, 96))))
    return specs


# ---------------------------------------------------------------------------------------------
# labels

def check_labels(labels: list[str], lang: str) -> list[str]:
    """Labels that fail the OCR stage's check (the script's own font must cover and shape them)."""
    from ocr_synth.fonts import renderable

    kept, _ = renderable(list(labels), lang)
    ok = set(kept)
    return [t for t in labels if t not in ok]


def label_pool(lang: str, options: SmpqaOptions | None = None) -> tuple[list[str], dict]:
    """(labels, info) for one language: user files first, else a word-frequency list (see
    smpqa_labels); all renderable, one per normalised form, sorted.

    info: source, candidates, kept, dropped {reason: n}. Raises SmpqaError when a user label
    fails the coverage check or fewer than MIN_POOL labels remain.
    """
    from mixkit.evaluation.smpqa_labels import frequency_labels
    from ocr_synth.text_sources import load_text_files

    o = options or SmpqaOptions()
    user = load_text_files(o.label_files).get(lang, []) if o.label_files else []
    if user:
        cands = list(dict.fromkeys(" ".join(t.split()) for t in user if t.strip()))
        bad = check_labels(cands, lang)
        if bad:
            raise SmpqaError(f"{len(bad)} label(s) for {lang} fail the font-coverage/shaping check of the OCR stage "
                             f"(the {get(lang).script} font lacks glyphs or breaks clusters): {bad[:8]}; "
                             "fix or remove them in the label file")
        seen: dict[str, str] = {}
        for t in sorted(cands):
            seen.setdefault(normalize_answer(t), t)
        uniq = [t for k, t in seen.items() if k]
        n_cands, dropped, source = len(cands), {"duplicate": len(cands) - len(uniq)}, "file"
    else:
        kept, n_cands, dropped, source = frequency_labels(lang, o.freq_top, MIN_POOL, key=normalize_answer)
        uniq = sorted(kept)
    if len(uniq) < MIN_POOL:
        raise SmpqaError(f"only {len(uniq)} usable labels for {lang} from {source} (need {MIN_POOL}); "
                         f"give a word list: SmpqaOptions(label_files=['{lang}.txt']) / --labels {lang}.txt")
    return uniq, {"source": source, "candidates": n_cands, "kept": len(uniq),
                  "dropped": {k: v for k, v in dropped.items() if v}}


def part_of(a: str, b: str) -> bool:
    """Whether one label is part of the other once normalised ("Tlh" / "Tlhakole"): such a pair is
    never in one plot, so reading either does not half-answer a question about the other."""
    na, nb = normalize_answer(a), normalize_answer(b)
    return na in nb or nb in na


def has_label(labels: list[str], label: str) -> bool:
    """Whole-label match: a plot has `label` only if one of its labels is that label (normalised)."""
    k = normalize_answer(label)
    return any(normalize_answer(t) == k for t in labels)


def plot_labels(pool: list[str], spec: PlotSpec, seed: int, lang: str) -> tuple[list[str], str]:
    """(labels of the plot, one pool label that is not in it) for one language; no two of them
    is part of the other."""
    rng = _rng(seed, 0x4C41424C, spec.index, _lang_key(lang))
    chosen: list[str] = []
    keys: list[str] = []
    for j in rng.permutation(len(pool)):
        t = pool[int(j)]
        k = normalize_answer(t)
        if not any(k in c or c in k for c in keys):         # part_of, on normalised forms computed once
            chosen.append(t)
            keys.append(k)
            if len(chosen) == spec.n + 1:
                return chosen[:-1], chosen[-1]
    raise SmpqaError(f"the {len(pool)} labels for {lang} hold fewer than {spec.n + 1} that are not part of one "
                     "another; give a longer word list")


# ---------------------------------------------------------------------------------------------
# questions

def normalize_answer(text: str) -> str:
    """Exact-match normalisation: NFKC, case-folded, punctuation and symbols removed, spaces collapsed."""
    t = unicodedata.normalize("NFKC", str(text)).casefold()
    t = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in t)
    return " ".join(t.split())


def questions(spec: PlotSpec, labels: list[str], absent: str, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(5 reading questions, 8 grounding questions); each {question, answer, type}.

    Which labels the "no" grounding questions name is drawn from (seed, plot) only, by position,
    so the question set is the same in every language.
    """
    thing = "bar" if spec.kind == "bar" else "slice"
    v = np.asarray(spec.values)
    order = [int(i) for i in np.argsort(-v, kind="stable")]      # biggest first
    big, small = order[0], order[-1]
    reading = [
        {"type": "biggest", "question": f"What is the label of the biggest {thing}?", "answer": labels[big]},
        {"type": "smallest", "question": f"What is the label of the smallest {thing}?", "answer": labels[small]},
        {"type": "second_biggest", "question": f"What is the label of the second biggest {thing}?",
         "answer": labels[order[1]]},
        {"type": "second_smallest", "question": f"What is the label of the second smallest {thing}?",
         "answer": labels[order[-2]]},
    ]
    if spec.kind == "bar":
        side = "left" if spec.orientation == "vertical" else "top"
        reading.append({"type": "first_position", "question": f"What is the label of the first bar from the {side}?",
                        "answer": labels[0]})
    else:
        reading.append({"type": "third_biggest", "question": "What is the label of the third biggest slice?",
                        "answer": labels[order[2]]})
    rng = _rng(seed, 0x47524E44, spec.index)
    not_big = [i for i in range(spec.n) if i != big]
    not_small = [i for i in range(spec.n) if i != small]
    a, b = (int(x) for x in rng.choice(spec.n, 2, replace=False))
    hi, lo = (a, b) if v[a] > v[b] else (b, a)
    present = int(rng.integers(spec.n))
    yes_no = lambda b: "yes" if b else "no"  # noqa: E731 - answers of presence questions by whole label
    q = lambda x: f"'{labels[x]}'" if isinstance(x, int) else f"'{x}'"  # noqa: E731
    grounding = [
        ("biggest", f"Is the {thing} with label {q(big)} the biggest?", "yes"),
        ("biggest", f"Is the {thing} with label {q(not_big[int(rng.integers(len(not_big)))])} the biggest?", "no"),
        ("smallest", f"Is the {thing} with label {q(small)} the smallest?", "yes"),
        ("smallest", f"Is the {thing} with label {q(not_small[int(rng.integers(len(not_small)))])} the smallest?", "no"),
        ("present", f"Is there a {thing} with label {q(present)}?", yes_no(has_label(labels, labels[present]))),
        ("present", f"Is there a {thing} with label {q(absent)}?", yes_no(has_label(labels, absent))),
        ("compare", f"Is the {thing} with label {q(hi)} bigger than the {thing} with label {q(lo)}?", "yes"),
        ("compare", f"Is the {thing} with label {q(lo)} bigger than the {thing} with label {q(hi)}?", "no"),
    ]
    return reading, [{"type": t, "question": qq, "answer": ans} for t, qq, ans in grounding]


def _messages(qs: list[dict]) -> list[dict]:
    msgs = []
    for k, item in enumerate(qs):
        prompt = PROMPT_TEMPLATE.format(QUESTION=item["question"])
        msgs.append({"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}" if k == 0 else prompt})
        msgs.append({"role": "assistant", "content": item["answer"]})
    return msgs


# ---------------------------------------------------------------------------------------------
# generation

def language_rows(lang: str, specs: list[PlotSpec], seed: int, options: SmpqaOptions,
                  pool: list[str] | None = None, info: dict | None = None) -> list[dict]:
    """Render every plot for one language; two rows (reading, grounding) per plot."""
    from ocr_synth.charts import render_chart

    if pool is None:
        pool, info = label_pool(lang, options)
    rows = []
    for spec in specs:
        labels, absent = plot_labels(pool, spec, seed, lang)
        bad = check_labels(labels + [absent], lang)
        if bad:   # the pool is pre-checked; this guards user pools and font changes
            raise SmpqaError(f"labels {bad} of plot {spec.index} fail the font-coverage check for {lang}")
        style = {"width": spec.width, "height": spec.height, "colors": list(spec.colors), "font_size": spec.font_size,
                 "jpeg_quality": spec.jpeg_quality, "show_values": False, "start_angle": spec.start_angle}
        if spec.kind == "bar":
            style["orientation"] = spec.orientation
        else:
            style["explode"] = spec.explode
        jpeg, params = render_chart(labels, [float(x) for x in spec.values], spec.kind, lang,
                                    _rng(seed, spec.index, _lang_key(lang)), **style)
        reading, grounding = questions(spec, labels, absent, seed)
        base = {"benchmark": "smpqa", "plot": spec.index, "kind": spec.kind, "labels": labels,
                "values": list(spec.values), "absent_label": absent, "seed": int(seed),
                "control": lang == CONTROL_LANG, "label_source": (info or {}).get("source", ""),
                "render": params}
        for task, qs in ((READING, reading), (GROUNDING, grounding)):
            origin = f"plot{spec.index:04d}"
            rows.append(make_row(source=SOURCE, origin_id=origin, task=task, lang=lang, messages=_messages(qs),
                                 images=[jpeg], meta={**base, "questions": qs},
                                 id=make_id(SOURCE, f"{seed}:{origin}", lang, task)))
    return rows


def _generate_one(args: tuple) -> dict:
    lang, out_dir, seed, options_dict = args
    from mixkit.core.shard_writer import ShardWriter

    o = SmpqaOptions(**options_dict)
    specs = plot_specs(seed, o)
    pool, info = label_pool(lang, o)
    rows = language_rows(lang, specs, seed, o, pool, info)
    writer = ShardWriter(out_dir, max_samples=1000, prefix=f"smpqa-{lang}")
    writer.write_all(rows)
    shards = writer.close()
    tasks = Counter(r["task"] for r in rows)
    return {"lang": lang, "shards": shards, "plots": len(specs), "samples": len(rows),
            "questions": {READING: 5 * tasks[READING], GROUNDING: 8 * tasks[GROUNDING]}, "labels": info,
            "bytes": sum(s["bytes"] for s in shards)}


def expand_langs(langs: list[str] | str) -> list[str]:
    """Language arguments with 'paper' replaced by the paper's 11 (the default); 'all' = the study's 100."""
    items = [x.strip() for x in (langs.split(",") if isinstance(langs, str) else langs) if x.strip()]
    out: list[str] = []
    for x in items:
        out += list(PAPER_LANGS) if x.lower() == "paper" else [x]
    return out


def resolve_smpqa_langs(langs: list[str] | str, options: SmpqaOptions) -> list[str]:
    from ocr_synth.stage import resolve_langs

    codes = resolve_langs(expand_langs(langs))
    if options.latin_control and CONTROL_LANG not in codes:
        codes.append(CONTROL_LANG)
    return codes


def generate_smpqa(langs: list[str] | str, out_dir: str | Path, *, seed: int = 0,
                   options: SmpqaOptions | None = None, workers: int = 1, progress: bool = True) -> dict:
    """Write the benchmark for `langs` ('paper', 'all' or codes/names) under out_dir; returns the index.

    Layout: smpqa-<lang>-00000.tar (mixkit shard format), index.json (what was generated, with
    the label source per language), manifest.json (counts, as `mixkit audit` reads them).
    Fails before rendering anything when a language has no font, no shaping or too few labels.
    """
    from mixkit.runtime.engines import LocalEngine
    from mixkit.runtime.progress import Progress
    from mixkit.core.shard_format import Counts, Manifest, ShardInfo
    from ocr_synth.fonts import fonts_for_lang, require_shaping

    o = options or SmpqaOptions()
    codes = resolve_smpqa_langs(langs, o)
    require_shaping(codes)
    problems = {}
    for c in codes:          # all checks up front: a 100-language run should not fail at language 97
        try:
            fonts_for_lang(c)
            label_pool(c, o)
        except Exception as e:  # noqa: BLE001 - collected and raised together below
            problems[c] = str(e)
    if problems:
        raise SmpqaError("cannot generate SMPQA for:\n  " + "\n  ".join(f"{c}: {m}" for c, m in problems.items()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    jobs = [(c, str(out), int(seed), asdict(o)) for c in codes]
    with Progress(progress) as prog:        # the one executor: languages in order on local processes
        results = list(LocalEngine(workers).map_ordered(_generate_one, jobs, on_done=prog.callback("render SMPQA")))
    index = {
        "benchmark": "smpqa", "version": 1, "seed": int(seed), "prompt": PROMPT_TEMPLATE,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(o).items()},
        "control_lang": CONTROL_LANG if o.latin_control else None,
        "plots_per_lang": 2 * o.per_kind, "questions_per_plot": {READING: 5, GROUNDING: 8},
        "languages": {r["lang"]: {k: r[k] for k in ("plots", "samples", "questions", "labels", "bytes")}
                      | {"shards": [s["path"] for s in r["shards"]]} for r in results},
        "seconds": round(time.time() - t0, 2),
    }
    (out / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                    encoding="utf-8")
    by_lang = {r["lang"]: r["samples"] for r in results}
    n = sum(by_lang.values())
    Manifest(kind="smpqa", seed=int(seed), targets_by_lang={c: 1.0 / len(codes) for c in codes},
             counts=Counts.of(by_lang, {SOURCE: n}, {READING: n // 2, GROUNDING: n // 2}),
             shards=[ShardInfo(Path(s["path"]).name, s["samples"], s["bytes"], s["sha256"])
                     for r in results for s in r["shards"]]).write(out)
    return index


def coverage_report(langs: list[str] | str, *, seed: int = 0, options: SmpqaOptions | None = None) -> dict[str, dict]:
    """Without rendering: every label every plot would use, run through the coverage check.

    Returns {lang: {labels: n distinct labels used, pool, failing: [...], source}}, or
    {lang: {error}} for a language that cannot get a benchmark (too few labels; the message says
    how to give some). Raises nothing: the caller decides.
    """
    o = options or SmpqaOptions()
    specs = plot_specs(seed, o)
    out = {}
    for c in resolve_smpqa_langs(langs, o):
        try:
            pool, info = label_pool(c, o)
        except SmpqaError as e:
            out[c] = {"error": str(e)}
            continue
        used: list[str] = []
        for spec in specs:
            labels, absent = plot_labels(pool, spec, seed, c)
            used += labels + [absent]
        used = list(dict.fromkeys(used))
        out[c] = {"labels": len(used), "pool": len(pool), "failing": check_labels(used, c), "source": info["source"]}
    return out


# ---------------------------------------------------------------------------------------------
# reading a generated set

def read_smpqa(data_dir: str | Path, langs: list[str] | None = None) -> list[dict]:
    """Samples of a generated set (schema rows with images), in shard order; only `langs` when given."""
    from mixkit.core.shard_format import SampleError, TarSample, iter_tar

    d = Path(data_dir)
    idx_path = d / "index.json"
    if not idx_path.exists():
        raise FileNotFoundError(f"{idx_path} not found: generate the set first (mixkit smpqa --langs ... --out {d})")
    index = json.loads(idx_path.read_text(encoding="utf-8"))
    have = index["languages"]
    want = list(have) if langs is None else langs
    missing = [c for c in want if c not in have]
    if missing:
        raise SmpqaError(f"{d} has no SMPQA data for {missing} (it has {sorted(have)}); regenerate with those --langs")
    rows = []
    for c in want:
        for shard in have[c]["shards"]:
            for s in iter_tar(d / shard):          # the one shard reader (mixkit.core.shard_format)
                if not isinstance(s, TarSample) or s.reject is not None:
                    what = s.reject if isinstance(s, TarSample) else (s.reason, s.detail)
                    raise SmpqaError(f"{d / shard}: {what[0]}: {what[1]}; regenerate the set")
                try:
                    rows.append({**s.doc(), "images": s.images()})
                except SampleError as e:
                    raise SmpqaError(f"{d / shard}: {e}; regenerate the set") from None
    return rows
