"""Language planning: exact integer quotas per language, and a deterministic assignment of
samples to languages.

Every sample that survived filters and dedup is ranked within its class (its language; English
split by whether its source may be translated) and ends with exactly one role:
  english     used as is, in English
  native      an existing non-English sample used in its own language
  translate   an English sample to be translated into `target`
  reserve     a translatable English sample held back to replace failed translations
  over_quota  not needed by the mix (recorded as a reject with reason over_quota)
Priorities are a pure function of (seed, sample id): key = u ** (1 / weight) with u a hash in
(0, 1) — weighted sampling without replacement (Efraimidis–Spirakis), so a rerun or a resume
assigns the same, and a source's `weight` biases which samples are kept when a pool is cut.

The rules need no sample in memory: `plan_targets` decides from per-class counts, and a role
follows from a sample's rank in its class (`PlanTargets.roles`), so a build computes it in
workers per group of ranks (mixkit.build.steps.plan). `make_plan` applies the same functions to
a table in memory (tests, small pools).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mixkit.lang import languages
from mixkit.build.recipe import Explicit, Recipe, Temperature, TierWeights

ENGLISH = languages.ENGLISH


class PlanError(ValueError):
    """The pools cannot meet the recipe's quotas (and the recipe says `on_shortfall: fail`)."""


def unit_hash(seed: int, *parts: str) -> float:
    """A number in (0, 1) from (seed, parts): stable across runs, machines and Python versions."""
    h = hashlib.blake2b(("\x1f".join((str(seed), *parts))).encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(h, "big") + 0.5) / 2.0**64


def largest_remainder(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer quotas summing to `total`, each within 1 of total*share (Hamilton's method).
    Ties in the remainders are broken by code, so the result is deterministic."""
    s = sum(shares.values())
    if s <= 0:
        raise ValueError("shares add up to zero")
    exact = {k: total * v / s for k, v in shares.items()}
    quotas = {k: int(math.floor(x)) for k, x in exact.items()}
    left = total - sum(quotas.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - quotas[k]), k))
    for k in order[:left]:
        quotas[k] += 1
    return quotas


def non_english_distribution(recipe: Recipe, native_counts: dict[str, int] | None = None) -> dict[str, float]:
    """Share of each non-English language within the non-English part (sums to 1)."""
    langs = recipe.non_english
    dist = recipe.distribution
    if dist == "uniform":
        w = {c: 1.0 for c in langs}
    elif isinstance(dist, TierWeights):
        w = {c: float(dist.tiers.get(languages.get(c).tier or "T1", 0.0)) for c in langs}
    elif isinstance(dist, Temperature):
        # mT5/XLM-R: p_i ∝ n_i^alpha over the data available in each language. Without pools
        # (plan-only) every language counts as equally available, i.e. uniform.
        counts = native_counts or {}
        if not counts or not any(counts.get(c, 0) for c in langs):
            w = {c: 1.0 for c in langs}
        else:
            w = {c: float(counts.get(c, 0)) ** dist.temperature for c in langs}
    elif isinstance(dist, Explicit):
        w = {c: float(dist.explicit.get(c, 0.0)) for c in langs}
    else:  # pragma: no cover - the recipe model admits nothing else
        raise ValueError(f"unknown distribution {dist!r}")
    total = sum(w.values())
    if total <= 0:
        raise PlanError("the distribution gives every non-English language a zero share")
    return {c: v / total for c, v in w.items()}


def target_shares(recipe: Recipe, native_counts: dict[str, int] | None = None) -> dict[str, float]:
    """Target share of the source mix per FLORES code (English included), summing to 1."""
    e = recipe.english_share
    shares = {ENGLISH: e} if ENGLISH in recipe.languages or e > 0 else {}
    if e < 1:
        for c, p in non_english_distribution(recipe, native_counts).items():
            shares[c] = shares.get(c, 0.0) + (1 - e) * p
    return {c: v for c, v in sorted(shares.items()) if v > 0}


def quotas(recipe: Recipe, native_counts: dict[str, int] | None = None) -> dict[str, int]:
    return largest_remainder(recipe.total, target_shares(recipe, native_counts))


def output_targets(source_quotas: dict[str, int], ocr_quotas: dict[str, int]) -> dict[str, float]:
    """Target share of everything a build writes: the source mix's quotas plus the OCR samples."""
    total = {lg: source_quotas.get(lg, 0) + ocr_quotas.get(lg, 0) for lg in set(source_quotas) | set(ocr_quotas)}
    n = sum(total.values())
    return {lg: c / n for lg, c in sorted(total.items()) if c} if n else {}


def recipe_output_targets(recipe: Recipe) -> dict[str, float]:
    """output_targets() from the recipe alone (what an audit compares shards against)."""
    ocr = {}
    if recipe.steps.ocr.enabled:
        from ocr_synth.options import ocr_quotas

        ocr = ocr_quotas(recipe.steps.ocr, recipe.languages)
    return output_targets(quotas(recipe), ocr)


def upsample_id(original: str, k: int) -> str:
    """Id of the k-th repeat (k >= 1) of a sample: distinct, stable, no dots (a WebDataset key)."""
    return hashlib.sha1(f"{original}#rep{k}".encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------
# Roles from a rank: what the driver decides from counts alone, what a worker applies per row

ENGLISH_FIXED = ENGLISH + "+fixed"     # class of English rows that may not be translated
ENGLISH_FREE = ENGLISH + "+free"       # class of English rows that may be
PLAN_SCHEMA = pa.schema([("id", pa.string()), ("role", pa.string()), ("target", pa.string()), ("rank", pa.int64())])
SLOT_SCHEMA = pa.schema([("lang", pa.string()), ("k", pa.int64()), ("h", pa.float64())])


def sample_class(lang: str, translatable: bool) -> str:
    """The pool a row is ranked in: its language, with English split by whether it may be translated."""
    if lang != ENGLISH:
        return lang
    return ENGLISH_FREE if translatable else ENGLISH_FIXED


def sample_keys(seed: int, ids: list[str], weights: list[float]) -> list[float]:
    """Priority of each row within its class, larger first (Efraimidis-Spirakis: u ** (1 / weight))."""
    return [unit_hash(seed, i) ** (1.0 / w) for i, w in zip(ids, weights)]


def slot_table(seed: int, lang: str, k0: int, k1: int) -> pa.Table:
    """Translation slots k0..k1-1 of a language with their seeded order key `h`. All slots in
    (h, lang, k) order are matched, one for one, to the free English rows in rank order, so
    that no language systematically gets the "best" English samples."""
    ks = range(k0, k1)
    return pa.table({"lang": [lang] * len(ks), "k": pa.array(ks, pa.int64()),
                     "h": pa.array([unit_hash(seed, "slot", lang, str(k)) for k in ks], pa.float64())},
                    schema=SLOT_SCHEMA)


def sort_slots(slots: pa.Table) -> pa.Table:
    return slots.sort_by([("h", "ascending"), ("lang", "ascending"), ("k", "ascending")])


def sort_class(rows: pa.Table) -> pa.Table:
    """A class's rows in rank order: key descending, id ascending."""
    return rows.sort_by([("key", "descending"), ("id", "ascending")])


@dataclass
class PlanTargets:
    """What the plan decides from per-class counts: quotas, how many of each class's best rows are
    used in their own language, and the translation demand. Roles then follow from a row's rank
    in its class (`roles`), so the rows themselves never meet in one process."""

    quotas: dict[str, int]
    native_counts: dict[str, int]
    take: dict[str, int]                 # class -> its best rows used as they are (native / English)
    demand: dict[str, int]               # language -> translation slots (sorted by code)
    free_left: int                       # free English rows after the English quota (to translate or reserve)
    shortfall: dict[str, int]            # what counts alone show the pools cannot fill

    @property
    def slots(self) -> int:
        return sum(self.demand.values())

    @property
    def translated(self) -> int:
        return min(self.slots, self.free_left)

    @property
    def reserve(self) -> int:
        return max(0, self.free_left - self.slots)

    def roles(self, cls: str, rank0: int, n: int, slots: pa.Table | None = None, slot0: int = 0) -> pa.Table:
        """role, target and rank of the class's rows ranked rank0 .. rank0+n-1. `slots`: the slots
        at positions slot0, slot0+1, ... in (h, lang, k) order (needed by free English rows that
        translate)."""
        import numpy as np

        r = np.arange(rank0, rank0 + n, dtype=np.int64)
        role = np.full(n, "over_quota", dtype=object)
        target = np.full(n, "", dtype=object)
        rank = np.zeros(n, dtype=np.int64)
        take = self.take.get(cls, 0)
        mine = r < take
        if cls == ENGLISH_FREE:
            role[mine], target[mine], rank[mine] = "english", ENGLISH, self.take.get(ENGLISH_FIXED, 0) + r[mine]
            j = r - take
            tr = (j >= 0) & (j < self.slots)
            if tr.any():
                pos = j[tr] - slot0
                role[tr] = "translate"
                target[tr] = np.asarray(slots["lang"].to_pylist(), dtype=object)[pos]
                rank[tr] = slots["k"].to_numpy()[pos]
            res = j >= self.slots
            role[res], rank[res] = "reserve", j[res] - self.slots
        elif cls == ENGLISH_FIXED:
            role[mine], target[mine], rank[mine] = "english", ENGLISH, r[mine]
        else:
            role[mine], target[mine], rank[mine] = "native", cls, r[mine]
        return pa.table({"role": pa.array(role.tolist(), pa.string()), "target": pa.array(target.tolist(), pa.string()),
                         "rank": pa.array(rank, pa.int64())})

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("quotas", "native_counts", "take", "demand", "free_left", "shortfall")}

    @classmethod
    def from_dict(cls, d: dict) -> "PlanTargets":
        return cls(**d)


def plan_targets(recipe: Recipe, counts: dict[str, int], *, translation_enabled: bool) -> PlanTargets:
    """PlanTargets from the number of rows in each class (sample_class)."""
    native_counts = {c: n for c, n in sorted(counts.items()) if c not in (ENGLISH_FIXED, ENGLISH_FREE) and n}
    q = quotas(recipe, native_counts)
    take, remaining = {}, {}
    # Non-English languages: native samples first.
    for lg, quota in q.items():
        if lg != ENGLISH:
            take[lg] = min(quota, counts.get(lg, 0))
            remaining[lg] = quota - take[lg]
    # English quota: samples that may not be translated first (they can go nowhere else).
    en_quota = q.get(ENGLISH, 0)
    take[ENGLISH_FIXED] = min(en_quota, counts.get(ENGLISH_FIXED, 0))
    take[ENGLISH_FREE] = min(en_quota - take[ENGLISH_FIXED], counts.get(ENGLISH_FREE, 0))
    demand = {lg: n for lg, n in remaining.items() if n > 0 and translation_enabled and languages.get(lg).nllb}
    shortfall = {lg: n for lg, n in remaining.items() if n > 0 and lg not in demand}
    chosen_en = take[ENGLISH_FIXED] + take[ENGLISH_FREE]
    if chosen_en < en_quota:
        shortfall[ENGLISH] = en_quota - chosen_en
    return PlanTargets(quotas=q, native_counts=native_counts, take=take, demand=demand,
                       free_left=counts.get(ENGLISH_FREE, 0) - take[ENGLISH_FREE], shortfall=shortfall)


def untranslated_slots(slots_in_order: pa.Table) -> dict[str, int]:
    """Per language, the slots no free English row was left for (the tail of the slot order)."""
    return {v["values"]: v["counts"] for v in pc.value_counts(slots_in_order["lang"]).to_pylist()}


def finish_shortfall(recipe: Recipe, t: PlanTargets, untranslated: dict[str, int],
                     translation_enabled: bool) -> dict[str, int]:
    """The pools' whole shortfall (counts, plus translation slots left unfilled); raises PlanError
    unless the recipe allows up-sampling and every short language has data."""
    shortfall = dict(t.shortfall)
    for lg, n in untranslated.items():
        shortfall[lg] = shortfall.get(lg, 0) + n
    shortfall = dict(sorted(shortfall.items()))
    if shortfall:
        check_shortfall(recipe, shortfall, t.quotas, t.native_counts, translation_enabled)
    return shortfall


@dataclass
class Plan:
    """A whole plan in one table: what make_plan computes in memory (tests, small pools). A build
    computes the same roles per class group in workers (mixkit.build.steps.plan)."""
    quotas: dict[str, int]
    table: pa.Table                  # id, role, target, rank
    shortfall: dict[str, int] = field(default_factory=dict)   # what the pools cannot fill (up-sampled)


def make_plan(recipe: Recipe, pool: pa.Table, *, translation_enabled: bool) -> Plan:
    """Assign every pool row a role (see module doc), in memory, with the functions a build's
    workers apply per group.

    pool columns: id, source, lang, translatable (bool), weight (float).
    A language whose native pool and translation cannot fill its quota is up-sampled (repeats
    of its own samples, counted) or fails, as the recipe's `on_shortfall` says.
    """
    classes = [sample_class(lg, t) for lg, t in zip(pool["lang"].to_pylist(), pool["translatable"].to_pylist())]
    rows = pa.table({"id": pool["id"], "cls": pa.array(classes, pa.string()),
                     "key": pa.array(sample_keys(recipe.seed, pool["id"].to_pylist(), pool["weight"].to_pylist()),
                                     pa.float64())})
    counts: dict[str, int] = {}
    for c in classes:
        counts[c] = counts.get(c, 0) + 1
    t = plan_targets(recipe, counts, translation_enabled=translation_enabled)
    slots = [slot_table(recipe.seed, lg, 0, n) for lg, n in t.demand.items()]
    slots = sort_slots(pa.concat_tables(slots)) if slots else SLOT_SCHEMA.empty_table()
    shortfall = finish_shortfall(recipe, t, untranslated_slots(slots.slice(t.free_left)), translation_enabled)
    tables = []
    for c in sorted(counts):
        mine = sort_class(rows.filter(pc.equal(rows["cls"], c)))
        roles = t.roles(c, 0, mine.num_rows, slots, 0)
        tables.append(pa.table({"id": mine["id"], **{k: roles[k] for k in roles.column_names}}))
    table = pa.concat_tables(tables) if tables else PLAN_SCHEMA.empty_table()
    return Plan(quotas=t.quotas, table=table.cast(PLAN_SCHEMA), shortfall=shortfall)


# ---------------------------------------------------------------------------------------------
# Up-sampling: decided from counts; which samples repeat from a seeded order per language

def upsample_deficits(recipe: Recipe, quotas_: dict[str, int], available: dict[str, int]) -> dict[str, int]:
    """The one place that decides up-sampling. `available`: per language, the samples the mix
    holds after translation. A language below its quota (the pools' shortfall, plus failed
    translations the reserve could not replace) repeats its own samples in a seeded order
    (`repeats`), or the build fails, as the recipe's `on_shortfall` says."""
    deficit = {lg: q - available.get(lg, 0) for lg, q in sorted(quotas_.items()) if q > available.get(lg, 0)}
    if deficit and recipe.on_shortfall != "upsample":
        raise PlanError("after translation these languages are short of their quota: "
                        + ", ".join(f"{lg} by {n}" for lg, n in sorted(deficit.items()))
                        + "; set `on_shortfall: upsample` or add data")
    for lg in deficit:
        if not available.get(lg):
            raise PlanError(f"{lg}: no samples at all to up-sample (quota {quotas_[lg]})")
    return deficit


def repeat_hash(seed: int, sample_id: str) -> float:
    """A language's samples repeat in ascending order of this (then id)."""
    return unit_hash(seed, "rep", sample_id)


def repeats(n_short: int, pool_size: int, early: bool) -> int:
    """How many repeats a sample gets when its language is `n_short` samples short: the pool is
    walked in order, round after round; `early`: the sample is among the first n_short % pool_size."""
    return n_short // pool_size + int(early)


def check_shortfall(recipe: Recipe, shortfall: dict[str, int], q: dict[str, int],
                    native_counts: dict[str, int], translation_enabled: bool) -> None:
    """Raise PlanError unless the recipe allows up-sampling and every short language has data."""
    def why(lg: str) -> str:
        if lg == ENGLISH:
            return "not enough English samples"
        if not languages.get(lg).nllb:
            return "NLLB cannot translate into it and the native pool is too small"
        if not translation_enabled:
            return "translation is disabled and the native pool is too small"
        return "not enough English samples left to translate"

    lines = [f"{lg}: quota {q[lg]}, short by {n} ({why(lg)})" for lg, n in sorted(shortfall.items())]
    have = {lg: q[lg] - n for lg, n in shortfall.items()}
    empty = [lg for lg, n in have.items() if n == 0]
    if recipe.on_shortfall == "fail" or empty:
        hint = ("set `on_shortfall: upsample` to repeat samples, lower `total`, add sources, or enable translation"
                if not empty else f"no samples at all for {', '.join(sorted(empty))}: nothing to up-sample; "
                "add data or drop the language")
        raise PlanError("the pools cannot fill the quotas:\n  " + "\n  ".join(lines) + f"\n{hint}")


def describe(quotas_: dict[str, int], shortfall: dict[str, int], role_counts: dict[str, dict[str, int]]) \
        -> dict[str, dict[str, int]]:
    """Per language: quota, native, english, translate, and the up-sampled shortfall.
    role_counts: role -> target -> rows."""
    out: dict[str, dict[str, int]] = {lg: {"quota": n, "native": 0, "english": 0, "translate": 0,
                                           "upsample": shortfall.get(lg, 0)} for lg, n in quotas_.items()}
    for role in ("native", "english", "translate"):
        for target, n in role_counts.get(role, {}).items():
            out[target][role] += n
    return out


def role_counts(table: pa.Table) -> dict[str, dict[str, int]]:
    """role -> target -> rows of a plan table (or a part of one)."""
    out: dict[str, dict[str, int]] = {}
    for g in table.group_by(["role", "target"]).aggregate([("role", "count")]).to_pylist():
        out.setdefault(g["role"], {})[g["target"]] = g["role_count"]
    return out
