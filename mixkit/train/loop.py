"""The training loop: one function, `train(cfg)`, used by `mixkit train`, torchrun and Ray Train.

Loss normalisation: a step's loss is (sum of token losses over every micro-batch of the
accumulation window on every rank) / (number of assistant tokens in that window on all
ranks). The token count is all-reduced before the forward passes; each micro-batch
backpropagates sum_loss * world / global_tokens, and DDP/FSDP's gradient averaging over ranks
(/world) turns that into the exact global mean. Not a mean of per-batch means.
"""
from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from mixkit.train.checkpoint import latest_checkpoint, load_checkpoint, load_trainable_file, save_checkpoint
from mixkit.train.config import ConfigError, TrainConfig
from mixkit.train.data import ShardStream, expand_shards, make_loader, same_file_key
from mixkit.train.encode import IGNORE
from mixkit.train.handoff import TRAINABLE, gather, kept_names, load_trainable, tensors_per_part
from mixkit.train.loss import summed_token_loss, target_tokens
from mixkit.train.metrics import FlopCounter, peak_flops
from mixkit.train.model import build, save_pretrained_llava
from mixkit.train.parts import IMAGE_PARTS, LLM, LORA, PROJECTOR, VISION, llava, part_of
from mixkit.train.sinks import MetricSinks
from mixkit.train.validate import validation_loss


# -- distributed setup ------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """torchrun/Ray set RANK, WORLD_SIZE, MASTER_ADDR; NCCL on GPUs, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size(), local,
                    torch.device("cuda", local) if cuda else torch.device("cpu"))
    return Dist(device=torch.device("cuda", local) if cuda else torch.device("cpu"))


def _all_reduce(values: list[float], d: Dist) -> list[float]:
    if d.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.tolist()


def _sum_counters(c: Counter, d: Dist) -> Counter:
    if d.world == 1:
        return Counter(c)
    out = [None] * d.world
    dist.all_gather_object(out, dict(c))
    total = Counter()
    for o in out:
        total.update(o)
    return total


# -- schedule, optimizer, wrapping -------------------------------------------------------
def cosine_with_warmup(max_steps: int, warmup_ratio: float):
    warmup = max(1, round(max_steps * warmup_ratio)) if warmup_ratio > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, max_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def make_optimizer(model, cfg: TrainConfig, device: torch.device):
    """AdamW with one param group per part (LoRA adapters learn at the llm's rate)."""
    o = cfg.optim
    lrs = {PROJECTOR: o.projector_lr or o.lr, VISION: o.vision_lr, LLM: o.lr}
    groups = {k: [] for k in lrs}
    for name, p in model.named_parameters():
        if p.requires_grad:
            part = part_of(name)
            groups[LLM if part == LORA else part].append(p)
    param_groups = [{"params": ps, "lr": lrs[k], "name": k} for k, ps in groups.items() if ps]
    return torch.optim.AdamW(param_groups, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay,
                             fused=device.type == "cuda")


def wrap(model, cfg: TrainConfig, d: Dist):
    if d.world == 1:
        return model
    if cfg.run.distributed == "fsdp2":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
            if d.device.type == "cuda" else None
        kw = {"mp_policy": mp} if mp else {}
        for layer in llava(model).model.language_model.layers:     # one FSDP unit per decoder layer
            fully_shard(layer, **kw)
        fully_shard(model, **kw)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # static_graph is no option: a text-only batch uses a different parameter set than an image batch
    return DDP(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None,
               find_unused_parameters=cfg.run.ddp_unused == "find")


def image_params(model) -> list[torch.nn.Parameter]:
    """Trained parameters only image batches reach (projector, vision tower): a text-only batch
    leaves them without gradient, which DDP's reducer (and FSDP2's reduce-scatter) must not see."""
    return [p for n, p in model.named_parameters() if p.requires_grad and part_of(n) in IMAGE_PARTS]


def with_dummy_image(b: dict, built) -> dict:
    """FSDP2 reduces each unit's gradients only on ranks where they exist, so a rank whose micro-batch
    is text-only while another's has images would hang. Append one all-ignored row of image tokens
    (zero pixels): every rank then runs the vision tower and projector; the loss is unchanged (the
    row has no labels) and their gradient from it is exactly zero. A zero-weighted touch cannot do
    this under FSDP2: outside forward the parameters are sharded DTensors (a sum is a collective)."""
    n_img, views, size = built.image.seq_len, built.image.views.n_views, built.image.size
    ids, labels, mask = b["input_ids"], b["labels"], b["attention_mask"]
    T = max(ids.shape[1], n_img)
    pad = built.tokenizer.pad_token_id
    new_ids = torch.full((ids.shape[0] + 1, T), pad, dtype=ids.dtype)
    new_labels = torch.full((ids.shape[0] + 1, T), IGNORE, dtype=labels.dtype)
    new_mask = torch.zeros((ids.shape[0] + 1, T), dtype=mask.dtype)
    new_ids[:-1, :ids.shape[1]], new_labels[:-1, :ids.shape[1]], new_mask[:-1, :ids.shape[1]] = ids, labels, mask
    new_ids[-1, :n_img], new_mask[-1, :n_img] = built.image_token_id, 1
    return {**b, "input_ids": new_ids, "labels": new_labels, "attention_mask": new_mask,
            "pixel_values": torch.zeros(views, 3, size, size)}


def optimizer_step(wrapped, micro: list[dict], optimizer, scheduler, cfg: TrainConfig, d: Dist, n_global: float,
                   autocast, touch=()) -> tuple[float, torch.Tensor]:
    """One optimizer step over the micro-batches of an accumulation window (the loop's step, and
    benchmarks/bench_gpu.py's): forward under `autocast`, summed token loss over the window's
    global token count, backward (gradients synchronised on the last micro-batch only), clipping
    at optim.clip_grad, AdamW and schedule step. Returns (this rank's summed token loss, grad norm)."""
    loss_sum_local = 0.0
    for i, b in enumerate(micro):
        last = i == len(micro) - 1
        sync = contextlib.nullcontext() if last or not hasattr(wrapped, "no_sync") else wrapped.no_sync()
        with sync:
            tok_loss = summed_token_loss(wrapped, b, d.device, autocast)
            loss = tok_loss * d.world / max(n_global, 1.0)
            if b["pixel_values"] is None and touch:
                # text-only batch: a zero-weighted touch gives the image-side parameters a (zero)
                # gradient, so every DDP bucket is reduced (cheaper than find_unused_parameters)
                loss = loss + 0.0 * sum(p.sum() for p in touch)
            loss.backward()
        loss_sum_local += float(tok_loss.detach())
    grad_norm = torch.nn.utils.clip_grad_norm_([p for p in wrapped.parameters() if p.requires_grad],
                                               cfg.optim.clip_grad)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum_local, grad_norm


def precision_context(cfg: TrainConfig, device: torch.device):
    """bf16 autocast (run.precision bf16, or auto on CUDA), else no autocast: a context factory."""
    use_bf16 = cfg.run.precision == "bf16" or (cfg.run.precision == "auto" and device.type == "cuda")
    return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext


def make_scheduler(optimizer, cfg: TrainConfig):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(cfg.optim.max_steps, cfg.optim.warmup_ratio))


# -- data position -------------------------------------------------------------------------
@dataclass
class DataPosition:
    epoch: int = 0
    consumed: dict = field(default_factory=dict)     # worker -> batches of this epoch already trained on
    samples: int = 0
    by_lang: Counter = field(default_factory=Counter)
    bad: Counter = field(default_factory=Counter)
    shards: set = field(default_factory=set)         # shard files this rank has read from
    by_task: Counter = field(default_factory=Counter)
    last_worker: int = -1                            # loader worker of the last batch taken (-1: none)

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "consumed": {str(k): v for k, v in self.consumed.items()},
                "samples": self.samples, "by_lang": dict(self.by_lang), "bad": dict(self.bad),
                "shards": sorted(self.shards), "by_task": dict(self.by_task), "last_worker": self.last_worker}

    @classmethod
    def from_dict(cls, d: dict) -> "DataPosition":
        return cls(d["epoch"], {int(k): v for k, v in d["consumed"].items()}, d["samples"],
                   Counter(d.get("by_lang", {})), Counter(d.get("bad", {})), set(d.get("shards", [])),
                   Counter(d.get("by_task", {})), d.get("last_worker", -1))


def batches(urls, cfg: TrainConfig, built, d: Dist, pos: DataPosition):
    """Endless batches for this rank; a new epoch reshuffles shards. Updates `pos` as batches are taken."""
    while True:
        fresh = not pos.consumed
        stream = ShardStream(urls, cfg.data, built.tokenizer, built.image_token_id, built.image,
                             seed=cfg.run.seed, epoch=pos.epoch, rank=d.rank, world_size=d.world,
                             skip=pos.consumed, chat_template=cfg.model.chat_template,
                             first_worker=pos.last_worker + 1)      # resumed: the worker that was next
        got = 0
        for b in make_loader(stream, cfg.data.num_workers):
            pos.consumed[b["worker"]] = b["index"] + 1
            pos.last_worker = b["worker"]
            pos.bad.update(b["stats"])
            pos.by_lang.update(b["langs"])
            pos.by_task.update(b["tasks"])
            pos.samples += len(b["langs"])
            pos.shards.update(Path(u).name for u in b["urls"])
            got += 1
            yield b
        if got == 0 and fresh:
            raise RuntimeError(f"rank {d.rank}: an epoch over {len(urls)} shard(s) gave no trainable sample; "
                               f"bad-sample counts: {dict(pos.bad)}")
        pos.epoch += 1
        pos.consumed, pos.last_worker = {}, -1


# -- the loop ------------------------------------------------------------------------------
def _rng_state(d: Dist) -> dict:
    """This rank's torch RNG (LoRA dropout draws from it), for the checkpoint's data state (JSON)."""
    enc = lambda t: base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")   # noqa: E731
    st = {"cpu": enc(torch.get_rng_state())}
    if d.device.type == "cuda":
        st["cuda"] = enc(torch.cuda.get_rng_state(d.device))
    return st


def _set_rng_state(st: dict, d: Dist) -> None:
    dec = lambda v: torch.frombuffer(bytearray(base64.b64decode(v)), dtype=torch.uint8)   # noqa: E731
    torch.set_rng_state(dec(st["cpu"]))
    if d.device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(dec(st["cuda"]), d.device)


def _seed_all(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _log(path: Path | None, record: dict, main: bool, echo: bool = True):
    if not main:
        return
    if path is not None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    if echo:
        keys = ("step", "loss", "lr", "grad_norm", "tokens_per_s", "samples_per_s", "mfu", "data_wait")
        parts = []
        for k in keys:
            v = record.get(k)
            if v is None:
                parts.append(f"{k}=n/a" if k == "mfu" else "")
            else:
                parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
        print(" ".join(p for p in parts if p), flush=True)


def train(cfg: TrainConfig, *, shards: list[str] | str | None = None, out_dir: str | None = None,
          max_steps: int | None = None, resume: bool | None = None) -> dict:
    """Train per `cfg`; returns a summary (steps, losses, paths, per-language sample counts)."""
    if shards is not None:
        cfg.data.shards = [shards] if isinstance(shards, str) else list(shards)
    if out_dir is not None:
        cfg.run.out_dir = out_dir
    if resume is not None:
        cfg.run.resume = resume
    stop_at = max_steps or cfg.optim.max_steps          # --max-steps stops early; the schedule keeps optim.max_steps
    d = init_distributed()
    out = Path(cfg.run.out_dir)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
    urls = expand_shards(cfg.data.shards)
    val_urls = expand_shards(cfg.data.val_shards) if cfg.data.val_shards else []
    real = lambda us: {same_file_key(u): u for u in us}        # noqa: E731 (./x, abs paths, links alike)
    val_real = real(val_urls)
    overlap = sorted(val_real[r] for r in set(val_real) & set(real(urls)))
    if overlap:
        raise ConfigError(f"held-out shards are also training shards: {overlap[:3]}")
    _seed_all(cfg.run.seed)

    work = Path(tempfile.mkdtemp(prefix=f"mixkit-train-r{d.rank}-"))
    built = build(cfg, work)
    model = built.model
    carried = set()
    if cfg.model.init_from:                 # an earlier training stage: all it hands on continues, frozen or not
        carried = load_trainable(model, load_trainable_file(cfg.model.init_from), source=cfg.model.init_from)
        if d.main:
            print(f"continuing from {cfg.model.init_from}: {tensors_per_part(carried)} tensors", flush=True)
    kept = kept_names(model, carried)       # this training stage's output: all that differs from the base models
    model.to(d.device)
    flops = FlopCounter(model, cfg.freeze.llm, cfg.freeze.vision, views_per_image=built.image.views.n_views)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    wrapped = wrap(model, cfg, d)
    optimizer = make_optimizer(wrapped, cfg, d.device)
    scheduler = make_scheduler(optimizer, cfg)
    step, pos = 0, DataPosition()
    ck = latest_checkpoint(out) if cfg.run.resume else None
    if ck is not None:
        meta = load_checkpoint(ck, model, wrapped, optimizer, scheduler)
        step = meta["step"]
        if meta["world_size"] == d.world:
            pos = DataPosition.from_dict(meta["data"][d.rank])
            if "rng" in meta["data"][d.rank]:              # dropout continues as if never stopped
                _set_rng_state(meta["data"][d.rank]["rng"], d)
        else:                                          # the stream is split per rank: start a fresh epoch
            pos = DataPosition(epoch=max(x["epoch"] for x in meta["data"]) + 1)
        if d.main:
            print(f"resumed from {ck} at step {step} (epoch {pos.epoch})", flush=True)
    elif cfg.run.resume is False and d.main and (out / "checkpoints").exists():
        shutil.rmtree(out / "checkpoints")
    log_path = out / "log.jsonl" if d.main else None
    sinks = MetricSinks(out, cfg.run, cfg.to_dict(), enabled=d.main)
    _log(log_path, {"event": "start", "step": step, "training_stage": cfg.training_stage, "world_size": d.world,
                    "params_total": n_total, "params_trainable": n_trainable, "shards": len(urls),
                    "device": str(d.device)}, d.main, echo=False)
    if d.main:
        print(f"training stage {cfg.training_stage}: {n_trainable:,} trainable of {n_total:,} params, "
              f"{len(urls)} shards, world {d.world}, device {d.device}", flush=True)

    autocast = precision_context(cfg, d.device)
    peak = peak_flops(d.device)
    # one process needs no touch: AdamW simply skips parameters without gradient
    fsdp = cfg.run.distributed == "fsdp2" and d.world > 1
    touch = image_params(wrapped) if cfg.run.ddp_unused == "touch" and d.world > 1 and not fsdp else []
    dummy_image = fsdp and bool(image_params(wrapped))
    stream = batches(urls, cfg, built, d, pos)
    wrapped.train()
    first_loss = last_loss = None
    window = Counter()
    t_window = time.perf_counter()
    while step < stop_at:
        t_wait = time.perf_counter()
        micro = [next(stream) for _ in range(cfg.optim.grad_accum)]
        data_wait = time.perf_counter() - t_wait
        n_local = sum(target_tokens(b) for b in micro)
        n_global = _all_reduce([float(n_local)], d)[0]
        fed = [with_dummy_image(b, built) if dummy_image and b["pixel_values"] is None else b for b in micro]
        loss_sum_local, grad_norm = optimizer_step(wrapped, fed, optimizer, scheduler, cfg, d, n_global, autocast, touch)
        step += 1

        seq_lens = [int(x) for b in micro for x in b["attention_mask"].sum(1)]
        n_images = sum(b["n_images"] for b in micro)
        loss_sum, tokens, samples, fl, text_only = _all_reduce(
            [loss_sum_local, float(sum(seq_lens)), float(len(seq_lens)),
             flops.step_flops(sum(seq_lens), seq_lens, n_images, built.image.seq_len),
             float(sum(b["pixel_values"] is None for b in micro))], d)
        last_loss = loss_sum / max(n_global, 1.0)
        first_loss = last_loss if first_loss is None else first_loss
        window.update(tokens=tokens, samples=samples, flops=fl, wait=data_wait, steps=1, loss=last_loss,
                      text_only=text_only)
        if step % cfg.run.log_every == 0 or step == stop_at:
            if d.device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t_window
            by_lang = _sum_counters(pos.by_lang, d)
            bad = _sum_counters(pos.bad, d)
            by_task = _sum_counters(pos.by_task, d)
            rec = {"step": step, "loss": window["loss"] / window["steps"], "lr": scheduler.get_last_lr()[0],
                   "grad_norm": float(grad_norm), "tokens_per_s": window["tokens"] / dt,
                   "samples_per_s": window["samples"] / dt,
                   "mfu": (window["flops"] / dt / (peak * d.world)) if peak else None,
                   "data_wait": window["wait"] / dt, "step_time": dt / window["steps"],
                   "text_only_batches": int(window["text_only"]), "epoch": pos.epoch,
                   "samples_seen": int(sum(by_lang.values())),
                   "samples_by_lang": dict(sorted(by_lang.items())),
                   "samples_by_task": dict(sorted(by_task.items())), "bad_samples": dict(bad)}
            _log(log_path, rec, d.main)
            if d.main:
                sinks.write(step, rec)
            window, t_window = Counter(), time.perf_counter()
        if val_urls and cfg.run.eval_every and (step % cfg.run.eval_every == 0 or step == stop_at):
            inner = wrapped.module if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel) else wrapped
            val = validation_loss(inner, val_urls, cfg, built, d, autocast, lambda v: _all_reduce(v, d))
            _log(log_path, {"step": step, **val}, d.main, echo=False)
            if d.main:
                print(f"step={step} val_loss={val['val_loss']:.4g} ({val['val_tokens']} tokens)", flush=True)
                sinks.write(step, val, prefix="val")
        if step % cfg.run.save_every == 0 or step == stop_at:
            save_checkpoint(out, step, gather(model, kept, keep=d.main), wrapped, optimizer, scheduler,
                            {**pos.to_dict(), "rng": _rng_state(d)}, rank=d.rank, world=d.world,
                            keep=cfg.run.keep_checkpoints, config=cfg.to_dict())

    summary = {"steps": step, "first_loss": first_loss, "last_loss": last_loss, "out_dir": str(out),
               "checkpoint": str(latest_checkpoint(out)), "samples_by_lang": dict(_sum_counters(pos.by_lang, d)),
               "bad_samples": dict(_sum_counters(pos.bad, d)),
               "samples_by_task": dict(_sum_counters(pos.by_task, d))}
    if cfg.run.export_final and step >= cfg.optim.max_steps:
        summary["final_dir"] = str(export_final(model, kept, built, cfg, d, out / "final"))
    _log(log_path, {"event": "end", **summary}, d.main, echo=False)
    sinks.close()
    shutil.rmtree(work, ignore_errors=True)
    if d.world > 1:
        dist.barrier()
    return summary


def export_final(model, kept: list[str], built, cfg: TrainConfig, d: Dist, final: Path) -> Path:
    """final/: merged Llava weights + processor (plain transformers), adapter/, and trainable.pt (what
    the next training stage continues from: every kept part, frozen ones included)."""
    state = gather(model, kept, keep=d.main)
    if d.main:
        if cfg.run.distributed == "fsdp2" and d.world > 1:
            # parameters are sharded: rebuild the base models on CPU and load every part that differs
            work = Path(tempfile.mkdtemp(prefix="mixkit-export-"))
            model = build(cfg, work).model
            load_trainable(model, state, source="the FSDP2 gather")
            shutil.rmtree(work, ignore_errors=True)
        model = model.to("cpu")
        final.mkdir(parents=True, exist_ok=True)
        torch.save(state, final / TRAINABLE)
        save_pretrained_llava(model, built.tokenizer, built.image_processor, cfg, final, merge=cfg.run.merge_lora)
        print(f"saved {final} (LlavaForConditionalGeneration + processor)", flush=True)
    if d.world > 1:
        dist.barrier()
    return final
