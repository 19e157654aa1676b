"""Audit throughput (MB/s of shards) vs reading the same files with plain tarfile + json.loads.

Builds shards with ~50 KB images (random bytes behind a JPEG signature; the audit never
decodes images) in two sample formats — mixkit (declared lang, multi-language) and img2dataset
(.jpg + .txt + metadata .json without lang, so every sample goes through LID) — then times,
best of --repeats, on the same files (OS page cache warm for all):
  plain     tarfile.open(path, "r|*"), read every member, json.loads the .json members
  audit/1   mixkit.audit.audit_shards(workers=1)
  audit/N   mixkit.audit.audit_shards(workers=N)

    python benchmarks/bench_audit.py --shards 4 --samples 500 --workers 2

--against DIR compares two versions of the audit on the same shards instead: this checkout and
the mixkit checkout at DIR (e.g. a `git worktree` of main), each in its own process with
workers=1, interleaved; it prints their CPU-time ratio (> 1: this checkout is faster).

    python benchmarks/bench_audit.py --against /path/to/main --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import webdataset as wds

from mixkit.audit import audit_shards
from mixkit.core.schema import make_row
from mixkit.core.shard_writer import ShardWriter

SENTENCES = {
    "eng_Latn": "A brown dog runs across a green meadow next to a small river while two children watch it from a wooden bridge.",
    "deu_Latn": "Ein brauner Hund läuft über eine grüne Wiese neben einem kleinen Fluss, während zwei Kinder ihn von einer Holzbrücke aus beobachten.",
    "fra_Latn": "Un chien brun court à travers une prairie verte près d'une petite rivière pendant que deux enfants le regardent depuis un pont en bois.",
    "spa_Latn": "Un perro marrón corre por un prado verde junto a un pequeño río mientras dos niños lo miran desde un puente de madera.",
    "rus_Cyrl": "Коричневая собака бежит по зелёному лугу рядом с небольшой рекой, а двое детей смотрят на неё с деревянного моста.",
    "jpn_Jpan": "茶色の犬が小さな川のそばの緑の草原を走り、二人の子供が木の橋からそれを見ています。",
    "hin_Deva": "एक भूरा कुत्ता एक छोटी नदी के पास हरे घास के मैदान में दौड़ रहा है जबकि दो बच्चे लकड़ी के पुल से उसे देख रहे हैं।",
    "arb_Arab": "كلب بني يركض عبر مرج أخضر بجوار نهر صغير بينما يراقبه طفلان من جسر خشبي.",
}
PROMPT = "<image>\nDescribe the image in detail."


def build(root: Path, shards: int, samples: int, image_kb: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    langs = list(SENTENCES)
    mix_dir, i2d_dir = root / "mixkit", root / "img2dataset"
    rows = []
    for i in range(shards * samples):
        lang = langs[i % len(langs)]
        img = b"\xff\xd8\xff\xe0" + rng.randbytes(image_kb * 1024 - 4)
        text = f"{SENTENCES[lang]} ({i})"
        rows.append(make_row(source="captions", origin_id=str(i), task="caption", lang=lang, images=[img],
                             messages=[{"role": "user", "content": PROMPT}, {"role": "assistant", "content": text}]))
    with ShardWriter(mix_dir, max_samples=samples) as w:
        w.write_all(rows)
    i2d_dir.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with wds.TarWriter(str(i2d_dir / f"{s:05d}.tar")) as w:
            for k, r in enumerate(rows[s * samples:(s + 1) * samples]):
                key = f"{s:05d}{k:04d}"
                w.write({"__key__": key, "jpg": r["images"][0], "txt": r["messages"][1]["content"],
                         "json": {"key": key, "url": f"http://example.com/{key}.jpg", "status": "success",
                                  "caption": r["messages"][1]["content"], "width": 256, "height": 256}})
    return sorted(map(str, mix_dir.glob("*.tar"))), sorted(map(str, i2d_dir.glob("*.tar")))


def plain(paths: list[str]) -> int:
    n = 0
    for p in paths:
        with tarfile.open(p, "r|*") as tf:
            for m in tf:
                data = tf.extractfile(m).read()
                if m.name.endswith(".json"):
                    json.loads(data)
                    n += 1
    return n


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process). CPU time is the steadier figure on a shared
    machine; it is only meaningful for work done in this process (plain, audit workers=1)."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


# Run in a child process whose sys.path starts with one checkout: the audit's CPU seconds.
_CHILD = """
import json, sys, time
from mixkit.audit import audit_shards
paths = json.loads(sys.argv[1])
audit_shards(paths[:1], workers=1, progress=False)           # warm: imports, the LID model, caches
c = time.process_time()
audit_shards(paths, workers=1, progress=False)
print(time.process_time() - c)
"""


def child_cpu(checkout: str, paths: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": checkout}
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(paths)], env=env, check=True,
                         capture_output=True, text=True, cwd=checkout)
    return float(out.stdout.strip().splitlines()[-1])


def compare(here: str, other: str, sets: list[tuple[str, list[str]]], repeats: int) -> None:
    print(f"CPU seconds of audit_shards(workers=1), best of {repeats}, interleaved: {here} vs {other}")
    for name, paths in sets:
        runs: dict[str, list[float]] = {here: [], other: []}
        for _ in range(repeats):
            for checkout in runs:
                runs[checkout].append(child_cpu(checkout, paths))
        a, b = min(runs[here]), min(runs[other])
        print(f"  {name}: this {a:.3f} s, other {b:.3f} s, ratio other/this {b / a:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--samples", type=int, default=500, help="samples per shard")
    ap.add_argument("--image-kb", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--against", metavar="DIR", help="another mixkit checkout: compare its audit with this one's")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_audit_") as tmp:
        mix, i2d = build(Path(tmp), args.shards, args.samples, args.image_kb)
        print(f"{args.shards} shards x {args.samples} samples, {args.image_kb} KB images; "
              f"{os.cpu_count()} CPUs")
        if args.against:
            here = str(Path(__file__).resolve().parents[1])
            compare(here, str(Path(args.against).resolve()), [("mixkit format", mix), ("img2dataset format", i2d)],
                    args.repeats)
            return
        for name, paths in (("mixkit format (declared lang)", mix), ("img2dataset format (no lang: LID all)", i2d)):
            mb = sum(os.path.getsize(p) for p in paths) / 1e6
            res = audit_shards(paths, workers=1, progress=False).to_dict()
            assert res["total_samples"] == args.shards * args.samples and not res["errors"]
            runs = {"plain": [], "audit1": [], "auditN": []}
            for _ in range(args.repeats):           # interleaved, so load changes hit all three alike
                runs["plain"].append(timed(lambda: plain(paths)))
                runs["audit1"].append(timed(lambda: audit_shards(paths, workers=1, progress=False)))
                runs["auditN"].append(timed(lambda: audit_shards(paths, workers=args.workers, progress=False)))
            wall = {k: min(w for w, _ in v) for k, v in runs.items()}
            cpu = {k: min(c for _, c in v) for k, v in runs.items()}
            n = res["total_samples"]
            print(f"\n{name}: {mb:.1f} MB, {n} samples, LID checked "
                  f"{sum(r['lid_checked'] for r in res['by_lang'].values())}, detected {res['detected_samples']}")
            print(f"  plain tarfile+json.loads  wall {mb / wall['plain']:7.1f} MB/s  cpu {mb / cpu['plain']:7.1f} MB/s")
            print(f"  audit workers=1           wall {mb / wall['audit1']:7.1f} MB/s  cpu {mb / cpu['audit1']:7.1f} MB/s"
                  f"  ratio wall {wall['plain'] / wall['audit1']:.2f}  cpu {cpu['plain'] / cpu['audit1']:.2f}")
            print(f"  audit workers={args.workers:<2}          wall {mb / wall['auditN']:7.1f} MB/s"
                  f"{'':22}ratio wall {wall['plain'] / wall['auditN']:.2f}")


if __name__ == "__main__":
    main()
