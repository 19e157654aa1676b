"""Validation loss on held-out shards (`data.val_shards`, every `run.eval_every` steps).

Every rank evaluates exactly `run.eval_batches` micro-batches (cycling its held-out shards when
they run out), so FSDP2's collectives line up across ranks; the same batches every time (epoch 0,
no shuffling), so values are comparable across steps. The loss is the global token mean: the sum
of token losses over all ranks / the number of assistant tokens over all ranks.
"""
from __future__ import annotations

import dataclasses

import torch

from mixkit.train.data import ShardStream, make_loader
from mixkit.train.loss import summed_token_loss, target_tokens


def _held_out_batches(urls, cfg, built, rank: int, world: int, n: int):
    data_cfg = dataclasses.replace(cfg.data, resampled=False, shard_shuffle=False, shuffle_buffer=1)
    split = len(urls) >= world            # fewer held-out shards than ranks: every rank reads them all
    got = 0
    while got < n:
        stream = ShardStream(urls, data_cfg, built.tokenizer, built.image_token_id, built.image, seed=cfg.run.seed,
                             epoch=0, rank=rank if split else 0, world_size=world if split else 1,
                             chat_template=cfg.model.chat_template)
        before = got
        for b in make_loader(stream, 0):
            yield b
            got += 1
            if got >= n:
                return
        if got == before:
            raise RuntimeError(f"held-out shards {urls[:3]} gave no usable sample for rank {rank}")


def validation_loss(model, urls, cfg, built, d, autocast, all_reduce) -> dict:
    """{"val_loss", "val_tokens", "val_batches"}; `model` is the module to call (DDP's .module or the
    FSDP2-sharded model); `all_reduce` sums a list of floats over ranks."""
    was_training = model.training
    model.eval()
    loss_sum = tokens = 0.0
    with torch.no_grad():
        for b in _held_out_batches(urls, cfg, built, d.rank, d.world, cfg.run.eval_batches):
            loss_sum += float(summed_token_loss(model, b, d.device, autocast))
            tokens += target_tokens(b)
    if was_training:
        model.train()
    loss_sum, tokens = all_reduce([loss_sum, tokens])
    return {"val_loss": loss_sum / max(tokens, 1.0), "val_tokens": int(tokens),
            "val_batches": cfg.run.eval_batches * d.world}
