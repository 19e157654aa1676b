"""Language fidelity: does the model answer in the language it was prompted in?

Captions are generated for a caption prompt per language; fastText LID (mixkit.lang.lid) names the
language of each answer; fidelity = share of answers in the prompt's language. Languages the
LID model has no label for are reported as unchecked, never as 0 or 1. An empty answer counts
as not in the language.
"""
from __future__ import annotations

from pathlib import Path

from mixkit.lang import languages
from mixkit.evaluation.harness import EvalError

FIDELITY_PROMPT = "Briefly describe the image in {language}."


def caption_prompt(lang: str) -> tuple[str, str]:
    """(prompt, kind): the native caption prompt where mixkit has one, else an English
    instruction naming the language (the study's XM3600 style)."""
    from mixkit.sources import CAPTION_PROMPT

    if lang in CAPTION_PROMPT:
        return CAPTION_PROMPT[lang], "native"
    return FIDELITY_PROMPT.format(language=languages.get(lang).name), "named"


def fidelity_images(n: int = 8, seed: int = 0, size: int = 224) -> list:
    """Simple synthetic scenes (coloured shapes on a background), seeded: stand-ins when no
    photo folder is given (pass images=DIR with e.g. XM3600 images for the study's setup)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([seed, 0xF1DE])
    out = []
    for _ in range(n):
        img = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 256, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 6))):
            x, y = (int(v) for v in rng.integers(0, size - 20, 2))
            w, h = (int(v) for v in rng.integers(20, size // 2, 2))
            box = [x, y, min(size, x + w), min(size, y + h)]
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=fill)
        out.append(img)
    return out


def load_images(folder: str | Path, n: int) -> list:
    from PIL import Image

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if not files:
        raise EvalError(f"no .jpg/.png/.webp images under {folder}")
    return [Image.open(p).convert("RGB") for p in files[:n]]


def score_fidelity(langs: list[str], answers: dict[str, list[str]], prompts: dict[str, tuple[str, str]],
                   lid=None) -> dict:
    from mixkit.lang.lid import LanguageIdentifier

    lid = lid or LanguageIdentifier()
    by_lang = {}
    for lang in langs:
        ans = answers[lang]
        entry = {"n": len(ans), "prompt": prompts[lang][0], "prompt_kind": prompts[lang][1],
                 "examples": ans[:2]}
        if not lid.can_check(lang):
            entry.update(fidelity=None, checked=False, note="the LID model has no label for this language: unchecked")
        else:
            preds = lid.predict(ans)
            ok = [bool(a.strip()) and lid.same_language(lang, p) for a, (p, _) in zip(ans, preds)]
            entry.update(fidelity=round(sum(ok) / len(ok), 4) if ok else None, checked=True,
                         predicted=dict(sorted(_count(p for p, _ in preds).items(), key=lambda kv: -kv[1])[:3]))
        by_lang[lang] = entry
    checked = [v["fidelity"] for v in by_lang.values() if v["checked"] and v["fidelity"] is not None]
    return {"by_lang": by_lang, "mean": round(sum(checked) / len(checked), 4) if checked else None,
            "unchecked": sorted(k for k, v in by_lang.items() if not v["checked"]),
            "lid_model": str(lid.model_path)}


def _count(xs) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x or "(none)"] = out.get(x or "(none)", 0) + 1
    return out
