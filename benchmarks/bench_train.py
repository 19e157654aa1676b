"""Trainer benchmark.

CPU (always): the WebDataset loader's samples/s (parse, chat template, bucketing, image decode
+ resize + normalise) against the tiny model's consumption rate (forward + backward + AdamW
on already-loaded batches), on the same tiny shards; and the loader at the real 384 px / 729
image tokens, which is what a GPU run must be fed.

GPU: tokens/s and MFU of Centurio's stage-1 and stage-2 steps at Qwen2.5-7B + SigLIP-SO400M
shapes are measured by benchmarks/bench_gpu.py (`make bench-gpu`), with the trainer's own step.

    python benchmarks/bench_train.py                       # CPU figures
    python benchmarks/bench_train.py --ddp                 # DDP with text-only batches, 2 CPU ranks
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
    for grid in (1, 2):
        big = ImageSpec(size=384, mean=(0.5,) * 3, std=(0.5,) * 3, seq_len=729, grid=grid)
        what = "384 px" if grid == 1 else "multi-scale: 384 global + 2x2 tiles of 768"
        for w in (1, 2):
            r = loader_rate(urls, cfg, built, big, w, max(5, args.batches // 4))
            print(f"loader real shapes ({what}, 729 img tokens), workers={w}: {r:,.0f} samples/s")
    stream = ShardStream(urls, cfg.data, built.tokenizer, built.image_token_id, built.image, seed=0, epoch=0)
    batches = list(itertools.islice(iter(make_loader(stream, 0)), 8))
    s, t = model_rate(built, cfg, batches, args.steps)
    print(f"tiny model consumption (fwd+bwd+AdamW, fp32, LoRA): {s:,.0f} samples/s, {t:,.0f} tokens/s")
    r1 = loader_rate(urls, cfg, built, built.image, 1, args.batches)
    print(f"ratio loader(1 worker) / model consumption: {r1 / s:.2f}x")


def _ddp_worker(rank: int, world: int, port: int, mode: str, steps: int, out: dict):
    """One gloo rank: tiny-multiscale (vision tower trained) on a fixed mix of image and text-only
    micro-batches; the step logic of loop.train (touch on text-only batches in "touch" mode)."""
    import os
    import torch.distributed as dist

    from mixkit.train.config import load_config
    from mixkit.train.loop import _seed_all, image_params, init_distributed, make_optimizer, wrap

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny-multiscale.yaml")
    cfg.run.ddp_unused = "find" if mode == "find" else "touch"
    d = init_distributed()
    _seed_all(0)
    built = build(cfg, tempfile.mkdtemp())
    if mode in ("static", "none"):
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(built.model, static_graph=mode == "static")
    else:
        model = wrap(built.model, cfg, d)
    opt = make_optimizer(model, cfg, d.device)
    touch = image_params(model) if mode == "touch" else []
    g = torch.Generator().manual_seed(rank)
    n_img, size, views = built.image.seq_len, built.image.size, built.image.views.n_views
    def batch(with_image: bool):
        ids = torch.randint(10, 600, (8, 96), generator=g)
        if with_image:
            ids[:, 2:2 + n_img] = built.image_token_id
        return ids, (torch.randn(8 * views, 3, size, size, generator=g) if with_image else None)
    pattern = [True, False, True, True, False, True, False, False]       # image / text-only micro-batches
    times, error = [], None
    try:
        for i in range(steps):
            ids, pix = batch(pattern[i % len(pattern)])
            t = time.perf_counter()
            logits = model(input_ids=ids, pixel_values=pix, use_cache=False).logits
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
            if pix is None and touch:
                loss = loss + 0.0 * sum(p.sum() for p in touch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t)
    except Exception as e:          # "none"/"static" are expected to fail here
        error = f"{type(e).__name__}: {str(e).splitlines()[0][:160]} (step {len(times) + 1})"
    if rank == 0:
        out[mode] = {"times": times, "error": error}
    dist.destroy_process_group()


def ddp_bench(args):
    """find_unused_parameters vs a zero-weighted touch (2 CPU ranks, gloo), and what fails without either."""
    import statistics

    import torch.multiprocessing as mp

    manager = mp.Manager()
    out = manager.dict()
    results: dict[str, list[float]] = {}
    port = 29700
    for rep in range(args.repeats):
        for mode in ("touch", "find") + (("none", "static") if rep == 0 else ()):
            port += 1
            ctx = mp.spawn(_ddp_worker, args=(2, port, mode, args.steps, out), nprocs=2, join=False)
            try:
                deadline, done = time.monotonic() + args.ddp_timeout, False
                while not done and time.monotonic() < deadline:  # join() returns False after each exit
                    done = ctx.join(timeout=max(1.0, deadline - time.monotonic()))
            except Exception as e:      # a rank that raised outside the try (should not happen)
                out[mode], done = {"times": [], "error": repr(e)[:160]}, True
            if not done:                # one rank waits in a collective the other never joins
                for p in ctx.processes:
                    p.kill()
                out[mode] = {"times": [], "error": f"hung (killed after {args.ddp_timeout} s)"}
            r = out.get(mode, {"times": [], "error": "no result"})
            if r["error"]:
                print(f"{mode}: fails: {r['error']}")
            else:
                t = r["times"][3:]                                        # warm-up excluded
                results.setdefault(mode, []).append(statistics.median(t))
                print(f"{mode} (repeat {rep + 1}): median step {statistics.median(t) * 1000:.1f} ms over {len(t)} steps")
    for mode, meds in results.items():
        print(f"{mode}: median of repeats {statistics.median(meds) * 1000:.1f} ms/step")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddp", action="store_true", help="DDP with text-only batches: find_unused_parameters vs "
                    "zero-weighted touch, 2 CPU ranks (gloo)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ddp-timeout", type=int, default=120, help="seconds before a hung --ddp mode is killed")
    ap.add_argument("--samples", type=int, default=400)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if args.ddp:
        ddp_bench(args)
    else:
        cpu_bench(args)


if __name__ == "__main__":
    main()
