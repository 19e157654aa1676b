"""End to end: the demo recipe through Ray into shards (one local Ray for the whole session)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mixkit.build.runner import build
from mixkit.build.steps import StageStep, default_steps, insert_after
from mixkit.build.recipe import load_recipe
from mixkit.core.schema import make_reject
from mixkit.runtime.stage import Resources, Stage, StageOutput

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo.yaml"


def _shard_hashes(shards: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(shards.glob("shard-*.tar"))}


def test_demo_reaches_target_shares(demo_build):
    m = demo_build.manifest
    total = m["counts"]["total"]
    assert total > 0
    for lang, target in m["targets"]["by_lang"].items():
        got = m["counts"]["by_lang"].get(lang, 0) / total
        assert abs(got - target) <= 0.005, (lang, got, target)
    # exact where quotas are integers
    assert m["counts"]["by_lang"] == {k: v for k, v in m["targets"]["quotas"].items() if v}
    # what `mixkit audit --recipe` compares against is what the build aimed at
    from mixkit.build.plan import recipe_output_targets

    assert recipe_output_targets(load_recipe(DEMO)) == pytest.approx(m["targets"]["by_lang"])


def test_every_input_is_accounted_for(demo_build):
    m = demo_build.manifest
    acc = m["accounting"]
    assert acc["inputs"] == acc["written_from_inputs"] + acc["rejected"]
    rej = pq.read_table(demo_build.shards_dir / "rejects.parquet")
    assert rej.num_rows == acc["rejected"]
    reasons = set(rej["reason"].to_pylist())
    # the demo data plants bad rows: each lands in rejects with its reason
    assert {"empty_text", "missing_image", "placeholder_mismatch"} <= reasons
    assert all(r for r in rej["step"].to_pylist())


def test_shards_match_manifest(demo_build):
    m = demo_build.manifest
    n = 0
    for info in m["shards"]:
        p = demo_build.shards_dir / info["path"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == info["sha256"]
        with tarfile.open(p) as tf:
            names = tf.getnames()
        keys = {x.split(".")[0] for x in names}
        assert len(keys) == info["samples"]
        n += info["samples"]
    assert n == m["counts"]["total"]


def test_same_recipe_and_seed_give_identical_shards(demo_build, ray_engine, tmp_path):
    again = build(load_recipe(DEMO), tmp_path / "again", progress=False, engine=ray_engine)
    assert _shard_hashes(again.shards_dir) == _shard_hashes(demo_build.shards_dir)


def _run_cli(args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "mixkit.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_killed_build_resumes_to_the_same_shards(demo_build, tmp_path):
    out = tmp_path / "killed"
    proc = _run_cli(["build", str(DEMO), "--out", str(out), "--quiet"], start_new_session=True)
    marker = out / "steps" / "02_filter" / "_SUCCESS"
    deadline = time.time() + 240
    while time.time() < deadline and not marker.exists() and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "build finished before it could be killed: " + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "shards" / "manifest.json").exists()
    done = _run_cli(["build", str(DEMO), "--out", str(out), "--quiet"])
    log, _ = done.communicate(timeout=600)
    assert done.returncode == 0, log
    assert _shard_hashes(out / "shards") == _shard_hashes(demo_build.shards_dir)


def test_audit_of_the_demo_build_matches_its_manifest(demo_build):
    from mixkit.audit import audit_shards

    res = audit_shards(str(demo_build.shards_dir), targets=demo_build.manifest["targets"]["by_lang"],
                       progress=False, workers=1).to_dict()
    m = demo_build.manifest
    assert res["total_samples"] == m["counts"]["total"]
    assert {k: v["samples"] for k, v in res["by_lang"].items()} == m["counts"]["by_lang"]
    assert res["errors"] == []
    assert max(abs(v["deviation"]) for v in res["by_lang"].values()) < 1e-9


def test_real_nllb_path_in_a_build_and_a_rebuild_makes_no_model_calls(ray_engine, tmp_path, monkeypatch):
    """The translation stage with a (tiny, random) NLLB checkpoint through Ray actors; the
    second build of the same recipe into a new folder is served by the shared cache (compacted
    at the end of the first build), a third by the same entries as loose, uncompacted files."""
    from tiny_nllb import tiny_nllb_path

    recipe = tmp_path / "nllb.yaml"
    recipe.write_text(f"""
name: nllb-tiny
total: 40
english_share: 0.5
languages: [eng_Latn, swh_Latn, hin_Deva]
sources:
  - {{name: caps, path: {ROOT / 'recipes/demo_data/captions_en.parquet'}, task: caption}}
steps:
  translate:
    model: {tiny_nllb_path()}
    generation: {{fixed_new_tokens: 12}}   # random weights never stop on their own
    checks: {{enabled: false}}             # random output would fail every check
output: {{samples_per_shard: 16}}
""")
    first = build(load_recipe(recipe), tmp_path / "a", progress=False, engine=ray_engine).manifest
    second = build(load_recipe(recipe), tmp_path / "b", progress=False, engine=ray_engine).manifest
    s1, s2 = first["accounting"]["translation_stats"], second["accounting"]["translation_stats"]
    assert s1["model_calls"] > 0 and s1["rows_kept"] == 20
    assert s2["model_calls"] == 0 and s2["model_loads"] == 0 and s2["cache_hits"] > 0
    assert first["counts"]["by_lang"] == {"eng_Latn": 20, "hin_Deva": 10, "swh_Latn": 10}
    assert [s["sha256"] for s in first["shards"]] == [s["sha256"] for s in second["shards"]]
    from translation.cache import cache_files

    cache = Path(os.environ["MIXKIT_CACHE_DIR"]) / "translation"
    assert cache_files(cache)["loose_files"] == 0 and cache_files(cache)["compacted_files"] >= 1
    loose = tmp_path / "loose_cache"
    (loose / "translation" / "v2" / "loose").mkdir(parents=True)
    for i, p in enumerate(sorted((cache / "v2" / "compact").glob("*.parquet"))):
        rows = p.name.split("-")[1]         # p<bits>-n<rows>-... -> a loose file's name
        shutil.copy(p, loose / "translation" / "v2" / "loose" / f"20200101T000000{i:06d}Z-{i:012x}-{rows}.parquet")
    monkeypatch.setenv("MIXKIT_CACHE_DIR", str(loose))
    third = build(load_recipe(recipe), tmp_path / "c", progress=False, engine=ray_engine).manifest
    assert third["accounting"]["translation_stats"]["model_calls"] == 0
    assert [s["sha256"] for s in first["shards"]] == [s["sha256"] for s in third["shards"]]


def test_dry_run_reports_what_filters_and_dedup_remove(ray_engine, tmp_path):
    res = build(load_recipe(DEMO), tmp_path / "dry", progress=False, dry_run=True, engine=ray_engine)
    m = res.manifest
    assert m["dry_run"] is True
    assert m["rejects"] == {"dedup/exact_duplicate_text": 2, "read/corrupt_image": 1, "read/empty_text": 1,
                            "read/missing_image": 1, "read/placeholder_mismatch": 1}
    assert not (tmp_path / "dry" / "shards").exists()


def _english_german_recipe(tmp_path: Path) -> Path:
    """200 samples, half German from 60 native captions (so 40 up-sampled), no translation."""
    recipe = tmp_path / "en_de.yaml"
    recipe.write_text(f"""
name: en-de
total: 200
english_share: 0.5
languages: [eng_Latn, deu_Latn]
on_shortfall: upsample
sources:
  - {{name: caps, path: {ROOT / 'recipes/demo_data/captions_en.parquet'}}}
  - {{name: native, path: {ROOT / 'recipes/demo_data/native/deu_Latn.tar'}}}
steps: {{translate: {{enabled: false}}}}
""")
    return recipe


def test_shortfall_upsamples_with_counted_distinct_repeats(ray_engine, tmp_path):
    recipe = _english_german_recipe(tmp_path)
    m = build(load_recipe(recipe), tmp_path / "up", progress=False, engine=ray_engine).manifest
    assert m["counts"]["by_lang"] == {"eng_Latn": 100, "deu_Latn": 100}
    assert m["accounting"]["upsampled"] == {"deu_Latn": 40}        # 60 native German captions
    assert m["accounting"]["inputs"] == m["accounting"]["written_from_inputs"] + m["accounting"]["rejected"]
    keys = set()
    for info in m["shards"]:
        with tarfile.open(tmp_path / "up" / "shards" / info["path"]) as tf:
            keys |= {n.split(".")[0] for n in tf.getnames()}
    assert len(keys) == 200


def test_a_build_leaves_running_the_ray_this_process_already_had(ray_engine, tmp_path):
    """A notebook (or this test session) that runs Ray keeps it: build() and the `mixkit build`
    command join it and stop only a Ray they started (they used to shut it down, and the next Ray
    call auto-connected to whatever address /tmp/ray/ray_current_cluster named)."""
    import ray
    from typer.testing import CliRunner

    from mixkit.cli import app

    recipe = _english_german_recipe(tmp_path)
    node = ray.get_runtime_context().get_node_id()
    build(load_recipe(recipe), tmp_path / "api", progress=False)          # no engine given: build() makes one
    assert ray.is_initialized() and ray.get_runtime_context().get_node_id() == node
    res = CliRunner().invoke(app, ["build", str(recipe), "--out", str(tmp_path / "cli"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert ray.is_initialized() and ray.get_runtime_context().get_node_id() == node
    assert list(ray_engine.map_ordered(abs, [-1, -2])) == [1, 2]               # the session's engine still works


def test_cli_build_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntotal: 10\nenglish_share: 0.5\nlanguages: [eng_Latn, deu_Latm]\n"
                   "sources: [{name: a, path: nowhere.parquet}]\n")
    p = _run_cli(["build", str(bad), "--out", str(tmp_path / "o")])
    log, _ = p.communicate(timeout=120)
    assert p.returncode == 2 and "bad.yaml:4: languages" in log and "deu_Latn" in log


def test_manifest_records_each_step(demo_build):
    steps = demo_build.manifest["steps"]
    assert [s["name"] for s in steps] == ["read", "filter", "dedup", "plan", "translate", "ocr", "mix"]
    for s in steps:
        assert s["seconds"] >= 0 and s["driver_peak_rss_mb"] > 0 and s["rows_out"] <= s["rows_in"] + 1
    by = {s["name"]: s for s in steps}
    assert by["read"]["rows_in"] == demo_build.manifest["accounting"]["inputs"]
    assert by["mix"]["rows_out"] == demo_build.manifest["counts"]["total"]
    assert by["filter"]["rows_in"] == by["read"]["rows_out"]


def test_local_backend_writes_the_same_shards_as_ray(demo_build, tmp_path):
    res = build(load_recipe(DEMO), tmp_path / "local", progress=False, backend="local")
    assert res.manifest["engine"]["nodes"] == 1
    assert _shard_hashes(res.shards_dir) == _shard_hashes(demo_build.shards_dir)


class _DropOrigins(Stage):
    """A user's extra stage: rejects captions whose origin id ends in 7, tags the rest."""

    name = "drop_sevens"
    resources = Resources(batch_size=50)

    def process_batch(self, rows):
        out = StageOutput()
        for r in rows:
            if r["source"] == "caps" and r["origin_id"].endswith("7"):
                out.rejected.append(make_reject(r, self.name, "ends_in_seven", r["origin_id"]))
            else:
                out.kept.append(r)
        return out


def test_an_extra_stage_is_one_class_and_one_list_entry(tmp_path):
    recipe = _english_german_recipe(tmp_path)
    steps = default_steps()
    steps.insert(2, StageStep("drop_sevens", lambda recipe: _DropOrigins()))
    out = tmp_path / "x"
    m = build(load_recipe(recipe), out, progress=False, backend="local", steps=steps).manifest
    assert [s["name"] for s in m["steps"]][:4] == ["read", "filter", "drop_sevens", "dedup"]
    assert (out / "steps" / "03_drop_sevens" / "_SUCCESS").exists()
    dropped = m["rejects"]["by_step"]["drop_sevens"]["ends_in_seven"]
    assert dropped == 60                      # 600 captions, one in ten ends in 7
    acc = m["accounting"]
    assert acc["inputs"] == acc["written_from_inputs"] + acc["rejected"]
    rej = pq.read_table(out / "shards" / "rejects.parquet").to_pylist()
    assert all(r["origin_id"].endswith("7") for r in rej if r["step"] == "drop_sevens")
    for info in m["shards"]:
        with tarfile.open(out / "shards" / info["path"]) as tf:
            for mem in tf.getmembers():
                if mem.name.endswith(".json"):
                    doc = json.loads(tf.extractfile(mem).read())
                    assert not (doc["source"] == "caps" and doc["origin_id"].endswith("7"))


def test_step_names_must_be_unique(tmp_path):
    steps = default_steps()
    steps.insert(2, StageStep("filter", lambda recipe: _DropOrigins()))
    with pytest.raises(ValueError, match="repeated: filter"):
        build(load_recipe(DEMO), tmp_path / "dup", progress=False, backend="local", steps=steps)
    assert not (tmp_path / "dup" / "steps" / "01_read").exists()     # refused before any work


class _Witness(Stage):
    """A row step after dedup: writes down every text it is given (one file per worker process)."""

    name = "witness"

    def __init__(self, folder: Path):
        self.folder = str(folder)

    def process_batch(self, rows):
        from mixkit.core.schema import text_of
        from mixkit.core.text import normalise_text

        with open(Path(self.folder) / f"seen-{os.getpid()}.txt", "a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps([r["id"], normalise_text(text_of(r))]) + "\n")
        return StageOutput(kept=list(rows))


def _recipe_with_duplicates(tmp_path: Path) -> Path:
    """60 English captions, 12 of them exact copies (new ids, same text and image) of others."""
    import pyarrow as pa

    t = pq.read_table(ROOT / "recipes/demo_data/captions_en.parquet").slice(0, 48)
    copies = t.slice(0, 12)
    copies = copies.set_column(copies.schema.get_field_index("id"), "id",
                               pa.array([f"copy-{i}" for i in range(12)], copies.schema.field("id").type))
    pq.write_table(pa.concat_tables([t, copies]), tmp_path / "caps.parquet")
    recipe = tmp_path / "dups.yaml"
    recipe.write_text(f"""
name: dups
total: 48
english_share: 1.0
languages: [eng_Latn]
sources: [{{name: caps, path: {tmp_path / 'caps.parquet'}}}]
steps: {{translate: {{enabled: false}}, ocr: {{enabled: false}}}}
""")
    return recipe


def test_a_row_step_after_dedup_sees_no_duplicate_and_the_rows_add_up(tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()
    steps = insert_after(default_steps(), "dedup", StageStep("witness", lambda recipe: _Witness(seen)))
    out = tmp_path / "x"
    m = build(load_recipe(_recipe_with_duplicates(tmp_path)), out, progress=False, backend="local",
              steps=steps).manifest
    texts = [json.loads(line)[1] for f in seen.glob("seen-*.txt") for line in f.read_text().splitlines()]
    dedup = next(s for s in m["steps"] if s["name"] == "dedup")
    assert dedup["rows_in"] == 60 and len(texts) == dedup["rows_out"] == 48
    assert len(set(texts)) == len(texts)                    # the witness saw each text once
    acc = m["accounting"]
    assert acc["inputs"] == 60 and acc["inputs"] == acc["written_from_inputs"] + acc["rejected"]
    rej = pq.read_table(out / "shards" / "rejects.parquet")
    assert len(set(rej["id"].to_pylist())) == rej.num_rows   # no row rejected twice
    assert m["rejects"]["by_step"]["dedup"]["exact_duplicate_text"] == 12


def test_insert_after_puts_a_step_by_name_and_names_the_steps_when_it_cannot():
    mine = StageStep("mine", lambda recipe: _DropOrigins())
    steps = insert_after(default_steps(), "dedup", mine)
    assert [s.name for s in steps] == ["read", "filter", "dedup", "mine", "plan", "translate", "ocr", "mix"]
    assert [s.name for s in insert_after(default_steps(), "mix", mine)][-2:] == ["mix", "mine"]
    with pytest.raises(ValueError, match=r"no build step named 'dedupe' to put 'mine' after; the steps are read, "
                                         r"filter, dedup, plan, translate, ocr, mix$"):
        insert_after(default_steps(), "dedupe", mine)


class _Leaky(Stage):
    """A broken user stage: drops rows without a reject."""

    name = "leaky"

    def process_batch(self, rows):
        return StageOutput(kept=[r for r in rows if not r["origin_id"].endswith("3")])


def test_a_step_that_loses_rows_fails_the_build_and_names_itself(tmp_path):
    from mixkit.build.runner import BuildAccountingError

    steps = default_steps()
    steps.insert(2, StageStep("leaky", lambda recipe: _Leaky()))
    with pytest.raises(BuildAccountingError, match=r"step 'leaky': 60 rows in, 54 kept and 0 rejected"):
        build(load_recipe(_recipe_with_duplicates(tmp_path)), tmp_path / "x", progress=False, backend="local",
              steps=steps)
    assert not (tmp_path / "x" / "shards" / "manifest.json").exists()


def test_failed_translations_are_replaced_from_the_reserve_and_every_row_adds_up(tmp_path):
    """A random tiny NLLB whose outputs are too short half the time (length check): every round
    sends replacements from the reserve, the last round's failures stay rejects (they were counted
    as sent by a round that never ran), and the short languages repeat their samples in the seeded
    order."""
    from tiny_nllb import tiny_nllb_path

    from mixkit.build.plan import repeat_hash, upsample_id

    recipe = tmp_path / "reserve.yaml"
    recipe.write_text(f"""
name: reserve
total: 120
english_share: 0.3
languages: [eng_Latn, swh_Latn, fra_Latn, deu_Latn]
on_shortfall: upsample
sources:
  - {{name: caps, path: {ROOT / 'recipes/demo_data/captions_en.parquet'}, task: caption}}
  - {{name: native, path: {ROOT / 'recipes/demo_data/native/deu_Latn.tar'}}}
steps:
  translate:
    model: {tiny_nllb_path()}
    generation: {{fixed_new_tokens: 12}}
    checks: {{lid_threshold: 0.99, numbers: false, length_ratio_min: 0.45, length_min_chars: 1}}
output: {{samples_per_shard: 7, max_shard_mb: 0.05}}
""")
    out = tmp_path / "b"
    m = build(load_recipe(recipe), out, progress=False, backend="local").manifest
    acc = m["accounting"]
    assert acc["inputs"] == acc["written_from_inputs"] + acc["rejected"]
    assert sum(acc["translation_replaced"].values()) > 0 and m["rejects"]["by_step"]["translate"]
    rounds = sorted(p.name for p in (out / "steps" / "05_translate").glob("round-*"))
    assert len(rounds) == 4
    assert m["counts"]["by_lang"] == {k: v for k, v in m["targets"]["quotas"].items() if v}
    assert acc["upsampled"]
    docs = []
    for info in m["shards"]:
        with tarfile.open(out / "shards" / info["path"]) as tf:
            docs += [json.loads(tf.extractfile(x).read()) for x in tf.getmembers() if x.name.endswith(".json")]
    for lang, short in acc["upsampled"].items():
        pool = sorted((d["id"] for d in docs if d["lang"] == lang and "upsampled_from" not in json.loads(d["meta"])),
                      key=lambda i: (repeat_hash(0, i), i))
        want = sorted(upsample_id(pool[k % len(pool)], k // len(pool) + 1) for k in range(short))
        got = sorted(d["id"] for d in docs if json.loads(d["meta"]).get("upsampled_from") and d["lang"] == lang)
        assert got == want


def _split_captions_recipe(tmp_path: Path) -> Path:
    """600 English captions in 4 files (4 partitions), 240 native German captions, translation by
    the identity backend: filter and translate each have 4 partitions to spread."""
    t = pq.read_table(ROOT / "recipes/demo_data/captions_en.parquet")
    (tmp_path / "caps").mkdir()
    for i in range(4):
        pq.write_table(t.slice(150 * i, 150), tmp_path / "caps" / f"part-{i}.parquet")
    recipe = tmp_path / "split.yaml"
    recipe.write_text(f"""
name: split
total: 300
english_share: 0.4
languages: [eng_Latn, deu_Latn, fra_Latn, spa_Latn]
sources:
  - {{name: caps, path: {tmp_path / 'caps'}}}
  - {{name: native, path: {ROOT / 'recipes/demo_data/native/deu_Latn.tar'}}}
steps:
  filters: {{lid: {{enabled: false}}}}
  translate: {{backend: identity}}
output: {{samples_per_shard: 20}}
""")
    return recipe


def test_each_step_records_its_workers_and_the_mix_holds_files_per_partition_or_shard(ray_engine, tmp_path):
    """On a 2-CPU Ray the filter and translate pools are 2 workers (the cluster's CPUs, no recipe key);
    the mix's folder holds files per origin partition, per range and per shard, never per pair."""
    out = tmp_path / "w"
    m = build(load_recipe(_split_captions_recipe(tmp_path)), out, progress=False, engine=ray_engine).manifest
    workers = {s["name"]: s["workers"] for s in m["steps"]}
    assert workers["filter"] == 2 and workers["translate"] == 2
    assert all(workers[s] >= 1 for s in ("read", "dedup", "plan", "mix"))
    mix = out / "steps" / "07_mix"
    origins = len(list((mix / "entries").iterdir()))
    shards = len(m["shards"])
    assert shards == 15 and len(list((mix / "sidecars").iterdir())) == shards
    files = sum(1 for p in mix.rglob("*") if p.is_file())
    assert files <= 2 * origins + shards + len(list((mix / "ranges").iterdir())) + 4
    plan_files = sum(1 for p in (out / "steps" / "04_plan").rglob("*") if p.is_file())
    assert plan_files <= 2 * len(list((out / "steps" / "03_dedup").glob("part-*.parquet"))) + 6


@pytest.mark.slow
def test_a_build_killed_during_mix_resumes_without_rewriting_finished_shards(ray_engine, tmp_path):
    """The last shard's file is a FIFO, so its writer blocks while the other shards get written;
    the build is then killed (SIGKILL, every process). The rerun writes only the missing shard
    and every shard is what a clean build writes."""
    recipe = _split_captions_recipe(tmp_path)
    clean = build(load_recipe(recipe), tmp_path / "clean", progress=False, engine=ray_engine)
    out = tmp_path / "killed"
    (out / "shards").mkdir(parents=True)
    fifo = out / "shards" / "shard-00014.tar.tmp"
    os.mkfifo(fifo)
    proc = _run_cli(["build", str(recipe), "--out", str(out), "--quiet"], start_new_session=True)
    sidecars = out / "steps" / "07_mix" / "sidecars"
    deadline = time.time() + 600
    while time.time() < deadline and len(list(sidecars.glob("*.json"))) < 14 and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the build ended before the kill: " + proc.stdout.read()
    time.sleep(1)                                   # the blocked writer stays blocked
    before = {p.name: p.stat().st_mtime_ns for p in sidecars.glob("*.json")}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(before) == 14 and "shard-00014.json" not in before
    assert not (out / "shards" / "manifest.json").exists()
    fifo.unlink()
    done = _run_cli(["build", str(recipe), "--out", str(out), "--quiet"])
    log, _ = done.communicate(timeout=900)
    assert done.returncode == 0, log
    assert {p.name: p.stat().st_mtime_ns for p in sidecars.glob("*.json") if p.name in before} == before
    assert _shard_hashes(out / "shards") == _shard_hashes(clean.shards_dir)
    steps = json.loads((out / "shards" / "manifest.json").read_text())["steps"]
    assert [s["name"] for s in steps if s["resumed"]] == ["read", "filter", "dedup", "plan", "translate"]
