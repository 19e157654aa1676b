"""Training configuration: nested dataclasses loaded from YAML. An unknown key is an error.

One YAML file describes one training stage (Centurio's stage 1, pre-training on captions and OCR,
or stage 2, instruction tuning); a later training stage points `model.init_from` at an earlier
one's output, and everything that output holds continues (handoff.py): LoRA adapters, projector,
trained vision layers, frozen or trained now.
"""
from __future__ import annotations

import dataclasses
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ModelConfig:
    # Hub id or local directory, or "preset:NAME" (random weights with a known shape; see presets.py).
    vision: str = "preset:tiny-siglip"
    llm: str = "preset:tiny-qwen2"
    # Tokenizer: hub id / local dir; defaults to `llm`. "preset:tiny" builds a BPE tokenizer locally.
    tokenizer: str | None = None
    image_size: int | None = None          # None: the vision config's own image_size
    # SigLIP has no CLS token, so all patches are kept ("full"); the penultimate layer as in LLaVA/prismatic.
    vision_feature_layer: int = -2
    vision_feature_select_strategy: str = "full"
    dtype: str = "float32"                 # weights' dtype: float32 | bfloat16
    attn_implementation: str = "sdpa"      # sdpa | flash_attention_2 | eager
    init_from: str | None = None           # an earlier training stage's run/final/checkpoint dir: all it holds goes on
    chat_template: str | None = None       # override the tokenizer's template (Jinja string)
    # Centurio's multi-scale views (multiscale.py): 1 = one view per image; 2 = a global view plus the
    # image at 2x size cut into 2x2 tiles, pooled back and concatenated on channels (projector in = 2C).
    multiscale_grid: int = 1


@dataclass
class LoraConfig:
    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    # Anchored to the language model's decoder layers: the vision tower never matches.
    target_regex: str = (r"model\.language_model\.layers\.\d+\."
                         r"(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))")


@dataclass
class FreezeConfig:
    vision: bool = True                    # False: train the vision tower (at optim.vision_lr)
    projector: bool = False                # the projector is trained unless frozen here (then kept as given)
    llm: bool = True                       # base LLM weights; LoRA adapters train regardless when enabled


@dataclass
class DataConfig:
    shards: list[str] = field(default_factory=list)   # globs / paths / brace patterns; CLI --shards overrides
    batch_size: int = 4                    # micro-batch per rank
    max_seq_len: int = 1024                # after image-token expansion; longer samples are truncated or rejected
    num_workers: int = 1
    shuffle_buffer: int = 256
    shard_shuffle: bool = True
    resampled: bool = False                # sample shards with replacement (endless stream)
    epoch_batches: int = 0                 # with resampled: batches per worker per "epoch" (with_epoch); 0 = 1000
    bucket_buffer: int = 64                # samples pooled for length bucketing (sorted into batches)
    tasks: list[str] = field(default_factory=list)    # keep only these tasks (empty: all)
    val_shards: list[str] = field(default_factory=list)  # held-out shards for run.eval_every (never trained on)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    projector_lr: float | None = None      # None: lr
    vision_lr: float = 1e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = 0.03
    max_steps: int = 100
    grad_accum: int = 1
    clip_grad: float = 1.0


@dataclass
class RunConfig:
    out_dir: str = "runs/train"
    seed: int = 0
    precision: str = "auto"                # auto (bf16 autocast on CUDA, fp32 on CPU) | bf16 | fp32
    grad_checkpointing: bool = False
    distributed: str = "ddp"               # ddp | fsdp2
    log_every: int = 10
    save_every: int = 50
    eval_every: int = 0                    # validation loss on data.val_shards every N steps (0: off)
    eval_batches: int = 50                 # micro-batches per rank per validation (cycled when the set is smaller)
    tensorboard: bool = True               # scalars to OUT/tensorboard (the `tensorboard` package)
    wandb: str = "auto"                    # auto (when wandb is installed and WANDB_API_KEY/WANDB_MODE set) | on | off
    wandb_project: str = "mixkit"
    # DDP with parameters a batch may leave unused (text-only batches skip the vision tower/projector):
    # "touch" adds 0 * sum(unused params) to the loss; "find" uses find_unused_parameters=True.
    ddp_unused: str = "touch"
    keep_checkpoints: int = 2
    resume: bool = True
    export_final: bool = True              # write final/ loadable by LlavaForConditionalGeneration
    merge_lora: bool = True                # final/ holds merged weights (plain transformers); adapter kept beside


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    training_stage: str = "stage1"         # a label for logs: stage1 (captions, OCR) | stage2 (instructions)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    pass


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            kwargs[name] = tuple(value)
        elif typing.get_origin(hint) is list and isinstance(value, str):
            kwargs[name] = [value]
        else:
            kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(data: dict, where: str = "config") -> TrainConfig:
    if isinstance(data, dict) and "stage" in data:
        # `stage:` is the key's name before mixkit 0.2 ("stage" now means a row processor, mixkit.runtime.stage)
        if "training_stage" in data:
            raise ConfigError(f"{where}: both `stage:` and `training_stage:` are given; keep `training_stage:`")
        data = {("training_stage" if k == "stage" else k): v for k, v in data.items()}
        warnings.warn(f"{where}: the config key `stage:` is now `training_stage:` (read as `training_stage:`; "
                      "rename it)", FutureWarning, stacklevel=2)
    cfg = _build(TrainConfig, data, where)
    validate(cfg)
    return cfg


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Load a YAML training config; `overrides` is a nested dict merged on top (CLI flags)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config {path} not found (bundled configs live in configs/: tiny.yaml, ...)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            data.setdefault(section, {})
            data[section] = {**(data[section] or {}), **values}
        else:
            data[section] = values
    return config_from_dict(data, where=str(path))


def validate(cfg: TrainConfig) -> None:
    if cfg.run.precision not in ("auto", "bf16", "fp32"):
        raise ConfigError(f"run.precision must be auto|bf16|fp32, got {cfg.run.precision!r}")
    if cfg.run.distributed not in ("ddp", "fsdp2"):
        raise ConfigError(f"run.distributed must be ddp|fsdp2, got {cfg.run.distributed!r}")
    if cfg.run.ddp_unused not in ("touch", "find"):
        raise ConfigError(f"run.ddp_unused must be touch|find, got {cfg.run.ddp_unused!r}")
    if isinstance(cfg.run.wandb, bool):          # YAML reads a bare on/off as a boolean
        cfg.run.wandb = "on" if cfg.run.wandb else "off"
    if cfg.run.wandb not in ("auto", "on", "off"):
        raise ConfigError(f"run.wandb must be auto|on|off, got {cfg.run.wandb!r}")
    if cfg.run.eval_batches < 1:
        raise ConfigError("run.eval_batches must be >= 1 (micro-batches per rank per validation)")
    if cfg.run.eval_every and not cfg.data.val_shards:
        raise ConfigError("run.eval_every is set but data.val_shards is empty (give held-out shards)")
    if cfg.data.val_shards and not cfg.run.eval_every:
        raise ConfigError("data.val_shards (--val-shards) is set but run.eval_every is 0: no validation would "
                          "run (set run.eval_every to the steps between validations)")
    if cfg.model.multiscale_grid < 1:
        raise ConfigError(f"model.multiscale_grid must be >= 1, got {cfg.model.multiscale_grid}")
    if cfg.model.multiscale_grid > 1 and cfg.model.vision_feature_select_strategy != "full":
        raise ConfigError("model.multiscale_grid > 1 pools a square patch grid: it needs "
                          "vision_feature_select_strategy: full (SigLIP)")
    if cfg.model.dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"model.dtype must be float32|bfloat16, got {cfg.model.dtype!r}")
    if cfg.model.vision_feature_select_strategy not in ("full", "default"):
        raise ConfigError("model.vision_feature_select_strategy must be full (SigLIP: no CLS) or default (CLIP)")
    if cfg.optim.grad_accum < 1 or cfg.optim.max_steps < 1 or cfg.data.batch_size < 1:
        raise ConfigError("optim.grad_accum, optim.max_steps and data.batch_size must be >= 1")
    if not cfg.lora.enabled and cfg.freeze.llm and cfg.freeze.projector and cfg.freeze.vision:
        raise ConfigError("nothing to train: LoRA disabled and vision, projector and llm all frozen")
