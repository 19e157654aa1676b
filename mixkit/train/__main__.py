"""`torchrun --nproc-per-node 8 -m mixkit.train CONFIG --shards ... --out ...` (one process per GPU)."""
from __future__ import annotations

import argparse
import json

from mixkit.train.config import load_config
from mixkit.train.loop import train


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m mixkit.train", description=__doc__)
    ap.add_argument("config")
    ap.add_argument("--shards", nargs="+", help="shard globs/paths (overrides data.shards)")
    ap.add_argument("--val-shards", nargs="+",
                    help="held-out shards for the validation loss (overrides data.val_shards)")
    ap.add_argument("--out", help="output directory (overrides run.out_dir)")
    ap.add_argument("--max-steps", type=int, help="stop after this step (the LR schedule keeps optim.max_steps)")
    ap.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                    help="continue from OUT/checkpoints/latest (default: yes)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, {"data": {"val_shards": args.val_shards}} if args.val_shards else None)
    summary = train(cfg, shards=args.shards, out_dir=args.out, max_steps=args.max_steps, resume=args.resume)
    return summary


if __name__ == "__main__":
    s = main()
    import os
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({k: v for k, v in s.items() if k != "samples_by_lang"}, ensure_ascii=False))
