"""Evaluate a vision-language model the way the study did: SMPQA exact-match and relaxed accuracy
per language, and language fidelity (does the model answer in the language it was prompted in).

Any checkpoint that loads offline as `LlavaForConditionalGeneration` (the reference trainer's
`final/`) or `AutoModelForImageTextToText`, with an `AutoProcessor` beside it, works. Decoding
is greedy; every question is asked on its own (image + one question), batched with left padding.

    from mixkit.evaluation import evaluate
    res = evaluate("runs/train/final", suite="all", langs=["deu_Latn", "tha_Thai"], max_samples=40)
    print(res["smpqa"]["by_lang"]["tha_Thai"]["reading"], res["fidelity"]["by_lang"]["deu_Latn"]["fidelity"])
"""
from __future__ import annotations

import io
import math
import tempfile
import time
from pathlib import Path

from mixkit.lang import languages
from mixkit.core.schema import meta_of

SUITES = ("smpqa", "fidelity", "all")


class EvalError(ValueError):
    """Bad arguments or a model that cannot be evaluated; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# model

def load_model(model_path: str | Path, device: str = "auto", dtype: str = "auto"):
    """(model, processor) from a local directory or hub id, offline-friendly. Greedy, eval mode."""
    import torch
    from transformers import AutoConfig, AutoProcessor

    path = str(model_path)
    if Path(path).is_dir() is False and Path(path).exists():
        raise EvalError(f"{path} is a file; give the checkpoint directory (the trainer writes <run>/final/)")
    try:
        conf = AutoConfig.from_pretrained(path)
    except OSError as e:
        raise EvalError(f"cannot load a model config from {path}: {e}. Give a local checkpoint directory "
                        "(e.g. runs/train/final) or a hub id that is already in the local cache") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tdtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32,
              "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    if conf.model_type == "llava":
        from mixkit.train.multiscale import load_pretrained   # plain Llava, or mixkit's multi-scale variant
        model = load_pretrained(path, dtype=tdtype).to(device).eval()
    else:
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=tdtype).to(device).eval()
    processor = AutoProcessor.from_pretrained(path)
    tok = getattr(processor, "tokenizer", None)
    if tok is None:
        raise EvalError(f"{path}: the processor has no tokenizer; save one with the model")
    tok.padding_side = "left"     # generation continues from the right end of every row
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, processor


def _prompt_text(processor, question: str) -> str:
    tok = processor.tokenizer
    image_token = getattr(processor, "image_token", None) or "<image>"
    if tok.chat_template:
        return tok.apply_chat_template([{"role": "user", "content": f"{image_token}\n{question}"}],
                                       tokenize=False, add_generation_prompt=True)
    if getattr(processor, "chat_template", None):
        return processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            tokenize=False, add_generation_prompt=True)
    raise EvalError("the model's tokenizer and processor have no chat template; save one with the model")


def _image(data):
    from PIL import Image

    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    return img.convert("RGB")


def _multiscale_views(model, processor):
    """TiledViews for a mixkit multi-scale model (its processor makes only the global view), else None."""
    from mixkit.train.multiscale import GRID_KEY, TiledViews

    grid = getattr(model.config, GRID_KEY, 1) or 1
    if grid <= 1:
        return None
    ip = processor.image_processor          # the side the vision tower was trained at, as the trainer uses it
    return TiledViews(int(model.config.vision_config.image_size), ip.image_mean, ip.image_std, grid)


def generate(model, processor, items: list[tuple[object, str]], *, max_new_tokens: int = 24,
             batch_size: int = 8, progress=None) -> list[str]:
    """Greedy answers for (image, question) pairs, in order."""
    import torch

    answers: list[str] = []
    views = _multiscale_views(model, processor)
    eos = [t for t in {processor.tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)}
           if t is not None]
    for s in range(0, len(items), batch_size):
        chunk = items[s:s + batch_size]
        texts = [_prompt_text(processor, q) for _, q in chunk]
        images = [_image(img) for img, _ in chunk]
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True).to(model.device)
        if views is not None:         # multi-scale: the global view plus the tiles, as in training
            inputs["pixel_values"] = torch.cat([views(img) for img in images]).to(model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=processor.tokenizer.pad_token_id,
                                 eos_token_id=eos[0] if len(eos) == 1 else eos)
        new = out[:, inputs["input_ids"].shape[1]:]
        answers += [t.strip() for t in processor.tokenizer.batch_decode(new, skip_special_tokens=True)]
        if progress:
            progress(len(chunk))
    return answers


# ---------------------------------------------------------------------------------------------
# SMPQA

def smpqa_items(rows: list[dict], max_samples: int | None = None) -> dict[str, list[dict]]:
    """Per language, the questions to ask: {image, question, answer, task, type, plot}.

    With max_samples, reading and grounding questions are taken alternately (balanced) in plot order.
    """
    from mixkit.evaluation.smpqa import PROMPT_TEMPLATE, READING

    per: dict[str, dict[str, list[dict]]] = {}
    for r in rows:
        meta = meta_of(r)
        for q in meta["questions"]:
            per.setdefault(r["lang"], {}).setdefault(r["task"], []).append({
                "image": r["images"][0], "prompt": PROMPT_TEMPLATE.format(QUESTION=q["question"]),
                "answer": q["answer"], "task": r["task"], "type": q["type"], "plot": meta["plot"]})
    out: dict[str, list[dict]] = {}
    for lang, by_task in per.items():
        for lst in by_task.values():
            lst.sort(key=lambda x: x["plot"])
        tasks = sorted(by_task, key=lambda t: t != READING)
        merged: list[dict] = []
        for k in range(max(len(v) for v in by_task.values())):
            merged += [by_task[t][k] for t in tasks if k < len(by_task[t])]
        out[lang] = merged[:max_samples] if max_samples else merged
    return out


def relaxed_match(pred: str, gold: str) -> bool:
    """The paper's relaxed accuracy (Centurio, src/tasks/vllm/evaluation.py): the answer starts or
    ends with the label ("Köln ist es" for Köln), compared here on normalize_answer forms."""
    from mixkit.evaluation.smpqa import normalize_answer

    p, g = normalize_answer(pred), normalize_answer(gold)
    return bool(g) and (p.startswith(g) or p.endswith(g))


def score_smpqa(items: dict[str, list[dict]], answers: dict[str, list[str]]) -> dict:
    """Exact-match accuracy (normalised answer == label) and relaxed accuracy per language and task."""
    from mixkit.evaluation.smpqa import CONTROL_LANG, GROUNDING, READING, normalize_answer

    by_lang = {}
    for lang, its in items.items():
        hits = {READING: [0, 0, 0], GROUNDING: [0, 0, 0]}      # exact, relaxed, asked
        for it, ans in zip(its, answers[lang]):
            h = hits[it["task"]]
            h[0] += int(normalize_answer(ans) == normalize_answer(it["answer"]))
            h[1] += int(relaxed_match(ans, it["answer"]))
            h[2] += 1
        acc = lambda h, k=0: round(h[k] / h[2], 4) if h[2] else None  # noqa: E731
        by_lang[lang] = {"reading": acc(hits[READING]), "grounding": acc(hits[GROUNDING]),
                         "reading_relaxed": acc(hits[READING], 1), "grounding_relaxed": acc(hits[GROUNDING], 1),
                         "n_reading": hits[READING][2], "n_grounding": hits[GROUNDING][2],
                         "script": languages.get(lang).script, "control": lang == CONTROL_LANG,
                         "examples": [{"q": it["prompt"].split("\n")[0], "gold": it["answer"], "pred": a}
                                      for it, a in list(zip(its, answers[lang]))[:3]]}

    def mean(key: str, latin: bool | None) -> float | None:
        vals = [v[key] for v in by_lang.values() if v[key] is not None and not v["control"]
                and (latin is None or (v["script"] == "Latn") == latin)]
        return round(sum(vals) / len(vals), 4) if vals else None

    keys = ("reading", "grounding", "reading_relaxed", "grounding_relaxed")
    return {"by_lang": by_lang,
            "mean": {k: mean(k, None) for k in keys},
            "latin_script": {k: mean(k, True) for k in keys},
            "non_latin_script": {k: mean(k, False) for k in keys}}


# ---------------------------------------------------------------------------------------------
# entry point

def evaluate(model_path: str | Path, suite: str = "smpqa", langs: list[str] | str = "paper",
             data_dir: str | Path | None = None, max_samples: int | None = None, *,
             images: str | Path | None = None, n_images: int = 8, batch_size: int = 8,
             max_new_tokens: int = 24, device: str = "auto", dtype: str = "auto", seed: int = 0,
             progress: bool = True) -> dict:
    """Run `suite` (smpqa | fidelity | all) for `langs` on the model at `model_path`.

    SMPQA reads a set made by `generate_smpqa` from `data_dir`; without one a set is generated
    in a temporary folder (sized by max_samples). `max_samples` caps questions per language
    (SMPQA) and captions per language (fidelity; default n_images). Returns a JSON-able dict:
    {model, suite, langs, smpqa: {by_lang, mean, latin_script, non_latin_script},
     fidelity: {by_lang, mean, unchecked}, seconds}.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from mixkit.evaluation.fidelity import caption_prompt, fidelity_images, load_images, score_fidelity
    from mixkit.evaluation.smpqa import SmpqaOptions, expand_langs, generate_smpqa, read_smpqa, resolve_smpqa_langs
    from ocr_synth.stage import resolve_langs

    if suite not in SUITES:
        raise EvalError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    if max_samples is not None and max_samples < 1:
        raise EvalError("max_samples must be >= 1")
    codes = resolve_langs(expand_langs(langs))
    t0 = time.time()
    model, processor = load_model(model_path, device=device, dtype=dtype)
    result: dict = {"model": str(model_path), "suite": suite, "langs": codes, "max_samples": max_samples}
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not progress) as prog:
        if suite in ("smpqa", "all"):
            tmp = None
            if data_dir is None:
                tmp = tempfile.TemporaryDirectory(prefix="mixkit-smpqa-")
                per_kind = max(1, math.ceil(max_samples / 13 / 2) + 1) if max_samples else 50
                opts = SmpqaOptions(per_kind=per_kind)
                generate_smpqa(codes, tmp.name, seed=seed, options=opts, progress=progress)
                data_dir = tmp.name
                eval_langs = resolve_smpqa_langs(codes, opts)
            else:
                eval_langs = codes
            rows = read_smpqa(data_dir, eval_langs)     # rows hold the image bytes: a temp folder can go
            items = smpqa_items(rows, max_samples)
            tid = prog.add_task("SMPQA questions", total=sum(len(v) for v in items.values()))
            answers = {lang: generate(model, processor, [(it["image"], it["prompt"]) for it in its],
                                      max_new_tokens=max_new_tokens, batch_size=batch_size,
                                      progress=lambda k: prog.advance(tid, k))
                       for lang, its in items.items()}
            result["smpqa"] = score_smpqa(items, answers)
            result["smpqa"]["data_dir"] = None if tmp is not None else str(data_dir)
            if tmp is not None:
                tmp.cleanup()
        if suite in ("fidelity", "all"):
            n = max_samples or n_images
            imgs = load_images(images, n) if images else fidelity_images(n, seed)
            prompts = {lang: caption_prompt(lang) for lang in codes}
            tid = prog.add_task("fidelity captions", total=len(codes) * len(imgs))
            answers = {lang: generate(model, processor, [(im, prompts[lang][0]) for im in imgs],
                                      max_new_tokens=max(max_new_tokens, 32), batch_size=batch_size,
                                      progress=lambda k: prog.advance(tid, k))
                       for lang in codes}
            result["fidelity"] = score_fidelity(codes, answers, prompts)
            result["fidelity"]["images"] = str(images) if images else f"synthetic ({len(imgs)})"
    result["seconds"] = round(time.time() - t0, 2)
    return result


def results_tables(result: dict) -> list:
    """rich Tables for a result of `evaluate` (one per suite)."""
    from rich.table import Table

    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
    tables = []
    if "smpqa" in result:
        s = result["smpqa"]
        t = Table(title=f"SMPQA exact-match accuracy (%) and relaxed accuracy (%, answer starts or ends with the "
                        f"label) — {result['model']}")
        for col in ("lang", "script", "reading", "relaxed", "n", "grounding", "relaxed ", "n "):
            t.add_column(col, justify="left" if col in ("lang", "script") else "right")
        for lang, v in s["by_lang"].items():
            t.add_row(lang + (" (control)" if v["control"] else ""), v["script"], pct(v["reading"]),
                      pct(v.get("reading_relaxed")), str(v["n_reading"]), pct(v["grounding"]),
                      pct(v.get("grounding_relaxed")), str(v["n_grounding"]))
        for name in ("latin_script", "non_latin_script", "mean"):
            m = s[name]
            t.add_row(f"[bold]{name}[/]", "", pct(m["reading"]), pct(m.get("reading_relaxed")), "",
                      pct(m["grounding"]), pct(m.get("grounding_relaxed")), "")
        tables.append(t)
    if "fidelity" in result:
        f = result["fidelity"]
        t = Table(title="Language fidelity (% of answers in the prompt's language, fastText LID)")
        for col in ("lang", "prompt", "fidelity", "n", "LID says"):
            t.add_column(col, justify="right" if col in ("fidelity", "n") else "left")
        for lang, v in f["by_lang"].items():
            said = ", ".join(f"{k}:{n}" for k, n in (v.get("predicted") or {}).items()) if v["checked"] else "unchecked"
            t.add_row(lang, v["prompt_kind"], pct(v["fidelity"]), str(v["n"]), said)
        t.add_row("[bold]mean (checked)[/]", "", pct(f["mean"]), "", "")
        tables.append(t)
    return tables
