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
