"""Ray Train: the same `train()` in every worker of a `TorchTrainer` (`mixkit train ... --ray`).

Ray Train creates the process group (NCCL on GPUs, gloo on CPU) and sets RANK/WORLD_SIZE/
LOCAL_RANK before calling the loop, so `init_distributed()` finds it ready. Output, checkpoints
and resume stay in `run.out_dir`, which must be on storage every node sees (NFS, a shared disk).
"""
from __future__ import annotations

import os

from mixkit.train.config import TrainConfig


def _worker(config: dict) -> None:
    from mixkit.train.config import config_from_dict
    from mixkit.train.loop import train

    summary = train(config_from_dict(config["cfg"]), max_steps=config.get("max_steps"))
    import ray.train
    ray.train.report({"steps": summary["steps"], "last_loss": summary["last_loss"]})


def train_with_ray(cfg: TrainConfig, *, num_workers: int, use_gpu: bool | None = None, address: str | None = None,
                   max_steps: int | None = None, cpus_per_worker: float = 1.0):
    """Run `train(cfg)` on `num_workers` Ray workers; returns the ray.train.Result."""
    import ray
    import torch
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    if use_gpu is None:
        use_gpu = torch.cuda.is_available()
    if not ray.is_initialized():
        # an explicit address or RAY_ADDRESS joins a cluster; otherwise a fresh local instance
        # (never whatever `ray start` another job left running on this machine)
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or "local")
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"cfg": cfg.to_dict(), "max_steps": max_steps},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker}),
        run_config=RunConfig(name="mixkit-train", storage_path=str(__import__("pathlib").Path(cfg.run.out_dir).resolve() / "ray")),
    )
    return trainer.fit()
