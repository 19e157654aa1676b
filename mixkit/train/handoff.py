"""What one training stage hands the next: every part of the model that differs from the base models.

The base models are the pretrained vision tower and LLM as loaded from their checkpoints
(`model.vision`, `model.llm`; a preset is built from a fixed seed, so it too is the same base every
time). A training stage's output -- `final/trainable.pt` and the model state of each checkpoint --
holds:
  - the new parts, always, trained or frozen: the projector and the LoRA adapters;
  - every parameter this training stage trained (a vision tower at 1e-6, a fully tuned LLM);
  - every parameter an earlier training stage handed it (`model.init_from`), trained now or not:
    a projector trained in stage 1 and frozen in stage 2 is in stage 2's output.
A frozen base parameter that no training stage changed is left out (the next one loads it from its
checkpoint). So base models + this file = the trained model, bit for bit; each tensor is saved in
the dtype it has (fp32 master weights for trained parts).
"""
from __future__ import annotations

from collections import Counter

import torch
from torch.distributed.tensor import DTensor

from mixkit.train.config import ConfigError
from mixkit.train.parts import LORA, NEW_PARTS, PROJECTOR, modules_of, part_of

TRAINABLE = "trainable.pt"


def kept_names(model, carried=frozenset()) -> list[str]:
    """Names of the parameters a training stage's output holds (see the module docstring), in model order."""
    return [n for n, p in model.named_parameters()
            if p.requires_grad or n in carried or part_of(n) in NEW_PARTS]


def gather(model, names, keep: bool = True) -> dict[str, torch.Tensor]:
    """Whole CPU copies of the named parameters. FSDP2 shards are all-gathered: a collective, so every
    rank calls this with the same names; ranks that pass keep=False drop the copies (only rank 0 writes)."""
    wanted = set(names)
    out = {}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n not in wanted:
                continue
            t = p.full_tensor() if isinstance(p, DTensor) else p
            if keep:
                out[n] = t.detach().to("cpu", copy=True)
    return out


def tensors_per_part(names) -> str:
    """'projector 4, lora 56' -- tensors per part, for logs."""
    counts = Counter(part_of(n) for n in names)
    return ", ".join(f"{part} {k}" for part, k in sorted(counts.items()))


def check_fits(model, state: dict, source: str, *, resuming: bool = False) -> None:
    """Every name known and every shape equal; handed on: no projector or LoRA tensor missing; resumed: no
    trained tensor missing. One-line ConfigErrors (`model.init_from` or the config does not fit) that say
    what to do."""
    params = dict(model.named_parameters())
    unknown = sorted(set(state) - set(params))
    fix = ("resume with the config it was written with, or start over with --no-resume" if resuming else
           "use the model and lora settings of the training stage that wrote it")
    if unknown:
        raise ConfigError(f"{source}: {len(unknown)} tensors match no parameter of this model, e.g. {unknown[:2]}: "
                         f"it was written for another model or LoRA; {fix}")
    for n, t in state.items():
        if tuple(t.shape) != tuple(params[n].shape):
            raise ConfigError(f"{source}: {n} has shape {tuple(t.shape)} there but {tuple(params[n].shape)} here "
                             f"(lora.r, model.multiscale_grid, tokenizer?); {fix}")
    if resuming:
        missing = [n for n, p in params.items() if p.requires_grad and n not in state]
        if missing:
            raise ConfigError(f"{source}: {len(missing)} trained tensors are missing, e.g. {missing[0]}; {fix}")
        return
    for part in NEW_PARTS:
        names = [n for n in params if part_of(n) == part]
        missing = [n for n in names if n not in state]
        if not missing or (part == LORA and len(missing) == len(names)):
            continue                      # no adapters in the file: the earlier training stage had no LoRA
        if part == PROJECTOR and len(missing) == len(names):
            raise ConfigError(f"{source}: holds no projector, yet every training stage's output does (mixkit before "
                             "0.2 dropped a frozen one): re-run the training stage that wrote it, or remove "
                             "model.init_from to start from a new projector")
        raise ConfigError(f"{source}: {len(missing)} of {len(names)} {part} tensors are missing, e.g. {missing[0]}; "
                         f"{fix}")


def load_trainable(model, state: dict[str, torch.Tensor], source: str) -> set[str]:
    """Load an earlier training stage's output into a freshly built model (before any wrapping); returns
    the names loaded, which this training stage's output then keeps. Fails on unknown names, on a missing
    projector or LoRA tensor and on a shape mismatch. Trained parameters keep their fp32 master dtype; a
    frozen part is widened to the saved dtype when that is wider (a projector trained in fp32, frozen in a
    bf16 model), so its values continue bit for bit."""
    check_fits(model, state, source)
    params = dict(model.named_parameters())
    wider: dict[str, torch.dtype] = {}
    for n, t in state.items():
        part = part_of(n)
        if not params[n].requires_grad and part != LORA and t.dtype.itemsize > params[n].dtype.itemsize:
            wider[part] = t.dtype
    for part, dtype in wider.items():
        for module in modules_of(model, part):     # whole modules, so none mixes dtypes
            module.to(dtype)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t.to(params[n].dtype))
    return set(state)
