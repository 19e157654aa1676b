"""WebDataset pipeline over mixkit shards -> padded, length-bucketed batches.

Per DataLoader worker:
  shard list (shuffled with (seed, epoch), identical on every rank)
  -> split by node (rank::world) -> split by worker (w::W)        [or ResampledShards]
  -> mixkit.core.shard_format.iter_tar (refused members, broken tars counted by reason)
  -> parse JSON + encode with the chat template (bad samples counted by reason, never fatal)
  -> shuffle buffer -> length bucketing -> [skip batches already trained on: resume]
  -> decode + resize + normalise images -> pad.
Images are decoded last, so replaying the stream to the resume point costs no image decoding.
Each batch carries its worker id and index; the loop keeps those counts as the data position.
"""
from __future__ import annotations

import functools
import io
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass

import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from mixkit.core import storage
from mixkit.core.schema import image_count
from mixkit.core.shard_format import IMAGE_EXTS, SampleError, TarSample, iter_tar  # noqa: F401 (IMAGE_EXTS: API)
from mixkit.train.config import DataConfig
from mixkit.train.encode import IGNORE, EncodeError, encode_conversation
from mixkit.train.multiscale import TiledViews

log = logging.getLogger("mixkit.train.data")


def expand_shards(patterns: list[str] | str) -> list[str]:
    """Directories, globs, plain paths, brace patterns (`shard-{00000..00009}.tar`) and URLs of
    any of them (s3://bucket/mix/shard-*.tar: streamed, never downloaded whole) -> sorted
    unique list (mixkit.core.shard_format.expand_shards, the one place that resolves shard lists)."""
    from mixkit.core.shard_format import expand_shards as resolve

    try:
        return sorted(dict.fromkeys(resolve(patterns)))
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e}; pass --shards 'DIR/*.tar'") from None


def same_file_key(url: str) -> str:
    """One key per file whatever the spelling: the real path of a local shard (./x, absolute
    paths, links alike), the URL (without credentials) of a remote one."""
    return storage.display(url) if storage.is_remote(url) else os.path.realpath(storage.local_path(url))


@dataclass
class ImageSpec:
    size: int                  # square side fed to the vision tower
    mean: tuple[float, ...]
    std: tuple[float, ...]
    seq_len: int               # vision features (= image tokens) per image
    grid: int = 1              # multi-scale: 1 + grid*grid views per image (multiscale.TiledViews)

    @functools.cached_property
    def views(self) -> TiledViews:            # built once, not per decoded image
        return TiledViews(self.size, self.mean, self.std, self.grid)


def sample_images(sample: dict | TarSample) -> list[bytes]:
    """Image members of a grouped sample in order (shard_format's rule): KEY.jpg, or KEY.0.jpg, KEY.1.png, ..."""
    if not isinstance(sample, TarSample):
        sample = TarSample(str(sample.get("__key__")), {k: v for k, v in sample.items() if not k.startswith("__")})
    try:
        return sample.images()
    except SampleError as e:
        raise EncodeError(e.reason, e.detail) from None


def decode_image(data: bytes, spec: ImageSpec) -> torch.Tensor:
    """Image bytes -> (views, 3, S, S): one squashed S x S view, or Centurio's global view + tiles."""
    from PIL import Image

    return spec.views(Image.open(io.BytesIO(data)))


class ShardStream(IterableDataset):
    """One epoch of batches for one rank. Build a new one per epoch (the epoch seeds the order)."""

    def __init__(self, urls: list[str], cfg: DataConfig, tokenizer, image_token_id: int, image: ImageSpec, *,
                 seed: int, epoch: int, rank: int = 0, world_size: int = 1, skip: dict[int, int] | None = None,
                 chat_template: str | None = None, first_worker: int = 0):
        self.urls, self.cfg, self.tok = list(urls), cfg, tokenizer
        # DataLoader takes batches from its workers round-robin from worker 0; a resumed epoch starts
        # the cycle at the worker that was next (loader worker w plays worker (w + first_worker) % W)
        self.first_worker = first_worker
        self.image_token_id, self.image, self.chat_template = image_token_id, image, chat_template
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world_size
        self.skip = dict(skip or {})
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if not cfg.resampled and len(self.urls) < world_size:
            raise ValueError(f"{len(self.urls)} shards for {world_size} ranks: every rank needs at least one shard "
                             "(write more, smaller shards or set data.resampled: true)")

    # -- pipeline steps -----------------------------------------------------------------
    def _shard_source(self, worker: int, num_workers: int):
        if self.cfg.resampled:
            # WebDataset(resampled=True) seeds from time and pid (not reproducible); this one is
            # deterministic per (seed, epoch, rank, worker) so a resumed run sees the same stream.
            return wds.ResampledShards(self.urls, seed=self.seed * 1000 + self.epoch, deterministic=True,
                                       worker_seed=lambda: self.rank * 1000 + worker)
        urls = list(self.urls)
        if self.cfg.shard_shuffle:
            random.Random(self.seed * 1000 + self.epoch).shuffle(urls)   # same order on every rank
        # split by node, then by worker (islice semantics of wds.split_by_node/split_by_worker, with the
        # rank passed explicitly: Ray Train workers and spawned loaders need not carry RANK in the env)
        mine = urls[self.rank::self.world][worker::num_workers]
        return [dict(url=u) for u in mine]

    def _samples(self, shards, stats: Counter):
        """Samples of each shard through the one tar reader (shard_format.iter_tar), as dicts
        {"__key__", "__url__", ext: bytes}. Refused samples and members, broken tars and
        unreadable files are counted by reason, never fatal."""
        for shard in shards:
            url = shard["url"]
            try:
                for item in iter_tar(url):
                    if isinstance(item, TarSample) and item.reject is None:
                        yield {"__key__": item.key, "__url__": url, **item.members}
                        continue
                    reason, detail = item.reject if isinstance(item, TarSample) else (item.reason, item.detail)
                    stats["bad:" + reason] += 1
                    if stats["bad:" + reason] <= 3:
                        log.warning("%s: %s (%s)", url, detail, reason)
            except OSError as e:
                stats["bad:read_error"] += 1
                log.warning("cannot read shard %s: %s", url, e)

    def _encode(self, samples, stats: Counter):
        for s in samples:
            try:
                doc = json.loads(s["json"])
                if self.cfg.tasks and doc.get("task") not in self.cfg.tasks:
                    stats["skipped_task"] += 1
                    continue
                images = sample_images(s)
                n_placeholders = image_count(doc["messages"])
                if n_placeholders != len(images):
                    raise EncodeError("image_count_mismatch", f"{n_placeholders} <image> vs {len(images)} images")
                enc = encode_conversation(self.tok, doc["messages"], image_token_id=self.image_token_id,
                                          image_seq_len=self.image.seq_len, max_seq_len=self.cfg.max_seq_len,
                                          chat_template=self.chat_template)
                if enc["n_images"] != len(images):
                    raise EncodeError("image_token_mismatch", "tokenizer split an <image> placeholder")
            except EncodeError as e:
                self._bad(stats, e.reason, s, e)
                continue
            except (KeyError, ValueError, TypeError) as e:     # malformed JSON / fields
                self._bad(stats, "malformed", s, e)
                continue
            yield {"key": s.get("__key__"), "url": s.get("__url__"), "lang": doc.get("lang", "und"), "images": images,
                   "task": doc.get("task") or "und", **enc}

    @staticmethod
    def _bad(stats: Counter, reason: str, sample: dict, err: Exception):
        stats["bad:" + reason] += 1
        if stats["bad:" + reason] <= 3:
            log.warning("skipping sample %s (%s): %s", sample.get("__key__"), reason, err)

    def _bucket(self, samples, rng: random.Random):
        """Pool `bucket_buffer` samples, sort by length, cut into batches, emit in random order."""
        pool, bs = [], self.cfg.batch_size
        def flush():
            pool.sort(key=lambda x: len(x["input_ids"]))
            batches = [pool[i:i + bs] for i in range(0, len(pool), bs)]
            rng.shuffle(batches)
            pool.clear()
            return batches
        for s in samples:
            pool.append(s)
            if len(pool) >= max(self.cfg.bucket_buffer, bs):
                yield from flush()
        if pool:
            yield from flush()

    def _collate(self, batch: list[dict], stats: Counter) -> dict | None:
        pixels, kept = [], []
        for s in batch:
            try:
                pixels += [decode_image(b, self.image) for b in s["images"]]
                kept.append(s)
            except Exception as e:       # PIL raises many types on corrupt bytes
                self._bad(stats, "image_decode", s, e)
        if not kept:
            return None
        n = max(len(s["input_ids"]) for s in kept)
        ids = torch.full((len(kept), n), self.pad_id, dtype=torch.long)
        labels = torch.full((len(kept), n), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(kept), n), dtype=torch.long)
        for i, s in enumerate(kept):
            L = len(s["input_ids"])
            ids[i, :L] = torch.tensor(s["input_ids"])
            labels[i, :L] = torch.tensor(s["labels"])
            mask[i, :L] = 1
        # (images * views, 3, S, S): the multi-scale projector regroups the views per image
        return {"input_ids": ids, "labels": labels, "attention_mask": mask,
                "pixel_values": torch.cat(pixels) if pixels else None, "n_images": len(pixels),
                "langs": [s["lang"] for s in kept], "tasks": [s.get("task", "und") for s in kept],
                "urls": sorted({str(s["url"]) for s in kept})}

    # -- iteration ----------------------------------------------------------------------
    def __iter__(self):
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        worker = (worker + self.first_worker) % num_workers
        stats: Counter = Counter()

        rng = random.Random(wds.utils.make_seed(self.seed, self.epoch, self.rank, worker))
        src = self._shard_source(worker, num_workers)
        stream = self._samples(src, stats)
        stream = self._encode(stream, stats)
        stream = wds.filters._shuffle(stream, bufsize=self.cfg.shuffle_buffer,
                                      initial=min(self.cfg.shuffle_buffer, 64), rng=rng)
        limit = (self.cfg.epoch_batches or 1000) if self.cfg.resampled else None   # with_epoch for endless streams
        skip = self.skip.get(worker, 0)
        for index, batch in enumerate(self._bucket(stream, rng)):
            if limit is not None and index >= limit:
                break
            if index < skip:                  # already trained on before the restart
                stats.clear()                 # and its bad samples were already counted then
                continue
            out = self._collate(batch, stats)
            if out is None:
                continue
            out.update(worker=worker, index=index, stats=dict(stats))
            stats.clear()
            yield out


def make_loader(stream: ShardStream, num_workers: int) -> DataLoader:
    # batch_size=None: the stream yields whole batches (bucketed in the worker).
    # A private generator: each DataLoader iterator draws a base seed, which would otherwise come from
    # the global torch RNG and shift LoRA dropout (a validation pass, a new epoch). The stream seeds
    # itself from (seed, epoch, rank, worker), so the base seed is unused.
    return DataLoader(stream, batch_size=None, num_workers=num_workers,
                      persistent_workers=False, prefetch_factor=4 if num_workers else None,
                      multiprocessing_context="fork" if num_workers else None,
                      generator=torch.Generator().manual_seed(stream.seed))
