"""The translation cache (translation/cache.py): parquet files per writer, compacted by key
prefix, looked up with one join per batch; safe for concurrent writers, readers and compactions;
an old one-JSON-file-per-entry cache is converted once."""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from mixkit.core.schema import make_row
from mixkit.runtime.engines import LocalEngine
from translation import cache as tc
from translation.cache import TranslationCache, cache_files, cache_key, compact_cache, prepare_cache
from translation.options import TranslateOptions
from translation.stage import TranslateStage

E, D = "eng_Latn", "deu_Latn"


def fill(root, n, start=0, flush_every=500, value=lambda i: f"Satz {i}", model="m"):
    c = TranslationCache(root, model, {})
    for i in range(start, start + n):
        c.put(E, D, f"sentence {i}", value(i))
        if (i - start + 1) % flush_every == 0:
            c.flush()
    c.flush()


def found(root, n, model="m") -> dict:
    items = [(E, D, f"sentence {i}") for i in range(n)]
    got = TranslationCache(root, model, {}).get_many(items)
    return {int(k[2].split()[1]): v[0] for k, v in got.items()}


def expected(n, start=0, value=lambda i: f"Satz {i}") -> dict:
    return {i: value(i) for i in range(start, start + n)}


def compacted_names(root) -> set[str]:
    return {p.name for p in (Path(root) / "v2" / "compact").glob("*.parquet")}


def test_cache_key_depends_on_model_settings_lang(tmp_path):
    c = TranslationCache(tmp_path, "m1", {"num_beams": 1})
    c.put("eng_Latn", "deu_Latn", "A dog.", "Ein Hund.")
    c.flush()
    assert TranslationCache(tmp_path, "m1", {"num_beams": 1}).get("eng_Latn", "deu_Latn", "A dog.") == ("Ein Hund.", False)
    assert TranslationCache(tmp_path, "m2", {"num_beams": 1}).get("eng_Latn", "deu_Latn", "A dog.") is None
    assert TranslationCache(tmp_path, "m1", {"num_beams": 4}).get("eng_Latn", "deu_Latn", "A dog.") is None
    assert TranslationCache(tmp_path, "m1", {"num_beams": 1}).get("eng_Latn", "fra_Latn", "A dog.") is None
    assert not list(tmp_path.rglob("*.tmp"))


def _writer(args):
    root, wid = args
    c = TranslationCache(root, "m", {})
    for i in range(60):
        c.put("eng_Latn", "deu_Latn", f"sentence {(i + 10 * wid) % 40}", f"Satz {(i + 10 * wid) % 40}")   # overlapping
    c.flush()
    return wid


def test_concurrent_writer_processes_then_compaction(tmp_path, caplog):
    with mp.get_context("spawn").Pool(3) as pool:
        pool.map(_writer, [(str(tmp_path), w) for w in range(3)])
    assert cache_files(tmp_path)["loose_files"] == 3                   # one file per writer flush
    assert found(tmp_path, 40) == expected(40) and len(TranslationCache(tmp_path, "m", {})) == 40
    assert not list(tmp_path.rglob("*.tmp"))
    # a damaged file (here: a valid name, garbage inside) is skipped with a warning, not a crash
    bad = tmp_path / "v2" / "loose" / "20200101T000000000000Z-0123456789ab-n5.parquet"
    bad.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING):
        assert found(tmp_path, 40) == expected(40)
    assert "unreadable" in caplog.text
    rep = compact_cache(tmp_path)
    assert rep["files_written"] == 1 and rep["files_removed"] == 3      # the damaged file is left alone
    assert cache_files(tmp_path) == {"loose_files": 1, "compacted_files": 1, "entries": 45,
                                     "bytes": cache_files(tmp_path)["bytes"]}
    assert found(tmp_path, 40) == expected(40)


def _busy(args):
    """A writer (flushes 30 times) or a compactor (compacts until the writers are done)."""
    root, role = args
    if role.startswith("writer"):
        w = int(role[-1])
        fill(root, 3_000, start=w * 2_000, flush_every=100)      # the writers overlap on 1,000 keys
        (Path(root) / f"{role}.done").write_text("")
        return 0
    removed = 0
    while len(list(Path(root).glob("writer*.done"))) < 2:
        removed += compact_cache(root)["files_removed"]
        time.sleep(0.05)
    return removed


def test_writers_and_two_compactions_at_once_lose_nothing(tmp_path):
    with mp.get_context("spawn").Pool(4) as pool:
        res = pool.map(_busy, [(str(tmp_path), r) for r in ("writer0", "writer1", "compactor", "compactor")],
                       chunksize=1)
    assert sum(res) > 0                                        # compactions ran while the writers wrote
    compact_cache(tmp_path)
    info = cache_files(tmp_path)
    assert info["loose_files"] == 0 and info["entries"] == 5_000
    assert found(tmp_path, 5_000) == expected(5_000)


def test_compaction_bounds_files_and_rewrites_little_for_few_new_entries(tmp_path):
    fill(tmp_path, 20_000, flush_every=200)
    assert cache_files(tmp_path)["loose_files"] == 100
    before = found(tmp_path, 20_000)
    rep = compact_cache(tmp_path)
    info = cache_files(tmp_path)
    assert rep["level"] == "p" and rep["depth"] == 3 and info["loose_files"] == 0 and info["compacted_files"] == 8
    assert info["compacted_files"] <= 20_000 / 1000 and info["entries"] == 20_000
    assert found(tmp_path, 20_000) == before == expected(20_000)
    # a few new entries go to the small 'recent' level: the main files stay as they are
    main = compacted_names(tmp_path)
    fill(tmp_path, 1_000, start=20_000)
    rep = compact_cache(tmp_path)
    assert rep["level"] == "q" and rep["files_written"] == 1 and main < compacted_names(tmp_path)
    fill(tmp_path, 1_000, start=21_000)
    assert compact_cache(tmp_path)["files_written"] == 1 and main < compacted_names(tmp_path)
    assert found(tmp_path, 22_000) == expected(22_000)
    # at 1/8 of the main level's entries, everything is merged into it
    fill(tmp_path, 1_000, start=22_000)
    rep = compact_cache(tmp_path)
    info = cache_files(tmp_path)
    assert rep["level"] == "p" and info["compacted_files"] == 8 and info["entries"] == 23_000
    assert not main & compacted_names(tmp_path) and all(n.startswith("p") for n in compacted_names(tmp_path))
    assert found(tmp_path, 23_000) == expected(23_000)
    # growth: past 2 * 2048 entries per file the prefix gets longer, every file is split
    fill(tmp_path, 20_000, start=23_000, flush_every=5000)
    rep = compact_cache(tmp_path)
    info = cache_files(tmp_path)
    assert rep["depth"] == 4 and info["compacted_files"] == 16 and info["entries"] == 43_000
    assert found(tmp_path, 43_000) == expected(43_000)
    assert compact_cache(tmp_path)["files_written"] == 0               # nothing new: nothing rewritten


def test_differing_values_for_one_key_resolve_the_same_way_everywhere(tmp_path):
    """Two builds translating one segment at once may disagree; every reader and every
    compaction picks the smallest value, whatever the order of the files."""
    for order in (("b", "a"), ("a", "b")):
        root = tmp_path / "".join(order)
        for v in order:
            fill(root, 3, value=lambda i, v=v: f"{v}{i}")
        assert found(root, 3) == {i: f"a{i}" for i in range(3)}
        compact_cache(root)
        assert found(root, 3) == {i: f"a{i}" for i in range(3)} and cache_files(root)["entries"] == 3


def test_compaction_killed_halfway_loses_nothing(tmp_path, monkeypatch):
    fill(tmp_path, 9_000, flush_every=300)
    compact_cache(tmp_path)
    fill(tmp_path, 9_000, start=9_000, flush_every=300)                # grows: every file rewritten
    real_write, calls = tc.write_table_atomic, []

    def dies_on_third(table, path, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        real_write(table, path, **kw)

    monkeypatch.setattr(tc, "write_table_atomic", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        compact_cache(tmp_path)
    monkeypatch.setattr(tc, "write_table_atomic", real_write)
    assert found(tmp_path, 18_000) == expected(18_000)                 # old files and the new ones

    def killed_before_deleting(fn, items):
        res = [fn(it) for it in items]
        if fn is tc._merge_bucket:
            raise KeyboardInterrupt("killed")
        return res

    with pytest.raises(KeyboardInterrupt):
        compact_cache(tmp_path, killed_before_deleting)
    assert found(tmp_path, 18_000) == expected(18_000)                 # everything is there twice
    (tmp_path / "v2" / "compact" / "p01-n9-20200101T000000000000Z-0123456789ab.parquet.tmp").write_bytes(b"half")
    compact_cache(tmp_path)
    info = cache_files(tmp_path)
    prefixes = [n.split("-")[0] for n in compacted_names(tmp_path)]
    assert info["loose_files"] == 0 and info["entries"] == 18_000 and len(prefixes) == len(set(prefixes)) == 8
    assert found(tmp_path, 18_000) == expected(18_000)


def test_a_reader_keeps_working_while_a_compaction_replaces_its_files(tmp_path):
    fill(tmp_path, 6_000, flush_every=1000)
    reader = TranslationCache(tmp_path, "m", {})
    assert len(reader.get_many([(E, D, f"sentence {i}") for i in range(100)])) == 100    # lists the files
    compact_cache(tmp_path)
    fill(tmp_path, 6_000, start=6_000, flush_every=1000)
    compact_cache(tmp_path)                                            # grows: the first compacted files go too
    got = reader.get_many([(E, D, f"sentence {i}") for i in range(100, 6_000)])
    assert len(got) == 5_900 and got[(E, D, "sentence 4321")] == ("Satz 4321", False)


def test_large_compaction_splits_first_and_runs_as_parallel_tasks(tmp_path, monkeypatch):
    fill(tmp_path, 30_000, flush_every=1000)
    monkeypatch.setattr(tc, "MERGE_BYTES", cache_files(tmp_path)["bytes"] // 5)     # -> 8 buckets
    rep = compact_cache(tmp_path, LocalEngine(workers=2).map_tasks)
    info = cache_files(tmp_path)
    assert rep["depth"] == 3 and info == {"loose_files": 0, "compacted_files": 8, "entries": 30_000,
                                          "bytes": info["bytes"]}
    assert not list((tmp_path / "v2").glob(".compact-*"))
    assert found(tmp_path, 30_000) == expected(30_000)


def _write_old_cache(root: Path, n: int) -> None:
    """The layout before the parquet cache: <root>/v1/<key[:2]>/<key>.json, one entry each."""
    for i in range(n):
        settings = {"num_beams": 1}
        k = cache_key("m", settings, E, D, f"sentence {i}")
        p = root / "v1" / k[:2] / f"{k}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"model": "m", "settings": settings, "src_lang": E, "tgt_lang": D,
                                 "src": f"sentence {i}", "translation": f"Satz {i}", "truncated": False}))


def found_old(root, n) -> bool:
    got = TranslationCache(root, "m", {"num_beams": 1}).get_many([(E, D, f"sentence {i}") for i in range(n)])
    return got == {(E, D, f"sentence {i}"): (f"Satz {i}", False) for i in range(n)}


def test_old_cache_folder_converted_once_and_kept(tmp_path, caplog):
    _write_old_cache(tmp_path, 1_500)
    sub = sorted((tmp_path / "v1").iterdir())
    (sub[0] / ("0" * 64 + ".json")).write_text("{broken")                 # unreadable
    (sub[1] / f".{'1' * 64}.123.tmp").write_text("{}")                    # a write that never finished
    files_before = sorted(str(p) for p in (tmp_path / "v1").rglob("*"))
    cache = lambda: TranslationCache(tmp_path, "m", {"num_beams": 1})    # noqa: E731
    with caplog.at_level(logging.WARNING):
        assert cache().get(E, D, "sentence 7") is None                 # not converted yet: said, not used
    assert "not converted yet" in caplog.text and "prepare_cache" in caplog.text
    said = []
    rep = prepare_cache(tmp_path, say=said.append)
    assert rep["converted"] == 1_500 and rep["compaction"]["entries_in"] == 1_500
    assert "converting the old cache" in said[0] and "converted 1500 entries" in said[1] and "1 unreadable" in said[1]
    assert sorted(str(p) for p in (tmp_path / "v1").rglob("*")) == files_before     # the old folder is kept
    got = cache().get_many([(E, D, f"sentence {i}") for i in range(1_500)])
    assert len(got) == 1_500 and got[(E, D, "sentence 1499")] == ("Satz 1499", False)
    assert cache_files(tmp_path)["loose_files"] == 0
    said.clear()
    assert prepare_cache(tmp_path, say=said.append) == {"converted": 0} and said == []   # once


def test_interrupted_conversion_resumes_and_loses_nothing(tmp_path):
    _write_old_cache(tmp_path, 1_000)
    n_dirs = len(list((tmp_path / "v1").iterdir()))

    def killed_halfway(fn, items):
        for it in items[:len(items) // 2]:
            fn(it)
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        prepare_cache(tmp_path, killed_halfway, say=lambda m: None)
    assert not (tmp_path / "v2" / "converted-v1.json").exists()
    done = len(list((tmp_path / "v2" / "converted-v1").iterdir()))
    assert 0 < done < n_dirs
    said = []
    rep = prepare_cache(tmp_path, say=said.append)
    assert f"{n_dirs - done} of {n_dirs} folders to go" in said[0] and rep["converted"] == 1_000
    assert found_old(tmp_path, 1_000) and cache_files(tmp_path)["entries"] == 1_000


def _rows(n):
    return [make_row(source="t", origin_id=str(i), task="caption", lang="swh_Latn",
                     messages=[{"role": "user", "content": "<image>\nDescribe the image."},
                               {"role": "assistant", "content": f"Row {i} has a cat. It sleeps {i} hours."}],
                     meta={"translate_from": "eng_Latn"}) for i in range(n)]


def test_stage_writes_one_file_per_batch_and_rereads_it(tmp_path):
    opts = TranslateOptions(model="identity", backend="identity", batch_rows=4)
    first = TranslateStage(opts, cache_dir=str(tmp_path))
    out = first.run(_rows(12))
    s1 = first.stats()
    assert len(out.kept) == 12 and s1["cache_hits"] == 2           # the prompt, from the first batch's file
    info = cache_files(tmp_path)
    assert info["loose_files"] == 3 and info["entries"] == s1["unique_segments"] - 2    # a file per batch
    second = TranslateStage(opts, cache_dir=str(tmp_path))
    assert second.run(_rows(12)).kept == out.kept
    assert second.stats()["cache_hits"] == s1["unique_segments"] and cache_files(tmp_path)["loose_files"] == 3


def test_edited_phrasebook_takes_effect_and_reseeding_writes_nothing(tmp_path):
    from translation.demo_cache import DEMO_MODEL, seed_cache_from_phrasebook

    book = tmp_path / "book.jsonl"

    def write_book(dog):
        book.write_text("".join(json.dumps({"english": e, "lang": "spa_Latn", "translation": t}, ensure_ascii=False)
                                + "\n" for e, t in [("Describe the image in detail.", "Describe la imagen en detalle."),
                                                    ("A dog runs across a green field.", dog)]), encoding="utf-8")

    row = make_row(source="t", origin_id="0", task="caption", lang="spa_Latn",
                   messages=[{"role": "user", "content": "<image>\nDescribe the image in detail."},
                             {"role": "assistant", "content": "A dog runs across a green field."}],
                   meta={"translate_from": "eng_Latn"})
    opts = TranslateOptions(model=DEMO_MODEL, phrasebook=str(book))
    cache = tmp_path / "cache"
    write_book("Un perro corre por un campo verde.")
    assert seed_cache_from_phrasebook(str(book), str(cache), opts) == 2
    assert seed_cache_from_phrasebook(str(book), str(cache), opts) == 2
    assert cache_files(cache)["loose_files"] == 1                      # the second seeding wrote nothing
    first = TranslateStage(opts, cache_dir=str(cache)).run([row]).kept[0]["messages"][1]["content"]
    write_book("Un perro corre a través de un campo verde.")
    seed_cache_from_phrasebook(str(book), str(cache), opts)
    second = TranslateStage(opts, cache_dir=str(cache)).run([row]).kept[0]["messages"][1]["content"]
    assert (first, second) == ("Un perro corre por un campo verde.", "Un perro corre a través de un campo verde.")


def test_translate_file_converts_an_old_cache_and_leaves_it_compacted(tmp_path):
    import pyarrow.parquet as pq

    from mixkit.core.schema import rows_to_table
    from translation.files import translate_file

    src = tmp_path / "in.parquet"
    pq.write_table(rows_to_table([dict(r, lang="eng_Latn", meta="{}") for r in _rows(5)]), src)
    _write_old_cache(tmp_path / "cache", 50)
    opts = TranslateOptions(model="identity", backend="identity", cache_dir=str(tmp_path / "cache"))
    said = []
    res = translate_file(str(src), ["deu_Latn"], str(tmp_path / "out"), opts, say=said.append)
    assert res["kept"] == 5 and any("converted 50 entries" in m for m in said)
    info = cache_files(tmp_path / "cache")
    assert info["loose_files"] == 0 and info["compacted_files"] == 1
    assert info["entries"] == 50 + res["stats"]["unique_segments"]
    again = translate_file(str(src), ["deu_Latn"], str(tmp_path / "out2"), opts, say=said.append)
    assert again["stats"]["cache_hits"] == again["stats"]["unique_segments"] > 0


# -- the same cache on object storage (a real S3 server: tests/s3_server.py) --------------------

def _bucket_dir(name: str) -> str:
    import uuid

    return f"s3://mix/translation-cache-{uuid.uuid4().hex[:8]}/{name}"


def _objects(root) -> list[str]:
    """Every file under a cache folder, relative to it (a disk or a bucket)."""
    from mixkit.core import storage

    root = str(root).rstrip("/")
    if storage.is_remote(root):
        return [u[len(root) + 1:] for u in storage.find(root)]
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def _same_cache_work(root, monkeypatch) -> dict:
    """What the cache answers to one sequence of operations: writer processes, a reader from
    before a compaction, a damaged file, compactions at both levels and split into parallel
    tasks, a split folder left by a killed compaction; what it holds after each step."""
    seen = {}
    with mp.get_context("spawn").Pool(2) as pool:                       # two processes write
        pool.map(_writer, [(str(root), w) for w in range(2)])
    seen["written"] = cache_files(root)
    seen["read by another process"] = found(root, 40)
    fill(root, 9_000, start=40, flush_every=1_500)
    reader = TranslationCache(root, "m", {})
    seen["reader"] = len(reader.get_many([(E, D, f"sentence {i}") for i in range(100)]))   # lists the files
    bad = f"{root}/v2/loose/20200101T000000000000Z-0123456789ab-n5.parquet"
    from mixkit.core import storage

    storage.write_bytes(bad, b"not parquet")                            # skipped with a warning
    seen["before compaction"] = found(root, 9_040)
    old_spill = f"{root}/v2/.compact-20200101T000000000000Z-0123456789ab/b0/x.parquet"
    new_spill = f"{root}/v2/.compact-{tc._unique_suffix()}/b0/x.parquet"     # a running compaction's
    storage.write_bytes(old_spill, b"left by a killed compaction")
    storage.write_bytes(new_spill, b"in use")
    rep = compact_cache(root)
    seen["compaction"] = {k: rep[k] for k in ("loose_files", "entries_in", "level", "files_written",
                                              "files_removed", "depth")}
    seen["spill folders"] = (storage.exists(old_spill), storage.exists(new_spill))
    storage.remove(new_spill)
    storage.remove(bad)
    seen["compacted"] = cache_files(root)
    seen["reader after compaction"] = reader.get_many([(E, D, f"sentence {i}") for i in range(100, 9_040)])
    seen["reopened"] = found(root, 9_040)
    fill(root, 500, start=9_040)                                        # a few new: the 'recent' level
    rep = compact_cache(root)
    seen["recent"] = (rep["level"], rep["files_written"], cache_files(root))
    fill(root, 6_000, start=9_540, flush_every=1_000)
    monkeypatch.setattr(tc, "MERGE_BYTES", cache_files(root)["bytes"] // 5)     # split into tasks first
    rep = compact_cache(root, LocalEngine(workers=2).map_tasks)
    seen["split"] = {k: rep[k] for k in ("loose_files", "level", "files_written", "depth")}
    seen["after split"] = cache_files(root)
    seen["all"] = found(root, 15_540)
    seen["no leftovers"] = [n for n in _objects(root) if ".compact-" in n or n.endswith(".tmp")]
    seen["nothing new"] = compact_cache(root)["files_written"]
    return seen


def test_a_cache_in_a_bucket_answers_as_one_on_disk(s3_env, tmp_path, monkeypatch, caplog):
    """cache_dir: s3://... (builds on machines that share no disk): every operation gives what
    the same operations give on a disk (sizes aside: file names carry times and ids)."""
    with caplog.at_level(logging.WARNING):
        on_disk = _same_cache_work(tmp_path / "cache", monkeypatch)
        assert caplog.text.count("unreadable") >= 1
        caplog.clear()
        monkeypatch.setattr(tc, "MERGE_BYTES", 64 << 20)
        url = _bucket_dir("cache")
        in_bucket = _same_cache_work(url, monkeypatch)
        assert caplog.text.count("unreadable") >= 1
    for seen in (on_disk, in_bucket):
        for k, v in seen.items():
            if isinstance(v, dict) and "bytes" in v:
                v.pop("bytes")
            if isinstance(v, tuple) and isinstance(v[-1], dict):
                v[-1].pop("bytes")
    assert in_bucket == on_disk
    assert on_disk["all"] == expected(15_540) and len(on_disk["reader after compaction"]) == 8_940
    assert on_disk["spill folders"] == (False, True) and on_disk["no leftovers"] == []
    assert on_disk["compaction"]["level"] == "p" and on_disk["recent"][0] == "q" and on_disk["split"]["depth"] >= 2
    stored = _objects(url)                     # in the bucket, not in a local folder named "s3:"
    assert len([n for n in stored if n.startswith("v2/compact/p")]) == on_disk["after split"]["compacted_files"]
    assert all(n.startswith("v2/compact/") for n in stored) and not Path("s3:").exists()


def test_a_stage_on_a_bucket_cache_rereads_its_files_and_sums_its_stats(s3_env):
    from translation.stage import collect_stats

    url = _bucket_dir("cache")
    opts = TranslateOptions(model="identity", backend="identity", batch_rows=4)
    first = TranslateStage(opts, cache_dir=url, stats_dir=f"{url}-stats")
    out = first.run(_rows(12))
    s1 = first.stats()
    assert len(out.kept) == 12 and s1["cache_hits"] == 2            # the prompt, from the first batch's file
    info = cache_files(url)
    assert info["loose_files"] == 3 and info["entries"] == s1["unique_segments"] - 2
    assert collect_stats(f"{url}-stats") == s1                         # the worker's counters, in the bucket
    second = TranslateStage(opts, cache_dir=url)
    assert second.run(_rows(12)).kept == out.kept
    assert second.stats()["cache_hits"] == s1["unique_segments"]
    assert prepare_cache(url) == {"converted": 0}                       # no old layout in a bucket: nothing said


def test_translate_file_with_its_cache_in_a_bucket_and_a_dry_run_written_to_one(s3_env, tmp_path):
    import pyarrow.parquet as pq

    from mixkit.core import storage
    from mixkit.core.schema import rows_to_table
    from mixkit.runtime.partitions import read_table
    from translation.files import translate_file

    src = tmp_path / "in.parquet"
    pq.write_table(rows_to_table([dict(r, lang="eng_Latn", meta="{}") for r in _rows(5)]), src)
    url = _bucket_dir("cache")
    opts = TranslateOptions(model="identity", backend="identity", cache_dir=url)
    res = translate_file(str(src), ["deu_Latn"], str(tmp_path / "out"), opts)
    info = cache_files(url)
    assert res["kept"] == 5 and info["loose_files"] == 0 and info["compacted_files"] == 1
    assert info["entries"] == res["stats"]["unique_segments"] > 0
    again = translate_file(str(src), ["deu_Latn"], url + "-out", opts)             # its output in the bucket too
    assert again["stats"]["cache_hits"] == again["stats"]["unique_segments"] and again["kept"] == 5
    assert again["paths"]["translated"] == url + "-out/translated.parquet"
    assert read_table(again["paths"]["translated"]).to_pylist() == pq.read_table(res["paths"]["translated"]).to_pylist()
    assert _objects(url + "-out") == ["rejects.parquet", "translated.parquet"]        # its work folder is gone
    dry = translate_file(str(src), ["deu_Latn"], url + "-dry", opts, dry=True)
    lines = storage.read_text(dry["paths"]["segments"]).splitlines()
    assert dry["paths"]["segments"] == url + "-dry/segments.jsonl" and len(lines) == dry["messages"] == 10
    assert json.loads(storage.read_text(url + "-dry/summary.json")) == dry["summary"]
