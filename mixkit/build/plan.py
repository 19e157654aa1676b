"""Language planning: exact integer quotas per language, and a deterministic assignment of
samples to languages.

Planning works on a small table of ids and metadata (never images): one row per input sample
that survived filters and dedup, with its source, task, lang and whether it may be translated.
Every input ends with exactly one role:
  english     used as is, in English
  native      an existing non-English sample used in its own language
  translate   an English sample to be translated into `target`
  reserve     a translatable English sample held back to replace failed translations
  over_quota  not needed by the mix (recorded as a reject with reason over_quota)
Priorities are a pure function of (seed, sample id): key = u ** (1 / weight) with u a hash in
(0, 1) — weighted sampling without replacement (Efraimidis–Spirakis), so a rerun or a resume
assigns the same, and a source's `weight` biases which samples are kept when a pool is cut.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import pyarrow as pa

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


@dataclass(frozen=True)
class Repeat:
    id: str           # the repeat's own id
    original: str     # the sample it repeats
    lang: str


@dataclass
class Repeats:
    items: list[Repeat] = field(default_factory=list)

    def originals(self) -> set[str]:
        return {r.original for r in self.items}

    def by_lang(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.items:
            out[r.lang] = out.get(r.lang, 0) + 1
        return dict(sorted(out.items()))


@dataclass
class Plan:
    quotas: dict[str, int]
    table: pa.Table                  # id, role, target, rank
    shortfall: dict[str, int] = field(default_factory=dict)   # what the pools cannot fill (up-sampled)

    def upsample(self, recipe: Recipe, available: dict[str, list[str]]) -> Repeats:
        """The one place that decides up-sampling. `available`: per language, the ids the mix
        holds after translation. A language below its quota (the pools' shortfall, plus failed
        translations the reserve could not replace) repeats its own samples in a seeded order,
        or the build fails, as the recipe's `on_shortfall` says."""
        deficit = {lg: q - len(available.get(lg, [])) for lg, q in self.quotas.items()
                   if q > len(available.get(lg, []))}
        if not deficit:
            return Repeats()
        if recipe.on_shortfall != "upsample":
            raise PlanError("after translation these languages are short of their quota: "
                            + ", ".join(f"{lg} by {n}" for lg, n in sorted(deficit.items()))
                            + "; set `on_shortfall: upsample` or add data")
        items = []
        for lg, n in sorted(deficit.items()):
            pool = sorted(available.get(lg, []), key=lambda i: unit_hash(recipe.seed, "rep", i))
            if not pool:
                raise PlanError(f"{lg}: no samples at all to up-sample (quota {self.quotas[lg]})")
            items += [Repeat(upsample_id(pool[k % len(pool)], k // len(pool) + 1), pool[k % len(pool)], lg)
                      for k in range(n)]
        return Repeats(items)



def make_plan(recipe: Recipe, pool: pa.Table, *, translation_enabled: bool) -> Plan:
    """Assign every pool row a role (see module doc).

    pool columns: id, source, lang, translatable (bool), weight (float).
    A language whose native pool and translation cannot fill its quota is up-sampled (repeats
    of its own samples, counted) or fails, as the recipe's `on_shortfall` says.
    """
    ids = pool["id"].to_pylist()
    langs = pool["lang"].to_pylist()
    transl = pool["translatable"].to_pylist()
    weights = pool["weight"].to_pylist()
    seed = recipe.seed
    keys = [unit_hash(seed, i) ** (1.0 / w) for i, w in zip(ids, weights)]   # larger = preferred

    native_counts: dict[str, int] = {}
    for lg in langs:
        if lg != ENGLISH:
            native_counts[lg] = native_counts.get(lg, 0) + 1
    q = quotas(recipe, native_counts)

    role = ["over_quota"] * len(ids)
    target = [""] * len(ids)
    rank = [0] * len(ids)
    by_lang: dict[str, list[int]] = {}
    for idx, lg in enumerate(langs):
        by_lang.setdefault(lg, []).append(idx)
    for lst in by_lang.values():
        lst.sort(key=lambda i: (-keys[i], ids[i]))

    # Non-English languages: native samples first.
    remaining: dict[str, int] = {}
    for lg, quota in q.items():
        if lg == ENGLISH:
            continue
        chosen = by_lang.get(lg, [])[:quota]
        for r, i in enumerate(chosen):
            role[i], target[i], rank[i] = "native", lg, r
        remaining[lg] = quota - len(chosen)

    # English quota: samples that may not be translated first (they can go nowhere else).
    en_rows = by_lang.get(ENGLISH, [])
    en_fixed = [i for i in en_rows if not transl[i]]
    en_free = [i for i in en_rows if transl[i]]
    en_quota = q.get(ENGLISH, 0)
    chosen_en = (en_fixed + en_free)[:en_quota]
    for r, i in enumerate(chosen_en):
        role[i], target[i], rank[i] = "english", ENGLISH, r
    chosen_set = set(chosen_en)
    free = [i for i in en_free if i not in chosen_set]

    # Translation slots: each language's remainder, interleaved in a seeded order so that no
    # language systematically gets the "best" English samples.
    demand = {lg: n for lg, n in remaining.items()
              if n > 0 and translation_enabled and languages.get(lg).nllb}
    slots = [(lg, k) for lg, n in demand.items() for k in range(n)]
    slots.sort(key=lambda s: unit_hash(seed, "slot", s[0], str(s[1])))
    for (lg, k), i in zip(slots, free):
        role[i], target[i], rank[i] = "translate", lg, k
        remaining[lg] -= 1
    for r, i in enumerate(free[len(slots):]):
        role[i], rank[i] = "reserve", r

    shortfall = {lg: n for lg, n in remaining.items() if n > 0}
    if len(chosen_en) < en_quota:
        shortfall[ENGLISH] = en_quota - len(chosen_en)
    if shortfall:
        check_shortfall(recipe, shortfall, q, native_counts, translation_enabled)

    table = pa.table({"id": ids, "role": role, "target": target, "rank": pa.array(rank, pa.int64())})
    return Plan(quotas=q, table=table, shortfall=shortfall)


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


def describe(plan: Plan) -> dict[str, dict[str, int]]:
    """Per language: quota, native, english, translate, and the up-sampled shortfall."""
    out: dict[str, dict[str, int]] = {lg: {"quota": n, "native": 0, "english": 0, "translate": 0,
                                           "upsample": plan.shortfall.get(lg, 0)} for lg, n in plan.quotas.items()}
    roles = plan.table["role"].to_pylist()
    targets = plan.table["target"].to_pylist()
    for r, t in zip(roles, targets):
        if r in ("native", "english", "translate"):
            out[t][r] += 1
    return out
