"""mix: select, up-sample, shuffle across languages, cut into shards, write them: map/reduce over
ranges of the shuffle order. The driver holds counts per language and one key per shard, never
a row; files grow with partitions plus shards.

1. entries (a task per origin: a partition of the current rows joined to its plan, a translation
   round's output, the OCR output): each mixed row's order key `h` (a seeded hash of its id) and
   its size in a tar -> entries/o-*.parquet. Rows the plan did not need become rejects here
   (leftovers/). Counts per language come back.
2. up-sampling: a language short of its quota repeats its samples in a seeded order; the driver
   finds the order key of the m-th sample from a histogram and one look into its bin.
3. ranges: a shuffle sorts the entries (and the repeats) into ranges of h -> ranges/r-*.parquet.
4. cut: one task walks the ranges in order and cuts shards by count and bytes, exactly as one
   pass over the whole order would -> cut.parquet: each shard's first key, samples and bytes.
5. write: a shuffle takes each origin's rows to their shard (found from the first keys); one
   worker per shard sorts them and writes the tar and a sidecar. A rerun skips written shards.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixkit.build.plan import repeat_hash, repeats, unit_hash, upsample_deficits, upsample_id
from mixkit.build.steps.base import SHUFFLE_BYTES, SHUFFLE_ROWS, BuildContext, BuildStep, StepResult
from mixkit.build.steps.plan import PlanResult
from mixkit.core import storage
from mixkit.core.schema import REJECT_SCHEMA, SCHEMA, make_reject, rows_to_table
from mixkit.core.shard_format import counts_dict, sample_members
from mixkit.core.shard_writer import ShardWriter
from mixkit.runtime.partitions import is_done, mark_done, parquet_file, parts, read_table, write_table_atomic

RANGE_ROWS = 500_000          # entries sorted together in one worker (~50 bytes each)
REPEAT_BINS = 4096            # histogram bins of a short language's repeat order
ENTRY_SCHEMA = pa.schema([("id", pa.string()), ("h", pa.float64()), ("size", pa.int64()), ("lang", pa.string()),
                          ("ocr", pa.bool_())])


def mix_hash(seed: int, ids: list[str]) -> np.ndarray:
    """The shuffle order: ascending (h, id)."""
    return np.array([unit_hash(seed, "mix", i) for i in ids], np.float64)


@dataclass
class MixResult(StepResult):
    shards: list[dict] = field(default_factory=list)       # path, samples, bytes, sha256, counts
    upsampled: dict[str, int] = field(default_factory=dict)
    leftovers: Path | None = None                          # rejects of rows the plan did not need

    def reject_files(self) -> list[Path]:
        return parts(self.leftovers, "rejects-") if self.leftovers else []

    def accounting_problem(self) -> str | None:
        repeats_ = sum(self.upsampled.values())
        if self.rows_out != self.rows_in + repeats_:
            return f"{self.rows_in} rows selected and {repeats_} repeats, but {self.rows_out} written"
        return None


@dataclass
class _Origin:
    path: str
    plan: str | None         # the partition's plan: its rows are selected (None: every row is mixed)
    entries: str
    leftovers: str | None


def _batches(path: str, rows: int = 256):
    """A partition as small tables of `rows` rows (bounded memory with large images)."""
    for b in parquet_file(path).iter_batches(batch_size=rows):
        yield pa.Table.from_batches([b]).cast(SCHEMA)


def _sizes(t: pa.Table) -> np.ndarray:
    """Tar bytes of each row's sample, without turning its images into Python objects."""
    col = t["images"].combine_chunks()
    lens = pc.binary_length(pc.list_flatten(col)).to_numpy(zero_copy_only=False).astype(np.int64)
    padded = 512 + (lens + 511) // 512 * 512
    offsets = col.offsets.to_numpy()
    img = np.add.reduceat(np.append(padded, 0), offsets[:-1]) if len(padded) else np.zeros(len(t), np.int64)
    img[offsets[:-1] == offsets[1:]] = 0          # rows with no image
    js = [len(sample_members(dict(r, images=[]))[0][1]) for r in t.drop_columns(["images"]).to_pylist()]
    return 512 + (np.asarray(js, np.int64) + 511) // 512 * 512 + img


def _selected(plan_path: str) -> tuple[pa.Array, pa.Table]:
    """(ids used as they are, the plan rows that are not used at all) of one partition's plan."""
    plan = read_table(plan_path)
    used = pc.is_in(plan["role"], value_set=pa.array(["english", "native"]))
    return plan.filter(used)["id"], plan


def _entries_task(job: dict) -> dict[str, int]:
    """One origin's mixed rows as entries (written once); its leftovers as rejects; its counts."""
    o = _Origin(**job["origin"])
    out = storage.path(o.entries)
    if not out.exists():
        keep = None
        if o.plan:
            keep, plan = _selected(o.plan)
            unused = plan.filter(pc.or_(pc.equal(plan["role"], "over_quota"),
                                        pc.and_(pc.equal(plan["role"], "reserve"),
                                                pc.greater_equal(plan["rank"], job["reserve_used"]))))
            why = dict(zip(unused["id"].to_pylist(), unused["role"].to_pylist()))
            rej = []
            for t in _batches(o.path):
                t = t.filter(pc.is_in(t["id"], value_set=unused["id"])).drop_columns(["images", "messages"])
                rej += [make_reject(r, "plan", "over_quota" if why[r["id"]] == "over_quota" else "reserve_unused",
                                    "not needed to meet the quotas") for r in t.to_pylist()]
            write_table_atomic(rows_to_table(rej, REJECT_SCHEMA), storage.path(o.leftovers))
        tables = []
        for t in _batches(o.path):
            if keep is not None:
                t = t.filter(pc.is_in(t["id"], value_set=keep))
            ids = t["id"].to_pylist()
            tables.append(pa.table({"id": t["id"], "h": mix_hash(job["seed"], ids), "size": _sizes(t),
                                    "lang": t["lang"], "ocr": pc.starts_with(t["source"], "ocr_synth")},
                                   schema=ENTRY_SCHEMA))
        write_table_atomic(pa.concat_tables(tables) if tables else ENTRY_SCHEMA.empty_table(), out)
    t = read_table(out, columns=["lang", "ocr", "size"])
    mixed = t.filter(pc.invert(t["ocr"]))["lang"]
    counts = {v["values"]: v["counts"] for v in pc.value_counts(mixed).to_pylist()} if len(mixed) else {}
    return {"rows": t.num_rows, "bytes": int(pc.sum(t["size"]).as_py() or 0), "langs": counts}


# -- up-sampling ----------------------------------------------------------------------------------

def _repeat_keys(path: str, langs: list[str], seed: int) -> pa.Table:
    t = read_table(path, columns=["id", "lang", "ocr"])
    t = t.filter(pc.and_(pc.invert(t["ocr"]), pc.is_in(t["lang"], value_set=pa.array(langs, pa.string()))))
    return pa.table({"id": t["id"], "lang": t["lang"],
                     "rh": np.array([repeat_hash(seed, i) for i in t["id"].to_pylist()], np.float64)})


def _repeat_hist_task(job: dict) -> dict[str, list[int]]:
    t = _repeat_keys(job["entries"], job["langs"], job["seed"])
    bins = np.minimum((t["rh"].to_numpy() * REPEAT_BINS).astype(np.int64), REPEAT_BINS - 1)
    langs = t["lang"].to_numpy(zero_copy_only=False)
    return {lg: np.bincount(bins[langs == lg], minlength=REPEAT_BINS).tolist() for lg in job["langs"]}


def _repeat_bin_task(job: dict) -> list[list]:
    """(rh, id) of the rows of each language in its wanted bin."""
    t = _repeat_keys(job["entries"], list(job["bins"]), job["seed"])
    out = []
    for lg, rh, i in zip(t["lang"].to_pylist(), t["rh"].to_pylist(), t["id"].to_pylist()):
        if min(int(rh * REPEAT_BINS), REPEAT_BINS - 1) == job["bins"][lg]:
            out.append([lg, rh, i])
    return out


def _repeat_plan(ctx: BuildContext, origins: list[_Origin], deficit: dict[str, int],
                 available: dict[str, int]) -> dict[str, list]:
    """Per short language: [samples short, samples available, (rh, id) of the last sample that
    gets one more repeat than the others, or None]. A language's samples repeat in ascending
    (repeat_hash, id) order, round after round (mixkit.build.plan.repeats)."""
    seed = ctx.recipe.seed
    extra = {lg: n % available[lg] for lg, n in deficit.items()}
    want = sorted(lg for lg, m in extra.items() if m)
    last: dict[str, list | None] = {lg: None for lg in deficit}
    if want:
        hist = {lg: np.zeros(REPEAT_BINS, np.int64) for lg in want}
        jobs = [{"entries": o.entries, "langs": want, "seed": seed} for o in origins]
        for h in ctx.engine.map_tasks(_repeat_hist_task, jobs):
            for lg, counts in h.items():
                hist[lg] += np.asarray(counts, np.int64)
        where = {}
        for lg in want:
            cum = np.cumsum(hist[lg])
            b = int(np.searchsorted(cum, extra[lg], side="left"))       # the bin holding the m-th
            where[lg] = (b, extra[lg] - (int(cum[b - 1]) if b else 0))
        found: dict[str, list] = {lg: [] for lg in want}
        jobs = [{"entries": o.entries, "bins": {lg: b for lg, (b, _) in where.items()}, "seed": seed} for o in origins]
        for rows in ctx.engine.map_tasks(_repeat_bin_task, jobs):
            for lg, rh, i in rows:
                found[lg].append((rh, i))
        for lg in want:
            last[lg] = list(sorted(found[lg])[where[lg][1] - 1])
    return {lg: [deficit[lg], available[lg], last[lg]] for lg in deficit}


def _repeat_counts(ids: list[str], langs: list[str], ocr: list[bool], plan: dict[str, list], seed: int) -> list[int]:
    """How many repeats each row gets (0 for every language the mix does not up-sample)."""
    out = []
    for i, lg, is_ocr in zip(ids, langs, ocr):
        if is_ocr or lg not in plan:
            out.append(0)
            continue
        short, pool, last = plan[lg]
        out.append(repeats(short, pool, last is not None and (repeat_hash(seed, i), i) <= (last[0], last[1])))
    return out


# -- ranges and the cut ---------------------------------------------------------------------------

def _range_of(h: np.ndarray, ranges: int) -> np.ndarray:
    return np.minimum((h * ranges).astype(np.int64), ranges - 1)


def _range_rows(entries: str, seed: int, ranges: int, repeat_plan: dict[str, list]) -> pa.Table:
    """An origin's entries, and its repeats (new id, new order key, the original's size), with their range."""
    t = read_table(entries)
    out = [t.select(["id", "h", "size"])]
    if repeat_plan:
        n = _repeat_counts(t["id"].to_pylist(), t["lang"].to_pylist(), t["ocr"].to_pylist(), repeat_plan, seed)
        new_ids, sizes = [], []
        for i, size, k in zip(t["id"].to_pylist(), t["size"].to_pylist(), n):
            for rep in range(1, k + 1):
                new_ids.append(upsample_id(i, rep))
                sizes.append(size)
        out.append(pa.table({"id": pa.array(new_ids, pa.string()), "h": mix_hash(seed, new_ids),
                             "size": pa.array(sizes, pa.int64())}))
    t = pa.concat_tables(out)
    return t.append_column("r", pa.array(_range_of(t["h"].to_numpy(), ranges)))


def _write_range(table: pa.Table, out_dir: str) -> dict:
    r = int(table["r"][0].as_py())
    t = table.select(["id", "h", "size"]).sort_by([("h", "ascending"), ("id", "ascending")])
    write_table_atomic(t, storage.path(out_dir) / f"r-{r:06d}.parquet")
    return {"r": r, "rows": t.num_rows}


def _cut_task(job: dict) -> int:
    """Shards cut from the whole order, range after range: a shard ends before the sample that
    would pass `max_samples` or `max_bytes` - 1024 (a shard holds at least one sample).
    Writes cut.parquet: shard, first_h, first_id, samples, bytes; returns the number of shards."""
    max_n, limit = job["max_samples"], job["max_bytes"] - 1024
    shards: dict[str, list] = {"first_h": [], "first_id": [], "samples": [], "bytes": []}
    carry = pa.table({"id": pa.array([], pa.string()), "h": pa.array([], pa.float64()), "size": pa.array([], pa.int64())})
    files = [storage.path(job["dir"]) / f"r-{r:06d}.parquet" for r in range(job["ranges"])]
    for f in files:
        if not f.exists():
            continue
        t = pa.concat_tables([carry, read_table(f)])
        cs = np.cumsum(t["size"].to_numpy())
        n, i = t.num_rows, 0
        while i < n:
            base = int(cs[i - 1]) if i else 0
            e = min(max(int(np.searchsorted(cs, base + limit, side="right")), i + 1), i + max_n)
            if e == n and e - i < max_n and int(cs[-1]) - base <= limit:
                break                           # the shard may go on in the next range
            shards["first_h"].append(float(t["h"][i].as_py()))
            shards["first_id"].append(t["id"][i].as_py())
            shards["samples"].append(e - i)
            shards["bytes"].append(int(cs[e - 1]) - base)
            i = e
        carry = t.slice(i)
    if carry.num_rows:
        shards["first_h"].append(float(carry["h"][0].as_py()))
        shards["first_id"].append(carry["id"][0].as_py())
        shards["samples"].append(carry.num_rows)
        shards["bytes"].append(int(np.sum(carry["size"].to_numpy())))
    out = pa.table({"shard": pa.array(range(len(shards["samples"])), pa.int64()), **shards})
    write_table_atomic(out, storage.path(job["out"]))
    return out.num_rows


def shard_of(h: np.ndarray, ids: list[str], first_h: np.ndarray, first_id: list[str]) -> np.ndarray:
    """The shard of each (h, id): the last shard whose first key is not after it."""
    s = np.searchsorted(first_h, h, side="right") - 1
    for i in np.flatnonzero(first_h[np.maximum(s, 0)] == h):     # equal h (rare): the id decides
        while s[i] > 0 and first_h[s[i]] == h[i] and first_id[s[i]] > ids[i]:
            s[i] -= 1
    return s


# -- writing shards ---------------------------------------------------------------------------

def _shard_rows(origin: dict, seed: int, repeat_plan: dict[str, list], first_h: list[float], first_id: list[str],
                done: list[int]) -> pa.Table:
    """An origin's mixed rows (and their repeats) with their order key and shard; rows of shards
    already written are left out."""
    o = _Origin(**origin)
    entries = read_table(o.entries, columns=["id", "h", "ocr"])
    tables = []
    for t in _batches(o.path):
        t = t.filter(pc.is_in(t["id"], value_set=entries["id"]))
        if not t.num_rows:
            continue
        idx = pc.index_in(t["id"], value_set=entries["id"])
        h = entries["h"].take(idx)
        tables.append(t.append_column("h", h))
        if repeat_plan:
            ocr = entries["ocr"].take(idx).to_pylist()
            n = _repeat_counts(t["id"].to_pylist(), t["lang"].to_pylist(), ocr, repeat_plan, seed)
            if any(n):
                reps = []
                for r, k in zip(t.drop_columns(["images"]).to_pylist(), n):
                    for rep in range(1, k + 1):
                        meta = json.loads(r["meta"] or "{}")
                        meta["upsampled_from"] = r["id"]
                        reps.append((r["id"], dict(r, id=upsample_id(r["id"], rep),
                                                   meta=json.dumps(meta, ensure_ascii=False, sort_keys=True))))
                src = pc.index_in(pa.array([o for o, _ in reps], pa.string()), value_set=t["id"])
                rt = rows_to_table([dict(r, images=[]) for _, r in reps]).set_column(
                    SCHEMA.get_field_index("images"), "images", t["images"].take(src))
                tables.append(rt.append_column("h", pa.array(mix_hash(seed, rt["id"].to_pylist()))))
    if not tables:
        return SCHEMA.append(pa.field("h", pa.float64())).append(pa.field("shard", pa.int64())).empty_table()
    t = pa.concat_tables(tables)
    s = shard_of(t["h"].to_numpy(), t["id"].to_pylist(), np.asarray(first_h), first_id)
    t = t.append_column("shard", pa.array(s, pa.int64()))
    return t.filter(pc.invert(pc.is_in(t["shard"], value_set=pa.array(done, pa.int64())))) if done else t


def _write_shard(table: pa.Table, out_dir: str, sidecars: str, expected: list[int]) -> dict:
    """One shard, its rows in shuffle order, and its sidecar (counts; the manifest reads it),
    written after the shard: its presence says the shard is complete. Both are published beside
    each other (a folder or a URL), each under its final name only when whole."""
    s = int(table["shard"][0].as_py())
    if table.num_rows != expected[s]:
        raise RuntimeError(f"shard {s}: {table.num_rows} rows arrived, the cut gave it {expected[s]}")
    t = table.sort_by([("h", "ascending"), ("id", "ascending")]).drop_columns(["h", "shard"])
    w = ShardWriter(out_dir, max_samples=1 << 40, max_bytes=1 << 62, start_index=s)
    for r in t.to_pylist():
        w.write(r)
    info = w.close()[0]
    info["counts"] = {k: counts_dict(v) for k, v in w.counts.items()}
    storage.write_text(storage.join(sidecars, f"shard-{s:05d}.json"), json.dumps(info, sort_keys=True))
    return {"shard": s}


class Mix(BuildStep):
    name = "mix"

    def run(self, ctx: BuildContext) -> MixResult:
        recipe, d = ctx.recipe, self.dir
        plan = ctx.result(PlanResult)
        tr = ctx.results.get("translate")
        ocr = ctx.results.get("ocr")
        for sub in ("entries", "leftovers", "ranges"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        sidecars = ctx.folder.published(d, "sidecars")     # beside the shards they mark
        storage.makedirs(sidecars)
        paths = [(p, plan.part(p)) for p in parts(ctx.rows_dir)]
        paths += [(p, None) for out in (tr.out_dirs if tr else []) for p in parts(out)]
        paths += [(p, None) for p in (parts(ocr.out_dir) if ocr else [])]
        origins = [_Origin(str(p), str(pp) if pp else None, str(d / "entries" / f"o-{i:06d}.parquet"),
                           str(d / "leftovers" / f"rejects-{i:06d}.parquet") if pp else None)
                   for i, (p, pp) in enumerate(paths)]

        # 1. entries, and what each language holds
        jobs = [{"origin": vars(o), "seed": recipe.seed, "reserve_used": getattr(tr, "reserve_used", 0)}
                for o in origins]
        total, available, rows, sizes = 0, {}, [], []
        for c in ctx.engine.map_tasks(_entries_task, jobs, on_done=lambda n, t: ctx.progress.update("mix: sizes", n, t)):
            total += c["rows"]
            rows.append(c["rows"])
            sizes.append(c["bytes"])
            for lg, n in c["langs"].items():
                available[lg] = available.get(lg, 0) + n
        res = MixResult(rows_in=total, leftovers=d / "leftovers")

        # 2. languages still short of their quota (the plan's shortfall, plus failed translations
        # the reserve could not replace) repeat their own samples, or the build fails
        deficit = upsample_deficits(recipe, plan.quotas, available)
        res.upsampled = dict(deficit)
        rplan = (json.loads((d / "repeats.json").read_text()) if (d / "repeats.json").exists()
                 else _repeat_plan(ctx, origins, deficit, available))
        (d / "repeats.json").write_text(json.dumps(rplan, sort_keys=True))

        # 3-4. the order, cut into shards
        cut = d / "cut.parquet"
        if not cut.exists():
            n_ranges = max(1, math.ceil((total + sum(deficit.values())) / RANGE_ROWS))
            ctx.engine.group_apply([o.entries for o in origins],
                                   partial(_range_rows, seed=recipe.seed, ranges=n_ranges, repeat_plan=rplan), "r",
                                   partial(_write_range, out_dir=str(d / "ranges")), scratch=d / "shuffle",
                                   groups=n_ranges, weights=rows, batch_weight=SHUFFLE_ROWS)
            ctx.engine.map_tasks(_cut_task, [{"dir": str(d / "ranges"), "ranges": n_ranges, "out": str(cut),
                                              "max_samples": recipe.output.samples_per_shard,
                                              "max_bytes": int(recipe.output.max_shard_mb * (1 << 20))}])
        cuts = read_table(cut)

        # 5. rows to their shards; shards written by an earlier run are kept
        n_shards = cuts.num_rows
        shards_dir = ctx.folder.shards
        storage.makedirs(shards_dir)
        # a shard is done when its sidecar and the shard itself are there (one listing of each, not
        # a request per shard; a shard deleted from a bucket under a kept sidecar is written again)
        side = [storage.join(sidecars, f"shard-{s:05d}.json") for s in range(n_shards)]
        written = set(storage.list_files(sidecars, (".json",))) & {
            storage.join(sidecars, storage.name(p)[:-len(".tar")] + ".json") for p in storage.list_files(shards_dir, (".tar",))}
        done = [s for s in range(n_shards) if side[s] in written]
        if len(done) < n_shards:
            ctx.engine.group_apply(
                [vars(o) for o in origins],
                partial(_shard_rows, seed=recipe.seed, repeat_plan=rplan, first_h=cuts["first_h"].to_pylist(),
                        first_id=cuts["first_id"].to_pylist(), done=done), "shard",
                partial(_write_shard, out_dir=shards_dir, sidecars=sidecars,
                        expected=cuts["samples"].to_pylist()),
                scratch=d / "shuffle", groups=n_shards - len(done),
                partitions=min(n_shards - len(done), max(1, math.ceil(sum(sizes) / SHUFFLE_BYTES))),
                weights=sizes, batch_weight=SHUFFLE_BYTES, nbytes=sum(sizes),
                on_group=lambda n, t: ctx.progress.update("write shards", n, t))
        res.shards = [json.loads(b) for b in storage.read_many(side)]
        res.rows_out = sum(i["samples"] for i in res.shards)
        mark_done(d)
        return res
