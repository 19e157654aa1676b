"""Worker specs: one shape for every step (recipe `workers:`, a Stage's Resources), sized to the cluster."""
from __future__ import annotations

import warnings

import pytest
from pydantic import ValidationError

from mixkit.build.recipe import RecipeError, check_workers, load_recipe
from mixkit.runtime.stage import Resources
from mixkit.runtime.workers import Workers, step_workers


def test_a_number_is_a_fixed_count_and_the_default_fills_the_cluster():
    assert Workers.model_validate(3).pool(cluster_cpus=8, cluster_gpus=0, tasks=100) == (3, 3)
    assert Workers().pool(8, 0, 100) == (8, 8)                      # the cluster's CPUs, from the start
    assert Workers(cpus=2).pool(8, 0, 100) == (4, 4)
    assert Workers().pool(8, 0, 3) == (3, 3)                        # never more workers than work
    assert Workers(min=2, max=6).pool(8, 0, 100) == (2, 6)          # a pool Ray scales
    assert Workers(min=2).pool(4, 0, 100) == (2, 4)
    assert Workers(count=16).pool(4, 0, 100) == (4, 4)              # capped at what the cluster has


def test_gpus_size_the_pool_on_a_gpu_cluster_and_are_ignored_without_one():
    spec = Workers(gpus=0.5)
    assert spec.pool(cluster_cpus=32, cluster_gpus=2, tasks=100) == (4, 4)
    assert spec.uses_gpus(2) == 0.5 and spec.uses_gpus(0) == 0
    assert spec.pool(cluster_cpus=3, cluster_gpus=0, tasks=100) == (3, 3)


def test_bad_specs_say_what_is_wrong():
    with pytest.raises(ValidationError, match="either `count`"):
        Workers.model_validate({"count": 2, "max": 4})
    with pytest.raises(ValidationError, match="below min"):
        Workers.model_validate({"min": 4, "max": 2})
    with pytest.raises(ValidationError):
        Workers.model_validate({"actors": 2})


def test_recipe_entry_goes_over_default_over_the_stage():
    declared = Resources(cpus=1, gpus=0, actors=1).workers()
    recipe = {"default": Workers(cpus=2), "translate": Workers.model_validate({"max": 8, "gpus": 1})}
    t = step_workers(declared, recipe, "translate")
    assert (t.count, t.min, t.max, t.cpus, t.gpus) == (None, 1, 8, 2, 1)       # the stage's count gave way to max
    f = step_workers(declared, recipe, "filter")
    assert (f.count, f.cpus) == (1, 2)
    assert step_workers(None, {}, "mix").pool(2, 0, 10) == (2, 2)


def _write(tmp_path, body: str):
    p = tmp_path / "r.yaml"
    p.write_text("name: w\ntotal: 10\nenglish_share: 1\nlanguages: [eng_Latn]\n"
                 f"sources: [{{name: a, path: x.parquet}}]\n{body}")
    return p


def test_recipe_workers_block_and_unknown_steps(tmp_path):
    r = load_recipe(_write(tmp_path, "workers: {default: {cpus: 1}, filter: 2, translate: {min: 1, max: 4, gpus: 1}}\n"))
    assert r.workers["filter"].count == 2 and r.workers["translate"].gpus == 1
    check_workers(r, ["read", "filter", "translate"])
    with pytest.raises(RecipeError, match="filtre names no step of this build"):
        check_workers(load_recipe(_write(tmp_path, "workers: {filtre: 2}\n")), ["read", "filter"])
    with pytest.raises(RecipeError, match="r.yaml:7: workers.filter.count"):
        load_recipe(_write(tmp_path, "workers:\n  filter: {count: 0}\n"))


def test_old_translate_worker_keys_are_read_as_workers_translate(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = load_recipe(_write(tmp_path, "steps: {translate: {actors: 3, cpus_per_actor: 2, gpus_per_actor: 0.5}}\n"))
    assert any("workers: {translate" in str(w.message) for w in caught)
    t = r.workers["translate"]
    assert (t.count, t.cpus, t.gpus) == (3, 2, 0.5)
