"""Checkpoints of the model state, optimizer, scheduler, step and data position.

The model state is what the training stage hands on (handoff.py: every part that differs from the
base models, frozen ones included, so a checkpoint can also start the next training stage). The
optimizer state comes from torch.distributed.checkpoint's state-dict API (full, CPU), so the same
code serves one process, DDP and FSDP2; rank 0 writes. A checkpoint is written to a temporary
directory and renamed when complete, then `latest` is updated, so a kill at any moment leaves the
previous checkpoint usable.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict, set_state_dict

from mixkit.train.handoff import TRAINABLE, check_fits

STATE = "state.pt"
META = "meta.json"


def _gather(obj, world: int) -> list:
    if world == 1:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def save_checkpoint(out_dir: str | Path, step: int, model_state: dict, wrapped, optimizer, scheduler,
                    data_state: dict, *, rank: int, world: int, keep: int = 2, config: dict | None = None) -> Path:
    """`model_state`: handoff.gather() of the kept parameters (rank 0's; other ranks' are not written)."""
    ck_root = Path(out_dir) / "checkpoints"
    osd = get_optimizer_state_dict(wrapped, optimizer, options=StateDictOptions(full_state_dict=True,
                                                                                cpu_offload=True))
    data_states = _gather(data_state, world)     # one data position per rank
    final = ck_root / f"step-{step:07d}"
    if rank == 0:
        tmp = ck_root / f".step-{step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        torch.save({"model": model_state, "optim": osd, "scheduler": scheduler.state_dict()}, tmp / STATE)
        meta = {"step": step, "world_size": world, "data": data_states, "config": config or {}}
        (tmp / META).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        (ck_root / "latest.tmp").write_text(final.name)
        os.replace(ck_root / "latest.tmp", ck_root / "latest")
        for old in sorted(ck_root.glob("step-*"))[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    if world > 1:
        dist.barrier()
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    ck_root = Path(out_dir) / "checkpoints"
    pointer = ck_root / "latest"
    if pointer.exists():
        path = ck_root / pointer.read_text().strip()
        if (path / STATE).exists():
            return path
    done = sorted(p for p in ck_root.glob("step-*") if (p / STATE).exists())   # pointer lost: newest complete
    return done[-1] if done else None


def load_checkpoint(path: str | Path, model, wrapped, optimizer, scheduler) -> dict:
    """Resume: `model` is the unwrapped model (names are checked against it), `wrapped` what trains."""
    path = Path(path)
    state = torch.load(path / STATE, map_location="cpu", weights_only=False)
    check_fits(model, state["model"], f"checkpoint {path}", resuming=True)
    set_state_dict(wrapped, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"],
                   options=StateDictOptions(full_state_dict=True, strict=False))
    scheduler.load_state_dict(state["scheduler"])
    return json.loads((path / META).read_text(encoding="utf-8"))


def load_trainable_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A training stage's output (handoff.py) from a final dir (trainable.pt), a checkpoint dir (state.pt)
    or a run dir (its final state, else its latest checkpoint)."""
    path = Path(path)
    if (path / TRAINABLE).exists():
        return torch.load(path / TRAINABLE, map_location="cpu", weights_only=True)
    if (path / STATE).exists():
        return torch.load(path / STATE, map_location="cpu", weights_only=False)["model"]
    if (path / "final" / TRAINABLE).exists():
        return load_trainable_file(path / "final")
    latest = latest_checkpoint(path)
    if latest is not None:
        return load_trainable_file(latest)
    raise FileNotFoundError(f"{path}: no {TRAINABLE}, checkpoint {STATE} or checkpoints/ to continue from: point "
                            "model.init_from at the out dir of the earlier training stage")
