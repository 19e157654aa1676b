"""Seed the translation cache from a hand-made phrasebook, so the offline demo fills
translated languages with zero model weights and zero model calls.

The entries are written under the pseudo model id "mixkit-demo-phrasebook" (a recipe sets
`steps.translate.model: mixkit-demo-phrasebook`; see translation.options.PSEUDO_MODELS) with
the recipe's generation settings, i.e. exactly where TranslateStage looks them up. A phrase
the demo needs but the phrasebook lacks is a clear TranslationModelError at build time.

Phrasebook: JSON lines {"english": ..., "lang": "spa_Latn", "translation": ...}
(also accepted: "en"/"source"/"src" for the English, "target"/"text" for the translation).
Each English entry must be one prose segment as translation.segment cuts it (one sentence
or prompt, no newlines or protected spans); otherwise it could never be looked up, and
seeding fails naming the entry.
"""
from __future__ import annotations

import json
from pathlib import Path

from mixkit.lang import languages
from translation.cache import TranslationCache
from translation.options import TranslateOptions
from translation.segment import Segmenter, chars_estimate

DEMO_MODEL = "mixkit-demo-phrasebook"


def _field(rec: dict, names: tuple[str, ...], where: str) -> str:
    for n in names:
        if n in rec and isinstance(rec[n], str):
            return rec[n]
    raise ValueError(f"{where}: needs one of the fields {', '.join(names)}")


def seed_cache_from_phrasebook(phrasebook_path: str, cache_dir: str, options: TranslateOptions | None = None) -> int:
    """Write every phrasebook pair into the cache; returns the number of entries written."""
    from translation.stage import generation_settings, model_cache_id

    options = (options or TranslateOptions(model=DEMO_MODEL))
    if options.model != DEMO_MODEL and not options.cache_model_id:
        options = options.model_copy(update={"model": DEMO_MODEL})
    cache = TranslationCache(cache_dir, model_cache_id(options), generation_settings(options))
    seg = Segmenter(options.keep_answers, options.max_input_tokens, chars_estimate, options.split_sentences)
    n = 0
    path = Path(phrasebook_path)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        rec = json.loads(line)
        en = _field(rec, ("english", "en", "source", "src"), where)
        tr = _field(rec, ("translation", "target", "text"), where)
        lang = languages.resolve(_field(rec, ("lang", "target_lang", "tgt_lang"), where))
        segs = seg.segment(en).segments
        if segs != [en.strip()]:
            raise ValueError(f"{where}: {en!r} is not one translatable segment (segmentation gives {segs}); "
                             "split it into one entry per sentence without <image>, URLs or newlines")
        cache.put(rec.get("source_lang") or options.source_lang, lang, en.strip(), tr.strip())
        n += 1
    cache.flush()
    return n
