"""The parts of the assembled model, and which parameter belongs to which: the one place that says so.

    part        module(s) in LlavaForConditionalGeneration   where its weights come from
    projector   model.multi_modal_projector                  new (no base checkpoint holds it)
    vision      model.vision_tower                           the SigLIP checkpoint (`model.vision`)
    llm         model.language_model, lm_head                the LM checkpoint (`model.llm`)
    lora        peft adapters inside the llm                 new

Part names are the `freeze:` keys of a training config (projector, vision, llm) and the
optimizer's param-group names. Parameter names are matched as the plain model, the peft-wrapped
one (`base_model.model.…`) and DDP's (`module.…`) spell them.
"""
from __future__ import annotations

import torch

from mixkit.train.config import ConfigError

PROJECTOR, VISION, LLM, LORA = "projector", "vision", "llm", "lora"
NEW_PARTS = (PROJECTOR, LORA)           # in no base checkpoint: every training stage's output holds them
IMAGE_PARTS = (PROJECTOR, VISION)       # only image batches reach them (text-only batches leave no gradient)
_HOSTS = ((".multi_modal_projector.", PROJECTOR), (".vision_tower.", VISION), (".language_model.", LLM))


def part_of(name: str) -> str:
    """The part a parameter name belongs to. LoRA outside the language model is an error."""
    dotted = f".{name}"
    host = next((part for key, part in _HOSTS if key in dotted), None)
    if host is None and dotted.endswith(".lm_head.weight"):
        host = LLM
    if host is None:
        raise ValueError(f"parameter {name!r} belongs to no part (projector, vision tower, language model): "
                         "the trainer knows LlavaForConditionalGeneration's layout only")
    if ".lora_" in dotted:
        if host != LLM:
            raise ConfigError(f"LoRA must stay in the language model, but {name} is in the {host}: "
                             "anchor lora.target_regex to model.language_model.layers")
        return LORA
    return host


def llava(model) -> torch.nn.Module:
    """The LlavaForConditionalGeneration inside DDP and peft wrappers."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def modules_of(model, part: str) -> list[torch.nn.Module]:
    """The modules that hold a part (not LoRA: its adapters sit inside the llm's layers)."""
    base = llava(model)
    if part == PROJECTOR:
        return [base.model.multi_modal_projector]
    if part == VISION:
        return [base.model.vision_tower]
    if part == LLM:
        return [base.model.language_model, base.lm_head]
    raise ValueError(f"no module holds part {part!r}")


def is_trained(part: str, cfg) -> bool:
    """Whether a training config trains this part (LoRA adapters train whenever they exist)."""
    return part == LORA or not getattr(cfg.freeze, part)
