"""Reference trainer: config loading, loss mask, model assembly, end-to-end CPU training with
kill/resume and load-back, a 2-process torchrun run."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from mixkit.train.config import ConfigError, config_from_dict, load_config
from mixkit.train.encode import IGNORE, EncodeError, encode_conversation
from mixkit.train.tiny import build_tiny_tokenizer, write_tiny_shards

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    paths = write_tiny_shards(d, n=160, samples_per_shard=20)
    # one shard of broken samples: bad JSON, <image> count mismatch, undecodable image
    with tarfile.open(d / "shard-bad.tar", "w") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("aaa.json", b"{not json")
        msgs = [{"role": "user", "content": "<image><image> hi"}, {"role": "assistant", "content": "x"}]
        add("bbb.json", json.dumps({"lang": "eng_Latn", "task": "caption", "messages": msgs}).encode())
        add("bbb.png", b"\x89PNG\r\n\x1a\n")
        msgs = [{"role": "user", "content": "<image> hi"}, {"role": "assistant", "content": "x"}]
        add("ccc.json", json.dumps({"lang": "eng_Latn", "task": "caption", "messages": msgs}).encode())
        add("ccc.jpg", b"\xff\xd8\xff garbage")
    return d


def test_config_unknown_key_is_an_error(tmp_path):
    cfg = load_config(TINY)
    assert cfg.model.llm == "preset:tiny-qwen2" and cfg.lora.enabled
    with pytest.raises(ConfigError, match="unknown key.*'lrr'"):
        config_from_dict({"optim": {"lrr": 1.0}})
    with pytest.raises(ConfigError, match="precision"):
        config_from_dict({"run": {"precision": "fp8"}})
    for name in ("centurio-qwen2.5-7b.yaml", "centurio-aya-expanse-8b.yaml", "centurio-qwen2.5-7b-stage1.yaml",
                 "centurio-aya-expanse-8b-stage1.yaml"):
        c = load_config(ROOT / "configs" / name)
        assert c.lora.r == 256 and c.model.vision == "google/siglip-so400m-patch14-384"


def test_loss_mask_multiturn_multilingual(tok):
    msgs = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "<image>\nBeschreibe das Bild."},
            {"role": "assistant", "content": "Ein Bild, das größtenteils rot ist."},
            {"role": "user", "content": "ما اللون؟"},
            {"role": "assistant", "content": "أحمر."},
            {"role": "user", "content": "什么颜色？"},
            {"role": "assistant", "content": "红色。"}]
    img_id = tok.convert_tokens_to_ids("<image>")
    enc = encode_conversation(tok, msgs, image_token_id=img_id, image_seq_len=16, max_seq_len=512)
    ids, labels = enc["input_ids"], enc["labels"]
    assert len(ids) == len(labels) and enc["n_images"] == 1
    assert ids.count(img_id) == 16 and all(lab == IGNORE for i, lab in zip(ids, labels) if i == img_id)
    # the labelled tokens, grouped into runs, are exactly the three replies with their end-of-turn token
    runs, cur = [], []
    for i, lab in zip(ids, labels):
        if lab != IGNORE:
            assert lab == i
            cur.append(i)
        elif cur:
            runs.append(tok.decode(cur)); cur = []
    if cur:
        runs.append(tok.decode(cur))
    assert runs == ["Ein Bild, das größtenteils rot ist.<|im_end|>", "أحمر.<|im_end|>", "红色。<|im_end|>"]
    # nothing of the system/user turns or the role headers is learned
    text_unlabelled = tok.decode([i for i, lab in zip(ids, labels) if lab == IGNORE and i != img_id])
    assert "Beschreibe" in text_unlabelled and "ما اللون" in text_unlabelled and "assistant" in text_unlabelled
    # truncation that would cut into image tokens is a rejection, not a silent mismatch
    with pytest.raises(EncodeError, match="too_long"):
        encode_conversation(tok, msgs, image_token_id=img_id, image_seq_len=16, max_seq_len=10)


def test_model_lora_only_on_llm_and_image_token_mismatch(tmp_path):
    from mixkit.train.model import build

    cfg = config_from_dict({"model": {"vision": "preset:tiny-siglip", "llm": "preset:tiny-qwen2",
                                      "tokenizer": "preset:tiny"}})
    a = build(cfg, tmp_path)
    names = [n for n, p in a.model.named_parameters() if p.requires_grad]
    assert any("lora_" in n for n in names) and any("multi_modal_projector" in n for n in names)
    assert not any("vision_tower" in n for n in names)
    assert all(".language_model.layers." in n for n in names if "lora_" in n)
    n = a.image.seq_len
    ids = torch.tensor([[1] + [a.image_token_id] * n + [5, 6]])
    out = a.model(input_ids=ids, pixel_values=torch.randn(1, 3, a.image.size, a.image.size))
    assert out.logits.shape[:2] == (1, n + 3)
    with pytest.raises(Exception, match="do not match"):
        a.model(input_ids=ids[:, :-4], pixel_values=torch.randn(1, 3, a.image.size, a.image.size))


@pytest.mark.slow
def test_train_resume_and_load_back(shards, tmp_path):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from mixkit.train import train

    out = tmp_path / "run"
    def cfg():
        c = load_config(TINY)
        c.optim.max_steps, c.run.log_every, c.run.save_every = 30, 5, 15
        return c
    s1 = train(cfg(), shards=str(shards / "*.tar"), out_dir=str(out), max_steps=15)   # "killed" at step 15
    assert s1["steps"] == 15 and "final_dir" not in s1
    ck = out / "checkpoints" / "step-0000015"
    st = torch.load(ck / "state.pt", weights_only=False)
    assert st["scheduler"]["last_epoch"] == 15
    assert all(int(v["step"]) == 15 for v in st["optim"]["state"].values())
    assert any("lora_" in k for k in st["model"]) and not any("vision_tower" in k for k in st["model"])
    # bad samples were counted, not fatal
    bad = json.loads((ck / "meta.json").read_text())["data"][0]["bad"]
    # once per pass over the bad shard (decoding happens later, at batching, so it can lag a pass)
    assert bad["bad:malformed"] == bad["bad:image_count_mismatch"] >= 1 and bad["bad:image_decode"] >= 1

    s2 = train(cfg(), shards=str(shards / "*.tar"), out_dir=str(out))
    assert s2["steps"] == 30
    st2 = torch.load(out / "checkpoints" / "step-0000030" / "state.pt", weights_only=False)
    assert all(int(v["step"]) == 30 for v in st2["optim"]["state"].values())   # optimizer continued, not restarted
    log = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == [5, 10, 15, 20, 25, 30]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.5 * losses[0]
    by_lang = [r for r in log if "loss" in r][-1]["samples_by_lang"]
    # 30 steps x 2 micro-batches x 8, less partial batches at bucket-pool ends; all 7 languages seen
    assert len(by_lang) == 7 and 0.8 * 480 <= sum(by_lang.values()) <= 480

    final = Path(s2["final_dir"])
    model = LlavaForConditionalGeneration.from_pretrained(final)
    proc = AutoProcessor.from_pretrained(final)
    from PIL import Image
    prompt = proc.tokenizer.apply_chat_template([{"role": "user", "content": "<image>\nDescribe the image."}],
                                                tokenize=False, add_generation_prompt=True)
    inputs = proc(text=prompt, images=Image.new("RGB", (48, 48), (30, 60, 220)), return_tensors="pt")
    gen = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    text = proc.tokenizer.decode(gen[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert len(text.strip()) > 0
    assert (final / "adapter" / "adapter_config.json").exists() and (final / "trainable.pt").exists()


@pytest.mark.slow
def test_torchrun_two_ranks_read_different_shards(shards, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29513",
           "-m", "mixkit.train", str(TINY), "--shards", str(shards / "shard-0000*.tar"), "--out", str(out),
           "--max-steps", "4", "--no-resume"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    meta = json.loads((out / "checkpoints" / "step-0000004" / "meta.json").read_text())
    assert meta["world_size"] == 2 and all(d["epoch"] == 0 for d in meta["data"])   # within one pass
    a, b = (set(d["shards"]) for d in meta["data"])
    assert a and b and not (a & b)
    log = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines() if '"loss"' in l]
    assert log[-1]["step"] == 4 and sum(log[-1]["samples_by_lang"].values()) > 4 * 2 * 2 * 8 * 0.5


@pytest.mark.slow
def test_ray_train_wrapper_runs_the_same_loop_on_two_workers(tmp_path):
    """`mixkit train --ray`: TorchTrainer with 2 CPU workers (gloo) runs train() and checkpoints."""
    from mixkit.train import train_with_ray

    d = tmp_path / "shards"
    write_tiny_shards(d, n=80, samples_per_shard=10)
    cfg = load_config(TINY)
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every = 4, 2, 4
    cfg.data.num_workers = 0
    cfg.data.shards = [str(d / "*.tar")]
    cfg.run.out_dir = str(tmp_path / "out")
    result = train_with_ray(cfg, num_workers=2, use_gpu=False, max_steps=4, cpus_per_worker=0.5)
    assert result.error is None        # (Ray Train V2 keeps metrics only with reported checkpoints)
    assert (tmp_path / "out" / "checkpoints" / "step-0000004").exists()
    log = [json.loads(l) for l in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [2, 4]


# -- issue 16: Centurio fidelity ------------------------------------------------------------
def _ocr_rows(n: int):
    """tiny rows re-tagged as the pretrain recipe's OCR task (what stage 1 must not skip)."""
    from mixkit.train.tiny import tiny_rows

    rows = tiny_rows(n, seed=7)
    for r in rows:
        r["task"] = "ocr"
    return rows


def test_stage1_configs_train_on_every_task(tmp_path):
    from mixkit.train import train
    from mixkit.train.tiny import write_rows

    for name in ("centurio-qwen2.5-7b-stage1.yaml", "centurio-aya-expanse-8b-stage1.yaml"):
        stage1 = load_config(ROOT / "configs" / name)
        assert stage1.training_stage == "stage1" and stage1.data.tasks == []       # no caption-only filter
    d = tmp_path / "shards"
    write_tiny_shards(d, n=40, samples_per_shard=20)
    write_rows(d, _ocr_rows(40), samples_per_shard=20, prefix="ocr")
    cfg = load_config(TINY)
    cfg.training_stage, cfg.data.tasks, cfg.freeze = stage1.training_stage, stage1.data.tasks, stage1.freeze
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every = 3, 3, 3
    cfg.data.num_workers, cfg.data.bucket_buffer, cfg.run.export_final = 0, 80, False
    s = train(cfg, shards=str(d / "*.tar"), out_dir=str(tmp_path / "out"))
    rec = [json.loads(l) for l in (tmp_path / "out" / "log.jsonl").read_text().splitlines() if '"loss"' in l][-1]
    assert rec["samples_by_task"].get("ocr", 0) > 0 and rec["samples_by_task"].get("caption", 0) > 0
    assert "skipped_task" not in s["bad_samples"] and s["samples_by_task"] == rec["samples_by_task"]


def test_cohere_llava_logits_equal_cohere_for_causal_lm(tmp_path):
    """Aya-Expanse multiplies logits by logit_scale (0.125); Llava's lm_head path must keep that."""
    import copy

    from transformers import LlavaForConditionalGeneration

    from mixkit.train.model import _llm, _vision, assemble, load_tokenizer, save_pretrained_llava

    cfg = config_from_dict({"model": {"vision": "preset:tiny-siglip", "llm": "preset:tiny-cohere",
                                      "tokenizer": "preset:tiny", "vision_feature_layer": -1}})
    tok = load_tokenizer(cfg, tmp_path / "tok")
    torch.manual_seed(0)
    vision, proc = _vision(cfg, torch.float32)
    llm = _llm(cfg, torch.float32, vocab_needed=len(tok))
    ref = copy.deepcopy(llm).eval()                       # CohereForCausalLM, logit_scale 0.125, tied
    assert type(ref).__name__ == "CohereForCausalLM" and ref.config.logit_scale == 0.125
    llava = assemble(vision, llm, tok, cfg).eval()
    ids = torch.tensor([tok("Ein Bild, das größtenteils rot ist. 什么颜色？")["input_ids"]])
    with torch.no_grad():
        want = ref(input_ids=ids).logits
        got = llava(input_ids=ids).logits
    assert want.std() > 0.05
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # generation from the saved model (plain transformers, no mixkit code) sees the same logits
    out = save_pretrained_llava(llava, tok, proc, cfg, tmp_path / "final")
    back = LlavaForConditionalGeneration.from_pretrained(out).eval()
    with torch.no_grad():
        torch.testing.assert_close(back(input_ids=ids).logits, want, rtol=1e-5, atol=1e-5)
        g_ref = ref.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
        g_back = back.generate(input_ids=ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert g_ref.tolist() == g_back.tolist()


@pytest.mark.slow
def test_vision_tower_moves_at_1e6_under_bf16_autocast(shards, tmp_path):
    """bf16 weights would round AdamW's 1e-6 steps away; trained parts keep fp32 master weights."""
    from mixkit.train import train
    from mixkit.train.loop import _seed_all
    from mixkit.train.model import build

    cfg = load_config(TINY)
    cfg.model.dtype, cfg.run.precision = "bfloat16", "bf16"
    cfg.freeze.vision, cfg.optim.vision_lr = False, 1e-6
    cfg.optim.max_steps, cfg.optim.warmup_ratio, cfg.run.log_every, cfg.run.save_every = 3, 0.0, 3, 3
    cfg.data.num_workers, cfg.run.merge_lora = 0, False
    _seed_all(cfg.run.seed)                     # the same initial weights train() starts from
    init = build(cfg, tmp_path / "w").model
    vt = init.get_base_model().model.vision_tower
    assert vt.encoder.layers[0].mlp.fc1.weight.dtype == torch.float32           # fp32 master weights
    assert init.get_base_model().model.language_model.layers[0].mlp.up_proj.base_layer.weight.dtype == torch.bfloat16
    s = train(cfg, shards=str(shards / "shard-0000*.tar"), out_dir=str(tmp_path / "run"))
    state = torch.load(Path(s["final_dir"]) / "trainable.pt")
    key = next(k for k in state if k.endswith("vision_tower.encoder.layers.0.mlp.fc1.weight"))
    before = dict(init.named_parameters())[key].detach()
    changed = (state[key] != before).float().mean().item()
    assert changed > 0.9, f"only {changed:.1%} of the entries moved"
    assert (state[key] - before).abs().max().item() < 1e-4                     # ~3 steps of 1e-6
    # the vision parts whose output never reaches the LLM are not trained (DDP needs every trained param used)
    assert not any(k.endswith(("post_layernorm.weight", "head.probe")) for k in state)


def test_multiscale_views_tokens_and_projector_width(tmp_path):
    from PIL import Image

    from mixkit.train.model import build
    from mixkit.train.multiscale import MultiScalePoolProjector, TiledViews

    # Centurio's released shape (WueNLP/centurio_qwen config.json: multiscale-pool, adapter_multi_scale 2,
    # image_hidden_size 1152): SigLIP-SO400M/14@384 -> 27x27 = 729 tokens of 2x1152 channels
    with torch.device("meta"):
        p = MultiScalePoolProjector(1152, 3584, grid=2)
        out = p(torch.empty(2 * 5, (384 // 14) ** 2, 1152))
    assert p.linear_1.in_features == 2 * 1152 and tuple(out.shape) == (2, 729, 3584)

    views = TiledViews(4, mean=(0,) * 3, std=(1,) * 3, grid=2)
    img = Image.new("RGB", (8, 8))
    img.paste((255, 0, 0), (4, 0, 8, 4))                    # top-right quarter red
    v = views(img)
    assert tuple(v.shape) == (5, 3, 4, 4)                   # global + 2x2 tiles, row-major
    assert v[2, 0].min() == 1.0 and v[1, 0].max() == 0.0 and v[3, 0].max() == 0.0

    # the pooled tile map is placed where the tiles were: tile (0,1) = top-right of the big map
    proj = MultiScalePoolProjector(1, 1, grid=2)
    feats = torch.zeros(5, 4, 1)
    feats[2] = 1.0                                           # every feature of tile (0, 1)
    with torch.no_grad():
        proj.linear_1.weight.copy_(torch.tensor([[0.0, 1.0]]))   # read the pooled-tile channel only
        proj.linear_1.bias.zero_()
        proj.act = torch.nn.Identity()
        proj.linear_2.weight.fill_(1.0)
        proj.linear_2.bias.zero_()
        grid = proj(feats).reshape(2, 2)
    assert grid.tolist() == [[0.0, 1.0], [0.0, 0.0]]

    cfg = load_config(ROOT / "configs" / "tiny-multiscale.yaml")
    a = build(cfg, tmp_path)
    base = a.model.get_base_model()
    vcfg = base.config.vision_config
    P = (vcfg.image_size // vcfg.patch_size) ** 2
    assert a.image.seq_len == P and a.image.views.n_views == 5
    assert base.model.multi_modal_projector.linear_1.in_features == 2 * vcfg.hidden_size
    ids = torch.tensor([[1] + [a.image_token_id] * P + [5, 6]])
    pix = torch.randn(5, 3, vcfg.image_size, vcfg.image_size)
    assert a.model(input_ids=ids, pixel_values=pix).logits.shape[:2] == (1, P + 3)


@pytest.mark.slow
def test_multiscale_training_val_loss_tensorboard(shards, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mixkit.train import train
    from mixkit.train.multiscale import load_pretrained

    cfg = load_config(ROOT / "configs" / "tiny-multiscale.yaml")
    cfg.optim.max_steps, cfg.run.log_every, cfg.run.save_every = 6, 3, 6
    cfg.data.num_workers, cfg.run.eval_every, cfg.run.eval_batches = 0, 3, 2
    cfg.data.val_shards = [str(shards / "shard-00007.tar")]
    s = train(cfg, shards=str(shards / "shard-0000[0-6].tar"), out_dir=str(tmp_path / "run"))
    log = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = [r for r in log if "val_loss" in r]
    assert [r["step"] for r in val] == [3, 6] and all(r["val_tokens"] > 0 for r in val)
    assert val[-1]["val_loss"] < val[0]["val_loss"]         # held-out loss falls as the model learns
    ev = EventAccumulator(str(next((tmp_path / "run" / "tensorboard").glob("events.*")))).Reload()
    assert {"train/loss", "val/val_loss", "train/samples_by_task/caption"} <= set(ev.Tags()["scalars"])
    assert [e.step for e in ev.Scalars("val/val_loss")] == [3, 6]
    # the final model reloads with its multi-scale projector and gives the trained logits
    model = load_pretrained(s["final_dir"]).eval()
    assert model.model.multi_modal_projector.linear_1.in_features == 2 * model.config.vision_config.hidden_size
    with pytest.raises(ValueError, match="held-out shards are also training shards"):
        cfg.data.val_shards = [str(shards / "shard-00000.tar")]
        train(cfg, shards=str(shards / "shard-0000[0-6].tar"), out_dir=str(tmp_path / "run2"))


@pytest.mark.slow
def test_torchrun_vision_unfrozen_text_only_batches_ddp_and_fsdp2(shards, tmp_path):
    """Stage 2 with the vision tower trained, 2 gloo ranks, image and text-only batches: DDP (unused
    SigLIP head/final norm frozen, zero-weighted touch on text-only batches) and FSDP2 (an
    all-ignored dummy image row on text-only batches) both finish and give the same losses."""
    import yaml

    from mixkit.train.tiny import write_tiny_shards as w

    text = tmp_path / "text"
    w(text, n=120, samples_per_shard=30, text_only=True, prefix="text")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs = {}
    for port, mode in ((29514, "ddp"), (29515, "fsdp2")):
        data = yaml.safe_load((ROOT / "configs" / "tiny-multiscale.yaml").read_text())
        data["run"].update(distributed=mode, log_every=4, save_every=8)
        data["data"]["num_workers"] = 0
        cfg_path = tmp_path / f"{mode}.yaml"
        cfg_path.write_text(yaml.safe_dump(data))
        out = tmp_path / mode
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
               "-m", "mixkit.train", str(cfg_path), "--shards", str(shards / "shard-0000[0-3].tar"),
               str(text / "*.tar"), "--out", str(out), "--max-steps", "8", "--no-resume"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
        assert r.returncode == 0, r.stderr[-3000:]
        logs[mode] = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines() if '"loss"' in l]
        st = torch.load(out / "checkpoints" / "step-0000008" / "state.pt", weights_only=False)
        assert any("vision_tower.encoder.layers.0." in k for k in st["model"])   # the tower was trained
    for mode, log in logs.items():
        assert log[-1]["step"] == 8 and sum(x["text_only_batches"] for x in log) >= 1, mode
        assert log[-1]["samples_by_task"]["text"] > 0
    assert [x["loss"] for x in logs["ddp"]] == pytest.approx([x["loss"] for x in logs["fsdp2"]], rel=1e-4)


def test_new_run_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="ddp_unused"):
        config_from_dict({"run": {"ddp_unused": "static"}})
    with pytest.raises(ConfigError, match="val_shards is empty"):
        config_from_dict({"run": {"eval_every": 10}})
    with pytest.raises(ConfigError, match="vision_feature_select_strategy: full"):
        config_from_dict({"model": {"multiscale_grid": 2, "vision_feature_select_strategy": "default"}})
    assert config_from_dict({"run": {"wandb": False}}).run.wandb == "off"    # YAML's bare `off`
    from mixkit.train.sinks import MetricSinks

    cfg = config_from_dict({"run": {"wandb": "on", "tensorboard": False}})
    import importlib.util
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(RuntimeError, match="pip install wandb"):
            MetricSinks(tmp_path, cfg.run, cfg.to_dict(), enabled=True)


def test_validation_leaves_training_state_alone(tmp_path):
    """A validation pass must not move the global torch RNG (LoRA dropout masks after it, and so
    the whole run, would depend on run.eval_every), nor leave eval mode or gradients behind."""
    import contextlib

    from mixkit.train.loop import Dist, _seed_all
    from mixkit.train.model import build
    from mixkit.train.validate import validation_loss

    write_tiny_shards(tmp_path / "val", n=20, samples_per_shard=20)
    cfg = load_config(TINY)
    cfg.lora.dropout, cfg.data.num_workers, cfg.run.eval_batches = 0.1, 0, 2
    _seed_all(0)
    built = build(cfg, tmp_path / "w")
    built.model.train()
    rng = torch.get_rng_state()
    val = validation_loss(built.model, [str(tmp_path / "val" / "shard-00000.tar")], cfg, built, Dist(),
                          contextlib.nullcontext, lambda v: v)
    assert val["val_tokens"] > 0 and val["val_batches"] == 2
    assert torch.equal(rng, torch.get_rng_state())
    assert built.model.training and all(p.grad is None for p in built.model.parameters())
    assert built.image.views is built.image.views          # one TiledViews, not one per decoded image


def test_val_shards_are_checked_against_training_shards_by_real_path(shards, tmp_path, monkeypatch):
    from mixkit.train import train

    with pytest.raises(ConfigError, match="run.eval_every is 0"):        # --val-shards alone: no validation
        config_from_dict({"data": {"val_shards": ["x.tar"]}})
    cfg = load_config(TINY)
    cfg.run.eval_every, cfg.data.val_shards = 5, [f"{shards.name}/shard-00001.tar"]   # relative: same file
    monkeypatch.chdir(shards.parent)
    with pytest.raises(ConfigError, match="held-out shards are also training shards"):
        train(cfg, shards=str(shards / "*.tar"), out_dir=str(tmp_path / "run"))


@pytest.mark.parametrize("dropout,workers", [pytest.param(0.1, 0, id="lora_dropout"),
                                             pytest.param(0.0, 2, id="two_loader_workers", marks=pytest.mark.slow)])
def test_resume_is_exact(shards, tmp_path, dropout, workers):
    """Stopped at step 3 and resumed = run straight through. With LoRA dropout (Centurio: 0.05) the
    checkpoint must carry each rank's torch RNG; with loader workers (Centurio: 6) the resumed epoch
    must take its first batch from the worker that was next (3 batches taken: worker 1), not worker 0."""
    from mixkit.train import train

    def cfg():
        c = load_config(TINY)
        c.lora.dropout, c.optim.max_steps, c.optim.grad_accum = dropout, 5, 1
        c.run.save_every, c.run.log_every, c.run.export_final, c.data.num_workers = 5, 5, False, workers
        return c
    sh = str(shards / "shard-0000[0-3].tar")
    train(cfg(), shards=sh, out_dir=str(tmp_path / "a"), resume=False)
    train(cfg(), shards=sh, out_dir=str(tmp_path / "b"), resume=False, max_steps=3)
    train(cfg(), shards=sh, out_dir=str(tmp_path / "b"))
    a, b = (torch.load(tmp_path / r / "checkpoints" / "step-0000005" / "state.pt", weights_only=False)
            for r in ("a", "b"))
    assert a["model"].keys() == b["model"].keys() and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_centurio_shapes_build_on_the_meta_device_and_count_lora_flops(tmp_path):
    """build(device=...) creates every tensor there (the GPU benchmark builds 7B on the GPU this
    way); at Centurio's shapes LoRA r=256 is 646M parameters, +13.7% FLOPs over the frozen base."""
    from mixkit.train.metrics import FlopCounter
    from mixkit.train.model import build

    cfg = load_config(ROOT / "configs" / "centurio-qwen2.5-7b-stage1.yaml")
    cfg.model.vision, cfg.model.llm, cfg.model.tokenizer = "preset:siglip-so400m-384", "preset:qwen2.5-7b", "preset:tiny"
    built = build(cfg, tmp_path, device="meta")
    model = built.model
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert built.image.seq_len == 729 and built.image.views.n_views == 5
    assert model.get_base_model().model.multi_modal_projector.linear_1.in_features == 2304
    f = FlopCounter(model, cfg.freeze.llm, cfg.freeze.vision, views_per_image=5)
    assert f.n_lora == 645_922_816 and round(6 * f.n_lora / (4 * f.n_llm), 3) == 0.137
    without_lora = 4 * f.n_llm * 2048
    assert f.step_flops(2048, [2048], 1, 729) - f.step_flops(0, [2048], 1, 729) == without_lora + 6 * f.n_lora * 2048
