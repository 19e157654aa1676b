"""Segmentation on the shapes of public instruction sets: the dry-run summary, and throughput
before and after a change.

    python benchmarks/bench_segmentation.py [--n 1000] [--before main] [--repeats 5]

1. `mixkit translate --dry-run`'s summary (translation.files.translate_file(dry=True), identity
   backend, so token counts are estimated) on the bundled demo data (recipes/demo_data/
   instruct_en.json and captions_en.parquet), on N conversations written by
   scripts/make_instruct_sample.py and on the hand-written sample
   (tests/data/instruct_handwritten.jsonl, written independently of that generator): share of
   characters that would reach the model, protected pieces by kind, rows where nothing would
   be translated. Printed as markdown tables; the hand-written sample before and after.
2. Throughput: every message of the N conversations (and of the hand-written sample) through
   Segmenter.segment, in conversations per CPU second, for this checkout and for
   `git archive <before> translation` unpacked in a temporary folder (the rest of the code is
   this checkout's). Each side runs in its own process, the two alternating --repeats times;
   the best of each side and their ratio are printed, with the share of characters each one
   sends to the model.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs in a subprocess with either version of translation/ first on the path.
TIMER = r"""
import json, re, sys, time
from translation.segment import Segmenter
convs = [[m["content"] for m in json.loads(l)["messages"]] for l in open(sys.argv[1], encoding="utf-8")]
placeholder = re.compile(r"\[\s*\d{1,2}\s*\]")
seg = Segmenter()
best = None
for _ in range(int(sys.argv[2])):
    sent = total = units = 0
    t0 = time.process_time()
    for conv in convs:
        for m in conv:
            t = seg.segment(m)
            units += len(t.units)
            total += len(m)
            sent += sum(len(placeholder.sub("", u.text)) if u.spans else len(u.text) for u in t.units)
    dt = time.process_time() - t0
    best = dt if best is None else min(best, dt)
print(json.dumps({"conv_per_s": len(convs) / best, "share": sent / total, "units": units}))
"""


# The dry-run summary, in a subprocess with either version of translation/ first on the path.
SUMMARY = r"""
import json, sys
from translation.files import translate_file
from translation.options import TranslateOptions
res = translate_file(sys.argv[1], ["fra_Latn"], sys.argv[2], TranslateOptions(model="identity", backend="identity"),
                     dry=True)
print(json.dumps(res["summary"]))
"""
HANDWRITTEN = ROOT / "tests" / "data" / "instruct_handwritten.jsonl"


def dry_run_summary(path: Path, out: Path, pythonpath: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath or str(ROOT))
    res = subprocess.run([sys.executable, "-c", SUMMARY, str(path), str(out)], env=env, check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(res.stdout.strip().splitlines()[-1])


def summary_tables(summaries: dict[str, dict]) -> str:
    head = "| data | rows | characters | share sent to the model | segments | rows with nothing to translate |\n" \
           "|---|---|---|---|---|---|\n"
    rows = "".join(f"| {name} | {s['rows']:,} | {s['chars']:,} | {s['model_share']:.1%} | {s['segments']:,} | "
                   f"{s['untranslated_rows']} |\n" for name, s in summaries.items())
    kinds = sorted({k for s in summaries.values() for k in s["protected"]},
                   key=lambda k: -sum(s["protected"].get(k, 0) for s in summaries.values()))
    names = list(summaries)
    head2 = "| kept from the model | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    rows2 = "".join(f"| {k} | " + " | ".join(f"{summaries[n]['protected'].get(k, 0):,}" for n in names) + " |\n"
                    for k in kinds)
    return head + rows + "\n" + head2 + rows2


def checkout_translation(ref: str, dest: Path) -> None:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "translation"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tf:
        tf.extractall(dest, filter="data")


def time_side(pythonpath: str, sample: Path, loops: int) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    out = subprocess.run([sys.executable, "-c", TIMER, str(sample), str(loops)], env=env, check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout
    return json.loads(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="conversations in the generated sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", default="main", help="git ref whose translation/ is 'before'")
    ap.add_argument("--repeats", type=int, default=5, help="alternating runs of each side (best kept)")
    ap.add_argument("--loops", type=int, default=2, help="passes over the sample inside one run (best kept)")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_instruct_sample import make_sample

    with tempfile.TemporaryDirectory(prefix="bench_seg_") as tmp:
        tmp = Path(tmp)
        sample = tmp / "sample.jsonl"
        with open(sample, "w", encoding="utf-8") as f:
            for row in make_sample(a.n, a.seed):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        before_dir = tmp / "before"
        before_dir.mkdir()
        checkout_translation(a.before, before_dir)
        sides = {"before": f"{before_dir}{os.pathsep}{ROOT}", "after": str(ROOT)}

        demo = ROOT / "recipes" / "demo_data"
        hand = f"hand-written ({HANDWRITTEN.name})"
        summaries = {
            "demo instruct_en.json": dry_run_summary(demo / "instruct_en.json", tmp / "d1"),
            "demo captions_en.parquet": dry_run_summary(demo / "captions_en.parquet", tmp / "d2"),
            f"{a.n:,} instruction-set conversations": dry_run_summary(sample, tmp / "d3"),
            f"{hand}, before ({a.before})": dry_run_summary(HANDWRITTEN, tmp / "d4", sides["before"]),
            f"{hand}, after": dry_run_summary(HANDWRITTEN, tmp / "d5"),
        }
        print(summary_tables(summaries))

        for name, path, loops in ((f"{a.n:,} conversations", sample, a.loops),
                                  (f"the {hand} sample", HANDWRITTEN, a.loops * 4)):
            best: dict[str, dict] = {}
            for _ in range(a.repeats):
                for side, pythonpath in sides.items():
                    r = time_side(pythonpath, path, loops)
                    if side not in best or r["conv_per_s"] > best[side]["conv_per_s"]:
                        best[side] = r
            b, n = best["before"], best["after"]
            print(f"segmentation of {name}, conversations per CPU second (best of {a.repeats} alternating runs):")
            print(f"  before ({a.before}): {b['conv_per_s']:,.0f}/s, {b['units']:,} units, {b['share']:.1%} of characters sent")
            print(f"  after  (this checkout): {n['conv_per_s']:,.0f}/s, {n['units']:,} units, {n['share']:.1%} of characters sent")
            print(f"  ratio after/before: {n['conv_per_s'] / b['conv_per_s']:.2f}")


if __name__ == "__main__":
    main()
