"""The OCR render stage: job rows in, complete samples (messages + JPEG) out, or reject records."""
from __future__ import annotations

import json

import numpy as np

from mixkit.lang.languages import COMPLEX_SCRIPTS, get
from mixkit.core.schema import IMAGE_TOKEN, make_reject, make_row, meta_of
from mixkit.runtime.stage import Resources, Stage, StageOutput
from ocr_synth.charts import render_chart
from ocr_synth.document import SPACELESS, render_document
from ocr_synth.fonts import (FontUnavailableError, PilFonts, fonts_for_lang, renderable, renderable_text,
                             shaping_support)
from ocr_synth.jobs import job_rng
from ocr_synth.line_breaking import _CLUSTERS     # grapheme clusters as the line breaker cuts them (one definition)
from ocr_synth.options import OcrOptions
from ocr_synth.prompts import prompts_for
from ocr_synth.text_sources import HOW_TO_ADD_TEXT, lang_text, load_text_files, passage_starts

STAGE = "ocr"


class OcrRenderStage(Stage):
    name = "ocr_render"
    resources = Resources(cpus=1, batch_size=32)       # workers: as many as the cluster has CPUs (recipe `workers: {ocr: ...}`)

    def __init__(self, options: OcrOptions, text_pool: dict[str, list[str]] | None = None):
        self.options = options
        self.text_pool = text_pool or {}
        self._ready = False

    def setup(self) -> None:
        if self._ready:
            return
        self.fonts = PilFonts()
        self.shaping_ok, self.shaping_msg = shaping_support()
        self._pools: dict[str, _Text] = {}
        self._text_files: dict[str, list[str]] | None = None
        self._ready = True

    # ---- text -------------------------------------------------------------------------
    def text(self, lang: str) -> "_Text":
        """The language's renderable running text (in order) and words; built once per language."""
        self.setup()
        if lang not in self._pools:
            files = self._files()
            lt = lang_text(lang, list(self.options.text_sources), files, self.text_pool)
            paras, dropped = renderable_text([t for _, t in lt.blocks], lang)
            ok = set(paras)
            blocks = [(k, t) for k, t in lt.blocks if t in ok]
            words, dropped_w = renderable(sorted(set(lt.words)), lang)
            for k, v in dropped_w.items():
                dropped[k] = dropped.get(k, 0) + v
            self._pools[lang] = _Text(blocks, words, lt.origin, dropped)
        return self._pools[lang]

    def _files(self) -> dict[str, list[str]]:
        if self._text_files is None:
            o = self.options
            self._text_files = load_text_files(o.text_files) if "text_files" in o.text_sources and o.text_files else {}
        return self._text_files

    # ---- rows -------------------------------------------------------------------------
    def process_batch(self, rows: list[dict]) -> StageOutput:
        self.setup()
        out = StageOutput()
        for row in rows:
            try:
                out.kept.append(self.render_row(row))
            except FontUnavailableError as e:
                out.rejected.append(make_reject(row, STAGE, "font_unavailable", str(e)))
            except _Reject as e:
                out.rejected.append(make_reject(row, STAGE, e.reason, e.detail))
            except ValueError as e:
                msg = str(e)
                reason = next((r for r in ("font_coverage", "shaping_failed") if r in msg), "render_failed")
                out.rejected.append(make_reject(row, STAGE, reason, msg))
        return out

    def render_row(self, row: dict) -> dict:
        lang, task = row["lang"], row["task"]
        job = meta_of(row).get("ocr_job", {})
        index, seed = int(job.get("index", 0)), int(job.get("seed", 0))
        if get(lang).script in COMPLEX_SCRIPTS and not self.shaping_ok:
            raise _Reject("no_raqm", self.shaping_msg)
        chain = fonts_for_lang(lang)
        text = self.text(lang)
        items, origin = text.blocks and [t for _, t in text.blocks] or text.words, "+".join(text.origin)
        if not items:
            raise _Reject("no_text", f"no renderable {lang} text from sources {self.options.text_sources} "
                                     f"(dropped: {text.dropped}); " + HOW_TO_ADD_TEXT.format(code=lang))
        rng = job_rng(seed, lang, index, salt=2)
        templates, prompt_lang = prompts_for(lang, self.options.prompts_in_target_language)
        o = self.options
        width = int(rng.integers(o.width[0], o.width[1] + 1))
        height = int(round(width * rng.uniform(*o.aspect)))
        meta = {"ocr_job": job, "text_source": origin, "prompt_lang": prompt_lang}
        if task == "chart_qa":
            jpeg, params, prompt, answer = self._chart(text.labels(lang), lang, rng, width, height, templates)
        else:
            jpeg, params, lines = render_document(
                items, lang, chain, self.fonts, rng, width, height, font_px=o.font_size, max_lines=o.max_lines,
                augment=o.augment, jpeg_quality=o.jpeg_quality, blocks=text.blocks or None,
                start=text.passage(seed, lang, index) if text.blocks else None)
            queries = text.phrases(lang) if text.blocks else items
            prompt, answer = self._document_qa(task, lines, queries, rng, templates, int(job.get("nth", index)), params)
        meta["render"] = params
        meta["answer"] = answer
        messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}"},
                    {"role": "assistant", "content": answer}]
        return make_row(id=row["id"], source=row["source"], origin_id=row["origin_id"], task=task, lang=lang,
                        messages=messages, images=[jpeg], meta=meta)

    def _document_qa(self, task, lines, items, rng, templates, nth, params) -> tuple[str, str]:
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        if task == "ocr":
            return pick(templates["ocr"]), "\n".join(lines)
        if task == "ocr_line":
            n = int(rng.integers(len(lines))) + 1
            params["asked_line"] = n
            return pick(templates["ocr_line"]).format(n=n), lines[n - 1]
        if task == "ocr_grounding":
            full = "\n".join(lines)
            # a query split over two lines is still in the image: never ask it as absent
            flat = (" ".join(lines), "".join(lines))
            want_yes = nth % 2 == 0   # alternate over a language's grounding jobs: balanced yes/no
            present = [t for t in items if t in full]
            if not present:   # every line holds at least part of an item; use a whole line
                present = [l for l in lines]
            if want_yes:
                x = pick(present)
            else:
                absent = [t for t in items if len(t) <= 40 and t not in flat[0] and t not in flat[1]]
                if not absent:
                    want_yes, x = True, pick(present)
                else:
                    x = pick(absent)
            params["grounding"] = {"query": x, "present": want_yes}
            return pick(templates["ocr_grounding"]).format(x=x), templates["yes" if want_yes else "no"]
        raise _Reject("unknown_task", f"task {task!r} is not an OCR task")

    def _chart(self, short, lang, rng, width, height, templates):
        n = int(rng.integers(4, 9))
        if len(short) < n:
            raise _Reject("no_text", f"only {len(short)} short labels for {lang}; a chart needs {n}")
        labels = [short[i] for i in rng.choice(len(short), n, replace=False)]
        values = rng.integers(30, 101, n).astype(float)
        top = int(np.argmax(values))
        values[top] = max(values[top], float(np.sort(values)[-2]) + 1)   # a unique largest
        values = [float(min(v, 100.0)) for v in values]
        if sorted(values)[-1] == sorted(values)[-2]:
            values[top] = 100.0
            others = [i for i in range(n) if i != top]
            for i in others:
                values[i] = min(values[i], 99.0)
        kind = "bar" if rng.random() < 0.5 else "pie"
        o = self.options
        jpeg, params = render_chart(labels, values, kind, lang, rng, width=width, height=height,
                                    jpeg_quality=int(rng.integers(o.jpeg_quality[0], o.jpeg_quality[1] + 1)))
        prompt = templates["chart_qa_bar" if kind == "bar" else "chart_qa_pie"][0]
        return jpeg, params, prompt, labels[int(np.argmax(values))]


class _Text:
    """One language's renderable text: running-text blocks in order, words, origin, drops."""

    def __init__(self, blocks, words, origin, dropped):
        self.blocks, self.words, self.origin, self.dropped = blocks, words, origin, dropped
        self._labels: list[str] | None = None
        self._phrases: list[str] | None = None
        self._order: tuple[int, list[int]] | None = None       # (seed, passage starts in drawing order)

    def passage(self, seed: int, lang: str, index: int) -> int:
        """First block of the language's index-th job: its passages in a seeded order, each once before
        any repeats (the pool is used up after as many jobs as it has passages)."""
        if self._order is None or self._order[0] != seed:
            starts = passage_starts(self.blocks)
            order = job_rng(seed, lang, 0, salt=3).permutation(len(starts))
            self._order = (seed, [starts[int(i)] for i in order])
        order = self._order[1]
        return order[index % len(order)]

    def labels(self, lang: str) -> list[str]:
        """Short chart labels: CLDR words first, else words of the running text (sorted, distinct)."""
        if self._labels is None:
            spaceless = get(lang).script in SPACELESS
            short = [t for t in self.words if 2 <= len(t) <= 16 and (spaceless or len(t.split()) <= 2)]
            if len(short) < 8 and self.blocks and not spaceless:
                seen = set(short)
                for _, t in self.blocks:
                    for w in t.split():
                        w = w.strip(".,;:!?()[]«»\"'“”„።፣፤፡،؛")
                        if 3 <= len(w) <= 14 and any(c.isalpha() for c in w) and w not in seen:
                            seen.add(w)
                            short.append(w)
            self._labels = sorted(short)
        return self._labels

    def phrases(self, lang: str) -> list[str]:
        """Grounding queries from running text: runs of 2-3 words (4 grapheme clusters where unspaced)."""
        if self._phrases is None:
            spaceless = get(lang).script in SPACELESS
            out: set[str] = set()
            for _, t in self.blocks:
                if spaceless:                      # 4 grapheme clusters: never half a cluster
                    cl = _CLUSTERS.findall(t)
                    out.update("".join(cl[i:i + 4]).strip() for i in range(0, max(1, len(cl) - 4), 7))
                else:
                    w = t.split()
                    out.update(" ".join(w[i:i + 2 + i % 2]) for i in range(0, max(1, len(w) - 2), 3))
            self._phrases = sorted(p for p in out if sum(c.isalpha() for c in p) >= 2 and len(p) <= 40)
        return self._phrases


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def sample_summary(row: dict) -> str:
    """One line for logs: lang, task and the answer's start."""
    return f"{row['lang']} {row['task']} {json.dumps(row['messages'][-1]['content'][:40], ensure_ascii=False)}"


# ---- standalone run (`mixkit ocr`) -----------------------------------------------------------

_WORKER: OcrRenderStage | None = None


def _init_worker(options_json: str, text_pool: dict | None) -> None:
    global _WORKER
    _WORKER = OcrRenderStage(OcrOptions.model_validate_json(options_json), text_pool)
    _WORKER.setup()   # fonts and shaping check once per worker process


def _work(rows: list[dict]) -> StageOutput:
    return _WORKER.process_batch(rows)


def resolve_langs(langs: list[str] | str) -> list[str]:
    from mixkit.lang.languages import centurio_languages, resolve
    if isinstance(langs, str):
        langs = [x for x in langs.split(",") if x.strip()]
    if [x.strip().lower() for x in langs] == ["all"]:
        return [l.code for l in centurio_languages()]
    return list(dict.fromkeys(resolve(x.strip()) for x in langs))


def render_ocr(langs: list[str], per_lang: int, out_dir: str, seed: int = 0, workers: int | None = None,
               options: OcrOptions | None = None, text_pool: dict[str, list[str]] | None = None,
               progress: bool = True, batch_size: int = 16) -> dict:
    """Render `per_lang` OCR samples for each language into WebDataset shards under `out_dir`.

    Writes shard-*.tar, manifest.json, rejects.parquet and contact_sheet.png; returns counts.
    Parallel over `workers` processes (default: all cores; 1 = in this process). Output is
    identical for any number of workers: every job is seeded by (seed, lang, index).
    Raises ShapingUnavailableError / FontUnavailableError up front with the fix in the message.
    """
    import os
    import time
    from collections import Counter

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mixkit.core import storage
    from mixkit.runtime.engines import LocalEngine
    from mixkit.runtime.partitions import atomic_target
    from mixkit.runtime.progress import Progress
    from mixkit.core.schema import REJECT_SCHEMA
    from mixkit.core.shard_format import Counts, Manifest, ShardInfo, counts_dict
    from mixkit.core.shard_writer import ShardWriter
    from ocr_synth.contact_sheet import contact_sheet
    from ocr_synth.fonts import require_shaping
    from ocr_synth.jobs import make_jobs
    from ocr_synth.options import reuse_report

    codes = resolve_langs(langs)
    require_shaping(codes)
    missing = {}
    for c in codes:
        try:
            fonts_for_lang(c)
        except FontUnavailableError as e:
            missing[c] = str(e)
    if missing:
        raise FontUnavailableError("; ".join(f"{c}: {m}" for c, m in missing.items()))
    options = options or OcrOptions(enabled=True)
    from ocr_synth.text_sources import MissingTextError, missing_text, text_coverage
    srcs = [s for s in options.text_sources if s != "captions"]
    no_text = {c: m for c, m in missing_text(codes, srcs, options.text_files).items()
               if not (text_pool or {}).get(c)}
    if no_text and options.on_missing_text == "fail":
        raise MissingTextError("; ".join(no_text.values()))
    codes = [c for c in codes if c not in no_text]      # skipped: listed in the result and the manifest
    jobs = make_jobs({c: int(per_lang) for c in codes}, seed, options)
    batches = [jobs[i:i + batch_size] for i in range(0, len(jobs), batch_size)]
    workers = max(1, int(workers or os.cpu_count() or 1))
    out = storage.path(out_dir)             # a folder or a URL (s3://bucket/ocr)
    storage.check_writable(out)            # credentials, bucket: one line before any rendering
    t0 = time.time()
    kept_all: list[dict] = []
    rejected: list[dict] = []
    writer = ShardWriter(str(out), max_samples=1000)

    # The one executor: jobs in order on local processes (results in job order, so the shards
    # are the same for any worker count), one progress display.
    with Progress(progress) as prog:
        for res in LocalEngine(workers).map_ordered(_work, batches, on_done=prog.callback("render OCR"),
                                                    initializer=_init_worker,
                                                    initargs=(options.model_dump_json(), text_pool)):
            for r in res.kept:
                writer.write(r)
            kept_all.extend({k: r[k] for k in ("id", "lang", "task", "images")} for r in res.kept)
            rejected.extend(res.rejected)
    shards = writer.close()
    elapsed = time.time() - t0
    with atomic_target(out / "rejects.parquet") as sink:
        pq.write_table(pa.Table.from_pylist(rejected, schema=REJECT_SCHEMA), sink)
    sheet = out / "contact_sheet.png"
    placed = contact_sheet(kept_all, str(sheet))
    by_lang = Counter(r["lang"] for r in kept_all)
    rej_reasons = counts_dict(Counter(r["reason"] for r in rejected))
    manifest = Manifest(
        kind="ocr_synth", seed=int(seed),
        targets_by_lang={c: 1.0 / len(codes) for c in codes}, quotas={c: int(per_lang) for c in codes},
        counts=Counts.of(by_lang, Counter(["ocr_synth"] * len(kept_all)), Counter(r["task"] for r in kept_all)),
        shards=[ShardInfo(storage.name(s["path"]), s["samples"], s["bytes"], s["sha256"]) for s in shards],
        rejects_by_step={"ocr": rej_reasons} if rej_reasons else {},
        rejects_by_lang=counts_dict(Counter(r["lang"] for r in rejected)),
        sections={"options": json.loads(options.model_dump_json()),
                  "text_sources": text_coverage(codes, list(options.text_sources), options.text_files),
                  "skipped_no_text": no_text,
                  "text_reuse": reuse_report(options, {c: int(per_lang) for c in codes}),
                  "contact_sheet": sheet.name})
    manifest.write(str(out))
    return {"total": len(kept_all), "rejected": len(rejected), "languages": len(by_lang),
            "requested_languages": len(codes), "shards": len(shards), "seconds": round(elapsed, 2),
            "contact_sheet": str(sheet), "contact_sheet_images": placed,
            "rejects_by_reason": rej_reasons, "out_dir": str(out), "skipped_no_text": sorted(no_text)}
