"""mix: select, up-sample, shuffle across languages, cut into shards, write them."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mixkit.build.plan import unit_hash
from mixkit.build.steps.base import BuildContext, BuildStep, StepResult
from mixkit.build.steps.plan import PlanResult
from mixkit.core.schema import SCHEMA
from mixkit.core.shard_format import counts_dict, sample_members
from mixkit.core.shard_writer import ShardWriter
from mixkit.runtime.partitions import is_done, mark_done, parts


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

    def accounting_problem(self) -> str | None:
        repeats = sum(self.upsampled.values())
        if self.rows_out != self.rows_in + repeats:
            return f"{self.rows_in} rows selected and {repeats} repeats, but {self.rows_out} written"
        return None


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
        shards_dir = ctx.folder.shards
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
