"""What one training stage hands the next (mixkit/train/handoff.py): every part that differs from the
base models, frozen ones included, in the dtype it has; which parameter is which part (parts.py);
loud failures on a hand-off that lacks a part."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from mixkit.train.config import ConfigError, config_from_dict
from mixkit.train.checkpoint import load_trainable_file
from mixkit.train.handoff import TRAINABLE, gather, kept_names, load_trainable
from mixkit.train.parts import LLM, LORA, PROJECTOR, VISION, modules_of, part_of
from mixkit.train.tiny import write_tiny_shards

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def tiny_config(**sections) -> dict:
    """configs/tiny.yaml as a dict, with `section={key: value}` updates (top-level keys: `key=value`)."""
    data = yaml.safe_load(TINY.read_text())
    data["data"]["num_workers"] = 0
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return data


def built(tmp_path, **sections):
    from mixkit.train.model import build

    return build(config_from_dict(tiny_config(**sections)), tmp_path / "work")


def projector_of(state: dict) -> dict:
    return {n: t for n, t in state.items() if part_of(n) == PROJECTOR}


def assert_same(a: dict, b: dict):
    """Same names, dtypes and bits."""
    assert a.keys() == b.keys() and a
    for n in a:
        assert a[n].dtype == b[n].dtype and torch.equal(a[n], b[n]), n


# -- which parameter is which part ------------------------------------------------------------
def test_every_parameter_has_one_part_and_the_optimizer_groups_follow_it(tmp_path):
    from mixkit.train.loop import image_params, make_optimizer

    a = built(tmp_path, freeze={"vision": False})
    names = dict(a.model.named_parameters())
    parts = {n: part_of(n) for n in names}
    for part in (PROJECTOR, VISION, LLM):           # the registry's names agree with the modules
        in_modules = {id(p) for m in modules_of(a.model, part) for p in m.parameters()}
        assert {id(p) for n, p in names.items() if parts[n] in (part, LORA if part == LLM else part)} == in_modules
    assert sum(v == LORA for v in parts.values()) == 2 * 7 * 2          # A, B x 7 linears x 2 layers
    assert part_of("module.model.multi_modal_projector.linear_1.weight") == PROJECTOR   # DDP's names
    with pytest.raises(ValueError, match="LoRA must stay in the language model"):
        part_of("base_model.model.model.vision_tower.encoder.layers.0.mlp.fc1.lora_A.default.weight")
    with pytest.raises(ValueError, match="belongs to no part"):
        part_of("model.some_new_module.weight")
    with pytest.raises(ValueError, match="LoRA must stay in the language model"):
        built(tmp_path, lora={"target_regex": r".*\.fc1"})      # SigLIP's MLP
    opt = make_optimizer(a.model, config_from_dict(tiny_config(optim={"vision_lr": 1e-6})), torch.device("cpu"))
    groups = {g["name"]: g["params"] for g in opt.param_groups}
    assert {g["name"]: g["lr"] for g in opt.param_groups}["vision"] == 1e-6
    assert {id(p) for p in groups["projector"]} == {id(p) for n, p in names.items() if parts[n] == PROJECTOR}
    assert {id(p) for p in groups["llm"]} == {id(p) for n, p in names.items() if parts[n] == LORA}
    assert len(groups["vision"]) > 0 and all(p.requires_grad for p in groups["vision"])
    assert {id(p) for p in image_params(a.model)} == {id(p) for p in groups["projector"] + groups["vision"]}


# -- dtypes ----------------------------------------------------------------------------------
def test_frozen_parts_keep_their_dtype_trained_parts_get_fp32_masters(tmp_path):
    bf16 = {"dtype": "bfloat16"}
    frozen = built(tmp_path, model=bf16, freeze={"projector": True}).model
    dtypes = {part_of(n): p.dtype for n, p in frozen.named_parameters()}
    assert dtypes == {PROJECTOR: torch.bfloat16, VISION: torch.bfloat16, LLM: torch.bfloat16, LORA: torch.float32}
    trained = built(tmp_path, model=bf16).model
    assert {p.dtype for n, p in trained.named_parameters() if part_of(n) == PROJECTOR} == {torch.float32}
    # a projector trained in fp32 and frozen now keeps its fp32 bits; the whole module is widened
    state = gather(trained, kept_names(trained))
    with torch.no_grad():
        state = {n: t + 1e-3 if part_of(n) == PROJECTOR else t for n, t in state.items()}   # not bf16-exact
    assert load_trainable(frozen, state, source="test") == set(state)
    assert_same(projector_of(gather(frozen, kept_names(frozen))), projector_of(state))
    assert {p.dtype for p in modules_of(frozen, PROJECTOR)[0].parameters()} == {torch.float32}
    assert {p.dtype for p in modules_of(frozen, VISION)[0].parameters()} == {torch.bfloat16}
    # bf16 values into an fp32 master are exact
    narrow = {n: t.to(torch.bfloat16) for n, t in state.items()}
    load_trainable(trained, narrow, source="test")
    got = projector_of(gather(trained, kept_names(trained)))
    assert all(torch.equal(got[n], narrow[n].float()) for n in got)


def test_base_models_do_not_depend_on_the_run_seed(tmp_path):
    """A frozen base part is not handed on, so every training stage must rebuild the same base: presets
    from a fixed seed, embedding rows added for new tokens set to the mean (not drawn at random)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from mixkit.train.model import _llm, load_tokenizer

    a = dict(built(tmp_path, run={"seed": 0}).model.named_parameters())
    b = dict(built(tmp_path, run={"seed": 1}).model.named_parameters())
    same = {part_of(n) for n in a if torch.equal(a[n], b[n])}
    differ = {part_of(n) for n in a if not torch.equal(a[n], b[n])}
    assert same == {VISION, LLM, LORA} and differ == {PROJECTOR, LORA}     # LoRA B starts at 0
    # a real checkpoint whose embedding table the tokenizer outgrows
    cfg = config_from_dict(tiny_config())
    tok = load_tokenizer(cfg, tmp_path / "tok")
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok) - 3, hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                 tie_word_embeddings=False)).save_pretrained(tmp_path / "lm")
    cfg.model.llm = str(tmp_path / "lm")
    tables = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        llm = _llm(cfg, torch.float32, vocab_needed=len(tok))
        tables.append([llm.get_input_embeddings().weight.detach(), llm.get_output_embeddings().weight.detach()])
    for t0, t1 in zip(*tables):                     # input embeddings, lm_head
        assert t0.shape[0] == len(tok) and torch.equal(t0, t1)
        assert all(torch.equal(t0[i], t0[:-3].mean(0)) for i in (-3, -2, -1))


# -- loud failures -----------------------------------------------------------------------------
def test_load_trainable_fails_on_a_missing_or_unknown_part(tmp_path):
    m = built(tmp_path).model
    good = gather(m, kept_names(m))
    assert {part_of(n) for n in good} == {PROJECTOR, LORA}           # nothing trained, nothing carried

    def fails(state, pattern):
        with pytest.raises(ValueError, match=pattern) as e:
            load_trainable(built(tmp_path).model, state, source="runs/s2/final")
        assert "\n" not in str(e.value) and str(e.value).startswith("runs/s2/final: ")

    fails({n: t for n, t in good.items() if part_of(n) != PROJECTOR},
          "holds no projector.*re-run the training stage that wrote it, or remove model.init_from")
    one_lora = next(n for n in good if part_of(n) == LORA)
    fails({n: t for n, t in good.items() if n != one_lora}, "1 of 28 lora tensors are missing.*model and lora settings")
    fails({**good, "base_model.model.model.multi_modal_projector.linear_3.weight": torch.zeros(1)},
          "1 tensors match no parameter of this model")
    fails({n: t[:1] if n == one_lora else t for n, t in good.items()},
          r"has shape \(1, 64\) there but \(16, 64\) here .*lora settings")
    no_lora = {n: t for n, t in good.items() if part_of(n) != LORA}      # an earlier stage without LoRA
    assert load_trainable(built(tmp_path).model, no_lora, source="x") == set(no_lora)


def test_a_handoff_without_its_projector_stops_the_next_training_stage(tmp_path):
    """The output of the old trainer (projector frozen, so left out) is refused before any step."""
    from mixkit.train import train

    m = built(tmp_path).model
    old = tmp_path / "stage2" / "final"
    old.mkdir(parents=True)
    torch.save({n: t for n, t in gather(m, kept_names(m)).items() if part_of(n) != PROJECTOR}, old / TRAINABLE)
    assert load_trainable_file(tmp_path / "stage2").keys() == torch.load(old / TRAINABLE).keys()   # run dir
    cfg = config_from_dict(tiny_config(model={"init_from": str(tmp_path / "stage2")}))
    with pytest.raises(ValueError, match="holds no projector"):
        train(cfg, shards=write_tiny_shards(tmp_path / "shards", n=20), out_dir=str(tmp_path / "stage3"))
    assert not (tmp_path / "stage3" / "checkpoints").exists()


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    from mixkit.train import train

    shards = write_tiny_shards(tmp_path / "shards", n=20, samples_per_shard=20)
    run = dict(optim={"max_steps": 1}, run={"save_every": 1, "export_final": False})
    train(config_from_dict(tiny_config(**run)), shards=shards, out_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="checkpoint .*step-0000001: .* has shape .*--no-resume"):
        train(config_from_dict(tiny_config(lora={"r": 4}, **run)), shards=shards, out_dir=str(tmp_path / "run"))


def test_old_stage_key_is_read_with_a_warning():
    with pytest.warns(FutureWarning, match="`stage:` is now `training_stage:`"):
        assert config_from_dict({"stage": "stage2"}).training_stage == "stage2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config_from_dict({"training_stage": "stage1"}).training_stage == "stage1"
    with pytest.raises(ConfigError, match="keep `training_stage:`"):
        config_from_dict({"stage": "stage2", "training_stage": "stage2"})


# -- training stage 1 -> 2 (projector frozen) -> 3, bit for bit --------------------------------
@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """Training stage 1 in bf16 with fp32 masters: projector, LoRA and the vision tower trained."""
    from mixkit.train import train

    d = tmp_path_factory.mktemp("handoff")
    shards = write_tiny_shards(d / "shards", n=60, samples_per_shard=20)
    cfg = tiny_config(training_stage="stage1", model={"dtype": "bfloat16"}, freeze={"vision": False},
                      optim={"max_steps": 3, "vision_lr": 1e-3},
                      run={"precision": "bf16", "log_every": 3, "save_every": 3})
    train(config_from_dict(cfg), shards=shards, out_dir=str(d / "stage1"))
    return d, shards, cfg


def later_stage(cfg1: dict, name: str, init_from, seed: int, steps: int, **run) -> dict:
    """A later training stage of stage 1's model: projector and vision frozen, another seed."""
    return {**cfg1, "training_stage": name, "model": {**cfg1["model"], "init_from": str(init_from)},
            "freeze": {"vision": True, "projector": True, "llm": True},
            "optim": {**cfg1["optim"], "max_steps": steps},
            "run": {**cfg1["run"], "seed": seed, "save_every": steps, "log_every": steps, "merge_lora": True, **run}}


def check_handoff(s1: dict, s2: dict, s3: dict):
    """Stage 2 kept stage 1's projector and trained vision layers bit for bit, trained its LoRA, left the
    never-trained vision parts out; stage 3 started from (and, frozen, kept) stage 2's projector."""
    assert_same(projector_of(s2), projector_of(s1))
    assert {t.dtype for t in projector_of(s2).values()} == {torch.float32}        # fp32, as trained
    vision1 = {n: t for n, t in s1.items() if part_of(n) == VISION}
    assert vision1 and not any("post_layernorm" in n or ".head." in n for n in vision1)
    assert_same({n: t for n, t in s2.items() if part_of(n) == VISION}, vision1)
    assert s2.keys() == s1.keys() == s3.keys()
    lora = [n for n in s1 if part_of(n) == LORA and "lora_B" in n]
    assert not all(torch.equal(s1[n], s2[n]) for n in lora)                       # stage 2 trained LoRA
    assert_same(projector_of(s3), projector_of(s2))


def final_weights(final: Path) -> dict:
    """final/ loaded back by plain transformers (the multi-scale class when needed), as fp32 tensors."""
    from mixkit.train.multiscale import load_pretrained

    return {n: t.float() for n, t in load_pretrained(final).state_dict().items()}


def assert_final_projector(final: Path, state: dict):
    """The exported model's projector is `state`'s (fp32 there: the comparison is bit for bit)."""
    want = {n.removeprefix("base_model.model."): t for n, t in projector_of(state).items()}
    assert {t.dtype for t in want.values()} == {torch.float32}
    assert_same({n: t for n, t in final_weights(final).items() if part_of(n) == PROJECTOR}, want)


@pytest.mark.slow
def test_frozen_projector_survives_training_stages_single_process(stage1, tmp_path):
    from mixkit.train import train
    from mixkit.train.model import build

    d, shards, cfg1 = stage1
    cfg2 = later_stage(cfg1, "stage2", d / "stage1", seed=1, steps=2)
    s2 = train(config_from_dict(cfg2), shards=shards, out_dir=str(tmp_path / "stage2"))
    cfg3 = later_stage(cfg1, "stage3", tmp_path / "stage2" / "final", seed=2, steps=1)
    s3 = train(config_from_dict(cfg3), shards=shards, out_dir=str(tmp_path / "stage3"))
    load = lambda p: torch.load(Path(p) / TRAINABLE, weights_only=True)     # noqa: E731
    t1, t2, t3 = load(d / "stage1" / "final"), load(s2["final_dir"]), load(s3["final_dir"])
    check_handoff(t1, t2, t3)
    start = json.loads((tmp_path / "stage3" / "log.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["training_stage"] == "stage3"
    # a checkpoint holds the same (so it too can start the next training stage)
    assert_same(torch.load(Path(s2["checkpoint"]) / "state.pt", weights_only=False)["model"], t2)
    # the exported model has it too, and base models + trainable.pt = the final model, every tensor
    assert_final_projector(Path(s3["final_dir"]), t1)
    rebuilt = build(config_from_dict({**cfg3, "model": {**cfg3["model"], "init_from": None}}), tmp_path / "w").model
    load_trainable(rebuilt, t3, source="stage 3")
    merged = {n: t.float() for n, t in rebuilt.merge_and_unload().state_dict().items()}
    assert_same(final_weights(Path(s3["final_dir"])), merged)       # bf16 -> fp32 is exact


@pytest.mark.slow
def test_frozen_projector_survives_training_stages_fsdp2(stage1, tmp_path):
    """The same hand-off with training stages 2 and 3 on FSDP2 (2 gloo ranks): the sharded frozen
    projector is gathered into trainable.pt, a checkpoint and the exported model."""
    d, shards, cfg1 = stage1
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outs = {}
    for name, init_from, seed, steps, port in (("stage2", d / "stage1", 1, 2, 29521),
                                               ("stage3", tmp_path / "stage2" / "final", 2, 1, 29522)):
        cfg_path = tmp_path / f"{name}.yaml"
        cfg_path.write_text(yaml.safe_dump(later_stage(cfg1, name, init_from, seed, steps, distributed="fsdp2")))
        outs[name] = tmp_path / name
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
               "-m", "mixkit.train", str(cfg_path), "--shards", *shards, "--out", str(outs[name])]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        meta = json.loads((outs[name] / "checkpoints" / f"step-{steps:07d}" / "meta.json").read_text())
        assert meta["world_size"] == 2
    load = lambda p: torch.load(Path(p) / TRAINABLE, weights_only=True)     # noqa: E731
    t1, t2, t3 = load(d / "stage1" / "final"), load(outs["stage2"] / "final"), load(outs["stage3"] / "final")
    check_handoff(t1, t2, t3)
    assert_same(torch.load(outs["stage2"] / "checkpoints" / "step-0000002" / "state.pt",
                           weights_only=False)["model"], t2)
    assert_final_projector(outs["stage2"] / "final", t1)
    assert_final_projector(outs["stage3"] / "final", t1)
