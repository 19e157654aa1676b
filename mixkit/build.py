"""One build: recipe -> read -> filter -> dedup -> plan -> translate -> OCR -> mix -> shards.

Every step writes under `<out>/stages/NN_name/` and leaves a `_SUCCESS` marker; a rerun skips
finished steps and finished partitions, so a build killed halfway resumes where it stopped and
ends with the same shards. Every input row ends in a shard or in rejects.parquet.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit import __version__
from mixkit.engine import (Engine, is_done, mark_done, parts, rejects_table, write_rows_partitioned,
                           write_table_atomic)
from mixkit.plan import Plan, PlanError, describe, make_plan, output_targets, unit_hash
from mixkit.recipe import Recipe, check_sources_exist
from mixkit.schema import REJECT_SCHEMA, SCHEMA, make_reject, rows_to_table
from mixkit.shards import ShardWriter, counts_dict, sample_members, write_manifest

ROWS_PER_PART = 2000
MAX_TRANSLATE_ROUNDS = 4


@dataclass
class BuildResult:
    out_dir: Path
    manifest: dict
    plan_table: dict = field(default_factory=dict)

    @property
    def shards_dir(self) -> Path:
        return self.out_dir / "shards"


class Progress:
    """Thin wrapper over rich progress so the library works (quietly) without a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._p = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RP, TextColumn, TimeElapsedColumn

            self._p = RP(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                         TimeElapsedColumn(), transient=False)
            self._p.start()
        self.tasks: dict[str, int] = {}

    def update(self, name: str, done: int, total: int) -> None:
        if not self._p:
            return
        if name not in self.tasks:
            self.tasks[name] = self._p.add_task(name, total=max(total, 1))
        self._p.update(self.tasks[name], completed=done, total=max(total, 1))

    def log(self, msg: str) -> None:
        if self._p:
            self._p.console.print(msg)

    def stop(self) -> None:
        if self._p:
            self._p.stop()


# ---------------------------------------------------------------------------------------------
# step 1: read sources into parquet partitions (Ray tasks, one per source file)

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

    for f_idx, file in enumerate(job["files"]):
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


def step_read(recipe: Recipe, engine: Engine, d: Path, progress: Progress) -> None:
    if is_done(d):
        return
    from mixkit.sources import list_source_files

    d.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, src in enumerate(recipe.sources):
        files = list_source_files(src.path, None if src.format == "auto" else src.format)
        fmt = src.format
        # With a limit the files of a source are read in order by one task; else one task per file.
        groups = [files] if src.limit else [[f] for f in files]
        for j, g in enumerate(groups):
            tag = f"s{i:03d}-f{j:05d}"
            if (d / f"{tag}.done").exists():
                continue
            for stale in d.glob(f"part-{tag}-*"):
                stale.unlink()
            jobs.append({"out_dir": str(d), "tag": tag, "files": g, "source": src.name, "format": fmt,
                         "task": src.task, "lang": src.lang, "image_root": src.image_root, "limit": src.limit})
    if jobs:
        engine.map_tasks(_read_task, jobs, on_done=lambda n, t: progress.update("read sources", n, t))
    _reject_duplicate_ids(d)
    mark_done(d)


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
# step 2-3: filters and global dedup

def step_filter(recipe: Recipe, engine: Engine, src: Path, d: Path, progress: Progress) -> None:
    from mixkit.filters import build_filter_stage

    stage = build_filter_stage(recipe.stages.filters, stage_name="filter")
    engine.run_stage(stage, src, d, on_partition=lambda n, t: progress.update("filter", n, t))


def _signature_task(job: dict):
    from mixkit.dedup import DedupOptions, compute_signatures

    rows = pq.read_table(job["path"]).to_pylist()
    opts = DedupOptions.model_validate(job["options"])
    return compute_signatures(rows, opts, list(range(job["offset"], job["offset"] + len(rows))))


def step_dedup(recipe: Recipe, engine: Engine, src: Path, d: Path, progress: Progress) -> None:
    if is_done(d):
        return
    from mixkit.dedup import find_duplicates

    d.mkdir(parents=True, exist_ok=True)
    jobs, offset = [], 0
    for p in parts(src):
        n = pq.ParquetFile(p).metadata.num_rows
        jobs.append({"path": str(p), "offset": offset, "options": recipe.stages.dedup.model_dump()})
        offset += n
    sigs = engine.map_tasks(_signature_task, jobs, on_done=lambda n, t: progress.update("dedup", n, t))
    sigs = [s for s in sigs if s is not None and s.num_rows]
    dups = find_duplicates(pa.concat_tables(sigs), recipe.stages.dedup) if sigs else None
    if dups is None or dups.num_rows == 0:
        dups = pa.table({"id": pa.array([], pa.string()), "reason": pa.array([], pa.string()),
                         "duplicate_of": pa.array([], pa.string())})
    write_table_atomic(dups, d / "duplicates.parquet")
    mark_done(d)


def dedup_rejects(src: Path, d: Path) -> pa.Table:
    dups = pq.read_table(d / "duplicates.parquet")
    if dups.num_rows == 0:
        return REJECT_SCHEMA.empty_table()
    cols = [c for c in ("id", "reason", "duplicate_of", "detail") if c in dups.column_names]
    info = {r["id"]: r for r in dups.select(cols).to_pylist()}
    recs = []
    for p in parts(src):
        t = pq.read_table(p, columns=["id", "origin_id", "source", "lang"])
        for r in t.to_pylist():
            if r["id"] in info:
                x = info[r["id"]]
                recs.append(make_reject(r, "dedup", x["reason"], x.get("detail") or "", x["duplicate_of"] or ""))
    return rows_to_table(recs, REJECT_SCHEMA)


# ---------------------------------------------------------------------------------------------
# step 4: plan (ids and metadata only)

def _pool(recipe: Recipe, src: Path, dedup_dir: Path) -> pa.Table:
    dup_ids = pq.read_table(dedup_dir / "duplicates.parquet", columns=["id"])["id"]
    specs = {s.name: s for s in recipe.sources}
    tables = [pq.read_table(p, columns=["id", "origin_id", "source", "lang", "task"]) for p in parts(src)]
    t = pa.concat_tables(tables) if tables else pa.table({k: pa.array([], pa.string()) for k in
                                                          ("id", "origin_id", "source", "lang", "task")})
    t = t.filter(pc.invert(pc.is_in(t["id"], value_set=dup_ids)))
    sources = t["source"].to_pylist()
    t = t.append_column("translatable", pa.array([specs[s].translate for s in sources], pa.bool_()))
    t = t.append_column("weight", pa.array([specs[s].weight for s in sources], pa.float64()))
    return t


def step_plan(recipe: Recipe, src: Path, dedup_dir: Path, d: Path) -> Plan:
    pool = _pool(recipe, src, dedup_dir)
    tr = recipe.stages.translate.enabled
    plan = make_plan(recipe, pool, translation_enabled=tr)
    if not is_done(d):
        d.mkdir(parents=True, exist_ok=True)
        write_table_atomic(plan.table, d / "plan.parquet")
        (d / "quotas.json").write_text(json.dumps(plan.quotas, indent=1, sort_keys=True))
        mark_done(d)
    return plan


# ---------------------------------------------------------------------------------------------
# step 5: translation, with replacement of failed translations from the reserve

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


def default_translation_cache() -> str:
    """Shared across builds (a rebuild or another recipe translates nothing twice):
    $MIXKIT_CACHE_DIR/translation, else ~/.cache/mixkit/translation."""
    import os

    base = os.environ.get("MIXKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mixkit")
    return os.path.join(base, "translation")


def step_translate(recipe: Recipe, engine: Engine, src: Path, plan: Plan, d: Path, progress: Progress) -> dict:
    """Returns {'rounds': n, 'replaced': {lang: n}, 'input_ids_used': set, 'failed_inputs': {id: lang}}."""
    from translation.stage import TranslateStage, collect_stats

    roles = plan.table.to_pylist()
    assign = {r["id"]: r["target"] for r in roles if r["role"] == "translate"}
    reserve = [r["id"] for r in sorted((r for r in roles if r["role"] == "reserve"), key=lambda r: r["rank"])]
    info = {"rounds": 0, "replaced": Counter(), "used": dict(assign), "failed": {}}
    if not assign:
        return info
    opts = recipe.stages.translate
    cache_dir = opts.cache_dir or default_translation_cache()
    if opts.phrasebook:
        from translation.demo_cache import seed_cache_from_phrasebook

        seed_cache_from_phrasebook(opts.phrasebook, cache_dir, opts)
    stats_dir = d / "stats"
    if stats_dir.exists():                # counters are per run: a rerun reports its own calls
        shutil.rmtree(stats_dir)
    stage = TranslateStage(opts, cache_dir=cache_dir, stats_dir=str(stats_dir))
    r_next = 0
    for rnd in range(MAX_TRANSLATE_ROUNDS):
        rd = d / f"round-{rnd}"
        if not (rd / "in" / "_SUCCESS").exists():
            if rd.exists():
                shutil.rmtree(rd)
            write_rows_partitioned(_translation_inputs(src, assign), rd / "in", ROWS_PER_PART)
            mark_done(rd / "in")
        engine.run_stage(stage, rd / "in", rd / "out", on_partition=lambda n, t, r=rnd: progress.update(f"translate r{r}", n, t))
        info["rounds"] = rnd + 1
        rej = rejects_table(rd / "out")
        if rej.num_rows == 0:
            break
        # Failed translations: find their input ids, replace them from the reserve, same language.
        failed_langs = Counter(rej["lang"].to_pylist())
        failed_ids = set(rej["id"].to_pylist())
        for row in _translation_inputs_meta(rd / "in", failed_ids):
            info["failed"][row[0]] = row[1]
        assign = {}
        for lg, n in sorted(failed_langs.items()):
            take = reserve[r_next:r_next + n]
            r_next += len(take)
            for i in take:
                assign[i] = lg
            info["replaced"][lg] += len(take)
        info["used"].update(assign)
        if not assign:
            break
    info["reserve_unused"] = reserve[r_next:]
    info["stats"] = collect_stats(str(stats_dir)) if stats_dir.exists() else {}
    return info


def _translation_inputs_meta(in_dir: Path, ids: set[str]) -> list[tuple[str, str]]:
    out = []
    for p in parts(in_dir):
        t = pq.read_table(p, columns=["id", "lang", "meta"])
        for r in t.to_pylist():
            if r["id"] in ids:
                out.append((json.loads(r["meta"])["input_id"], r["lang"]))
    return out


# ---------------------------------------------------------------------------------------------
# step 6: OCR synthesis

def step_ocr(recipe: Recipe, engine: Engine, d: Path, progress: Progress) -> dict[str, int]:
    from ocr_synth.jobs import make_jobs
    from ocr_synth.options import ocr_quotas
    from ocr_synth.stage import OcrRenderStage

    opts = recipe.stages.ocr
    q = ocr_quotas(opts, recipe.languages)
    if not (d / "in" / "_SUCCESS").exists():
        write_rows_partitioned(make_jobs(q, recipe.seed, opts), d / "in", 500)
        mark_done(d / "in")
    engine.run_stage(OcrRenderStage(opts), d / "in", d / "out", on_partition=lambda n, t: progress.update("ocr", n, t))
    return q


# ---------------------------------------------------------------------------------------------
# step 7: mix, shuffle, shards

def _origins(out: Path, translated_dirs: list[Path], ocr_dir: Path | None):
    """(partition path, row filter) for every partition that contributes rows to the mix."""
    srcs = [(p, "source") for p in parts(out / "stages" / "02_filter")]
    srcs += [(p, "all") for d in translated_dirs for p in parts(d)]
    if ocr_dir is not None:
        srcs += [(p, "all") for p in parts(ocr_dir)]
    return srcs


def step_mix(recipe: Recipe, engine: Engine, out: Path, plan: Plan, tinfo: dict, ocr_q: dict[str, int],
             progress: Progress) -> dict:
    mix_dir = out / "stages" / "07_mix"
    shards_dir = out / "shards"
    selected = {r["id"]: r["target"] for r in plan.table.to_pylist() if r["role"] in ("english", "native")}
    tdirs = [out / "stages" / "05_translate" / f"round-{i}" / "out" for i in range(tinfo.get("rounds", 0))]
    ocr_dir = out / "stages" / "06_ocr" / "out" if ocr_q else None
    origins = _origins(out, tdirs, ocr_dir)

    # Pass 1: ids, languages and sizes only (streamed in record batches: memory stays flat).
    entries = []        # (id, lang, source, task, size, origin index)
    sel = pa.array(list(selected), pa.string())
    for oi, (p, kind) in enumerate(origins):
        for t in _batches(p):
            if kind == "source":
                t = t.filter(pc.is_in(t["id"], value_set=sel))
            sizes = _sizes(t)
            for r, size in zip(t.select(["id", "lang", "source", "task"]).to_pylist(), sizes):
                entries.append((r["id"], r["lang"], r["source"], r["task"], size, oi))
    # Deficits after translation (failed translations the reserve could not replace):
    have = Counter(e[1] for e in entries if e[3] != "ocr" and not e[2].startswith("ocr_synth"))
    mix_q = plan.quotas
    deficit = {lg: q - have.get(lg, 0) for lg, q in mix_q.items() if q - have.get(lg, 0) > 0}
    repeats: list[tuple[str, str, int]] = []      # (new id, original id, k)
    if deficit:
        if recipe.on_shortfall != "upsample":
            raise PlanError("after translation these languages are short of their quota: "
                            + ", ".join(f"{lg} by {n}" for lg, n in sorted(deficit.items()))
                            + "; set `on_shortfall: upsample` or add data")
        by_lang: dict[str, list[tuple]] = {}
        for e in entries:
            if not e[2].startswith("ocr_synth"):
                by_lang.setdefault(e[1], []).append(e)
        extra = []
        for lg, n in sorted(deficit.items()):
            pool = sorted(by_lang.get(lg, []), key=lambda e: unit_hash(recipe.seed, "rep", e[0]))
            if not pool:
                raise PlanError(f"{lg}: no samples at all to up-sample (quota {mix_q[lg]})")
            for k in range(n):
                e = pool[k % len(pool)]
                new_id = hashlib.sha1(f"{e[0]}#rep{k // len(pool) + 1}".encode()).hexdigest()[:20]
                repeats.append((new_id, e[0], k // len(pool) + 1))
                extra.append((new_id, e[1], e[2], e[3], e[4], e[5]))
        entries += extra
    rep_of = {orig: [] for _, orig, _ in repeats}
    for new_id, orig, k in repeats:
        rep_of[orig].append((new_id, k))

    # Shuffle across languages: order by a seeded hash of the id; cut into shards by count and bytes.
    entries.sort(key=lambda e: (unit_hash(recipe.seed, "mix", e[0]), e[0]))
    max_n, max_b = recipe.output.samples_per_shard, int(recipe.output.max_shard_mb * (1 << 20))
    shard_of: dict[str, tuple[int, int]] = {}
    k = n = b = 0
    for pos, e in enumerate(entries):
        if n and (n >= max_n or b + e[4] > max_b - 1024):
            k, n, b = k + 1, 0, 0
        shard_of[e[0]] = (k, pos)
        n, b = n + 1, b + e[4]
    n_shards = k + 1 if entries else 0

    # Pass 2: bucket full rows by shard (streaming, bounded memory), then write each shard.
    bdir = mix_dir / "buckets"
    if not (bdir / "_SUCCESS").exists():
        if bdir.exists():
            shutil.rmtree(bdir)
        bdir.mkdir(parents=True)
        schema = SCHEMA.append(pa.field("_pos", pa.int64()))
        for oi, (p, kind) in enumerate(origins):
            writers: dict[int, pq.ParquetWriter] = {}
            for t in _batches(p):
                buckets: dict[int, list[dict]] = {}
                for r in t.to_pylist():
                    targets = []
                    if r["id"] in shard_of and (kind != "source" or r["id"] in selected):
                        targets.append(r)
                    for new_id, kk in rep_of.get(r["id"], []):
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

    shards_dir.mkdir(parents=True, exist_ok=True)
    jobs = [{"bucket": str(bdir / f"{s:05d}"), "out": str(shards_dir), "index": s} for s in range(n_shards)
            if not (bdir / f"{s:05d}" / "shard.json").exists()]
    if jobs:
        engine.map_tasks(_write_shard_task, jobs, on_done=lambda n, t: progress.update("write shards", n, t))
    infos = [json.loads((bdir / f"{s:05d}" / "shard.json").read_text()) for s in range(n_shards)]
    return {"entries": len(entries), "n_shards": n_shards, "shards": infos, "repeats": Counter(e[1] for e in entries if e[0] in
                                                                               {r[0] for r in repeats})}


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
    side = Path(job["bucket"]) / "shard.json"
    side.write_text(json.dumps(info, sort_keys=True))


# ---------------------------------------------------------------------------------------------

def build(recipe: Recipe, out_dir: str | Path, *, address: str | None = None, progress: bool = True,
          dry_run: bool = False, engine: Engine | None = None) -> BuildResult:
    """Build the recipe into out_dir (resuming whatever an earlier run finished)."""
    out = Path(out_dir)
    st = out / "stages"
    st.mkdir(parents=True, exist_ok=True)
    check_sources_exist(recipe)
    stamp = out / "recipe.sha256"
    if stamp.exists() and stamp.read_text().strip() != recipe.sha256:
        raise RuntimeError(f"{out} holds a build of a different recipe (sha256 {stamp.read_text().strip()[:12]}…); "
                           "use a new --out folder or delete this one")
    stamp.write_text(recipe.sha256 + "\n")
    prog = Progress(progress)
    t0 = time.time()
    try:
        engine = engine or Engine(address=address)
        step_read(recipe, engine, st / "01_read", prog)
        step_filter(recipe, engine, st / "01_read", st / "02_filter", prog)
        step_dedup(recipe, engine, st / "02_filter", st / "03_dedup", prog)
        if dry_run:
            return BuildResult(out, _dry_run_summary(st))
        plan = step_plan(recipe, st / "02_filter", st / "03_dedup", st / "04_plan")
        tinfo = step_translate(recipe, engine, st / "02_filter", plan, st / "05_translate", prog)
        ocr_q = step_ocr(recipe, engine, st / "06_ocr", prog) if recipe.stages.ocr.enabled else {}
        mix = step_mix(recipe, engine, out, plan, tinfo, ocr_q, prog)
        manifest = _finish(recipe, out, plan, tinfo, ocr_q, mix, time.time() - t0)
        manifest["engine"] = {"nodes": engine.nodes, "cpus": engine.cpus, "gpus": engine.gpus}
        write_manifest(out / "shards", manifest)
    finally:
        prog.stop()
    return BuildResult(out, manifest, describe(plan))


def _dry_run_summary(st: Path) -> dict:
    rej = pa.concat_tables([rejects_table(st / "01_read"), rejects_table(st / "02_filter"),
                            dedup_rejects(st / "02_filter", st / "03_dedup")])
    by = Counter(zip(rej["stage"].to_pylist(), rej["reason"].to_pylist()))
    kept = sum(pq.ParquetFile(p).metadata.num_rows for p in parts(st / "02_filter"))
    dups = pq.read_table(st / "03_dedup" / "duplicates.parquet").num_rows
    return {"dry_run": True, "kept": kept - dups, "rejects": {f"{s}/{r}": n for (s, r), n in sorted(by.items())}}


def _finish(recipe: Recipe, out: Path, plan: Plan, tinfo: dict, ocr_q: dict[str, int], mix: dict,
            seconds: float) -> dict:
    st = out / "stages"
    shards_dir = out / "shards"
    # Rejects: read, filter, dedup, translation, plan leftovers.
    tables = [rejects_table(st / "01_read"), rejects_table(st / "02_filter"), dedup_rejects(st / "02_filter", st / "03_dedup")]
    for i in range(tinfo.get("rounds", 0)):
        tables.append(rejects_table(st / "05_translate" / f"round-{i}" / "out"))
    if ocr_q:
        tables.append(rejects_table(st / "06_ocr" / "out"))
    used = set(tinfo.get("used", {}))
    left = [r for r in plan.table.to_pylist() if r["role"] in ("over_quota", "reserve") and r["id"] not in used]
    if left:
        meta = {}
        for p in parts(st / "02_filter"):
            t = pq.read_table(p, columns=["id", "origin_id", "source", "lang"])
            ids = pa.array([r["id"] for r in left], pa.string())
            for r in t.filter(pc.is_in(t["id"], value_set=ids)).to_pylist():
                meta[r["id"]] = r
        tables.append(rows_to_table([make_reject(meta[r["id"]], "plan", "over_quota" if r["role"] == "over_quota"
                                                 else "reserve_unused", "not needed to meet the quotas")
                                     for r in left], REJECT_SCHEMA))
    rejects = pa.concat_tables([t.cast(REJECT_SCHEMA) for t in tables])
    rejects = rejects.sort_by([("stage", "ascending"), ("id", "ascending")])
    write_table_atomic(rejects, shards_dir / "rejects.parquet")

    # Counts as the shard writers tallied them while writing.
    shard_infos, by_lang, by_source, by_task = [], Counter(), Counter(), Counter()
    for info in mix["shards"]:
        by_lang.update(info["counts"]["by_lang"])
        by_source.update(info["counts"]["by_source"])
        by_task.update(info["counts"]["by_task"])
        shard_infos.append({k: info[k] for k in ("path", "samples", "bytes", "sha256")})
    total = sum(by_lang.values())
    inputs = sum(pq.ParquetFile(p).metadata.num_rows for p in parts(st / "01_read")) + rejects_table(st / "01_read").num_rows
    # Targets: source-mix quotas plus OCR counts, as shares of everything written.
    tq = Counter(plan.quotas)
    tq.update(ocr_q)
    targets = output_targets(plan.quotas, ocr_q)
    rej_counter = Counter(zip(rejects["stage"].to_pylist(), rejects["reason"].to_pylist()))
    rej_summary: dict[str, dict[str, int]] = {}
    for (s, r), n in sorted(rej_counter.items()):
        rej_summary.setdefault(s, {})[r] = n
    upsampled = counts_dict(mix["repeats"])
    ocr_written = sum(v for k, v in by_source.items() if k.startswith("ocr_synth"))
    import platform

    versions = {"mixkit": __version__, "python": platform.python_version()}
    for mod in ("ray", "pyarrow", "transformers", "torch", "PIL", "webdataset"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional in a given environment
            pass
    manifest = {
        "recipe": {"name": recipe.name, "path": str(recipe.path), "sha256": recipe.sha256},
        "seed": recipe.seed,
        "versions": versions,
        "targets": {"by_lang": targets, "quotas": dict(sorted(tq.items()))},
        "counts": {"total": total, "by_lang": counts_dict(by_lang), "by_source": counts_dict(by_source),
                   "by_task": counts_dict(by_task)},
        "accounting": {
            "inputs": inputs, "written_from_inputs": total - ocr_written - sum(upsampled.values()),
            "rejected": rejects.num_rows, "generated_ocr": ocr_written, "upsampled": upsampled,
            "translation_replaced": counts_dict(Counter(tinfo.get("replaced", {}))),
            "translation_stats": tinfo.get("stats", {}),
            "rule": "inputs == written_from_inputs + rejected",
        },
        "rejects": {"total": rejects.num_rows, "by_stage": rej_summary},
        "shards": shard_infos,
    }
    write_manifest(shards_dir, manifest)
    (out / "build_seconds.txt").write_text(f"{seconds:.2f}\n")
    return manifest


def achieved_table(manifest: dict) -> list[tuple[str, int, float, float]]:
    """(lang, samples, achieved share, target share) sorted by target share."""
    total = manifest["counts"]["total"] or 1
    t = manifest["targets"]["by_lang"]
    langs = sorted(set(t) | set(manifest["counts"]["by_lang"]), key=lambda c: (-t.get(c, 0), c))
    return [(c, manifest["counts"]["by_lang"].get(c, 0), manifest["counts"]["by_lang"].get(c, 0) / total, t.get(c, 0.0))
            for c in langs]
