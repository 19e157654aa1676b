"""Centurio's multi-scale views ("multiscale-pool" adapter, `adapter_multi_scale: 2` in the
released WueNLP/centurio_qwen and centurio_aya config.json; `image_hidden_size: 1152`).

Per image the vision tower sees 1 + g*g views of S x S pixels: the image resized to S (global view),
then the image resized to g*S and cut into g x g tiles, row-major. The projector puts the tiles'
feature maps back into one (g*P) x (g*P) map, average-pools it by g to P x P, concatenates it with
the global view's map on channels and applies Linear(2C -> H), GELU, Linear(H -> H). The LLM still
gets P*P tokens per image (729 for SigLIP-SO400M/14@384), of width 2C (2 x 1152) into the MLP.

`TiledViews` is the image-processor side (the data loader calls it); `MultiScalePoolProjector`
replaces Llava's projector, so transformers' own `LlavaModel.get_image_features` runs unchanged
(the projector takes N*(1+g*g) view features and returns N image features).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from transformers import LlavaForConditionalGeneration

GRID_KEY = "mixkit_multiscale_grid"       # stored in the saved LlavaConfig


class TiledViews:
    """PIL image -> float tensor (1 + grid*grid, 3, size, size): global view first, then the tiles."""

    def __init__(self, size: int, mean, std, grid: int = 1):
        if grid < 1:
            raise ValueError(f"multi-scale grid must be >= 1, got {grid}")
        self.size, self.grid = size, grid
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    @property
    def n_views(self) -> int:
        return 1 if self.grid == 1 else 1 + self.grid * self.grid

    def _norm(self, img) -> np.ndarray:
        arr = np.asarray(img, dtype=np.float32) / 255.0
        return ((arr - self.mean) / self.std).transpose(2, 0, 1)

    def __call__(self, img) -> torch.Tensor:
        from PIL import Image

        img = img.convert("RGB")
        s = self.size
        views = [self._norm(img.resize((s, s), Image.BICUBIC))]
        if self.grid > 1:
            big = self._norm(img.resize((s * self.grid, s * self.grid), Image.BICUBIC))
            views += [big[:, i * s:(i + 1) * s, j * s:(j + 1) * s]
                      for i in range(self.grid) for j in range(self.grid)]
        return torch.from_numpy(np.ascontiguousarray(np.stack(views)))


class MultiScalePoolProjector(nn.Module):
    """(N*(1+g^2), P*P, C) view features -> (N, P*P, H). Parameter names match LlavaMultiModalProjector."""

    def __init__(self, vision_hidden: int, text_hidden: int, grid: int):
        super().__init__()
        self.grid = grid
        self.pool = nn.AvgPool2d(grid)
        self.linear_1 = nn.Linear(2 * vision_hidden, text_hidden, bias=True)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(text_hidden, text_hidden, bias=True)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        nv, tokens, c = feats.shape
        g, views = self.grid, 1 + self.grid * self.grid
        p = math.isqrt(tokens)
        if p * p != tokens or nv % views:
            raise ValueError(f"multi-scale projector got {nv} views of {tokens} tokens; expected a multiple of "
                             f"{views} views (1 global + {g}x{g} tiles) of a square token grid")
        n = nv // views
        maps = feats.reshape(n, views, p, p, c)
        glob = maps[:, 0]                                            # (n, p, p, c)
        tiles = maps[:, 1:].reshape(n, g, g, p, p, c)                # tile row, tile col, y, x
        big = tiles.permute(0, 1, 3, 2, 4, 5).reshape(n, g * p, g * p, c)
        pooled = self.pool(big.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)   # (n, p, p, c)
        x = torch.cat([glob, pooled], dim=-1).reshape(n, p * p, 2 * c)
        return self.linear_2(self.act(self.linear_1(x)))


def install(model, grid: int) -> None:
    """Replace a LlavaForConditionalGeneration's projector by the multi-scale one (fresh weights)."""
    cfg = model.config
    base = model.model
    ref = base.multi_modal_projector.linear_1.weight
    proj = MultiScalePoolProjector(cfg.vision_config.hidden_size, cfg.text_config.hidden_size, grid)
    if not ref.is_meta:                   # from_pretrained builds on meta and fills weights by name later
        proj = proj.to(ref.device)
    base.multi_modal_projector = proj
    setattr(cfg, GRID_KEY, grid)


def load_pretrained(path, **kwargs):
    """Load a final/ directory: plain LlavaForConditionalGeneration, or the multi-scale variant when
    the config says so (transformers' own class cannot build that projector)."""
    from transformers import AutoConfig

    grid = getattr(AutoConfig.from_pretrained(path), GRID_KEY, 1) or 1
    if grid == 1:
        return LlavaForConditionalGeneration.from_pretrained(path, **kwargs)
    return MultiScaleLlava.from_pretrained(path, **kwargs)


class MultiScaleLlava(LlavaForConditionalGeneration):
    """LlavaForConditionalGeneration whose projector is MultiScalePoolProjector when the config's
    GRID_KEY > 1. pixel_values: (images * (1 + g*g), 3, S, S), from TiledViews."""

    def __init__(self, config):
        super().__init__(config)
        grid = getattr(config, GRID_KEY, 1) or 1
        if grid > 1:
            install(self, grid)
