"""`mixkit train CONFIG --shards 'DIR/*.tar' --out runs/train`: the reference LVLM trainer.

One process by default (CPU or one GPU). Several GPUs on one node: torchrun
(`torchrun --nproc-per-node 8 -m mixkit.train CONFIG ...`). Several nodes: `--ray --num-workers N`.
Exit codes: 0 done; 2 bad config or no shards."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        config: Path = typer.Argument(..., help="training config YAML (configs/tiny.yaml, configs/centurio-*.yaml)"),
        shards: Optional[List[str]] = typer.Option(None, "--shards", help="shard glob/path/brace pattern "
                                                   "(repeatable; overrides data.shards)"),
        val_shards: Optional[List[str]] = typer.Option(None, "--val-shards", help="held-out shards for the "
                                                       "validation loss (overrides data.val_shards; with run.eval_every)"),
        out: Optional[str] = typer.Option(None, "--out", help="output directory (overrides run.out_dir)"),
        resume: Optional[bool] = typer.Option(None, "--resume/--no-resume", help="continue from OUT/checkpoints "
                                              "(default: resume when a checkpoint exists)"),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="stop after this step; the LR schedule "
                                                "still follows optim.max_steps"),
        ray: bool = typer.Option(False, "--ray", help="run on Ray Train (TorchTrainer) workers"),
        num_workers: int = typer.Option(1, "--num-workers", help="Ray Train workers (with --ray)"),
        address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (with --ray)"),
    ) -> None:
        """Train SigLIP + MLP projector + LLM (LoRA) on mixkit shards; writes checkpoints and a final model."""
        from rich.console import Console

        from mixkit.core.storage import StorageError
        from mixkit.train.config import ConfigError, load_config

        console, err = Console(), Console(stderr=True, soft_wrap=True)   # an error stays one line
        overrides = {}
        if shards:
            overrides["data"] = {"shards": list(shards)}
        if val_shards:
            overrides.setdefault("data", {})["val_shards"] = list(val_shards)
        if out:
            overrides["run"] = {"out_dir": out}
        if resume is not None:
            overrides.setdefault("run", {})["resume"] = resume
        try:
            cfg = load_config(config, overrides)
        except (ConfigError, FileNotFoundError) as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        try:
            if ray:
                from mixkit.train.ray_train import train_with_ray

                result = train_with_ray(cfg, num_workers=num_workers, address=address, max_steps=max_steps)
                console.print(f"[green]Ray Train finished[/]: {result.metrics}")
                return
            from mixkit.train.loop import train

            summary = train(cfg, max_steps=max_steps)
        except (ConfigError, FileNotFoundError, StorageError) as e:     # StorageError: credentials, bucket
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        console.print(f"[green]trained {summary['steps']} steps[/]: loss {summary['first_loss']:.3f} -> "
                      f"{summary['last_loss']:.3f}; checkpoint {summary['checkpoint']}")
        if summary.get("final_dir"):
            loader = ("mixkit.train.multiscale.load_pretrained: multi-scale projector" if cfg.model.multiscale_grid > 1
                      else "LlavaForConditionalGeneration.from_pretrained")
            console.print(f"final model: {summary['final_dir']} ({loader})")
        if summary["bad_samples"]:
            console.print(f"[yellow]skipped samples[/]: {summary['bad_samples']}")
        tasks = summary.get("samples_by_task", {})
        console.print("samples by task: " +
                      ", ".join(f"{k} {v}" for k, v in sorted(tasks.items(), key=lambda kv: -kv[1])))
        langs = summary["samples_by_lang"]
        console.print(f"samples by language ({len(langs)}): " +
                      ", ".join(f"{k} {v}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])[:12]))
