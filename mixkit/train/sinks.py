"""Where the rank-0 metrics go besides log.jsonl: TensorBoard (OUT/tensorboard) and W&B.

W&B is optional: `run.wandb: auto` uses it only when the package is installed and WANDB_API_KEY or
WANDB_MODE is set (so a plain run never stops at a login prompt); `on` requires it; `off` never.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def _scalars(record: dict) -> dict[str, float]:
    """Numeric fields, flattened one level (samples_by_task.ocr -> samples_by_task/ocr)."""
    out = {}
    for k, v in record.items():
        if k == "step":
            continue
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[k] = float(v)
        elif isinstance(v, dict):
            out.update({f"{k}/{kk}": float(vv) for kk, vv in v.items() if isinstance(vv, (int, float))})
    return out


class MetricSinks:
    def __init__(self, out_dir: Path, cfg_run, config: dict, enabled: bool):
        self.tb = self.wandb = None
        if not enabled:
            return
        if cfg_run.tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                raise RuntimeError("run.tensorboard is on but the `tensorboard` package is not installed "
                                   "(pip install tensorboard, or set run.tensorboard: false)")
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
        installed = importlib.util.find_spec("wandb") is not None
        want = cfg_run.wandb == "on" or (cfg_run.wandb == "auto" and installed and
                                         ("WANDB_API_KEY" in os.environ or "WANDB_MODE" in os.environ))
        if want:
            if not installed:
                raise RuntimeError("run.wandb: on but the `wandb` package is not installed (pip install wandb)")
            import wandb

            self.wandb = wandb.init(project=cfg_run.wandb_project, dir=str(out_dir), config=config,
                                    name=out_dir.name, resume="allow")

    def write(self, step: int, record: dict, prefix: str = "train") -> None:
        values = _scalars(record)
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, step)
            self.tb.flush()
        if self.wandb is not None:
            self.wandb.log({f"{prefix}/{k}": v for k, v in values.items()}, step=step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
