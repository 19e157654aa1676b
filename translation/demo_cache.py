"""Seed the translation cache from a hand-made phrasebook, so the offline demo fills
translated languages with zero model weights and zero model calls.

The entries are written under the pseudo model id "mixkit-demo-phrasebook" (a recipe sets
`steps.translate.model: mixkit-demo-phrasebook`; see translation.options.PSEUDO_MODELS), plus
a hash of the phrasebook when the recipe names one (so an edited phrasebook takes effect: the
cache never replaces an entry), with the recipe's generation settings, i.e. exactly where
TranslateStage looks them up. Entries already in the cache are not written again. A phrase
the demo needs but the phrasebook lacks is a clear TranslationModelError at build time.

Phrasebook: JSON lines {"english": ..., "lang": "spa_Latn", "translation": ...}
(also accepted: "en"/"source"/"src" for the English, "target"/"text" for the translation).
Each English entry must be one prose segment as translation.segment cuts it (one sentence
or prompt, no newlines or protected spans); otherwise it could never be looked up, and
seeding fails naming the entry.
"""
from __future__ import annotations

import hashlib
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


def phrasebook_cache_id(model: str, phrasebook_path: str) -> str:
    """Cache identity of a pseudo model's translations: its id and the phrasebook's content."""
    try:
        digest = hashlib.sha256(Path(phrasebook_path).read_bytes()).hexdigest()[:16]
    except OSError as e:
        raise ValueError(f"phrasebook {phrasebook_path} cannot be read ({e}): check steps.translate.phrasebook") from e
    return f"{model}@{digest}"


def seed_cache_from_phrasebook(phrasebook_path: str, cache_dir: str, options: TranslateOptions | None = None) -> int:
    """Put every phrasebook pair into the cache (those not there yet); returns the number of
    phrasebook entries."""
    from translation.stage import generation_settings, model_cache_id

    options = (options or TranslateOptions(model=DEMO_MODEL))
    if options.model != DEMO_MODEL and not options.cache_model_id:
        options = options.model_copy(update={"model": DEMO_MODEL})
    cache = TranslationCache(cache_dir, model_cache_id(options), generation_settings(options))
    seg = Segmenter(options.keep_answers, options.max_input_tokens, chars_estimate, options.split_sentences)
    pairs: dict[tuple[str, str, str], str] = {}
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
        pairs[(rec.get("source_lang") or options.source_lang, lang, en.strip())] = tr.strip()
    cached = cache.get_many(pairs)
    for k, tr in pairs.items():
        if cached.get(k) != (tr, False):
            cache.put(*k, tr)
    cache.flush()
    return len(pairs)
