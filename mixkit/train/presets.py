"""Architectures with known shapes and random weights ("preset:NAME" in a config).

`tiny-*` make a CPU run in minutes; the real shapes (SigLIP-SO400M/14@384, Qwen2.5-7B,
Aya-Expanse-8B) let a benchmark measure throughput on a GPU without downloading weights.
Shapes copied from the published config.json of each model. A preset stands for a checkpoint: its
weights are drawn from a fixed seed, whatever `run.seed`, so every training stage that names it
starts from the same base model.
"""
from __future__ import annotations

import contextlib

import torch
from transformers import CohereConfig, Qwen2Config, SiglipVisionConfig

VISION_PRESETS = {
    "tiny-siglip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                        image_size=32, patch_size=8),
    # google/siglip-so400m-patch14-384
    "siglip-so400m-384": dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                              num_attention_heads=16, image_size=384, patch_size=14),
}

LLM_PRESETS = {
    "tiny-qwen2": (Qwen2Config, dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                                     tie_word_embeddings=False, rope_theta=10000.0,
                                     initializer_range=0.2)),  # a random base: larger logits so LoRA can move them
    # Cohere-family (Aya-Expanse) shape in miniature: tied embeddings and logit_scale 0.125, for tests
    "tiny-cohere": (CohereConfig, dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                                       logit_scale=0.125, tie_word_embeddings=True, rope_theta=10000.0,
                                       initializer_range=0.2, bos_token_id=None, eos_token_id=None,
                                       pad_token_id=None)),
    # Qwen/Qwen2.5-7B-Instruct
    "qwen2.5-7b": (Qwen2Config, dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                                     num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                                     max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
                                     tie_word_embeddings=False)),
    # CohereForAI/aya-expanse-8b
    "aya-expanse-8b": (CohereConfig, dict(vocab_size=256000, hidden_size=4096, intermediate_size=14336,
                                          num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                          max_position_embeddings=8192, logit_scale=0.125, rope_theta=10000.0,
                                          tie_word_embeddings=True)),
}

PREFIX = "preset:"
SEED = 0


@contextlib.contextmanager
def fixed_seed():
    """Build a preset's weights from SEED, leaving the caller's torch RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        yield


def is_preset(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


def vision_preset(name: str) -> SiglipVisionConfig:
    key = name[len(PREFIX):]
    if key not in VISION_PRESETS:
        raise ValueError(f"unknown vision preset {key!r}; known: {sorted(VISION_PRESETS)}")
    return SiglipVisionConfig(**VISION_PRESETS[key])


def llm_preset(name: str, vocab_size: int | None = None):
    key = name[len(PREFIX):]
    if key not in LLM_PRESETS:
        raise ValueError(f"unknown LLM preset {key!r}; known: {sorted(LLM_PRESETS)}")
    cls, kwargs = LLM_PRESETS[key]
    kwargs = dict(kwargs)
    if vocab_size is not None and vocab_size > kwargs.get("vocab_size", 0):
        kwargs["vocab_size"] = vocab_size
    return cls(**kwargs)
