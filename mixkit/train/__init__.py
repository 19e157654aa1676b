"""Reference trainer: SigLIP + MLP projector + causal LM (LlavaForConditionalGeneration) on mixkit shards.

    from mixkit.train import load_config, train
    cfg = load_config("configs/tiny.yaml")
    summary = train(cfg, shards="runs/demo/shards/*.tar", out_dir="runs/train")
"""
from mixkit.train.config import ConfigError, TrainConfig, config_from_dict, load_config
from mixkit.train.loop import train

__all__ = ["ConfigError", "TrainConfig", "config_from_dict", "load_config", "train", "train_with_ray"]


def train_with_ray(*args, **kwargs):
    from mixkit.train.ray_train import train_with_ray as _impl
    return _impl(*args, **kwargs)
