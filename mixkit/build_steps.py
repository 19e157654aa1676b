"""The steps of a build, declared as a list (datatrove's pipeline, NeMo Curator's stages).

A step is a small class with a `name` and a `run(ctx) -> result`; its result is a typed
dataclass that says how many rows went in and out and which rejects it produced. The build
(mixkit.build) runs `default_steps()` in order, each in its own folder from the BuildLayout.

Adding a row-level stage is one class plus one list entry:

    class NoDogs(Stage):                       # mixkit.stage.Stage: setup() + process_batch()
        name = "no_dogs"
        def process_batch(self, rows): ...     # return StageOutput(kept, rejected)

    steps = default_steps()
    steps.insert(2, StageStep("no_dogs", lambda recipe: NoDogs()))   # after the filters
    build(recipe, "runs/x", steps=steps)

Row steps (read, filter, any StageStep) each leave the current rows as parquet partitions in
their folder (`ctx.rows_dir`); dedup, plan, translate and mix read from there.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.engine import parts, rejects_table, write_rows_partitioned, write_table_atomic
from mixkit.layout import BuildLayout, is_done, mark_done
from mixkit.plan import Plan, make_plan, unit_hash
from mixkit.recipe import Recipe
from mixkit.schema import REJECT_SCHEMA, SCHEMA, make_reject, rows_to_table
from mixkit.shard_format import counts_dict, sample_members
from mixkit.shards import ShardWriter
from mixkit.stage import Stage

ROWS_PER_PART = 2000
MAX_TRANSLATE_ROUNDS = 4


def _empty_rejects() -> pa.Table:
    return REJECT_SCHEMA.empty_table()


def _rows_in(directory: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts(directory))


# ---------------------------------------------------------------------------------------------
# the context every step sees, and the step base class

@dataclass
class BuildContext:
    recipe: Recipe
    engine: Any                           # mixkit.engine.Engine or LocalEngine
    layout: BuildLayout
    progress: Any                         # mixkit.progress.Progress
    rows_dir: Path | None = None          # the current source rows (set by row steps)
    results: dict[str, Any] = field(default_factory=dict)

    def result(self, kind: type):
        """The result of the latest step that produced a `kind` (e.g. PlanResult)."""
        for r in reversed(list(self.results.values())):
            if isinstance(r, kind):
                return r
        raise LookupError(f"no earlier step produced a {kind.__name__}: check the order of the build's steps")


class BuildStep:
    """One step of a build. `dir` is its folder (set by the build before `run`)."""

    name: str = "step"
    dir: Path

    def run(self, ctx: BuildContext):
        raise NotImplementedError

    def enabled(self, recipe: Recipe) -> bool:
        return True


@dataclass
class StepResult:
    rows_in: int = 0
    rows_out: int = 0

    def rejects(self) -> pa.Table:
        """The reject records this step produced (rows it removed, with stage and reason)."""
        return _empty_rejects()


# ---------------------------------------------------------------------------------------------
# read: one Ray task per source file (or per limited source)

@dataclass
class RowsResult(StepResult):
    dir: Path | None = None

    def rejects(self) -> pa.Table:
        return rejects_table(self.dir)


def _read_task(job: dict) -> dict:
    from mixkit.sources import read_source_file

    out_dir = Path(job["out_dir"])
    rows_left = job["limit"]
    n_rows = n_rej = part = 0
    rej_buf: list[dict] = []
    row_buf: list[dict] = []
    tag = job["tag"]

    def flush_rows():
        nonlocal part, row_buf
        if row_buf:
            write_table_atomic(rows_to_table(row_buf), out_dir / f"part-{tag}-{part:05d}.parquet.staged")
            part += 1
            row_buf = []

    for file in job["files"]:
        for rows, rejects in read_source_file(file, source=job["source"], format=job["format"], task=job["task"],
                                              lang=job["lang"], image_root=job["image_root"]):
            if rows_left is not None:
                rows = rows[:max(rows_left, 0)]
                rows_left -= len(rows)
            row_buf.extend(rows)
            rej_buf.extend(rejects)
            n_rows += len(rows)
            n_rej += len(rejects)
            if len(row_buf) >= ROWS_PER_PART:
                flush_rows()
            if rows_left is not None and rows_left <= 0:
                break
        if rows_left is not None and rows_left <= 0:
            break
    flush_rows()
    write_table_atomic(rows_to_table(rej_buf, REJECT_SCHEMA), out_dir / f"rejects-{tag}.parquet")
    # Staged names become real only when the whole task finished: a killed read leaves no
    # partial partitions that a rerun could mistake for complete ones.
    for p in sorted(out_dir.glob(f"part-{tag}-*.parquet.staged")):
        p.rename(p.with_suffix(""))
    (out_dir / f"{tag}.done").write_text("ok\n")
    return {"rows": n_rows, "rejects": n_rej}


class ReadSources(BuildStep):
    name = "read"

    def run(self, ctx: BuildContext) -> RowsResult:
        d = self.dir
        if not is_done(d):
            from mixkit.sources import list_source_files

            d.mkdir(parents=True, exist_ok=True)
            jobs = []
            for i, src in enumerate(ctx.recipe.sources):
                files = list_source_files(src.path, None if src.format == "auto" else src.format)
                # With a limit the files of a source are read in order by one task; else one task per file.
                groups = [files] if src.limit else [[f] for f in files]
                for j, g in enumerate(groups):
                    tag = f"s{i:03d}-f{j:05d}"
                    if (d / f"{tag}.done").exists():
                        continue
                    for stale in d.glob(f"part-{tag}-*"):
                        stale.unlink()
                    jobs.append({"out_dir": str(d), "tag": tag, "files": g, "source": src.name,
                                 "format": src.format, "task": src.task, "lang": src.lang,
                                 "image_root": src.image_root, "limit": src.limit})
            if jobs:
                ctx.engine.map_tasks(_read_task, jobs,
                                     on_done=lambda n, t: ctx.progress.update("read sources", n, t))
            _reject_duplicate_ids(d)
            mark_done(d)
        ctx.rows_dir = d
        res = RowsResult(dir=d, rows_out=_rows_in(d))
        res.rows_in = res.rows_out + res.rejects().num_rows
        return res


def _reject_duplicate_ids(d: Path) -> None:
    """Two records that normalise to the same id (same source, origin id, lang, task): keep the first."""
    seen: set[str] = set()
    extra: list[dict] = []
    for p in parts(d):
        ids = pq.read_table(p, columns=["id"])["id"].to_pylist()      # ids only: images stay on disk
        dup = set()
        for i, x in enumerate(ids):
            if x in seen:
                dup.add(i)
            seen.add(x)
        if dup:
            rows = pq.read_table(p).to_pylist()
            extra += [make_reject(rows[i], "read", "duplicate_id", "another record of this source has the same id")
                      for i in sorted(dup)]
            write_table_atomic(rows_to_table([r for i, r in enumerate(rows) if i not in dup]), p)
    if extra:
        write_table_atomic(rows_to_table(extra, REJECT_SCHEMA), d / "rejects-zz-duplicate-ids.parquet")


# ---------------------------------------------------------------------------------------------
# any row-level Stage over the current rows (the filters are one)

class StageStep(BuildStep):
    """Run a mixkit.stage.Stage over the current rows; its kept rows become the current rows."""

    def __init__(self, name: str, make_stage: Callable[[Recipe], Stage]):
        self.name = name
        self.make_stage = make_stage

    def run(self, ctx: BuildContext) -> RowsResult:
        src = ctx.rows_dir
        stage = self.make_stage(ctx.recipe)
        ctx.engine.run_stage(stage, src, self.dir, on_partition=lambda n, t: ctx.progress.update(self.name, n, t))
        ctx.rows_dir = self.dir
        return RowsResult(dir=self.dir, rows_in=_rows_in(src), rows_out=_rows_in(self.dir))


def filter_step() -> StageStep:
    def make(recipe: Recipe) -> Stage:
        from mixkit.filters import build_filter_stage

        return build_filter_stage(recipe.stages.filters, stage_name="filter")

    return StageStep("filter", make)


# ---------------------------------------------------------------------------------------------
# dedup over the whole dataset: signatures per partition (tasks), clusters in the driver

@dataclass
class DedupResult(StepResult):
    rows_dir: Path | None = None
    duplicates_path: Path | None = None

    def duplicate_ids(self) -> pa.Array:
        return pq.read_table(self.duplicates_path, columns=["id"])["id"]

    def rejects(self) -> pa.Table:
        from mixkit.dedup import duplicate_rejects

        dups = pq.read_table(self.duplicates_path)
        if dups.num_rows == 0:
            return _empty_rejects()
        rows = []
        for p in parts(self.rows_dir):
            rows += pq.read_table(p, columns=["id", "origin_id", "source", "lang"]).to_pylist()
        return rows_to_table(duplicate_rejects(rows, dups.to_pylist()).rejected, REJECT_SCHEMA)


def _signature_task(job: dict):
    from mixkit.dedup import DedupOptions, compute_signatures

    rows = pq.read_table(job["path"]).to_pylist()
    opts = DedupOptions.model_validate(job["options"])
    return compute_signatures(rows, opts, list(range(job["offset"], job["offset"] + len(rows))))


class Dedup(BuildStep):
    name = "dedup"

    def run(self, ctx: BuildContext) -> DedupResult:
        src, d = ctx.rows_dir, self.dir
        path = d / "duplicates.parquet"
        if not is_done(d):
            from mixkit.dedup import empty_duplicates, find_duplicates

            d.mkdir(parents=True, exist_ok=True)
            jobs, offset = [], 0
            for p in parts(src):
                n = pq.ParquetFile(p).metadata.num_rows
                jobs.append({"path": str(p), "offset": offset, "options": ctx.recipe.stages.dedup.model_dump()})
                offset += n
            sigs = ctx.engine.map_tasks(_signature_task, jobs, on_done=lambda n, t: ctx.progress.update("dedup", n, t))
            sigs = [s for s in sigs if s is not None and s.num_rows]
            dups = find_duplicates(pa.concat_tables(sigs), ctx.recipe.stages.dedup) if sigs else empty_duplicates()
            write_table_atomic(dups, path)
            mark_done(d)
        n_in = _rows_in(src)
        return DedupResult(rows_in=n_in, rows_out=n_in - pq.ParquetFile(path).metadata.num_rows,
                           rows_dir=src, duplicates_path=path)


# ---------------------------------------------------------------------------------------------
# plan: ids and metadata only; every surviving row gets a role (see mixkit.plan)

@dataclass
class PlanResult(StepResult):
    plan: Plan | None = None


class PlanStep(BuildStep):
    name = "plan"

    def run(self, ctx: BuildContext) -> PlanResult:
        recipe = ctx.recipe
        dedup = ctx.result(DedupResult)
        pool = _pool(recipe, ctx.rows_dir, dedup.duplicate_ids())
        plan = make_plan(recipe, pool, translation_enabled=recipe.stages.translate.enabled)
        d = self.dir
        if not is_done(d):
            d.mkdir(parents=True, exist_ok=True)
            write_table_atomic(plan.table, d / "plan.parquet")
            (d / "quotas.json").write_text(json.dumps(plan.quotas, indent=1, sort_keys=True))
            mark_done(d)
        used = sum(1 for r in plan.table["role"].to_pylist() if r in ("english", "native", "translate"))
        return PlanResult(rows_in=pool.num_rows, rows_out=used, plan=plan)


def _pool(recipe: Recipe, src: Path, dup_ids: pa.Array) -> pa.Table:
    specs = {s.name: s for s in recipe.sources}
    cols = ["id", "origin_id", "source", "lang", "task"]
    tables = [pq.read_table(p, columns=cols) for p in parts(src)]
    t = pa.concat_tables(tables) if tables else pa.table({k: pa.array([], pa.string()) for k in cols})
    t = t.filter(pc.invert(pc.is_in(t["id"], value_set=dup_ids)))
    sources = t["source"].to_pylist()
    t = t.append_column("translatable", pa.array([specs[s].translate for s in sources], pa.bool_()))
    t = t.append_column("weight", pa.array([specs[s].weight for s in sources], pa.float64()))
    return t


# ---------------------------------------------------------------------------------------------
# translate: exactly what the plan asks; failed translations replaced from the reserve

@dataclass
class TranslateResult(StepResult):
    rounds: int = 0
    out_dirs: list[Path] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)      # lang -> rows taken from the reserve
    used_inputs: set[str] = field(default_factory=set)          # English ids sent to translation
    stats: dict = field(default_factory=dict)                   # model calls, cache hits, ...

    def rejects(self) -> pa.Table:
        tables = [rejects_table(d) for d in self.out_dirs]
        return pa.concat_tables(tables) if tables else _empty_rejects()


def default_translation_cache() -> str:
    """Shared across builds (a rebuild or another recipe translates nothing twice):
    $MIXKIT_CACHE_DIR/translation, else ~/.cache/mixkit/translation."""
    import os

    base = os.environ.get("MIXKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mixkit")
    return os.path.join(base, "translation")


def _translation_inputs(src: Path, assign: dict[str, str]) -> list[dict]:
    """Source rows of `assign` (id -> target), readdressed to their target language."""
    from mixkit.schema import make_id, with_meta

    out = []
    for p in parts(src):
        t = pq.read_table(p)
        mask = pc.is_in(t["id"], value_set=pa.array(list(assign), pa.string()))
        for r in t.filter(mask).to_pylist():
            target = assign[r["id"]]
            new = dict(r, lang=target, id=make_id(r["source"], r["origin_id"], target, r["task"]))
            out.append(with_meta(new, translate_from=r["lang"], input_id=r["id"]))
    out.sort(key=lambda r: r["id"])
    return out


class Translate(BuildStep):
    name = "translate"

    def run(self, ctx: BuildContext) -> TranslateResult:
        from translation.stage import TranslateStage, collect_stats

        plan = ctx.result(PlanResult).plan
        roles = plan.table.to_pylist()
        assign = {r["id"]: r["target"] for r in roles if r["role"] == "translate"}
        reserve = [r["id"] for r in sorted((r for r in roles if r["role"] == "reserve"), key=lambda r: r["rank"])]
        res = TranslateResult(rows_in=len(assign), used_inputs=set(assign))
        if not assign:
            return res
        opts = ctx.recipe.stages.translate
        cache_dir = opts.cache_dir or default_translation_cache()
        if opts.phrasebook:
            from translation.demo_cache import seed_cache_from_phrasebook

            seed_cache_from_phrasebook(opts.phrasebook, cache_dir, opts)
        stats_dir = self.dir / "stats"
        if stats_dir.exists():                # counters are per run: a rerun reports its own calls
            shutil.rmtree(stats_dir)
        stage = TranslateStage(opts, cache_dir=cache_dir, stats_dir=str(stats_dir))
        replaced: Counter = Counter()
        r_next = 0
        for rnd in range(MAX_TRANSLATE_ROUNDS):
            rd = self.dir / f"round-{rnd}"
            if not is_done(rd / "in"):
                if rd.exists():
                    shutil.rmtree(rd)
                write_rows_partitioned(_translation_inputs(ctx.rows_dir, assign), rd / "in", ROWS_PER_PART)
                mark_done(rd / "in")
            ctx.engine.run_stage(stage, rd / "in", rd / "out",
                                 on_partition=lambda n, t, r=rnd: ctx.progress.update(f"translate r{r}", n, t))
            res.out_dirs.append(rd / "out")
            rej = rejects_table(rd / "out")
            if rej.num_rows == 0:
                break
            # Failed translations: replace them from the reserve, in the same language.
            assign = {}
            for lg, n in sorted(Counter(rej["lang"].to_pylist()).items()):
                take = reserve[r_next:r_next + n]
                r_next += len(take)
                assign.update({i: lg for i in take})
                replaced[lg] += len(take)
            res.used_inputs |= set(assign)
            if not assign:
                break
        res.rounds = len(res.out_dirs)
        res.replaced = counts_dict(replaced)
        res.rows_out = sum(_rows_in(d) for d in res.out_dirs)
        res.stats = collect_stats(str(stats_dir)) if stats_dir.exists() else {}
        return res


# ---------------------------------------------------------------------------------------------
# OCR synthesis: per-language quotas of rendered documents and charts

@dataclass
class OcrResult(StepResult):
    quotas: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)      # lang -> why it has no OCR (no text of its own)
    out_dir: Path | None = None

    def rejects(self) -> pa.Table:
        return rejects_table(self.out_dir) if self.out_dir else _empty_rejects()


class Ocr(BuildStep):
    name = "ocr"

    def enabled(self, recipe: Recipe) -> bool:
        return recipe.stages.ocr.enabled

    def run(self, ctx: BuildContext) -> OcrResult:
        from ocr_synth.jobs import make_jobs
        from ocr_synth.options import ocr_plan
        from ocr_synth.stage import OcrRenderStage

        opts = ctx.recipe.stages.ocr
        q, skipped = ocr_plan(opts, ctx.recipe.languages)
        d = self.dir
        if not is_done(d / "in"):
            write_rows_partitioned(make_jobs(q, ctx.recipe.seed, opts), d / "in", 500)
            mark_done(d / "in")
        ctx.engine.run_stage(OcrRenderStage(opts), d / "in", d / "out",
                             on_partition=lambda n, t: ctx.progress.update("ocr", n, t))
        return OcrResult(rows_in=_rows_in(d / "in"), rows_out=_rows_in(d / "out"), quotas=q, skipped=skipped,
                         out_dir=d / "out")


# ---------------------------------------------------------------------------------------------
# mix: select, up-sample, shuffle across languages, cut into shards, write them

class MixEntry(NamedTuple):
    id: str
    lang: str
    source: str
    task: str
    size: int          # bytes the sample takes in a tar
    origin: int        # index into the list of contributing partitions


@dataclass
class MixResult(StepResult):
    shards: list[dict] = field(default_factory=list)       # path, samples, bytes, sha256, counts
    upsampled: dict[str, int] = field(default_factory=dict)


class Mix(BuildStep):
    name = "mix"

    def run(self, ctx: BuildContext) -> MixResult:
        recipe = ctx.recipe
        plan = ctx.result(PlanResult).plan
        tr = ctx.results.get("translate")
        ocr = ctx.results.get("ocr")
        selected = {r["id"] for r in plan.table.to_pylist() if r["role"] in ("english", "native")}
        origins = [(p, True) for p in parts(ctx.rows_dir)]           # (partition, rows need selecting)
        origins += [(p, False) for d in (tr.out_dirs if tr else []) for p in parts(d)]
        origins += [(p, False) for p in (parts(ocr.out_dir) if ocr else [])]

        # Pass 1: ids, languages and sizes only (streamed in record batches: memory stays flat).
        entries: list[MixEntry] = []
        sel = pa.array(sorted(selected), pa.string())
        for oi, (p, select) in enumerate(origins):
            for t in _batches(p):
                if select:
                    t = t.filter(pc.is_in(t["id"], value_set=sel))
                for r, size in zip(t.select(["id", "lang", "source", "task"]).to_pylist(), _sizes(t)):
                    entries.append(MixEntry(r["id"], r["lang"], r["source"], r["task"], size, oi))

        # Languages still short of their quota (the plan's shortfall, plus failed translations the
        # reserve could not replace): the plan decides what to repeat, or fails.
        by_lang: dict[str, list[str]] = {}
        for e in entries:
            if not e.source.startswith("ocr_synth"):
                by_lang.setdefault(e.lang, []).append(e.id)
        repeats = plan.upsample(recipe, by_lang)
        originals = repeats.originals()
        entry_of = {e.id: e for e in entries if e.id in originals}
        for rep in repeats.items:
            e = entry_of[rep.original]
            entries.append(e._replace(id=rep.id))
        rep_of: dict[str, list[str]] = {}
        for rep in repeats.items:
            rep_of.setdefault(rep.original, []).append(rep.id)

        # Shuffle across languages: order by a seeded hash of the id; cut into shards by count and bytes.
        entries.sort(key=lambda e: (unit_hash(recipe.seed, "mix", e.id), e.id))
        max_n, max_b = recipe.output.samples_per_shard, int(recipe.output.max_shard_mb * (1 << 20))
        shard_of: dict[str, tuple[int, int]] = {}
        k = n = b = 0
        for pos, e in enumerate(entries):
            if n and (n >= max_n or b + e.size > max_b - 1024):
                k, n, b = k + 1, 0, 0
            shard_of[e.id] = (k, pos)
            n, b = n + 1, b + e.size
        n_shards = k + 1 if entries else 0

        bdir = self.dir / "buckets"
        if not is_done(bdir):
            _bucket_rows(origins, selected, shard_of, rep_of, bdir, ctx.progress)
        shards_dir = ctx.layout.shards
        shards_dir.mkdir(parents=True, exist_ok=True)
        jobs = [{"bucket": str(bdir / f"{s:05d}"), "out": str(shards_dir), "index": s} for s in range(n_shards)
                if not (bdir / f"{s:05d}" / "shard.json").exists()]
        if jobs:
            ctx.engine.map_tasks(_write_shard_task, jobs, on_done=lambda n, t: ctx.progress.update("write shards", n, t))
        infos = [json.loads((bdir / f"{s:05d}" / "shard.json").read_text()) for s in range(n_shards)]
        return MixResult(rows_in=len(entries) - len(repeats.items), rows_out=sum(i["samples"] for i in infos),
                         shards=infos, upsampled=repeats.by_lang())


def _bucket_rows(origins, selected: set[str], shard_of: dict, rep_of: dict[str, list[str]], bdir: Path,
                 progress) -> None:
    """Pass 2: full rows into one parquet bucket per shard (streamed: bounded memory)."""
    if bdir.exists():
        shutil.rmtree(bdir)
    bdir.mkdir(parents=True)
    schema = SCHEMA.append(pa.field("_pos", pa.int64()))
    for oi, (p, select) in enumerate(origins):
        writers: dict[int, pq.ParquetWriter] = {}
        for t in _batches(p):
            buckets: dict[int, list[dict]] = {}
            for r in t.to_pylist():
                targets = []
                if r["id"] in shard_of and (not select or r["id"] in selected):
                    targets.append(r)
                for new_id in rep_of.get(r["id"], []):
                    meta = json.loads(r["meta"] or "{}")
                    meta["upsampled_from"] = r["id"]
                    targets.append(dict(r, id=new_id, meta=json.dumps(meta, ensure_ascii=False, sort_keys=True)))
                for x in targets:
                    s_idx, pos = shard_of[x["id"]]
                    buckets.setdefault(s_idx, []).append(dict(x, _pos=pos))
            for s_idx, rs in buckets.items():
                if s_idx not in writers:
                    (bdir / f"{s_idx:05d}").mkdir(exist_ok=True)
                    writers[s_idx] = pq.ParquetWriter(bdir / f"{s_idx:05d}" / f"o{oi:05d}.parquet", schema)
                writers[s_idx].write_table(pa.Table.from_pylist(rs, schema=schema))
        for w in writers.values():
            w.close()
        progress.update("mix", oi + 1, len(origins))
    mark_done(bdir)


def _batches(path: Path, rows: int = 256):
    """A partition as small tables of `rows` rows (bounded memory with large images)."""
    pf = pq.ParquetFile(path)
    for b in pf.iter_batches(batch_size=rows):
        yield pa.Table.from_batches([b]).cast(SCHEMA)


def _sizes(t: pa.Table) -> list[int]:
    """Tar bytes of each row's sample, without turning its images into Python objects."""
    import numpy as np

    col = t["images"].combine_chunks()
    lens = pc.binary_length(pc.list_flatten(col)).to_numpy(zero_copy_only=False).astype(np.int64)
    padded = 512 + (lens + 511) // 512 * 512
    offsets = col.offsets.to_numpy()
    img = np.add.reduceat(np.append(padded, 0), offsets[:-1]) if len(padded) else np.zeros(len(t), np.int64)
    img[offsets[:-1] == offsets[1:]] = 0          # rows with no image
    out = []
    for r, isz in zip(t.drop_columns(["images"]).to_pylist(), img.tolist()):
        js = sample_members(dict(r, images=[]))[0][1]
        out.append(512 + (len(js) + 511) // 512 * 512 + int(isz))
    return out


def _write_shard_task(job: dict) -> None:
    """Write one shard from its bucket, and a sidecar with its counts (the manifest reads those)."""
    tables = [pq.read_table(p) for p in sorted(Path(job["bucket"]).glob("*.parquet"))]
    t = pa.concat_tables(tables).sort_by("_pos")
    w = ShardWriter(job["out"], max_samples=1 << 40, max_bytes=1 << 62, start_index=job["index"])
    for r in t.drop_columns(["_pos"]).to_pylist():
        w.write(r)
    info = w.close()[0]
    info["counts"] = {k: counts_dict(v) for k, v in w.counts.items()}
    (Path(job["bucket"]) / "shard.json").write_text(json.dumps(info, sort_keys=True))


def default_steps() -> list[BuildStep]:
    """The build, in order. Insert a StageStep to add a row-level stage (see the module doc)."""
    return [ReadSources(), filter_step(), Dedup(), PlanStep(), Translate(), Ocr(), Mix()]
