"""Trainer benchmark.

CPU (always): the WebDataset loader's samples/s (parse, chat template, bucketing, image decode
+ resize + normalise) against the tiny model's consumption rate (forward + backward + AdamW
on already-loaded batches), on the same tiny shards; and the loader at the real 384 px / 729
image tokens, which is what a GPU run must be fed.

GPU (when CUDA is present): tokens/s and MFU of a 7B-class LoRA configuration with random
weights and real shapes (SigLIP-SO400M/14@384 + Qwen2.5-7B or Aya-Expanse-8B, bf16 weights,
LoRA r=256 on all LLM linears, SDPA), one device.

    python benchmarks/bench_train.py                       # CPU figures
    python benchmarks/bench_train.py --gpu --llm qwen2.5-7b --batch 4 --seq 2048
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mixkit.train.config import config_from_dict
from mixkit.train.data import ImageSpec, ShardStream, make_loader
from mixkit.train.encode import IGNORE
from mixkit.train.metrics import FlopCounter, peak_flops
from mixkit.train.model import build
from mixkit.train.tiny import write_tiny_shards


def loader_rate(urls, cfg, built, image: ImageSpec, workers: int, n_batches: int) -> float:
    stream = ShardStream(urls, cfg.data, built.tokenizer, built.image_token_id, image, seed=0, epoch=0)
    cfg.data.resampled = False
    it = iter(make_loader(stream, workers))
    next(it)                                               # worker start-up excluded
    t, n = time.perf_counter(), 0
    for b in itertools.islice(it, n_batches):
        n += len(b["langs"])
    rate = n / (time.perf_counter() - t)
    if hasattr(it, "_shutdown_workers"):                  # idle prefetching workers would steal the CPU
        it._shutdown_workers()
    return rate


def model_rate(built, cfg, batches, steps: int) -> tuple[float, float]:
    model = built.model
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    def step(b):
        logits = model(input_ids=b["input_ids"], pixel_values=b["pixel_values"],
                       attention_mask=b["attention_mask"], use_cache=False).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), b["labels"][:, 1:].reshape(-1),
                               ignore_index=IGNORE)
        loss.backward()
        opt.step()
        opt.zero_grad()
    step(batches[0])
    t, n, toks = time.perf_counter(), 0, 0
    for b in itertools.islice(itertools.cycle(batches), steps):
        step(b)
        n += b["input_ids"].shape[0]
        toks += int(b["attention_mask"].sum())
    dt = time.perf_counter() - t
    return n / dt, toks / dt


def cpu_bench(args):
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    urls = write_tiny_shards(tmp / "shards", n=args.samples, samples_per_shard=50)
    cfg = config_from_dict({"model": {"vision": "preset:tiny-siglip", "llm": "preset:tiny-qwen2",
                                      "tokenizer": "preset:tiny", "vision_feature_layer": -1},
                            "data": {"batch_size": 8, "max_seq_len": 2048, "shuffle_buffer": 64, "bucket_buffer": 32,
                                     "resampled": True, "epoch_batches": 100000}})
    built = build(cfg, tmp / "work")
    print(f"machine: {torch.get_num_threads()} torch threads, CPU; {len(urls)} shards, {args.samples} samples")
    for w in (0, 1, 2):
        r = loader_rate(urls, cfg, built, built.image, w, args.batches)
        print(f"loader tiny (32 px, 16 img tokens), workers={w}: {r:,.0f} samples/s")
    big = ImageSpec(size=384, mean=(0.5,) * 3, std=(0.5,) * 3, seq_len=729)
    for w in (1, 2):
        r = loader_rate(urls, cfg, built, big, w, max(5, args.batches // 4))
        print(f"loader real shapes (384 px, 729 img tokens), workers={w}: {r:,.0f} samples/s")
    stream = ShardStream(urls, cfg.data, built.tokenizer, built.image_token_id, built.image, seed=0, epoch=0)
    batches = list(itertools.islice(iter(make_loader(stream, 0)), 8))
    s, t = model_rate(built, cfg, batches, args.steps)
    print(f"tiny model consumption (fwd+bwd+AdamW, fp32, LoRA): {s:,.0f} samples/s, {t:,.0f} tokens/s")
    r1 = loader_rate(urls, cfg, built, built.image, 1, args.batches)
    print(f"ratio loader(1 worker) / model consumption: {r1 / s:.2f}x")


def gpu_bench(args):
    dev = torch.device("cuda")
    cfg = config_from_dict({
        "model": {"vision": "preset:siglip-so400m-384", "llm": f"preset:{args.llm}", "tokenizer": "preset:tiny",
                  "dtype": "bfloat16", "attn_implementation": args.attn},
        "lora": {"r": 256, "alpha": 512}, "run": {"grad_checkpointing": args.grad_ckpt}})
    built = build(cfg, tempfile.mkdtemp())
    model = built.model.to(dev)
    flops = FlopCounter(model, freeze_llm=True, freeze_vision=True)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=True)
    n_img = built.image.seq_len
    B, T = args.batch, args.seq
    vocab = model.config.text_config.vocab_size
    ids = torch.randint(10, min(vocab, 100000), (B, T), device=dev)
    ids[:, 5:5 + n_img] = built.image_token_id
    labels = ids.clone()
    labels[:, :T // 2] = IGNORE
    pix = torch.randn(B, 3, built.image.size, built.image.size, device=dev, dtype=torch.bfloat16)
    mask = torch.ones_like(ids)
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=ids, pixel_values=pix, attention_mask=mask, use_cache=False).logits
        loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, vocab), labels[:, 1:].reshape(-1),
                               ignore_index=IGNORE)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / args.steps
    fl = flops.step_flops(B * T, [T] * B, B * n_img)
    peak = peak_flops(dev)
    print(f"{torch.cuda.get_device_name(dev)}: {args.llm} + SigLIP-SO400M, LoRA r=256, bf16, batch {B} x {T} "
          f"(729 image tokens each), grad_ckpt={args.grad_ckpt}, attn={args.attn}")
    print(f"  {B * T / dt:,.0f} tokens/s, {B / dt:.2f} samples/s, step {dt * 1000:.0f} ms, "
          f"MFU {fl / dt / peak:.1%}" if peak else "  MFU n/a (unknown device peak)")
    print(f"  peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu", action="store_true", help="run the 7B-class GPU benchmark (needs CUDA)")
    ap.add_argument("--llm", default="qwen2.5-7b", choices=["qwen2.5-7b", "aya-expanse-8b"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--grad-ckpt", action="store_true")
    ap.add_argument("--samples", type=int, default=400)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if args.gpu:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu needs CUDA; no GPU figures measured on this machine")
        gpu_bench(args)
    else:
        cpu_bench(args)


if __name__ == "__main__":
    main()
