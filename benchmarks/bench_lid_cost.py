"""What the language check costs the audit and the LID filter: this tree against another (the code before a
change), on the same inputs, measured in one run as ratios.

Each measurement runs in a fresh process with PYTHONPATH pointing at one tree, so the two trees' modules never
mix; the trees alternate round by round (a shared machine's load hits both alike), and the best round counts.
Reported per tree:
- start: seconds to the first answer in a new process (an audit worker or a Ray actor pays it once): loading
  the detectors, and training the n-gram model where no cache holds it;
- audit: `audit_shards(workers=1)` over shards from benchmarks/bench_audit.py (8 languages, 50 KB images), in
  the mixkit layout (declared languages) and the img2dataset layout (no language: the check reads every
  caption), MB/s after a warm-up pass;
- filter: `LanguageFilter.check_batch_meta` over rows with those captions, and over rows with the held-out
  texts of every language (benchmarks/data/lid_heldout.tsv.gz, where the ensemble is asked most), rows/s on a
  second pass, and on the first pass (which also loads, once per process, lingua's model of each language
  it is asked about).

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_lid_cost.py --before /tmp/before [--shards 4 --samples 500 --repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Run inside the measured tree: time what `what` asks for and print one JSON line.
_CHILD = r"""
import json, sys, time
what, arg = sys.argv[1], json.loads(open(sys.argv[2], encoding="utf-8").read())
t0 = time.process_time()
if what == "start":
    from mixkit.lang.lid import LanguageIdentifier
    LanguageIdentifier().check(["Ein brauner Hund läuft am Strand entlang."], ["deu_Latn"])
    print(json.dumps({"s": time.process_time() - t0}))
elif what == "audit":
    from mixkit.audit import audit_shards
    audit_shards(arg["paths"], workers=1, progress=False)                       # warm-up: models loaded
    t = time.process_time()
    res = audit_shards(arg["paths"], workers=1, progress=False).to_dict()
    print(json.dumps({"s": time.process_time() - t, "samples": res["total_samples"]}))
else:
    from mixkit.filters import LanguageFilter, LidOptions
    rows = [{"lang": lang, "messages": [{"role": "assistant", "content": text}]} for lang, text in arg["rows"]]
    f = LanguageFilter(LidOptions())
    f.check_batch_meta(rows[:8])                                                # detectors loaded
    times = []
    for _ in range(2):       # the first pass also loads lingua's model of each language it asks about, once
        t = time.process_time()
        for i in range(0, len(rows), 256):
            f.check_batch_meta(rows[i:i + 256])
        times.append(time.process_time() - t)
    print(json.dumps({"s": times[1], "first": times[0], "rows": len(rows)}))
"""


def run(tree: Path, what: str, arg: dict, env_extra: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), **env_extra}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as fh:     # too long for argv
        json.dump(arg, fh)
        fh.flush()
        out = subprocess.run([sys.executable, "-c", _CHILD, what, fh.name], env=env, cwd=tree,
                             capture_output=True, text=True, timeout=3600)
    if out.returncode:
        raise RuntimeError(f"{what} in {tree} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def heldout_rows(n: int) -> list[tuple[str, str]]:
    """n held-out texts spread over every language (round-robin over languages, seeded order inside each)."""
    sys.path.insert(0, str(HERE))
    from lid_accuracy import heldout_texts

    per = {}
    for (lang, _kind), texts in sorted(heldout_texts("all").items()):
        per.setdefault(lang, []).extend(texts)
    rows, i = [], 0
    while len(rows) < n and any(i < len(t) for t in per.values()):
        rows += [(lang, t[i]) for lang, t in per.items() if i < len(t)]
        i += 1
    return rows[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, required=True, help="a checkout of the code to compare with")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--heldout", type=int, default=4000, help="held-out rows for the filter's second input")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_audit import SENTENCES, build

    trees = {"before": a.before.resolve(), "after": ROOT}
    with tempfile.TemporaryDirectory(prefix="bench_lid_cost_") as tmp:
        mix, i2d = build(Path(tmp), a.shards, a.samples, 50)
        captions = [(lang, f"{SENTENCES[lang]} ({i})") for i, lang in
                    zip(range(a.shards * a.samples), list(SENTENCES) * (a.shards * a.samples))]
        inputs = {
            "audit, mixkit layout (MB/s)": ("audit", {"paths": mix}, sum(map(os.path.getsize, map(Path, mix))) / 1e6),
            "audit, img2dataset layout: LID on all (MB/s)": ("audit", {"paths": i2d},
                                                             sum(map(os.path.getsize, map(Path, i2d))) / 1e6),
            "filter, captions in 8 languages (rows/s)": ("filter", {"rows": captions}, len(captions)),
            f"filter, held-out texts of every language (rows/s)": ("filter", {"rows": heldout_rows(a.heldout)},
                                                                   a.heldout),
        }
        caches = {name: Path(tmp) / f"cache-{name}" for name in trees}
        best: dict[tuple[str, str], float] = {}
        for r in range(a.repeats):
            for name, tree in trees.items():
                # start: a fresh cache folder the first round (training), the filled one after (loading)
                env = {"MIXKIT_CACHE_DIR": str(caches[name])}
                key = ("start, no cache (s)" if r == 0 else "start, cache filled (s)", name)
                best[key] = min(best.get(key, float("inf")), run(tree, "start", {}, env)["s"])
                for label, (what, arg, size) in inputs.items():
                    res = run(tree, what, arg, env)
                    best[(label, name)] = max(best.get((label, name), 0.0), size / res["s"])
                    if "first" in res:
                        first = label.replace("(rows/s)", "first pass (rows/s)")
                        best[(first, name)] = max(best.get((first, name), 0.0), size / res["first"])
                print(f"round {r + 1}/{a.repeats} {name} done", file=sys.stderr, flush=True)
    print(f"one core per process (CPU time), best of {a.repeats}; before = {trees['before']}, after = {trees['after']}")
    print(f"{'':55s} {'before':>9s} {'after':>9s}  after/before")
    labels = ["start, no cache (s)", "start, cache filled (s)"]
    for label in inputs:
        labels += [label] + ([label.replace("(rows/s)", "first pass (rows/s)")] if label.startswith("filter") else [])
    for label in labels:
        b, f = best[(label, "before")], best[(label, "after")]
        print(f"{label:55s} {b:9.2f} {f:9.2f}  {f / b:5.2f}x")


if __name__ == "__main__":
    main()
