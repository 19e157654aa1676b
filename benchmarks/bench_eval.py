"""SMPQA generation and evaluation throughput. Prints figures; see benchmarks/results_eval.md.

    python benchmarks/bench_eval.py [--langs 10] [--per-lang 20]

- coverage check of every label of the full benchmark (100 languages x 100 plots), no rendering;
- rendering: images/s for one language per script (the charts of ocr_synth.charts);
- baseline for the rendering ratio: the same charts drawn by render_chart with random labels
  of the same pools and no question/shard work (our overhead = questions + shards + checks);
- evaluation: questions/s of the tiny trained model on CPU (greedy, 6 new tokens).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lang", type=int, default=20)
    args = ap.parse_args()
    from mixkit.lang import languages
    from mixkit.evaluation.smpqa import SmpqaOptions, coverage_report, generate_smpqa, label_pool, plot_specs
    from ocr_synth.charts import render_chart

    t = time.perf_counter()
    rep = coverage_report("all")
    dt = time.perf_counter() - t
    n_labels = sum(v.get("labels", 0) for v in rep.values())
    sources = Counter(v["source"].split(":")[0] for v in rep.values() if "source" in v)
    print(f"coverage check, 100 languages x 100 plots: {n_labels} distinct labels in {dt:.2f} s "
          f"(failing: {sum(len(v.get('failing', [])) for v in rep.values())}; no labels: "
          f"{sorted(c for c, v in rep.items() if 'error' in v)}; label sources: {dict(sources)})")

    by_script = {}
    for l in languages.centurio_languages():
        by_script.setdefault(l.script, l.code)
    langs = sorted(by_script.values())
    opts = SmpqaOptions(per_kind=args.per_lang // 2, latin_control=False)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        idx = generate_smpqa(langs, d, options=opts, progress=False)
        dt = time.perf_counter() - t
    n_img = sum(v["plots"] for v in idx["languages"].values())
    mb = sum(v["bytes"] for v in idx["languages"].values()) / 1e6
    print(f"generate_smpqa: {len(langs)} languages (one per script), {n_img} images in {dt:.2f} s "
          f"= {n_img / dt:.1f} images/s; {mb / n_img * 1000:.0f} kB per image (2 samples each)")

    specs = plot_specs(0, opts)
    t = time.perf_counter()
    for lang in langs:
        pool, _ = label_pool(lang, opts)
        rng = np.random.default_rng(0)
        for s in specs:
            labels = [pool[i] for i in rng.choice(len(pool), s.n, replace=False)]
            render_chart(labels, [float(v) for v in s.values], s.kind, lang, rng, width=s.width, height=s.height)
    base = time.perf_counter() - t
    print(f"baseline render_chart only: {n_img / base:.1f} images/s; generate_smpqa / baseline time = {dt / base:.2f}")

    from mixkit.evaluation.harness import evaluate
    from mixkit.train import load_config, train
    from mixkit.train.tiny import write_tiny_shards
    with tempfile.TemporaryDirectory() as d:
        write_tiny_shards(f"{d}/shards", n=40)
        cfg = load_config("configs/tiny.yaml")
        cfg.optim.max_steps, cfg.data.num_workers, cfg.run.log_every = 3, 0, 100
        final = train(cfg, shards=f"{d}/shards/*.tar", out_dir=f"{d}/run", resume=False)["final_dir"]
        generate_smpqa(["deu_Latn", "tha_Thai"], f"{d}/smpqa", options=SmpqaOptions(per_kind=2, latin_control=False),
                       progress=False)
        t = time.perf_counter()
        r = evaluate(final, suite="smpqa", langs=["deu_Latn", "tha_Thai"], data_dir=f"{d}/smpqa",
                     max_new_tokens=6, device="cpu", progress=False)
        dt = time.perf_counter() - t
        nq = sum(v["n_reading"] + v["n_grounding"] for v in r["smpqa"]["by_lang"].values())
        print(f"evaluate (tiny model, CPU, batch 8, 6 new tokens): {nq} questions in {dt:.2f} s = {nq / dt:.1f} q/s")


if __name__ == "__main__":
    main()
