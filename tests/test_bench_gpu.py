"""`make bench-gpu`'s script, run the way its CPU switch runs it: every part present and sane."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_gpu_cpu_dry_run_reports_every_part(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "MIXKIT_BENCH_DEVICE": "cpu", "MIXKIT_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--json", str(out), "--budget", "1100"], env=env,
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(out.read_text())
    assert json.loads(p.stdout) == s                          # the summary is printed too
    assert s["mode"].startswith("cpu-tiny") and s["device"] == "cpu" and s["wall_s"] <= s["budget_s"]
    parts = s["parts"]
    assert set(parts) == {"matmul_peak", "translation", "train_stage1", "train_stage2"}
    for name, r in parts.items():
        assert r["status"] == "ok", (name, r)
        assert r["memory"] == "cpu_process_max_rss" and r["peak_memory_gib"] > 0
    assert parts["matmul_peak"]["flops"] > 0
    tr = parts["translation"]
    for side in ("plain_loop", "stage"):
        assert tr[side]["done"] > 0 and tr[side]["sentences_per_s"] > 0 and tr[side]["cap_s"] > 0
    assert tr["ratio_sentences_per_s"] > 0
    assert tr["tokenizer"]["tokens"] > 0 and tr["tokenizer"]["nllb_estimate_whole_words"] > 0
    for name, config, vision_frozen in (("train_stage1", "centurio-qwen2.5-7b-stage1.yaml", True),
                                        ("train_stage2", "centurio-qwen2.5-7b.yaml", False)):
        r = parts[name]
        assert r["config"] == f"configs/{config}" and r["built_on"] == ["cpu"]
        # what the config sets (the CPU run shrinks only shapes and LoRA rank)
        assert r["lora"]["dropout"] == 0.05 and r["grad_checkpointing"] is True and r["clip_grad"] == 1.0
        assert r["schedule"]["warmup_ratio"] == 0.03 and r["batch"]["grad_accum"] == 2
        assert r["freeze"]["vision"] is vision_frozen and r["batch"]["views_per_image"] == 5
        assert r["tokens_per_s"] > 0 and 0 < r["lora_flops_share"] < 1 and r["steps_timed"] >= 2
        assert r["mfu_datasheet"] is None and r["mfu_measured_matmul"] > 0     # no datasheet peak for a CPU
        assert r["loss_first"] > 0 and r["loss_last"] > 0
