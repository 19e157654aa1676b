"""Dedup: recall and precision on planted near duplicates (mixkit vs datasketch), image LSH
candidates per row at growing N, and the distributed stages at two sizes (time per stage, the
driver's peak memory, files and bytes).

    python benchmarks/bench_dedup.py recall  [--docs 20000 --per-bin 600]
    python benchmarks/bench_dedup.py images  [--sizes 20000 80000 320000]
    python benchmarks/bench_dedup.py stages  [--sizes 50000 200000 --workers 2]
    python benchmarks/bench_dedup.py driver  [--sizes 1000000 4000000]
    python benchmarks/bench_dedup.py speed   [--near-docs 3000 --exact-rows 1000000]

1. recall: captions of 30-60 English words (wordfreq's top 3,000), and for each base a planted
   variant whose exact Jaccard of character 5-gram sets falls in a chosen bin (0.5-0.6 ... 0.95-1.0).
   Below 0.8 a removal is a false positive. Same shingles, num_perm=128 and bands on both sides:
   mixkit (LSH 13 x 7, exact-Jaccard check) vs datasketch MinHashLSH(params=(13, 7)) and its
   default for threshold 0.8 (9 x 13); datasketch returns LSH candidates (no check). The column
   "minhash-est" is what checking candidates with the MinHash estimate (>= 0.8) would give.
2. images: random 2 x 64-bit dHashes plus pairs planted at exact distances; candidates per row
   and recall per distance with the bands `image_lsh_params` picks for N.
3. stages: `run_dedup` over parquet partitions of N caption rows with small distinct JPEGs
   (3% exact text copies, 3% near text copies, 2% same image bytes, 2% re-encoded images), on
   local worker processes. The driver runs in a fresh process: its peak RSS (VmHWM) during
   run_dedup, over its RSS before, is what dedup costs the driver.
4. driver: what the driver alone costs at sizes too large for this machine's signature stage:
   partitions holding ids only and the tasks' outputs (pair files: 10% of rows duplicates, 1.6
   pairs per duplicate, as the stages measure) are made up, then the driver's part (clusters from
   the pairs, duplicates.parquet with ids) runs in a fresh process: peak RSS over RSS before.
5. speed: signatures + in-process dedup vs datasketch, docs/s on one core; exact dedup on 1M rows.
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BINS = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.85), (0.85, 0.9), (0.9, 0.95), (0.95, 1.0)]


def _words() -> list[str]:
    import wordfreq

    return [w for w in wordfreq.top_n_list("en", 3000) if w.isalpha()]


def _grams(t: str, n: int = 5) -> set[str]:
    return {t[i:i + n] for i in range(len(t) - n + 1)}


def _jaccard(a: str, b: str) -> float:
    x, y = _grams(a), _grams(b)
    return len(x & y) / len(x | y)


def planted_corpus(docs: int, per_bin: int, seed: int = 0):
    """Base captions, then one variant per planted base with its exact Jaccard in a bin."""
    from mixkit.dedup import normalize_text

    rng = np.random.default_rng(seed)
    words = _words()
    base = [normalize_text(" ".join(rng.choice(words, int(rng.integers(30, 61))))) for _ in range(docs)]
    variants = []                     # (base index, text, exact jaccard)
    b = 0
    for lo, hi in BINS:
        made = 0
        while made < per_bin:
            w = base[b].split()
            while True:                # edit one word at a time until the Jaccard drops below hi
                j = int(rng.integers(len(w)))
                op = rng.random()
                if op < 0.6:
                    w[j] = str(rng.choice(words))
                elif op < 0.8:
                    w.insert(j, str(rng.choice(words)))
                elif len(w) > 5:
                    del w[j]
                t = " ".join(w)
                s = _jaccard(base[b], t)
                if s < hi or (hi == 1.0 and s < 1.0):
                    break
            if lo <= s < hi:
                variants.append((b, t, s))
                made += 1
            b += 1
    return base, variants


def bench_recall(docs: int, per_bin: int) -> None:
    from datasketch import MinHash, MinHashLSH

    from mixkit.core.schema import make_row
    from mixkit.dedup import DedupOptions, find_duplicates, lsh_params

    base, variants = planted_corpus(docs, per_bin)
    texts = base + [t for _, t, _ in variants]
    print(f"planted near duplicates: {len(base)} captions (30-60 words, ~{np.mean([len(t) for t in base]):.0f} chars), "
          f"{len(variants)} variants ({per_bin} per Jaccard bin)")
    n_base = len(base)
    sims = np.array([s for _, _, s in variants])
    of = np.array([b for b, _, _ in variants])

    def table(found: np.ndarray, removed_other: int, name: str) -> dict:
        pos = sims >= 0.8
        tp = int((found & pos).sum())
        flagged = int(found.sum()) + removed_other
        return {"name": name, "bins": [float(found[(sims >= lo) & (sims < hi)].mean()) for lo, hi in BINS],
                "recall_080_090": float(found[(sims >= 0.8) & (sims < 0.9)].mean()),
                "recall_090_100": float(found[sims >= 0.9].mean()),
                "precision": tp / flagged if flagged else 1.0, "flagged": flagged}

    rows = [make_row(source="b", origin_id=str(i), task="caption", lang="eng_Latn",
                     messages=[{"role": "assistant", "content": t}]) for i, t in enumerate(texts)]
    opts = DedupOptions(exact_text=False, exact_image=False, image_phash={"enabled": False})
    b, r = lsh_params(0.8, 128)
    t0 = time.process_time()
    dups = find_duplicates(rows, opts)
    t_mixkit = time.process_time() - t0
    removed = set(dups["order"].to_pylist())
    found = np.array([n_base + i in removed for i in range(len(variants))])
    res = [table(found, sum(1 for x in removed if x < n_base), f"mixkit {b}x{r} + exact Jaccard")]

    mh = []
    t0 = time.process_time()
    for t in texts:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([g.encode("utf8") for g in _grams(t)])
        mh.append(m)
    t_sig = time.process_time() - t0
    for params, label in (((13, 7), "datasketch MinHashLSH 13x7"), (None, "datasketch MinHashLSH threshold=0.8")):
        lsh = MinHashLSH(threshold=0.8, num_perm=128, params=params)
        for i in range(n_base):
            lsh.insert(i, mh[i])
        hits = [set(lsh.query(mh[n_base + i])) for i in range(len(variants))]
        got = np.array([of[i] in h for i, h in enumerate(hits)])
        other = sum(len(h - {of[i]}) for i, h in enumerate(hits))     # unrelated bases returned as duplicates
        if params is None:
            label += f" ({lsh.b}x{lsh.r})"
        res.append(table(got, other, label))
        if params == (13, 7):
            est = np.array([got[i] and mh[n_base + i].jaccard(mh[of[i]]) >= 0.8 for i in range(len(variants))])
            other_est = sum(1 for i, h in enumerate(hits) for x in h - {of[i]} if mh[n_base + i].jaccard(mh[x]) >= 0.8)
            res.append(table(est, other_est, "13x7 + minhash-est >= 0.8 (not used)"))
    head = " | ".join(f"{lo:.2f}-{hi:.2f}" for lo, hi in BINS)
    print(f"| method | {head} | recall 0.80-0.90 | recall >= 0.90 | precision | flagged |")
    print("|---" * (len(BINS) + 5) + "|")
    for x in res:
        print(f"| {x['name']} | " + " | ".join(f"{v:.3f}" for v in x["bins"]) +
              f" | **{x['recall_080_090']:.3f}** | **{x['recall_090_100']:.3f}** | {x['precision']:.4f} | {x['flagged']} |")
    print(f"(columns below 0.80: share of non-duplicates removed; CPU: mixkit {t_mixkit:.1f} s end to end, "
          f"datasketch signatures alone {t_sig:.1f} s)")


def _rss(key: str) -> float:
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1]) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:       # Linux: VmHWM restarts from the current RSS
        f.write("5")


def bench_images(sizes: list[int], pairs: int = 2000) -> None:
    import pyarrow as pa

    from mixkit.dedup import image_lsh_params, image_recall
    from mixkit.dedup.bands import image_band_keys
    from mixkit.dedup.pairs import bucket_pairs, candidate_pairs
    from mixkit.dedup.signatures import NEAR_IMAGE, SIGNATURE_SCHEMA

    print("| rows | bands x bits | candidate pairs / row | records / row | CPU s | peak MB | recall at distance (h, v) = "
          + ", ".join(f"({d},{d})" for d in (1, 3, 5, 6, 7)) + " |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        rng = np.random.default_rng(n)
        h = rng.integers(0, 2 ** 64, n, dtype=np.uint64)
        v = rng.integers(0, 2 ** 64, n, dtype=np.uint64)
        ds = (1, 3, 5, 6, 7)
        extra_h, extra_v, src = [], [], []
        for d in ds:
            for i in range(pairs // len(ds)):
                k = int(rng.integers(n))
                fh = np.uint64(sum(1 << int(x) for x in rng.choice(64, d, replace=False)))
                fv = np.uint64(sum(1 << int(x) for x in rng.choice(64, d, replace=False)))
                extra_h.append(h[k] ^ fh)
                extra_v.append(v[k] ^ fv)
                src.append((k, d))
        H = np.concatenate((h, np.array(extra_h, np.uint64)))
        V = np.concatenate((v, np.array(extra_v, np.uint64)))
        _reset_peak()
        base = _rss("VmRSS:")
        t0 = time.process_time()
        b, r = image_lsh_params(6, len(H))
        keys = image_band_keys(H, V, b, r)
        sig = pa.table({"kind": pa.array(np.full(keys.size, NEAR_IMAGE, np.uint8)), "key": pa.array(keys.ravel()),
                        "order": pa.array(np.repeat(np.arange(len(H)), b)), "h": pa.array(np.repeat(H, b)),
                        "v": pa.array(np.repeat(V, b))}, schema=SIGNATURE_SCHEMA)
        ok = bucket_pairs(sig, 6)
        dt = time.process_time() - t0
        peak = _rss("VmHWM:") - base
        cand = candidate_pairs(sig)
        n_cand = len({(a, c) for a, c in zip(cand["a"].to_pylist(), cand["b"].to_pylist())})
        got = {(a, c) for a, c in zip(ok["a"].to_pylist(), ok["b"].to_pylist())}
        rec = []
        for d in ds:
            idx = [j for j, (_, dd) in enumerate(src) if dd == d]
            rec.append(np.mean([(src[j][0], n + j) in got for j in idx]))
        print(f"| {len(H):,} | {b} x {r} | {n_cand / len(H):.2f} | {b} | {dt:.1f} | {peak:.0f} | "
              + ", ".join(f"{x:.3f}" for x in rec) + f" (expected at (6,6): {image_recall(12, b, r):.3f}) |")


# ---------------------------------------------------------------------------------------------
# the stages at two sizes

def _tiny_jpeg(rng, quality=85) -> tuple[bytes, object]:
    from PIL import Image

    arr = (rng.random((6, 8, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr).resize((48, 36), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), im


PIC_POOL_ROWS = 20_000


def make_partitions(n: int, d: Path, seed: int = 0, rows_per_part: int = 2000) -> dict:
    import pyarrow.parquet as pq

    from mixkit.core.schema import make_row, rows_to_table

    rng = np.random.default_rng(seed)
    words = _words()
    texts: list[str] = []
    images: list[bytes] = []
    pics: list = []
    planted = {"exact_text": 0, "near_text": 0, "exact_image": 0, "near_image": 0}
    buf, part = [], 0
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        u = rng.random() if i > 100 else 1.0
        j = int(rng.integers(max(i, 1)))
        if u < 0.03:
            text, (img, pic) = texts[j], _tiny_jpeg(rng)
            planted["exact_text"] += 1
        elif u < 0.06:
            w = texts[j].split()
            w[int(rng.integers(len(w)))] = str(rng.choice(words))
            text, (img, pic) = " ".join(w), _tiny_jpeg(rng)
            planted["near_text"] += 1
        elif u < 0.08:
            text, img, pic = " ".join(rng.choice(words, int(rng.integers(30, 61)))), images[j], pics[j]
            planted["exact_image"] += 1
        elif u < 0.10:
            j = int(rng.integers(min(i, PIC_POOL_ROWS)))
            b = io.BytesIO()
            pics[j].save(b, "JPEG", quality=60)
            text, img, pic = " ".join(rng.choice(words, int(rng.integers(30, 61)))), b.getvalue(), pics[j]
            planted["near_image"] += 1
        else:
            text, (img, pic) = " ".join(rng.choice(words, int(rng.integers(30, 61)))), _tiny_jpeg(rng)
        texts.append(text)
        images.append(img)
        pics.append(pic if len(pics) < PIC_POOL_ROWS else None)     # near-image sources: the first rows
        buf.append(make_row(source="b", origin_id=str(i), task="caption", lang="eng_Latn", images=[img],
                            messages=[{"role": "user", "content": "<image>\nDescribe."},
                                      {"role": "assistant", "content": text}]))
        if len(buf) == rows_per_part:
            pq.write_table(rows_to_table(buf), d / f"part-{part:05d}.parquet")
            buf, part = [], part + 1
    if buf:
        pq.write_table(rows_to_table(buf), d / f"part-{part:05d}.parquet")
    (d / "planted.json").write_text(json.dumps(planted))
    return planted


_DRIVER = r"""
import json, sys, time
from pathlib import Path
def rss(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) / 1024
from mixkit.dedup import DedupOptions, run_dedup
from mixkit.runtime.engines import LocalEngine
import mixkit.dedup.stages as S
import resource
def cpu():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
times, cpus = {}, {}
orig = S._run
def timed(engine, fn, jobs, label, progress):
    t, c = time.perf_counter(), cpu()
    orig(engine, fn, jobs, label, progress)
    times[label], cpus[label] = time.perf_counter() - t, cpu() - c
S._run = timed
import pyarrow as pa, numpy as np; pa.array(np.zeros(1))      # pyarrow's pandas shim, as in a build
import scipy.sparse.csgraph, mixkit.dedup.components             # imports are not data: load them before
base = rss('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')
t, c = time.perf_counter(), cpu()
st = run_dedup(LocalEngine(int(sys.argv[3])), Path(sys.argv[1]), Path(sys.argv[2]), DedupOptions())
total, total_cpu = time.perf_counter() - t, cpu() - c
print(json.dumps({"stats": st, "seconds": total, "cpu": total_cpu, "stages": times, "stage_cpu": cpus,
                  "base_mb": base, "peak_mb": rss('VmHWM:')}))
"""


def bench_stages(sizes: list[int], workers: int, work: Path) -> None:
    results = []
    for n in sizes:
        src = work / f"rows_{n}"
        t0 = time.time()
        planted = make_partitions(n, src) if not (src / "planted.json").exists() \
            else json.loads((src / "planted.json").read_text())
        gen = time.time() - t0
        out = work / f"dedup_{n}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        res = subprocess.run([sys.executable, "-c", _DRIVER, str(src), str(out), str(workers)],
                             capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(res.stderr[-3000:])
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r.update(n=n, planted=planted, gen_s=gen)
        results.append(r)
        st = r["stats"]
        print(f"\n{n:,} rows ({st['partitions']} partitions, {st['buckets']} buckets, {st['ranges']} ranges, "
              f"bands text {st['bands']['text']}, image {st['bands']['image']}); planted {planted}")
        cl = r["seconds"] - sum(r["stages"].values())
        print("  stages, wall s (CPU s of driver + workers): " + ", ".join(
            f"{k.split(': ')[1]} {v:.1f} ({r['stage_cpu'][k]:.1f})" for k, v in r["stages"].items())
            + f"; clusters in the driver {cl:.1f} ({r['cpu'] - sum(r['stage_cpu'].values()):.1f}); total "
            f"{r['seconds']:.1f} s, {r['cpu']:.1f} CPU s ({n / r['cpu']:,.0f} rows per CPU second)")
        print(f"  signature records {st['signature_records'] / n:.1f}/row (by kind {st['signature_records_by_kind']}), "
              f"text candidates {st['text_candidates'] / n:.2f}/row, pairs held by the driver {st['pairs']:,} "
              f"({st['pairs'] / n:.3f}/row), removed {st['removed']:,} {st['removed_by_kind']}")
        print(f"  intermediate files {st['files']} ({st['bytes'] / n:.0f} bytes/row); driver RSS "
              f"{r['base_mb']:.0f} MB before, peak {r['peak_mb']:.0f} MB during dedup")
    if len(results) == 2:
        a, b = results
        dn = b["n"] - a["n"]
        print(f"\ngrowth from {a['n']:,} to {b['n']:,} rows: driver peak {(b['peak_mb'] - a['peak_mb']) * 2 ** 20 / dn:.0f} "
              f"bytes/row, CPU {(b['cpu'] - a['cpu']) / dn * 1e6:.0f} us/row, intermediate bytes "
              f"{(b['stats']['bytes'] - a['stats']['bytes']) / dn:.0f}/row, files +{b['stats']['files'] - a['stats']['files']}")


_DRIVER_ONLY = r"""
import json, sys, time
from pathlib import Path
def rss(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) / 1024
import pyarrow as pa, numpy as np; pa.array(np.zeros(1))
import scipy.sparse.csgraph, mixkit.dedup.components, mixkit.dedup.removal
from mixkit.dedup import stages as S
d, src = Path(sys.argv[1]), Path(sys.argv[2])
plan = S.Plan(json.loads((d / S.PLAN).read_text()))
base = rss('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')
t = time.perf_counter()
out = S._write_duplicates(plan, src, d / S.DUPLICATES)
print(json.dumps({**out, "seconds": time.perf_counter() - t, "base_mb": base, "peak_mb": rss('VmHWM:')}))
"""


def fake_task_outputs(n: int, work: Path, seed: int = 0) -> tuple[Path, Path]:
    """Partitions with ids only, dedup.json, and pair files as the stages would leave them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mixkit.dedup import DedupOptions
    from mixkit.dedup.pairs import PAIR_SCHEMA, pairs_table
    from mixkit.dedup.stages import PLAN, Plan, write_batches

    src, d = work / f"ids_{n}", work / f"driver_{n}"
    if (d / PLAN).exists():
        return src, d
    rng = np.random.default_rng(seed)
    src.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(range(0, n, 2000)):
        ids = [f"{i:020x}" for i in range(s, min(s + 2000, n))]
        pq.write_table(pa.table({"id": ids}), src / f"part-{k:05d}.parquet")
    plan = Plan.make(sorted(src.glob("part-*.parquet")), DedupOptions())
    (d / "pairs").mkdir(parents=True, exist_ok=True)
    (d / "verified").mkdir(parents=True, exist_ok=True)
    (d / PLAN).write_text(json.dumps(plan.d))
    dup = np.sort(rng.choice(np.arange(1000, n), n // 10, replace=False))
    kind = rng.choice(4, len(dup), p=[0.3, 0.2, 0.3, 0.2]).astype(np.uint8)
    first = (rng.random(len(dup)) * dup).astype(np.int64)
    extra = rng.random(len(dup)) < 0.6                   # a second pair (to the predecessor) for 60%
    a = np.concatenate((first, (rng.random(extra.sum()) * dup[extra]).astype(np.int64)))
    b = np.concatenate((dup, dup[extra]))
    k = np.concatenate((kind, kind[extra]))
    k[(k < 2) & (np.arange(len(k)) >= len(dup))] = 2     # exact groups have one pair per member
    t = pairs_table(k, a, b, jaccard=np.full(len(a), 0.9, np.float32), dh=np.full(len(a), 2, np.uint8),
                    dv=np.full(len(a), 3, np.uint8))
    rng_of = plan.range_of(a)
    for r in range(plan.ranges):
        sel = t.filter(pa.array(rng_of == r))
        text = np.asarray(sel["kind"]) == 2
        write_batches(d / "pairs" / f"range-{r:05d}.arrow", [sel.filter(pa.array(~text))], PAIR_SCHEMA)
        write_batches(d / "verified" / f"range-{r:05d}.arrow", [sel.filter(pa.array(text))], PAIR_SCHEMA)
    return src, d


def bench_driver(sizes: list[int], work: Path) -> None:
    res = []
    for n in sizes:
        src, d = fake_task_outputs(n, work)
        out = subprocess.run([sys.executable, "-c", _DRIVER_ONLY, str(d), str(src)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        res.append((n, r))
        print(f"{n:,} rows: {r['pairs']:,} pairs, {r['removed']:,} removed, {r['clusters']:,} clusters; driver "
              f"{r['seconds']:.1f} s, RSS {r['base_mb']:.0f} MB before, peak {r['peak_mb']:.0f} MB "
              f"(+{r['peak_mb'] - r['base_mb']:.0f} MB)")
    if len(res) == 2:
        (n1, a), (n2, b) = res
        print(f"growth: {(b['peak_mb'] - a['peak_mb']) * 2 ** 20 / (n2 - n1):.1f} bytes per input row "
              f"({(b['peak_mb'] - a['peak_mb']) * 2 ** 20 / (b['removed'] - a['removed']):.0f} per removed row)")


# ---------------------------------------------------------------------------------------------
# speed (one core)

def bench_speed(near_docs: int, exact_rows: int) -> None:
    from datasketch import MinHash, MinHashLSH

    from mixkit.core.schema import make_row
    from mixkit.dedup import DedupOptions, find_duplicates, normalize_text

    rng = np.random.default_rng(0)
    words = _words()
    docs = [" ".join(rng.choice(words, 100)) for _ in range(near_docs)]
    rows = [make_row(source="b", origin_id=str(i), task="caption", lang="eng_Latn",
                     messages=[{"role": "assistant", "content": d}]) for i, d in enumerate(docs)]
    opts = DedupOptions(exact_text=False, exact_image=False, image_phash={"enabled": False})

    def cpu(fn):
        s = time.process_time()
        fn()
        return time.process_time() - s

    def ds_batch():
        lsh = MinHashLSH(threshold=0.8, num_perm=128, params=(13, 7))
        for i, d in enumerate(docs):
            t = normalize_text(d)
            m = MinHash(num_perm=128)
            m.update_batch([t[k:k + 5].encode("utf8") for k in range(len(t) - 4)])
            lsh.query(m)
            lsh.insert(str(i), m)

    t_ours = min(cpu(lambda: find_duplicates(rows, opts)) for _ in range(2))
    t_ds = cpu(ds_batch)
    print(f"near-dup, {near_docs} docs of 100 words, one core (CPU time): mixkit {near_docs / t_ours:,.0f} docs/s, "
          f"datasketch update_batch + MinHashLSH(13x7) {near_docs / t_ds:,.0f} docs/s -> {t_ds / t_ours:.1f}x")
    base = [" ".join(rng.choice(words, 12)) for _ in range(exact_rows)]
    for i in rng.choice(exact_rows, exact_rows // 10, replace=False):
        base[i] = "  " + base[int(rng.integers(exact_rows))].upper()
    rows = [make_row(source="b", origin_id=str(i), task="caption", lang="eng_Latn",
                     messages=[{"role": "assistant", "content": d}], id=f"{i:012x}") for i, d in enumerate(base)]
    opts = DedupOptions(near_text={"enabled": False}, exact_image=False, image_phash={"enabled": False})
    t = cpu(lambda: find_duplicates(rows, opts))
    print(f"exact text dedup, {exact_rows:,} rows, one process: {exact_rows / t:,.0f} rows/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["recall", "images", "stages", "driver", "speed"])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--per-bin", type=int, default=600)
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default=None)
    ap.add_argument("--near-docs", type=int, default=3000)
    ap.add_argument("--exact-rows", type=int, default=1_000_000)
    a = ap.parse_args()
    if a.part == "recall":
        bench_recall(a.docs, a.per_bin)
    elif a.part == "images":
        bench_images(a.sizes or [20_000, 80_000, 320_000])
    elif a.part == "stages":
        work = Path(a.work or tempfile.mkdtemp(prefix="mixkit-dedup-"))
        bench_stages(a.sizes or [50_000, 200_000], a.workers, work)
    elif a.part == "driver":
        work = Path(a.work or tempfile.mkdtemp(prefix="mixkit-dedup-"))
        bench_driver(a.sizes or [1_000_000, 4_000_000], work)
    else:
        bench_speed(a.near_docs, a.exact_rows)


if __name__ == "__main__":
    main()
