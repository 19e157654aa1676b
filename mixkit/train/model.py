"""Model assembly: SigLIP vision tower + 2-layer GELU MLP projector + causal LM, as a
transformers `LlavaForConditionalGeneration`, so trained checkpoints load back with plain
transformers. LoRA (peft) on the language model's linear layers only.

Llava in transformers 5.23 (read from modeling_llava.py): features come from
`vision_tower(..., output_hidden_states).hidden_states[vision_feature_layer]`; strategy
"default" drops the first token (CLIP's CLS) — SigLIP has no CLS, so we use "full" and every
patch becomes one image token ((image_size / patch_size)^2, 729 for SO400M/14@384). Features
are `masked_scatter`ed into the positions of `image_token_index`; a count mismatch raises.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LlavaForConditionalGeneration

from mixkit.core.schema import IMAGE_TOKEN
from mixkit.train import multiscale, presets
from mixkit.train.config import TrainConfig
from mixkit.train.data import ImageSpec
from mixkit.train.parts import LLM, LORA, PROJECTOR, VISION, is_trained, llava, modules_of, part_of

log = logging.getLogger("mixkit.train.model")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class Assembled:
    model: torch.nn.Module          # LlavaForConditionalGeneration, peft-wrapped when LoRA is on
    tokenizer: object
    image_processor: object
    image: ImageSpec
    image_token_id: int


def load_tokenizer(cfg: TrainConfig, work_dir: str | Path):
    from transformers import AutoTokenizer

    name = cfg.model.tokenizer or cfg.model.llm
    if presets.is_preset(name):
        from mixkit.train.tiny import build_tiny_tokenizer
        # Same inputs -> same merges: every rank (and a resumed run) builds the identical tokenizer.
        tok = build_tiny_tokenizer(Path(work_dir) / "tokenizer")
    else:
        tok = AutoTokenizer.from_pretrained(name)
    if cfg.model.chat_template:
        tok.chat_template = cfg.model.chat_template
    if tok.chat_template is None:
        raise ValueError(f"tokenizer {name} has no chat template: set model.chat_template in the config")
    if IMAGE_TOKEN not in tok.get_vocab():
        tok.add_tokens([IMAGE_TOKEN], special_tokens=True)   # Qwen2.5/Aya have no <image> token
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _vision(cfg: TrainConfig, dtype):
    from transformers import AutoConfig, AutoImageProcessor, SiglipImageProcessor, SiglipVisionModel

    name = cfg.model.vision
    if presets.is_preset(name):
        vcfg = presets.vision_preset(name)
        if cfg.model.image_size:
            vcfg.image_size = cfg.model.image_size
        with presets.fixed_seed():
            vision = SiglipVisionModel._from_config(vcfg, dtype=dtype,
                                                    attn_implementation=cfg.model.attn_implementation)
        size = vcfg.image_size
        proc = SiglipImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    else:
        conf = AutoConfig.from_pretrained(name)
        if getattr(conf, "model_type", "") not in ("siglip", "siglip_vision_model", "siglip2", "siglip2_vision_model"):
            raise ValueError(f"vision model {name} is {conf.model_type!r}; this trainer expects a SigLIP checkpoint")
        vision = SiglipVisionModel.from_pretrained(name, dtype=dtype, attn_implementation=cfg.model.attn_implementation)
        proc = AutoImageProcessor.from_pretrained(name)
        if cfg.model.image_size and cfg.model.image_size != vision.config.image_size:
            raise ValueError(f"model.image_size={cfg.model.image_size} but {name} was trained at "
                             f"{vision.config.image_size}; remove model.image_size")
    return vision, proc


def _llm(cfg: TrainConfig, dtype, vocab_needed: int):
    from transformers import AutoModelForCausalLM

    name = cfg.model.llm
    if presets.is_preset(name):
        lcfg = presets.llm_preset(name, vocab_size=vocab_needed)
        with presets.fixed_seed():
            llm = AutoModelForCausalLM.from_config(lcfg, dtype=dtype,
                                                   attn_implementation=cfg.model.attn_implementation)
    else:
        llm = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, attn_implementation=cfg.model.attn_implementation)
    rows = llm.get_input_embeddings().weight.shape[0]
    if rows < vocab_needed:                          # only when the tokenizer outgrew the embedding rows
        # New rows = the old rows' mean. transformers would draw them at random (run.seed-dependent), and
        # the base models must be the same in every training stage: frozen, they are not handed on.
        llm.resize_token_embeddings(vocab_needed, mean_resizing=False)
        with torch.no_grad():
            for emb in (llm.get_input_embeddings().weight, llm.get_output_embeddings().weight):
                emb[rows:] = emb[:rows].mean(0)
    return llm


def fold_logit_scale(llm) -> None:
    """Cohere-family LMs (Aya-Expanse: logit_scale 0.125) multiply the logits by `config.logit_scale`
    after lm_head; Llava's forward calls lm_head alone, which gave 8x too large logits. Fold the scale
    into an untied lm_head so training, generation and a plain from_pretrained reload all see the
    Cohere logits. Costs one vocab x hidden matrix (2 GiB in bf16 for Aya-Expanse-8B)."""
    scale = getattr(llm.config, "logit_scale", None)
    if scale is None or float(scale) == 1.0:
        return
    w = llm.get_output_embeddings().weight
    head = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=w.dtype, device=w.device)
    with torch.no_grad():
        head.weight.copy_(w * float(scale))       # 0.125 is a power of two: exact in bf16
    llm.lm_head = head
    llm.config.tie_word_embeddings = False       # else Llava would re-tie lm_head to the embeddings on load
    llm.config.logit_scale = 1.0                 # already in the weights; keeps the saved config consistent


def assemble(vision, llm, tokenizer, cfg: TrainConfig) -> torch.nn.Module:
    """Place loaded vision/LLM modules into a LlavaForConditionalGeneration with a fresh projector
    (Centurio's multi-scale one when model.multiscale_grid > 1)."""
    from transformers import LlavaConfig
    from transformers.models.llava.modeling_llava import LlavaMultiModalProjector

    fold_logit_scale(llm)
    vcfg = vision.config
    n_patches = (vcfg.image_size // vcfg.patch_size) ** 2
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    grid = cfg.model.multiscale_grid
    lcfg = LlavaConfig(vision_config=vcfg.to_dict(), text_config=llm.config.to_dict(),
                       image_token_index=image_token_id, image_seq_length=n_patches,
                       vision_feature_layer=cfg.model.vision_feature_layer,
                       vision_feature_select_strategy=cfg.model.vision_feature_select_strategy,
                       projector_hidden_act="gelu", multimodal_projector_bias=True,
                       tie_word_embeddings=bool(getattr(llm.config, "tie_word_embeddings", False)))
    with torch.device("meta"):               # skeleton only; real modules are moved in below
        model = multiscale.MultiScaleLlava(lcfg) if grid > 1 else LlavaForConditionalGeneration(lcfg)
    model.model.vision_tower = vision
    model.model.language_model = llm.model
    model.lm_head = llm.lm_head
    torch.manual_seed(cfg.run.seed)
    projector = (multiscale.MultiScalePoolProjector(vcfg.hidden_size, llm.config.hidden_size, grid) if grid > 1
                 else LlavaMultiModalProjector(lcfg))
    # the model's dtype, as every part; apply_training_mode gives a trained projector fp32 master weights
    model.model.multi_modal_projector = projector.to(DTYPES[cfg.model.dtype])
    model.config.text_config = llm.config
    model.config.vision_config = vcfg
    if grid > 1:
        setattr(model.config, multiscale.GRID_KEY, grid)
    if llm.generation_config is not None:
        model.generation_config = llm.generation_config
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    meta = [n for n, p in model.named_parameters() if p.is_meta]
    if meta and not next(llm.parameters()).is_meta:     # build(device="meta") makes shapes only
        raise RuntimeError(f"parameters left uninitialised after assembly: {meta[:5]}")
    return model


def _unused_vision_modules(vision_tower, feature_layer) -> list[torch.nn.Module]:
    """Vision modules whose output never reaches the LLM: the layers after `vision_feature_layer`,
    the final layernorm and SigLIP's pooling head. Trained, they get no gradient (DDP's
    "Expected to have finished reduction" at step 2), so they stay frozen."""
    vm = getattr(vision_tower, "vision_model", vision_tower)     # transformers 5.x: flattened
    layers = vm.encoder.layers
    n = len(layers)
    picks = feature_layer if isinstance(feature_layer, (list, tuple)) else [feature_layer]
    last = max(i if i >= 0 else n + 1 + i for i in picks)     # hidden_states[k] = output of layer k-1
    unused = list(layers[last:])
    for name in ("post_layernorm", "head"):
        if getattr(vm, name, None) is not None:
            unused.append(getattr(vm, name))
    return unused


def apply_training_mode(model, cfg: TrainConfig):
    """Freeze per config, add LoRA to the language model only. Returns the (maybe peft-wrapped) model."""
    if cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=cfg.lora.target_regex, bias="none")
        model = get_peft_model(model, lcfg)
    parts = {name: part_of(name) for name, _ in model.named_parameters()}    # LoRA outside the LLM raises
    if cfg.lora.enabled and LORA not in parts.values():
        raise ValueError(f"lora.target_regex matched no module: {cfg.lora.target_regex}")
    for name, p in model.named_parameters():
        p.requires_grad_(is_trained(parts[name], cfg))
    if is_trained(VISION, cfg):
        for module in _unused_vision_modules(modules_of(model, VISION)[0], cfg.model.vision_feature_layer):
            module.requires_grad_(False)
    # fp32 master weights for every trained part: AdamW steps of 1e-6 vanish in bf16's 8-bit mantissa.
    # Whole modules are cast so none mixes dtypes; autocast runs their matmuls in bf16. A frozen part
    # keeps the model's dtype. (peft already keeps LoRA adapters in fp32.)
    for part in (PROJECTOR, VISION, LLM):
        if is_trained(part, cfg):
            for module in modules_of(model, part):
                module.float()
    if cfg.run.grad_checkpointing:
        llava(model).gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def build(cfg: TrainConfig, work_dir: str | Path, device: str | torch.device | None = None) -> Assembled:
    """device: create every tensor there (`torch.device` context) instead of on the CPU: a 7B
    model with random weights (presets) is built on the GPU in seconds, and "meta" builds the
    shapes alone. Checkpoints (from_pretrained) load as transformers places them."""
    dtype = DTYPES[cfg.model.dtype]
    tok = load_tokenizer(cfg, work_dir)
    with torch.device(device) if device is not None else contextlib.nullcontext():
        vision, proc = _vision(cfg, dtype)
        llm = _llm(cfg, dtype, vocab_needed=len(tok))
        model = assemble(vision, llm, tok, cfg)
        model = apply_training_mode(model, cfg)
    vcfg = vision.config
    spec = ImageSpec(size=vcfg.image_size, mean=tuple(proc.image_mean), std=tuple(proc.image_std),
                     seq_len=(vcfg.image_size // vcfg.patch_size) ** 2, grid=cfg.model.multiscale_grid)
    if cfg.model.vision_feature_select_strategy == "default":
        spec.seq_len -= 1
    return Assembled(model, tok, proc, spec, tok.convert_tokens_to_ids(IMAGE_TOKEN))


def save_pretrained_llava(model, tokenizer, image_processor, cfg: TrainConfig, out_dir: str | Path,
                          merge: bool = True) -> Path:
    """Write a directory that `LlavaForConditionalGeneration.from_pretrained` and
    `AutoProcessor.from_pretrained` load. LoRA is merged into the weights (merge=True) and the
    adapter is also kept under adapter/ (for peft; the next training stage reads trainable.pt).
    Mutates `model` when merging."""
    from transformers import LlavaProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):
        model.save_pretrained(out / "adapter")             # peft adapter alone (PeftModel.from_pretrained)
        if merge:
            model = model.merge_and_unload()
        else:
            model = model.get_base_model()
    model.save_pretrained(out)
    vcfg = model.config.vision_config
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=vcfg.patch_size,
                               vision_feature_select_strategy=cfg.model.vision_feature_select_strategy,
                               chat_template=tokenizer.chat_template, image_token=IMAGE_TOKEN,
                               num_additional_image_tokens=0)
    processor.save_pretrained(out)
    return out
