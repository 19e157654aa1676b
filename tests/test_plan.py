import random

import pyarrow as pa
import pytest

from mixkit.build.plan import PlanError, largest_remainder, make_plan, quotas, target_shares
from mixkit.build.recipe import Recipe


def _recipe(**kw):
    base = dict(name="t", total=100, english_share=0.5, languages=["eng_Latn", "deu_Latn", "fra_Latn"],
                sources=[{"name": "s", "path": "x"}])
    base.update(kw)
    return Recipe.model_validate(base)


def _pool(n_en=200, native=None, translatable=True):
    ids, langs = [], []
    for i in range(n_en):
        ids.append(f"en{i}")
        langs.append("eng_Latn")
    for lg, n in (native or {}).items():
        for i in range(n):
            ids.append(f"{lg}{i}")
            langs.append(lg)
    return pa.table({"id": ids, "source": ["s"] * len(ids), "lang": langs,
                     "translatable": [translatable] * len(ids), "weight": [1.0] * len(ids)})


def test_largest_remainder_is_exact_and_close():
    q = largest_remainder(100, {"a": 1, "b": 1, "c": 1})
    assert sum(q.values()) == 100 and sorted(q.values()) == [33, 33, 34]
    rnd = random.Random(0)
    for _ in range(50):
        shares = {str(i): rnd.random() for i in range(rnd.randint(1, 120))}
        total = rnd.randint(1, 10_000)
        q = largest_remainder(total, shares)
        s = sum(shares.values())
        assert sum(q.values()) == total
        assert all(abs(q[k] - total * v / s) < 1 for k, v in shares.items())


def test_study_mix_quotas_all_100_languages():
    r = _recipe(total=19_800, languages="all")
    q = quotas(r)
    assert q["eng_Latn"] == 9_900 and len(q) == 100
    assert set(v for k, v in q.items() if k != "eng_Latn") == {100}


def test_tier_and_explicit_distributions():
    r = _recipe(languages=["eng_Latn", "T1", "deu_Latn"], distribution={"tiers": {"T1": 1, "T5": 3}})
    t = target_shares(r)
    assert t["deu_Latn"] == pytest.approx(3 * t["bam_Latn"]) and sum(t.values()) == pytest.approx(1)
    r = _recipe(distribution={"explicit": {"deu_Latn": 0.8, "fra_Latn": 0.2}})
    assert target_shares(r) == pytest.approx({"eng_Latn": 0.5, "deu_Latn": 0.4, "fra_Latn": 0.1})


def test_temperature_over_native_pools():
    r = _recipe(distribution={"temperature": 0.5})
    plan = make_plan(r, _pool(200, {"deu_Latn": 400, "fra_Latn": 100}), translation_enabled=True)
    # p ∝ n^0.5: 20 : 10
    assert plan.quotas["deu_Latn"] == 33 and plan.quotas["fra_Latn"] == 17


def test_assignment_is_deterministic_and_order_free():
    r = _recipe()
    pool = _pool(200, {"deu_Latn": 10})
    a = make_plan(r, pool, translation_enabled=True).table.sort_by("id").to_pylist()
    idx = list(range(pool.num_rows))
    random.Random(1).shuffle(idx)
    b = make_plan(r, pool.take(idx), translation_enabled=True).table.sort_by("id").to_pylist()
    assert a == b
    roles = [x["role"] for x in a]
    assert roles.count("english") == 50 and roles.count("native") == 10
    assert roles.count("translate") == 40 and roles.count("reserve") == 110
    c = make_plan(_recipe(seed=1), pool, translation_enabled=True).table.sort_by("id").to_pylist()
    assert c != a


def test_latin_is_never_a_translation_target():
    r = _recipe(languages=["eng_Latn", "lat_Latn", "deu_Latn"], on_shortfall="fail")
    with pytest.raises(PlanError, match="lat_Latn: quota 25, short by 25.*NLLB cannot translate"):
        make_plan(r, _pool(200), translation_enabled=True)
    plan = make_plan(r.model_copy(update={"on_shortfall": "upsample"}), _pool(200, {"lat_Latn": 5}),
                     translation_enabled=True)
    assert plan.shortfall == {"lat_Latn": 20}
    assert not any(t == "lat_Latn" for t, role in zip(plan.table["target"].to_pylist(), plan.table["role"].to_pylist())
                   if role == "translate")


def test_shortfall_without_translation_fails_with_numbers():
    r = _recipe()
    with pytest.raises(PlanError, match=r"deu_Latn: quota 25, short by 15 \(translation is disabled"):
        make_plan(r, _pool(200, {"deu_Latn": 10, "fra_Latn": 30}), translation_enabled=False)


def test_non_translatable_english_goes_to_english_first():
    r = _recipe()
    pool = _pool(100)
    fixed = pa.table({"id": [f"ocr{i}" for i in range(30)], "source": ["ocr"] * 30, "lang": ["eng_Latn"] * 30,
                      "translatable": [False] * 30, "weight": [1.0] * 30})
    plan = make_plan(r, pa.concat_tables([pool, fixed]), translation_enabled=True)
    d = dict(zip(plan.table["id"].to_pylist(), plan.table["role"].to_pylist()))
    assert all(d[f"ocr{i}"] == "english" for i in range(30))


# -- the build's plan: the same roles, computed per class group by workers --------------------

def _random_case(trial: int):
    rng = random.Random(trial)
    langs = ["eng_Latn", "deu_Latn", "fra_Latn", "lat_Latn", "jpn_Jpan"]
    srcs = [{"name": "a", "path": "x"}, {"name": "b", "path": "x", "translate": False},
            {"name": "c", "path": "x", "weight": 2.5}]
    recipe = _recipe(total=rng.randint(10, 300), english_share=rng.choice([0, 0.3, 0.5, 0.8]), seed=rng.randint(0, 5),
                     languages=["eng_Latn"] + rng.sample(langs[1:], rng.randint(1, 4)), on_shortfall="upsample",
                     sources=srcs)
    n = rng.randint(1, 400)
    src = [rng.choice("abc") for _ in range(n)]
    pool = pa.table({"id": [f"x{trial}-{i}" for i in range(n)], "source": src,
                     "lang": [rng.choice(langs[:1] * 6 + langs) for _ in range(n)], "translatable": [s != "b" for s in src],
                     "weight": [2.5 if s == "c" else 1.0 for s in src]})
    return rng, recipe, pool


def _distributed_plan(engine, recipe, pool, tmp_path, rng):
    import pyarrow.parquet as pq

    from mixkit.build.folder import BuildFolder
    from mixkit.build.steps.base import BuildContext
    from mixkit.build.steps.plan import PlanStep
    from mixkit.runtime.progress import Progress

    rows = tmp_path / "rows"
    rows.mkdir(parents=True)
    k = 0
    while k < pool.num_rows:                     # partitions of random sizes
        m = rng.randint(1, 60)
        pq.write_table(pool.slice(k, m).select(["id", "source", "lang"]), rows / f"part-{k:05d}.parquet")
        k += m
    ctx = BuildContext(recipe=recipe, engine=engine, folder=BuildFolder(tmp_path), progress=Progress(False),
                       rows_dir=rows)
    step = PlanStep()
    step.dir = tmp_path / "plan"
    res = step.run(ctx)
    table = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "plan" / "parts").glob("*.parquet"))])
    return res, table


@pytest.mark.parametrize("group_rows", [1, 7, 10_000])
def test_build_plan_equals_the_in_memory_plan(tmp_path, monkeypatch, group_rows):
    """Groups of 1 row, of a few rows (slot bins spanning groups) and one group per class give the
    roles make_plan gives, on random pools with weights, fixed English and shortfalls."""
    from mixkit.build.steps import plan as plan_step
    from mixkit.runtime.engines import LocalEngine

    monkeypatch.setattr(plan_step, "GROUP_ROWS", group_rows)
    checked = failed = 0
    for trial in range(14):
        rng, recipe, pool = _random_case(trial)
        try:
            ref = make_plan(recipe, pool, translation_enabled=True)
        except PlanError as e:           # the pools cannot fill the quotas: the same error, word for word
            with pytest.raises(PlanError) as got:
                _distributed_plan(LocalEngine(2), recipe, pool, tmp_path / f"{trial}", rng)
            assert str(got.value) == str(e)
            failed += 1
            continue
        res, table = _distributed_plan(LocalEngine(2), recipe, pool, tmp_path / f"{trial}", rng)
        assert res.quotas == ref.quotas and res.shortfall == ref.shortfall
        assert table.sort_by("id").to_pylist() == ref.table.sort_by("id").to_pylist()
        assert res.rows_in == pool.num_rows
        checked += 1
    assert checked >= 8 and failed >= 1


def test_build_plan_on_ray_equals_the_in_memory_plan(ray_engine, tmp_path, monkeypatch):
    from mixkit.build.steps import plan as plan_step

    monkeypatch.setattr(plan_step, "GROUP_ROWS", 5)
    rng, recipe, pool = _random_case(7)
    ref = make_plan(recipe, pool, translation_enabled=True)
    res, table = _distributed_plan(ray_engine, recipe, pool, tmp_path, rng)
    assert table.sort_by("id").to_pylist() == ref.table.sort_by("id").to_pylist()
    assert res.roles["translate"] and res.roles["native"]       # the case exercises slots and natives
