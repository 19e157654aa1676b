"""plan: every surviving row gets a role (mixkit.build.plan), computed by workers; the driver
holds counts per class, per group and per partition, never a row or an id.

1. keys (a task per partition): each row's class and priority key -> keys/<part>.parquet; the
   class counts and a histogram of the keys come back (bins in rank order).
2. plan_targets() from the counts: quotas, how many of each class are used as they are, the
   translation demand. slots (tasks): the demand's slots with their order key -> slots/.
3. The driver cuts each class's histogram into groups of consecutive ranks (at most GROUP_ROWS
   rows) and so knows each group's first rank; the slot histogram says which slots each group of
   free English rows translates (a slot bin that spans two groups goes to both).
4. A shuffle (engine.group_apply): the rows and slots of a group meet in one worker, which ranks
   them and writes their roles -> groups/.
5. A shuffle by partition: parts/<part>.parquet (id, role, target, rank) beside each partition
   of the current rows: translate and mix join their partition to it.

Everything is persisted (plan.json holds the counts); a finished plan is read back, never redone.
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

from mixkit.build.plan import (ENGLISH_FREE, PLAN_SCHEMA, PlanTargets, describe, finish_shortfall, plan_targets,
                               role_counts, sample_class, sample_keys, slot_table, sort_class, sort_slots)
from mixkit.build.steps.base import SHUFFLE_ROWS, BuildContext, BuildStep, StepResult, rows_of
from mixkit.core import storage
from mixkit.runtime.partitions import is_done, mark_done, parts, read_table, write_table_atomic

GROUP_ROWS = 200_000          # rows ranked together in one worker (keys are ~60 bytes each)
KEY_BINS = 4096               # histogram bins of a class's keys
SLOT_CHUNK = 500_000          # translation slots made per task
# Keys u ** (1/w) are binned on log(-log key): the same shape for any weight, only shifted.
_LOGLOG_RANGE = (-36.0, 12.0)
RANK_ROWS = pa.schema([("g", pa.int64()), ("id", pa.string()), ("cls", pa.string()), ("key", pa.float64()),
                       ("part", pa.int32()), ("lang", pa.string()), ("k", pa.int64()), ("h", pa.float64())])


def key_edges(bins: int = KEY_BINS) -> list[float]:
    """Ascending key values that cut (0, 1] into `bins` bins; made once by the driver and shipped,
    so that every node bins alike (numpy's exp may differ in the last bit between CPUs)."""
    lo, hi = _LOGLOG_RANGE
    ll = lo + (hi - lo) * np.arange(1, bins) / bins
    return np.exp(-np.exp(ll))[::-1].tolist()


def key_bins(keys: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each key in rank order: bin 0 holds the largest keys (exactly monotone: searchsorted)."""
    return (len(edges) - np.searchsorted(edges, keys, side="left")).astype(np.int64)


def _hist(table: pa.Table, by: str) -> dict[str, list[list[int]]]:
    """{class: [[bin, rows], ...]} of a keys table."""
    out: dict[str, list[list[int]]] = {}
    for g in table.group_by([by, "bin"]).aggregate([("bin", "count")]).to_pylist():
        out.setdefault(g[by], []).append([g["bin"], g["bin_count"]])
    return out


def _keys_task(job: dict) -> dict:
    """One partition's keys (written once; a rerun reads them back) and its class histogram."""
    out = storage.path(job["out"])
    if not out.exists():
        t = read_table(job["path"], columns=["id", "source", "lang"])
        specs = job["sources"]
        sources = t["source"].to_pylist()
        classes = [sample_class(lg, specs[s][0]) for lg, s in zip(t["lang"].to_pylist(), sources)]
        keys = np.array(sample_keys(job["seed"], t["id"].to_pylist(), [specs[s][1] for s in sources]), np.float64)
        t = pa.table({"id": t["id"], "cls": pa.array(classes, pa.string()), "key": keys,
                      "bin": key_bins(keys, np.asarray(job["edges"])),
                      "part": pa.array(np.full(len(keys), job["part"], np.int32))})
        write_table_atomic(t, out)
    return _hist(read_table(out, columns=["cls", "bin"]), "cls")


def _slots_task(job: dict) -> list[int]:
    """Slots k0..k1 of one language (written once) and their histogram over `bins` bins of h."""
    out = storage.path(job["out"])
    if not out.exists():
        t = slot_table(job["seed"], job["lang"], job["k0"], job["k1"])
        write_table_atomic(t, out)
    h = read_table(out, columns=["h"])["h"].to_numpy()
    return np.bincount(slot_bins(h, job["bins"]), minlength=job["bins"]).tolist()


def slot_bins(h: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((h * bins).astype(np.int64), bins - 1)


@dataclass
class _Group:
    g: int
    cls: str                 # "" for the slot tail (slots no free English row is left for)
    rank0: int               # rank of the group's first row in its class
    n: int                   # rows
    bins: list[int] = field(default_factory=lambda: [0, -1])   # its key bins, inclusive
    slot_bins: tuple[int, int] = (0, -1)   # the slot bins it needs, inclusive (none: hi < lo)
    slot0: int = 0           # position of the first slot of slot_bins[0]
    positions: tuple[int, int] = (0, 0)    # the slot positions it matches (translate) or counts (tail)


def _groups(hist: dict[str, np.ndarray], t: PlanTargets, slot_hist: np.ndarray) -> list[_Group]:
    """Each class's bins cut into runs of at most GROUP_ROWS rows; free English groups and the
    slot tail learn which slot bins they need."""
    groups: list[_Group] = []
    for cls in sorted(hist):
        rank = 0
        start = len(groups)
        for b in np.flatnonzero(hist[cls]):
            n = int(hist[cls][b])
            last = groups[-1] if len(groups) > start else None
            if last is not None and last.n + n <= GROUP_ROWS:
                last.n += n
            else:
                groups.append(_Group(len(groups), cls, rank, n, [int(b), int(b)]))
            groups[-1].bins[1] = int(b)
            rank += n
    before = np.concatenate([[0], np.cumsum(slot_hist)]) if len(slot_hist) else np.zeros(1, np.int64)

    def needs(g: _Group, p0: int, p1: int) -> None:
        if p1 <= p0:
            return
        lo = int(np.searchsorted(before, p0, side="right") - 1)          # bin holding position p0
        hi = int(np.searchsorted(before, p1 - 1, side="right") - 1)      # bin holding position p1 - 1
        g.slot_bins, g.slot0, g.positions = (lo, hi), int(before[lo]), (p0, p1)

    take = t.take.get(ENGLISH_FREE, 0)
    for g in groups:
        if g.cls == ENGLISH_FREE:
            needs(g, max(g.rank0 - take, 0), min(g.rank0 + g.n - take, t.slots))
    if t.free_left < t.slots:
        tail = _Group(len(groups), "", 0, 0)
        needs(tail, t.free_left, t.slots)
        groups.append(tail)
    return groups


def _route_rows(item: tuple[str, str], starts: dict[str, tuple[int, list[int]]],
                slot_routes: tuple[int, list[int], list[int]]) -> pa.Table:
    """A keys file's rows with their group, or a slot file's slots once per group that needs them.
    starts: class -> (its first group, each group's first bin); slot_routes: (slot bins, then
    (bin, group) pairs sorted by bin)."""
    kind, path = item
    t = read_table(path)
    if kind == "keys":
        g = np.empty(t.num_rows, np.int64)
        cls = t["cls"].to_numpy(zero_copy_only=False)
        bins = t["bin"].to_numpy()
        for c in np.unique(cls):
            base, first_bins = starts[c]
            m = cls == c
            g[m] = base + np.searchsorted(np.asarray(first_bins), bins[m], side="right") - 1
        n = t.num_rows
        return pa.table({"g": g, "id": t["id"], "cls": t["cls"], "key": t["key"], "part": t["part"],
                         "lang": pa.nulls(n, pa.string()), "k": pa.nulls(n, pa.int64()),
                         "h": pa.nulls(n, pa.float64())}, schema=RANK_ROWS)
    n_bins, route_bin, route_g = slot_routes
    route_bin, route_g = np.asarray(route_bin, np.int64), np.asarray(route_g, np.int64)
    b = slot_bins(t["h"].to_numpy(), n_bins)
    lo = np.searchsorted(route_bin, b, side="left")
    reps = np.searchsorted(route_bin, b, side="right") - lo          # groups that need each slot
    take = np.repeat(np.arange(t.num_rows), reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    g = route_g[np.repeat(lo, reps) + np.arange(len(take)) - first]
    t = t.take(pa.array(take, pa.int64()))
    n = t.num_rows
    return pa.table({"g": pa.array(g, pa.int64()), "id": pa.nulls(n, pa.string()), "cls": pa.nulls(n, pa.string()),
                     "key": pa.nulls(n, pa.float64()), "part": pa.array(np.full(n, -1, np.int32)),
                     "lang": t["lang"], "k": t["k"], "h": t["h"]}, schema=RANK_ROWS)


def _rank_group(table: pa.Table, groups: dict[int, dict], targets: dict, out_dir: str) -> dict:
    """One group's rows ranked and given their roles (written to out_dir/g-NNNNNN.parquet); the
    slot tail's languages counted."""
    g = groups[int(table["g"][0].as_py())]
    t = PlanTargets.from_dict(targets)
    is_slot = pc.equal(table["part"], -1)
    slots = sort_slots(table.filter(is_slot).select(["lang", "k", "h"]))
    p0, p1 = g["positions"]
    sel = slots.slice(p0 - g["slot0"], p1 - p0)
    if not g["cls"]:
        return {"untranslated": {v["values"]: v["counts"] for v in pc.value_counts(sel["lang"]).to_pylist()}
                if sel.num_rows else {}}
    rows = sort_class(table.filter(pc.invert(is_slot)).select(["id", "key", "part"]))
    if rows.num_rows != g["n"]:
        raise RuntimeError(f"plan group {g['g']} ({g['cls']}): {rows.num_rows} rows, its histogram said {g['n']}")
    roles = t.roles(g["cls"], g["rank0"], rows.num_rows, sel, p0)
    out = pa.table({"part": rows["part"], "id": rows["id"], **{k: roles[k] for k in roles.column_names}})
    write_table_atomic(out, storage.path(out_dir) / f"g-{g['g']:06d}.parquet")
    return {"roles": role_counts(roles)}


def _read_group_file(path: str) -> pa.Table:
    return read_table(path)


def _write_plan_part(table: pa.Table, names: list[str], out_dir: str) -> dict:
    part = int(table["part"][0].as_py())
    t = table.drop_columns(["part"]).sort_by("id").cast(PLAN_SCHEMA)
    write_table_atomic(t, storage.path(out_dir) / names[part])
    return {"part": part}


@dataclass
class PlanResult(StepResult):
    targets: PlanTargets | None = None
    shortfall: dict[str, int] = field(default_factory=dict)     # what the pools cannot fill (up-sampled)
    roles: dict[str, dict[str, int]] = field(default_factory=dict)   # role -> target -> rows
    parts_dir: Path | None = None                               # <part name>.parquet: id, role, target, rank

    @property
    def quotas(self) -> dict[str, int]:
        return self.targets.quotas

    def describe(self) -> dict[str, dict[str, int]]:
        return describe(self.quotas, self.shortfall, self.roles)

    def part(self, rows_part: Path) -> Path:
        """The plan of one partition of the rows the plan was made from."""
        return self.parts_dir / storage.name(rows_part)


class PlanStep(BuildStep):
    name = "plan"

    def run(self, ctx: BuildContext) -> PlanResult:
        d = self.dir
        if not is_done(d):
            d.mkdir(parents=True, exist_ok=True)
            facts = self._plan(ctx)
            (d / "plan.json").write_text(json.dumps(facts, indent=1, sort_keys=True))
            (d / "quotas.json").write_text(json.dumps(facts["targets"]["quotas"], indent=1, sort_keys=True))
            storage.remove_tree(d / "groups")        # intermediate: the parts hold the plan
            mark_done(d)
        facts = json.loads((d / "plan.json").read_text())
        roles = facts["roles"]
        used = sum(n for r in ("english", "native", "translate") for n in roles.get(r, {}).values())
        return PlanResult(rows_in=facts["rows"], rows_out=used, targets=PlanTargets.from_dict(facts["targets"]),
                          shortfall=facts["shortfall"], roles=roles, parts_dir=d / "parts")

    def _plan(self, ctx: BuildContext) -> dict:
        recipe, d = ctx.recipe, self.dir
        src = parts(ctx.rows_dir)
        names = [p.name for p in src]
        edges = key_edges()
        sources = {s.name: (s.translate, s.weight) for s in recipe.sources}
        (d / "keys").mkdir(exist_ok=True)
        jobs = [{"path": str(p), "out": str(d / "keys" / p.name), "part": i, "seed": recipe.seed, "edges": edges,
                 "sources": sources} for i, p in enumerate(src)]
        hist: dict[str, np.ndarray] = {}
        for h in ctx.engine.map_ordered(_keys_task, jobs, on_done=lambda n, t: ctx.progress.update("plan: keys", n, t)):
            for cls, pairs in h.items():
                arr = hist.setdefault(cls, np.zeros(KEY_BINS, np.int64))
                for b, n in pairs:
                    arr[b] += n
        counts = {c: int(a.sum()) for c, a in sorted(hist.items())}
        translation = recipe.steps.translate.enabled
        t = plan_targets(recipe, counts, translation_enabled=translation)

        # Translation slots, made and binned by tasks (the demand can be millions).
        slot_bins_n = max(1, math.ceil(8 * t.slots / GROUP_ROWS))     # a bin is at most 1/8 of a group
        (d / "slots").mkdir(exist_ok=True)
        sjobs = [{"out": str(d / "slots" / f"{lg}-{k0:09d}.parquet"), "seed": recipe.seed, "lang": lg, "k0": k0,
                  "k1": min(k0 + SLOT_CHUNK, n), "bins": slot_bins_n}
                 for lg, n in t.demand.items() for k0 in range(0, n, SLOT_CHUNK)]
        slot_hist = np.zeros(slot_bins_n, np.int64)
        for h in ctx.engine.map_ordered(_slots_task, sjobs):
            slot_hist += np.asarray(h, np.int64)

        groups = _groups(hist, t, slot_hist)
        starts: dict[str, tuple[int, list[int]]] = {}
        for g in groups:
            if g.cls and g.cls not in starts:
                starts[g.cls] = (g.g, [])
            if g.cls:
                starts[g.cls][1].append(g.bins[0])
        routes = sorted((b, g.g) for g in groups for b in range(g.slot_bins[0], g.slot_bins[1] + 1))
        route = (slot_bins_n, [b for b, _ in routes], [g for _, g in routes])
        items = [("keys", j["out"]) for j in jobs] + [("slots", j["out"]) for j in sjobs]
        info = {g.g: {"g": g.g, "cls": g.cls, "rank0": g.rank0, "n": g.n, "slot0": g.slot0, "positions": g.positions}
                for g in groups}
        (d / "groups").mkdir(exist_ok=True)
        results = ctx.engine.group_apply(
            items, partial(_route_rows, starts=starts, slot_routes=route), "g",
            partial(_rank_group, groups=info, targets=t.to_dict(), out_dir=str(d / "groups")),
            scratch=d / "shuffle", groups=len(groups), weights=rows_of([storage.path(p) for _, p in items]),
            batch_weight=SHUFFLE_ROWS, on_group=lambda n, k: ctx.progress.update("plan: rank", n, k))
        untranslated: dict[str, int] = {}
        roles: dict[str, dict[str, int]] = {}
        for r in results:
            for lg, n in r.get("untranslated", {}).items():
                untranslated[lg] = untranslated.get(lg, 0) + n
            for role, by in r.get("roles", {}).items():
                for tg, n in by.items():
                    roles.setdefault(role, {})[tg] = roles.get(role, {}).get(tg, 0) + n
        shortfall = finish_shortfall(recipe, t, untranslated, translation)

        # The roles beside each partition of the rows.
        (d / "parts").mkdir(exist_ok=True)
        group_files = sorted((d / "groups").glob("g-*.parquet"))
        ctx.engine.group_apply([str(p) for p in group_files], _read_group_file, "part",
                               partial(_write_plan_part, names=names, out_dir=str(d / "parts")),
                               scratch=d / "shuffle", groups=len(names), weights=rows_of(group_files),
                               batch_weight=SHUFFLE_ROWS)
        planned = {p.name for p in parts(d / "parts", "")}
        for name in names:                 # a partition with no rows left still gets its (empty) plan
            if name not in planned:
                write_table_atomic(PLAN_SCHEMA.empty_table(), d / "parts" / name)
        return {"rows": sum(counts.values()), "counts": counts, "targets": t.to_dict(), "shortfall": shortfall,
                "roles": {r: dict(sorted(v.items())) for r, v in sorted(roles.items())}, "groups": len(groups)}
