"""GPU benchmark in one run, offline, one JSON summary (`make bench-gpu`).

Parts, each in its own process under a hard time cap (a part that runs over is killed and reported
as "timeout"; the others still run), all inside one budget (default 400 s, within 7 minutes with
start-up):
  matmul_peak   bf16 matmul (8192^3) FLOP/s measured on this device: the second MFU denominator.
  translation   NLLB-600M shape (config in benchmarks/nllb_shape.py, random weights, built on the
                device in bf16) through the project's TranslateStage vs a plain transformers generate
                loop (batch 16, input order), both bf16, the same sentences in the same order, each
                side capped; source lengths from the rate tokenizer (nllb_shape.py: NLLB's tokens per
                sentence, checked against two estimates, reported under "tokenizer").
  train_stage1  the trainer's optimizer step (mixkit.train.loop.optimizer_step, make_optimizer,
  train_stage2  make_scheduler) for configs/centurio-qwen2.5-7b-stage1.yaml and centurio-qwen2.5-7b.yaml
                as they are (LoRA r/alpha/dropout, gradient checkpointing, clipping, warmup + cosine,
                grad_accum, batch, max_seq_len, multi-scale views, stage 2's trained vision tower) with
                the weights replaced by the Qwen2.5-7B and SigLIP-SO400M/14@384 presets (random,
                built directly on the device). tokens/s, model FLOP/s with the LoRA FLOPs counted
                (mixkit/train/metrics.py), MFU against the datasheet peak and the measured matmul peak.
Every part reports its peak GPU memory (torch.cuda.max_memory_allocated; on CPU the process's
peak RSS).

  python benchmarks/bench_gpu.py --json runs/bench-gpu.json          # on a CUDA machine
  MIXKIT_BENCH_DEVICE=cpu python benchmarks/bench_gpu.py             # the same code at tiny sizes on CPU
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

PARTS = ("matmul_peak", "translation", "train_stage1", "train_stage2")
TRAIN_CONFIGS = {"train_stage1": "centurio-qwen2.5-7b-stage1.yaml", "train_stage2": "centurio-qwen2.5-7b.yaml"}

# Per mode: sizes and caps (seconds). "cap" is the hard limit of the part's process; the timed loops
# inside stop earlier by themselves ("timed_s").
SIZES = {
    "gpu": {
        "matmul": {"n": 8192, "timed_s": 10, "cap": 45},
        "translation": {"arch": "nllb-600m", "tokenizer": "rate", "n": 8192, "new_tokens": 64,
                        "batch_tokens": 65536, "batch_rows": 1024, "side_s": 40, "cap": 200},
        "train": {"vision": "preset:siglip-so400m-384", "llm": "preset:qwen2.5-7b", "timed_s": 30,
                  "max_steps": 20, "cap": 130},
        "budget": 400,
    },
    "cpu": {
        "matmul": {"n": 256, "timed_s": 1, "cap": 60},
        "translation": {"arch": "tiny", "tokenizer": "rate-tiny", "n": 48, "new_tokens": 8,
                        "batch_tokens": 2048, "batch_rows": 16, "side_s": 20, "cap": 240},
        "train": {"vision": "preset:tiny-siglip", "llm": "preset:tiny-qwen2", "timed_s": 3, "max_steps": 3,
                  "lora_r": 8, "batch_size": 2, "max_seq_len": 64, "cap": 180},
        "budget": 400,
    },
}


def mode() -> str:
    m = os.environ.get("MIXKIT_BENCH_DEVICE", "cuda")
    if m not in ("cuda", "cpu"):
        raise SystemExit(f"MIXKIT_BENCH_DEVICE={m!r}: use cuda (default) or cpu (tiny sizes, checks the script)")
    return "gpu" if m == "cuda" else "cpu"


def device() -> str:
    import torch

    if mode() == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or MIXKIT_BENCH_DEVICE=cpu for the tiny CPU dry run")
    return "cuda"


def sync(dev: str) -> None:
    import torch

    if dev == "cuda":
        torch.cuda.synchronize()


def reset_peak(dev: str) -> None:
    import torch

    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_memory(dev: str) -> dict:
    import resource

    import torch

    if dev == "cuda":
        return {"peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2), "memory": "cuda_max_allocated"}
    return {"peak_memory_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "memory": "cpu_process_max_rss"}


# -- parts (each runs in its own process) ---------------------------------------------------------------
def part_matmul(sizes: dict, dev: str) -> dict:
    import torch

    n = sizes["n"]
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    reset_peak(dev)
    for _ in range(3):
        a @ b
    sync(dev)
    best, rounds, t_end = 0.0, 0, time.perf_counter() + sizes["timed_s"]
    while time.perf_counter() < t_end or rounds < 3:
        reps = 10 if dev == "cuda" else 2
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(dev)
        best = max(best, reps * 2 * n**3 / (time.perf_counter() - t))
        rounds += 1
    return {"n": n, "dtype": "bfloat16", "rounds": rounds, "tflops": round(best / 1e12, 4), "flops": best,
            **peak_memory(dev)}


def part_translation(sizes: dict, dev: str) -> dict:
    import torch
    from transformers import AutoTokenizer

    from bench_translation import plain_loop, stage_run
    from nllb_shape import build_checkpoint, rate_report, sentences

    tmp = Path(tempfile.mkdtemp(prefix="bench-gpu-tr-"))
    t0 = time.perf_counter()
    model_dir = str(build_checkpoint(sizes["arch"], tmp / "model", device=dev, dtype="bfloat16",
                                     tokenizer=sizes["tokenizer"]))
    if dev == "cuda":
        torch.cuda.empty_cache()
    build_s = time.perf_counter() - t0
    texts = sentences(sizes["n"])
    tok = AutoTokenizer.from_pretrained(model_dir)
    out = {"arch": sizes["arch"], "dtype": "bfloat16", "sentences_available": len(texts),
           "new_tokens": sizes["new_tokens"], "target": "swh_Latn", "build_s": round(build_s, 1),
           "tokenizer": rate_report(tok, texts[:2000])}
    reset_peak(dev)
    t, done, tin, tout, cpu = plain_loop(model_dir, texts, "swh_Latn", sizes["new_tokens"], dev, "bfloat16",
                                         cap=sizes["side_s"])
    out["plain_loop"] = {"batch": 16, "cap_s": sizes["side_s"], "done": done, "seconds": round(t, 2),
                         "sentences_per_s": round(done / t, 2), "source_tokens_per_s": round(tin / t),
                         "generated_tokens_per_s": round(tout / t), **peak_memory(dev)}
    if dev == "cuda":
        torch.cuda.empty_cache()
    reset_peak(dev)
    t, done, tin, tout, st, cpu = stage_run(model_dir, texts, "swh_Latn", sizes["new_tokens"], dev, "bfloat16",
                                            sizes["batch_tokens"], str(tmp / "cache"),
                                            batch_rows=sizes["batch_rows"], cap=sizes["side_s"])
    out["stage"] = {"batch_tokens": sizes["batch_tokens"], "batch_rows": sizes["batch_rows"], "cap_s": sizes["side_s"],
                    "done": done, "seconds": round(t, 2), "sentences_per_s": round(done / t, 2),
                    "source_tokens_per_s": round(tin / t), "generated_tokens_per_s": round(tout / t),
                    "generate_calls": st["model_calls"],
                    "padding_waste": round(1 - st["tokens_in"] / max(1, st["padded_tokens"]), 3), **peak_memory(dev)}
    out["peak_memory_gib"] = max(out["plain_loop"]["peak_memory_gib"], out["stage"]["peak_memory_gib"])
    out["memory"] = out["stage"]["memory"]
    out["ratio_sentences_per_s"] = round(out["stage"]["sentences_per_s"] / out["plain_loop"]["sentences_per_s"], 2)
    return out


def synthetic_micro_batches(cfg, built, dev: str, seed: int) -> list[dict]:
    """grad_accum micro-batches as the loader shapes them: batch_size rows of max_seq_len tokens, one
    image each (its image tokens after a short prompt), the prompt and image masked from the loss."""
    import torch

    from mixkit.train.encode import IGNORE
    from mixkit.train.parts import llava

    g = torch.Generator().manual_seed(seed)
    B, T = cfg.data.batch_size, cfg.data.max_seq_len
    n_img, views, size = built.image.seq_len, built.image.views.n_views, built.image.size
    vocab = min(len(built.tokenizer), llava(built.model).config.text_config.vocab_size)
    out = []
    for _ in range(cfg.optim.grad_accum):
        ids = torch.randint(10, vocab, (B, T), generator=g)
        ids[ids == built.image_token_id] = 10
        ids[:, 4:4 + n_img] = built.image_token_id
        labels = ids.clone()
        labels[:, :4 + n_img + 16] = IGNORE                   # prompt + image + question: not trained on
        out.append({"input_ids": ids.to(dev), "labels": labels.to(dev),
                    "attention_mask": torch.ones_like(ids).to(dev),
                    "pixel_values": torch.randn(B * views, 3, size, size, generator=g).to(dev), "n_images": B})
    return out


def part_train(name: str, sizes: dict, dev: str) -> dict:
    import torch

    from mixkit.train.config import load_config
    from mixkit.train.encode import IGNORE
    from mixkit.train.loop import Dist, make_optimizer, make_scheduler, optimizer_step, precision_context
    from mixkit.train.metrics import FlopCounter
    from mixkit.train.model import build

    cfg = load_config(ROOT / "configs" / TRAIN_CONFIGS[name])
    cfg.model.vision, cfg.model.llm, cfg.model.tokenizer = sizes["vision"], sizes["llm"], "preset:tiny"
    cfg.model.init_from = None                           # stage 2 starts from random weights here
    if "lora_r" in sizes:                                # CPU dry run: tiny shapes, the same code
        cfg.lora.r, cfg.lora.alpha = sizes["lora_r"], 2 * sizes["lora_r"]
        cfg.data.batch_size, cfg.data.max_seq_len = sizes["batch_size"], sizes["max_seq_len"]
    torch.manual_seed(cfg.run.seed)
    t0 = time.perf_counter()
    built = build(cfg, tempfile.mkdtemp(prefix="bench-gpu-train-"), device=dev)
    sync(dev)
    build_s = time.perf_counter() - t0
    model = built.model
    on_device = {p.device.type for p in model.parameters()}
    d = Dist(device=torch.device(dev))
    optimizer = make_optimizer(model, cfg, d.device)
    scheduler = make_scheduler(optimizer, cfg)
    autocast = precision_context(cfg, d.device)
    flops = FlopCounter(model, cfg.freeze.llm, cfg.freeze.vision, views_per_image=built.image.views.n_views)
    micro = synthetic_micro_batches(cfg, built, dev, seed=0)
    n_target = float(sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in micro))
    seq_lens = [int(x) for b in micro for x in b["attention_mask"].sum(1)]
    n_images = sum(b["n_images"] for b in micro)
    model.train()
    reset_peak(dev)
    t = time.perf_counter()
    first_loss, _ = optimizer_step(model, micro, optimizer, scheduler, cfg, d, n_target, autocast)   # warm-up
    sync(dev)
    warmup_s = time.perf_counter() - t
    times, losses, t_end = [], [], time.perf_counter() + sizes["timed_s"]
    while len(times) < sizes["max_steps"] and (time.perf_counter() < t_end or len(times) < 2):
        t = time.perf_counter()
        loss, grad_norm = optimizer_step(model, micro, optimizer, scheduler, cfg, d, n_target, autocast)
        sync(dev)
        times.append(time.perf_counter() - t)
        losses.append(loss / n_target)
    step_s = statistics.median(times)
    fl = flops.step_flops(sum(seq_lens), seq_lens, n_images, built.image.seq_len)
    lora_fl = 6 * flops.n_lora * sum(seq_lens)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "config": f"configs/{TRAIN_CONFIGS[name]}", "vision": cfg.model.vision, "llm": cfg.model.llm,
        "built_on": sorted(on_device), "build_s": round(build_s, 1),
        "lora": {"r": cfg.lora.r, "alpha": cfg.lora.alpha, "dropout": cfg.lora.dropout, "params": flops.n_lora},
        "freeze": {"vision": cfg.freeze.vision, "projector": cfg.freeze.projector, "llm": cfg.freeze.llm},
        "grad_checkpointing": cfg.run.grad_checkpointing, "clip_grad": cfg.optim.clip_grad,
        "schedule": {"warmup_ratio": cfg.optim.warmup_ratio, "max_steps": cfg.optim.max_steps,
                     "lr_now": scheduler.get_last_lr()},
        "batch": {"micro_batch": cfg.data.batch_size, "grad_accum": cfg.optim.grad_accum,
                  "seq_len": cfg.data.max_seq_len, "image_tokens": built.image.seq_len,
                  "views_per_image": built.image.views.n_views, "image_size": built.image.size},
        "params_trainable": n_trainable, "warmup_step_s": round(warmup_s, 2), "steps_timed": len(times),
        "step_s": round(step_s, 4), "tokens_per_step": sum(seq_lens),
        "tokens_per_s": round(sum(seq_lens) / step_s, 1), "samples_per_s": round(len(seq_lens) / step_s, 3),
        "model_flops_per_step": fl, "lora_flops_share": round(lora_fl / fl, 4),
        "model_tflops_per_s": round(fl / step_s / 1e12, 3),
        "loss_first": first_loss / n_target, "loss_last": losses[-1], "grad_norm_last": float(grad_norm),
        **peak_memory(dev),
    }


def run_part(name: str, out: Path) -> None:
    sizes = SIZES[mode()]
    dev = device()
    if name == "matmul_peak":
        res = part_matmul(sizes["matmul"], dev)
    elif name == "translation":
        res = part_translation(sizes["translation"], dev)
    elif name == "tokenizer":                          # built ahead, on CPU, while the GPU parts run
        from nllb_shape import rate_tokenizer

        rate_tokenizer(Path(tempfile.mkdtemp()), tiny=sizes["translation"]["tokenizer"] == "rate-tiny")
        res = {}
    else:
        res = part_train(name, sizes["train"], dev)
    out.write_text(json.dumps(res, default=float))


# -- the driver --------------------------------------------------------------------------------------
def cap_of(name: str, sizes: dict) -> float:
    key = {"matmul_peak": "matmul", "translation": "translation"}.get(name, "train")
    return sizes[key]["cap"]


def environment(dev: str) -> dict:
    import torch
    import transformers

    from mixkit.train.metrics import peak_flops

    env = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
           "cuda": torch.version.cuda, "device": "cpu"}
    if dev == "cuda":
        env["device"] = torch.cuda.get_device_name(0)
        env["datasheet_bf16_tflops"] = (peak_flops(torch.device("cuda")) or 0) / 1e12 or None
    return env


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default="runs/bench-gpu.json", help="where the summary is written (also printed)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ",".join(PARTS))
    ap.add_argument("--budget", type=float, default=None, help="seconds for all parts (default 400)")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.part:
        return run_part(a.part, Path(a.out))
    t_start = time.monotonic()
    sizes = SIZES[mode()]
    dev = device()
    budget = a.budget or float(os.environ.get("MIXKIT_BENCH_BUDGET_S", sizes["budget"]))
    parts = [p for p in a.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    summary = {"mode": "gpu" if mode() == "gpu" else "cpu-tiny (checks the script; figures mean nothing)",
               **environment(dev), "budget_s": budget, "parts": {}}
    tmp = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    here = str(Path(__file__).resolve())
    tokenizer_proc = None
    if "translation" in parts:                       # CPU work, overlapped with the GPU parts before it
        tokenizer_proc = subprocess.Popen([sys.executable, here, "--part", "tokenizer", "--out", str(tmp / "tok.json")],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for name in sorted(parts, key=["matmul_peak", "train_stage1", "train_stage2", "translation"].index):
        left = budget - (time.monotonic() - t_start)
        if name == "translation" and tokenizer_proc is not None:
            try:
                tokenizer_proc.wait(timeout=max(1.0, left - 60))
            except subprocess.TimeoutExpired:
                tokenizer_proc.kill()
            left = budget - (time.monotonic() - t_start)
        cap = min(cap_of(name, sizes), left)
        if cap < 10:
            summary["parts"][name] = {"status": "skipped", "reason": f"budget of {budget:.0f} s spent"}
            continue
        out = tmp / f"{name}.json"
        t = time.monotonic()
        print(f"[bench-gpu] {name}: cap {cap:.0f} s", file=sys.stderr, flush=True)
        try:
            p = subprocess.run([sys.executable, here, "--part", name, "--out", str(out)], env=env, timeout=cap,
                               capture_output=True, text=True)
            if p.returncode == 0 and out.is_file():
                res = {"status": "ok", **json.loads(out.read_text())}
            else:
                res = {"status": "error", "returncode": p.returncode, "stderr_tail": p.stderr[-2000:]}
        except subprocess.TimeoutExpired:
            res = {"status": "timeout", "cap_s": round(cap)}
        res["wall_s"] = round(time.monotonic() - t, 1)
        summary["parts"][name] = res
    add_mfu(summary)
    summary["wall_s"] = round(time.monotonic() - t_start, 1)
    text = json.dumps(summary, indent=2, default=float)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(text + "\n")
    print(text)
    return summary


def add_mfu(summary: dict) -> None:
    """MFU of each training part against the datasheet peak and against the measured matmul peak."""
    measured = summary["parts"].get("matmul_peak", {}).get("flops")
    datasheet = summary.get("datasheet_bf16_tflops")
    for name in TRAIN_CONFIGS:
        r = summary["parts"].get(name)
        if not r or r.get("status") != "ok":
            continue
        achieved = r["model_flops_per_step"] / r["step_s"]
        r["mfu_datasheet"] = round(achieved / (datasheet * 1e12), 4) if datasheet else None
        r["mfu_measured_matmul"] = round(achieved / measured, 4) if measured else None


if __name__ == "__main__":
    main()
