"""The translation stage: schema rows addressed to a target language (lang = target, meta
translate_from = source) in, translated rows or reject records out.

Per batch: segment every message (translation.segment), look the units up in the shared
cache (one join per batch; the batch's new translations are written as one file before it
returns), translate only the misses (one model load per worker, batches sorted by length under a
token budget); a unit whose placeholders did not come back is translated again cut at its
spans; an output that loops or runs to its budget is decoded once more with stronger
repetition settings (GenerationOptions.for_retry); short answers come from a per-language
table (translation.answers); render the templates, check the output (translation.checks).

Counters: `stage.stats()` in-process; with `stats_dir=` each worker (Ray actor) also writes
its counters to `<stats_dir>/worker-<pid>-<uid>.json` after every batch, and
`collect_stats(stats_dir)` sums them (the build reports "0 model calls" on a rebuild).
"""
from __future__ import annotations

import json
import os
import uuid
from collections import Counter

from mixkit.core import storage
from mixkit.lang import languages
from mixkit.core.schema import make_reject, meta_of, with_meta
from mixkit.lang.writing_systems import NO_SPACE_JOIN_SCRIPTS
from mixkit.runtime.stage import Resources, Stage, StageOutput
from translation import answers
from translation.answers import AnswerTable, ShortAnswer
from translation.backends import make_backend, model_fingerprint, precision
from translation.cache import CacheFolder, TranslationCache
from translation.checks import OutputChecker, loop_in_output
from translation.options import PSEUDO_MODELS, TranslateOptions
from translation.segment import Segmenter, Template, chars_estimate

STAGE = "translate"
STAT_KEYS = ("rows_in", "rows_kept", "rows_rejected", "segments", "unique_segments", "cache_hits",
             "model_segments", "model_calls", "model_loads", "tokens_in", "tokens_out", "padded_tokens", "oom_retries",
             "retried_segments", "fallback_units", "emphasis_dropped", "short_answers")
Key = tuple[str, str, str]           # (source lang, target lang, text)


def generation_settings(options: TranslateOptions, generation=None) -> dict:
    """What, besides model and text, changes a translation (part of the cache key): backend,
    decoding settings, and the precision it ran in (dtype, or CTranslate2 compute type)."""
    pseudo = options.model in PSEUDO_MODELS
    out = {"backend": "cache" if pseudo else options.backend, **(generation or options.generation).model_dump()}
    out.update(precision(options))
    return out


def model_cache_id(options: TranslateOptions) -> str:
    if options.backend == "identity":
        return "identity"
    if options.cache_model_id:
        return options.cache_model_id
    if options.model in PSEUDO_MODELS and options.phrasebook:
        from translation.demo_cache import phrasebook_cache_id

        return phrasebook_cache_id(options.model, options.phrasebook)
    return model_fingerprint(options.model, options.model_revision)


class TranslateStage(Stage):
    name = STAGE

    def __init__(self, options: TranslateOptions, cache_dir: str, stats_dir: str | None = None):
        self.options = options.model_copy(update={"cache_dir": str(cache_dir)})
        if options.model in PSEUDO_MODELS and options.phrasebook and not options.cache_model_id:
            # the phrasebook's content names its entries; read it here, where the file is
            self.options.cache_model_id = model_cache_id(options)
        self.cache_dir = str(cache_dir)
        self.stats_dir = stats_dir
        # Worker count, CPUs and GPUs: the recipe's `workers: {translate: ...}` (mixkit.runtime.workers).
        self.resources = Resources(batch_size=options.batch_rows)
        self.threads = 1              # CPU threads per worker (CTranslate2): set by the build from its spec
        self._counters: Counter = Counter()
        self._backend = None
        self._caches = None
        self._checker = None
        self._segmenters: dict[str, Segmenter] = {}
        self._tables: dict[tuple[str, str], AnswerTable] = {}
        self._worker = None

    def __getstate__(self):        # ship options, not loaded models, to Ray actors
        d = dict(self.__dict__)
        d.update(_backend=None, _caches=None, _checker=None, _segmenters={}, _tables={}, _worker=None,
                 _counters=Counter())
        return d

    def setup(self) -> None:
        if self._backend is not None:
            return
        o = self.options
        self._backend = make_backend(o)
        self._backend.threads = self.threads
        self._checker = OutputChecker(o.checks)
        self._worker = f"worker-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    @property
    def caches(self) -> tuple[TranslationCache, TranslationCache]:
        """(first pass, retry): entries keyed by model revision, settings and precision."""
        if self._caches is None:
            o = self.options
            mid = model_cache_id(o)
            folder = CacheFolder(self.cache_dir)       # one per worker: a batch writes one file
            self._caches = (TranslationCache(self.cache_dir, mid, generation_settings(o), folder),
                            TranslationCache(self.cache_dir, mid, generation_settings(o, o.generation.for_retry()),
                                             folder))
        return self._caches

    def segmenter(self, src: str) -> Segmenter:
        if src not in self._segmenters:
            o = self.options
            pseudo = o.model in PSEUDO_MODELS or o.backend == "identity"
            count = chars_estimate if pseudo else self._count_tokens
            self._segmenters[src] = Segmenter(o.keep_answers, o.max_input_tokens, count, o.split_sentences, lang=src)
        return self._segmenters[src]

    def _count_tokens(self, text: str) -> int:
        if len(text) + 2 <= self.options.max_input_tokens:   # a token covers >= 1 character
            return len(text) + 2
        return self._backend.count_tokens(text)

    def plan_messages(self, messages: list[dict], src: str) -> list[Template | ShortAnswer]:
        """Per message: its template, or the short answer it is (rendered from the table)."""
        o = self.options
        out: list[Template | ShortAnswer] = []
        for m in messages:
            if m["role"] not in o.roles:
                out.append(_literal(m["content"]))
                continue
            short = answers.match(m["content"]) if o.keep_answers.yes_no == "table" and \
                src == languages.ENGLISH else None
            out.append(short or self.segmenter(src).segment(m["content"]))
        return out

    # -- counters ------------------------------------------------------------------------------
    def stats(self) -> dict:
        out = {k: self._counters.get(k, 0) for k in STAT_KEYS}
        if self._backend is not None:
            b = self._backend.stats
            out.update(model_calls=b.model_calls, model_loads=b.model_loads, tokens_in=b.tokens_in,
                       tokens_out=b.tokens_out, padded_tokens=b.padded_tokens, oom_retries=b.oom_retries)
        return out

    def _write_stats(self) -> None:
        if self.stats_dir:           # a folder or a URL (storage.path); the file is replaced whole
            storage.write_text(storage.path(self.stats_dir) / f"{self._worker}.json", json.dumps(self.stats()))

    # -- the batch -------------------------------------------------------------------------------
    def process_batch(self, rows: list[dict]) -> StageOutput:
        self.setup()
        o = self.options
        out = StageOutput()
        self._counters["rows_in"] += len(rows)
        work = []       # (row, src, tgt, plan per message)
        for row in rows:
            meta = meta_of(row)
            src = meta.get("translate_from") or o.source_lang
            try:
                tgt = languages.resolve(row["lang"])
                if not languages.get(tgt).nllb:
                    raise ValueError(f"{tgt} ({languages.get(tgt).name}) has no NLLB-200 code; it cannot be a "
                                     "translation target (fill it from native data or OCR synthesis)")
            except ValueError as e:
                out.rejected.append(make_reject(row, STAGE, "unsupported_language", str(e)))
                continue
            plan = self.plan_messages(row["messages"], src)
            too_long = [s for t in plan if isinstance(t, Template) for s in t.too_long]
            if too_long:
                out.rejected.append(make_reject(
                    row, STAGE, "segment_too_long",
                    f"a sentence of >{o.max_input_tokens} tokens has no clause break to split at: {too_long[0][:120]!r}"))
                continue
            work.append((row, src, tgt, plan))
        tr = self._translate_all(work)
        for row, src, tgt, plan in work:
            self._finish(row, src, tgt, plan, tr, out)
        self._counters["rows_kept"] += len(out.kept)
        self._counters["rows_rejected"] += len(out.rejected)
        if self._caches is not None:     # this batch's translations on disk before it returns
            self._caches[0].flush()
        self._write_stats()
        return out

    def _translate_all(self, work) -> dict[Key, tuple[str, bool]]:
        """Every translation the batch needs: units, then the fallback pieces of units whose
        placeholders did not come back, and the short-answer tables."""
        needed: dict[Key, None] = {}
        tables: set[tuple[str, str]] = set()
        for _, src, tgt, plan in work:
            for t in plan:
                if isinstance(t, ShortAnswer):
                    if src != tgt and (src, tgt) not in self._tables:
                        tables.add((src, tgt))
                    continue
                for s in t.segments:
                    self._counters["segments"] += 1
                    if src != tgt:
                        needed.setdefault((src, tgt, s))
        for src, tgt in sorted(tables):
            for k in answers.ENTRIES:
                needed.setdefault((src, tgt, answers.source_text(k)))
        done = self._get(list(needed))
        more: dict[Key, None] = {}      # fallback pieces; emphasised words on their own
        for _, src, tgt, plan in work:
            for t in plan:
                if isinstance(t, Template) and src != tgt:
                    for u in t.units:
                        restored, lost = u.restore(done[(src, tgt, u.text)][0])
                        if restored is None:
                            for s in u.fallback_segments:
                                more.setdefault((src, tgt, s))
                        elif lost:
                            for s in u.emphasised:
                                more.setdefault((src, tgt, s))
        done.update(self._get([k for k in more if k not in done]))
        for src, tgt in sorted(tables):
            res = {k: done[(src, tgt, answers.source_text(k))] for k in answers.ENTRIES}
            table = AnswerTable.build(tgt, {k: v[0] for k, v in res.items()})
            for k, v in res.items():
                if v[1]:
                    table.problems[k] = "no end of sentence within the token budget"
                    table.entries.pop(k, None)
            self._tables[(src, tgt)] = table
        return done

    def _get(self, keys: list[Key]) -> dict[Key, tuple[str, bool]]:
        """Cached or translated; an output that loops or runs to its budget is decoded once more
        with the retry settings (also cached) and that result is used."""
        first, second = self.caches
        done = self._lookup(keys, first, None)
        gen = self.options.generation
        if not gen.retry or gen.fixed_new_tokens or self.options.backend == "identity":
            return done
        bad = [k for k in keys if done[k][1] or loop_in_output(k[2], done[k][0], self.options.checks.repetition_min_chars)]
        if bad:
            self._counters["retried_segments"] += len(bad)
            done.update(self._lookup(bad, second, gen.for_retry()))
        return done

    def _lookup(self, keys: list[Key], cache: TranslationCache, generation) -> dict[Key, tuple[str, bool]]:
        self._counters["unique_segments"] += len(keys)
        done = cache.get_many(keys)                 # one join for the whole batch
        self._counters["cache_hits"] += len(done)
        missing: dict[str, list[Key]] = {}
        for key in keys:
            if key not in done:
                missing.setdefault(key[0], []).append(key)
        for src, ks in missing.items():
            def cache_it(i, r, ks=ks):
                k = ks[i]
                cache.put(k[0], k[1], k[2], r.text, r.truncated)
                done[k] = (r.text, r.truncated)
            self._backend.translate([k[2] for k in ks], src, [k[1] for k in ks], on_result=cache_it,
                                    generation=generation)
            self._counters["model_segments"] += len(ks)
        return done

    def _finish(self, row, src, tgt, plan: list, tr, out: StageOutput) -> None:
        o = self.options
        if src == tgt:
            out.kept.append(with_meta(row, translate_from=src, translated_by=None))
            return
        # CJK: no space between sentences; the identity backend gives its input back as it is
        join = "" if languages.get(tgt).script in NO_SPACE_JOIN_SCRIPTS and o.backend != "identity" else None
        new_messages, seg_info, literals_ok = [], [], True
        dropped = fallbacks = shorts = 0
        for m, t in zip(row["messages"], plan):
            if isinstance(t, ShortAnswer):
                table = self._tables[(src, tgt)]
                unchecked = not o.checks.enabled or o.backend == "identity"
                if t.key not in (table.raw if unchecked else table.entries):
                    out.rejected.append(make_reject(row, STAGE, "short_answer",
                                                    f"answer {t.key!r} into {tgt}: {table.problems.get(t.key)}"))
                    return
                new_messages.append({"role": m["role"],
                                     "content": _keep_space(m["content"], table.render(t, unchecked))})
                shorts += 1
                continue
            outs = []
            for u in t.units:
                text, trunc = tr[(src, tgt, u.text)]
                hints = {w: tr[(src, tgt, w)][0] for w in u.emphasised if (src, tgt, w) in tr}
                restored, lost = u.restore(text, hints)
                if restored is None:
                    pieces = [tr[(src, tgt, s)] for s in u.fallback_segments]
                    seg_info.extend((s, p[0], p[1]) for s, p in zip(u.fallback_segments, pieces))
                    restored = u.render_pieces([p[0] for p in pieces])
                    fallbacks += 1
                else:
                    seg_info.append((u.text, text, trunc))
                    dropped += lost
                outs.append(restored)
            rendered = t.render(outs, join)
            # every protected literal must come back, in order (guards the template code itself)
            pos = 0
            for lit in t.literals:
                lit_core = lit.strip() if join is not None else lit
                i = rendered.find(lit_core, pos)
                if i < 0:
                    literals_ok = False
                    break
                pos = i + len(lit_core)
            new_messages.append({"role": m["role"], "content": rendered})
        res = self._checker.check(row["messages"], new_messages, seg_info, literals_ok, tgt,
                                  content=o.backend != "identity")
        if not res.ok:
            out.rejected.append(make_reject(row, STAGE, res.reason, res.detail))
            return
        self._counters["fallback_units"] += fallbacks
        self._counters["emphasis_dropped"] += dropped
        self._counters["short_answers"] += shorts
        kept = dict(row, messages=new_messages)
        extra = {k: v for k, v in (("emphasis_dropped", dropped), ("fallback_units", fallbacks),
                                   ("short_answers", shorts)) if v}
        out.kept.append(with_meta(kept, translated_by="identity" if o.backend == "identity" else o.model, translate_from=src,
                                  translation_checks=res.info, translation_segments=len(seg_info), **extra))


def _keep_space(src: str, answer: str) -> str:
    """The answer with the source message's surrounding whitespace."""
    core = src.strip()
    i = src.index(core) if core else 0
    return src[:i] + answer + src[i + len(core):]


def _literal(text: str) -> Template:
    """A message of a role that is not translated (TranslateOptions.roles)."""
    t = Template()
    t.lit(text, "untranslated_role")
    return t


def collect_stats(stats_dir: str | os.PathLike) -> dict:
    """Sum of the counters every worker wrote under stats_dir (a folder or a URL)."""
    total = Counter()
    for data in storage.read_many([str(p) for p in sorted(storage.path(stats_dir).glob("worker-*.json"))]):
        total.update(json.loads(data))
    return {k: total.get(k, 0) for k in STAT_KEYS}
