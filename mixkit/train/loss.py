"""The token loss of one micro-batch: the training step and the validation both use it.

Summed (not averaged) over the batch's assistant tokens, so callers can divide by a token count
taken over a whole accumulation window and every rank (loop.py explains the normalisation).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mixkit.train.encode import IGNORE


def target_tokens(batch: dict) -> int:
    """Tokens the loss is taken over: labelled positions after the shift."""
    return int((batch["labels"][:, 1:] != IGNORE).sum())


def summed_token_loss(model, batch: dict, device: torch.device, autocast) -> torch.Tensor:
    """Sum of next-token cross-entropies over the batch's labelled tokens (logits in fp32)."""
    pixel_values = batch["pixel_values"].to(device) if batch["pixel_values"] is not None else None
    with autocast():
        logits = model(input_ids=batch["input_ids"].to(device), pixel_values=pixel_values,
                       attention_mask=batch["attention_mask"].to(device), use_cache=False).logits
    labels = batch["labels"][:, 1:].to(device)
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
