"""Throughput and MFU.

Model FLOPs per optimizer step (dense matmuls only; norms and softmax ignored), summed over
the batch:

  LLM, per sequence token (text + image tokens):
      forward                      2 * N_llm
      backward, activation grads   2 * N_llm      (needed through every layer: LoRA sits in all of them)
      backward, weight grads       2 * N_llm      only when the base LLM is trained (full fine-tuning)
      LoRA adapters (A and B)      6 * N_lora     forward, activation grads and weight grads: at
                                   r=256 on every linear of Qwen2.5-7B N_lora = 646M, +13.7% over
                                   the frozen base's 4 * N_llm
      attention scores + values    4 * L * d * T  forward (QK^T and AV, causal masking not discounted),
                                   x2 for backward -> 12 * L * d * T in total
  Vision tower, per patch of every view: 2 * N_vis forward; x3 when the tower is trained
                                   (multi-scale: 1 + g*g views of P patches per image)
  Projector:                       6 * N_proj per image token (always trained; the multi-scale
                                   projector's first layer takes 2C channels, counted in N_proj)

  N_llm excludes the input embedding table (a lookup, not a matmul) and the LoRA adapters, and
  counts lm_head. Gradient checkpointing's recomputed forward is not counted (model FLOPs, not
  hardware FLOPs).
  MFU = achieved model FLOP/s / (peak dense bf16 FLOP/s of one device x devices). On CPU: n/a.
  With full fine-tuning this reduces to the usual 6N + 12LdT (PaLM appendix B).
"""
from __future__ import annotations

from collections import Counter

import torch

from mixkit.train.parts import LLM, LORA, PROJECTOR, VISION, llava, part_of

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from vendor datasheets.
PEAK_BF16 = {
    "H200": 989e12, "H100 SXM": 989e12, "H100 NVL": 835e12, "H100 PCIe": 756e12, "H100": 989e12,
    "A100": 312e12, "L40S": 362e12, "A10G": 70e12, "L4": 121e12, "RTX 4090": 165e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key in sorted(PEAK_BF16, key=len, reverse=True):     # most specific name first
        if key in name:
            return PEAK_BF16[key]
    return None


class FlopCounter:
    def __init__(self, model, freeze_llm: bool, freeze_vision: bool, views_per_image: int = 1):
        base = llava(model)
        size = Counter()
        for n, p in model.named_parameters():           # a tied lm_head is listed once, as the embeddings
            size[part_of(n)] += p.numel()
        emb, head = base.get_input_embeddings().weight, base.get_output_embeddings().weight
        # the input embeddings are a lookup; lm_head is a matmul even when it shares their weights
        self.n_llm = size[LLM] - emb.numel() + (head.numel() if head is emb else 0)
        self.n_vis, self.n_proj, self.n_lora = size[VISION], size[PROJECTOR], size[LORA]
        tc = base.config.text_config
        self.layers, self.d = tc.num_hidden_layers, tc.hidden_size
        self.freeze_llm, self.freeze_vision = freeze_llm, freeze_vision
        self.views = views_per_image

    def step_flops(self, n_tokens: int, seq_lens: list[int], n_images: int, tokens_per_image: int) -> float:
        llm = ((4 if self.freeze_llm else 6) * self.n_llm + 6 * self.n_lora) * n_tokens
        attn = sum(12 * self.layers * self.d * t * t for t in seq_lens)
        vis = (2 if self.freeze_vision else 6) * self.n_vis * n_images * self.views * tokens_per_image
        proj = 6 * self.n_proj * n_images * tokens_per_image
        return float(llm + attn + vis + proj)
