"""The OCR render stage: job rows in, complete samples (messages + JPEG) out, or reject records."""
from __future__ import annotations

import json

import numpy as np

from mixkit.languages import COMPLEX_SCRIPTS, get
from mixkit.schema import IMAGE_TOKEN, make_reject, make_row, meta_of
from mixkit.stage import Resources, Stage, StageOutput
from ocr_synth.charts import render_chart
from ocr_synth.document import SPACELESS, render_document
from ocr_synth.fonts import FontUnavailableError, PilFonts, fonts_for_lang, renderable, shaping_support
from ocr_synth.jobs import job_rng
from ocr_synth.options import OcrOptions
from ocr_synth.prompts import prompts_for
from ocr_synth.text_sources import build_text_pool

STAGE = "ocr"


class OcrRenderStage(Stage):
    name = "ocr_render"
    resources = Resources(cpus=1, batch_size=32, actors=1)

    def __init__(self, options: OcrOptions, text_pool: dict[str, list[str]] | None = None):
        self.options = options
        self.text_pool = text_pool or {}
        self._ready = False

    def setup(self) -> None:
        if self._ready:
            return
        self.fonts = PilFonts()
        self.shaping_ok, self.shaping_msg = shaping_support()
        self._pools: dict[str, tuple[list[str], str, dict]] = {}
        self._ready = True

    # ---- text -------------------------------------------------------------------------
    def pool(self, lang: str) -> tuple[list[str], str, dict]:
        """(renderable texts, where they came from, counts of texts dropped by reason); built once per language."""
        if lang not in self._pools:
            pool, origin = build_text_pool([lang], list(self.options.text_sources), self.options.text_files,
                                           self.text_pool)
            items, dropped = renderable(pool.get(lang, []), lang)
            self._pools[lang] = (sorted(items), origin.get(lang, ""), dropped)
        return self._pools[lang]

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
        items, origin, dropped = self.pool(lang)
        if not items:
            raise _Reject("no_text", f"no renderable text for {lang} from sources {self.options.text_sources} "
                                     f"(dropped: {dropped}); add a text file for it (ocr.text_files)")
        rng = job_rng(seed, lang, index, salt=2)
        templates, prompt_lang = prompts_for(lang, self.options.prompts_in_target_language)
        o = self.options
        width = int(rng.integers(o.width[0], o.width[1] + 1))
        height = int(round(width * rng.uniform(*o.aspect)))
        meta = {"ocr_job": job, "text_source": origin, "prompt_lang": prompt_lang}
        if task == "chart_qa":
            jpeg, params, prompt, answer = self._chart(items, lang, rng, width, height, templates)
        else:
            jpeg, params, lines = render_document(
                items, lang, chain, self.fonts, rng, width, height, font_px=o.font_size, max_lines=o.max_lines,
                augment=o.augment, jpeg_quality=o.jpeg_quality)
            prompt, answer = self._document_qa(task, lines, items, rng, templates, int(job.get("nth", index)), params)
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
            want_yes = nth % 2 == 0   # alternate over a language's grounding jobs: balanced yes/no
            present = [t for t in items if t in full]
            if not present:   # every line holds at least part of an item; use a whole line
                present = [l for l in lines]
            if want_yes:
                x = pick(present)
            else:
                absent = [t for t in items if t not in full and len(t) <= 40]
                if not absent:
                    want_yes, x = True, pick(present)
                else:
                    x = pick(absent)
            params["grounding"] = {"query": x, "present": want_yes}
            return pick(templates["ocr_grounding"]).format(x=x), templates["yes" if want_yes else "no"]
        raise _Reject("unknown_task", f"task {task!r} is not an OCR task")

    def _chart(self, items, lang, rng, width, height, templates):
        short = [t for t in items if 2 <= len(t) <= 16 and (get(lang).script in SPACELESS or len(t.split()) <= 2)]
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
    from mixkit.languages import centurio_languages, resolve
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
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mixkit.engine import LocalEngine
    from mixkit.progress import Progress
    from mixkit.schema import REJECT_SCHEMA
    from mixkit.shards import ShardWriter, counts_dict, write_manifest
    from ocr_synth.contact_sheet import contact_sheet
    from ocr_synth.fonts import require_shaping
    from ocr_synth.jobs import make_jobs
    from ocr_synth.text_sources import cldr_report

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
    jobs = make_jobs({c: int(per_lang) for c in codes}, seed, options)
    batches = [jobs[i:i + batch_size] for i in range(0, len(jobs), batch_size)]
    workers = max(1, int(workers or os.cpu_count() or 1))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    kept_all: list[dict] = []
    rejected: list[dict] = []
    writer = ShardWriter(out, max_samples=1000)

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
    pq.write_table(pa.Table.from_pylist(rejected, schema=REJECT_SCHEMA), out / "rejects.parquet")
    sheet = out / "contact_sheet.png"
    placed = contact_sheet(kept_all, str(sheet))
    by_lang = Counter(r["lang"] for r in kept_all)
    manifest = {
        "kind": "ocr_synth",
        "seed": int(seed),
        "options": json.loads(options.model_dump_json()),
        "targets": {"by_lang": {c: 1.0 / len(codes) for c in codes}, "per_lang": int(per_lang)},
        "counts": {"by_lang": counts_dict(by_lang), "by_source": counts_dict(Counter(["ocr_synth"] * len(kept_all))),
                   "by_task": counts_dict(Counter(r["task"] for r in kept_all)), "total": len(kept_all)},
        "shards": [{**s, "path": Path(s["path"]).name} for s in shards],
        "rejects": {"total": len(rejected), "by_reason": counts_dict(Counter(r["reason"] for r in rejected)),
                    "by_lang": counts_dict(Counter(r["lang"] for r in rejected))},
        "text_sources": {c: v for c, v in cldr_report(codes).items()},
        "contact_sheet": sheet.name,
    }
    write_manifest(out, manifest)
    return {"total": len(kept_all), "rejected": len(rejected), "languages": len(by_lang),
            "requested_languages": len(codes), "shards": len(shards), "seconds": round(elapsed, 2),
            "contact_sheet": str(sheet), "contact_sheet_images": placed,
            "rejects_by_reason": manifest["rejects"]["by_reason"], "out_dir": str(out)}
