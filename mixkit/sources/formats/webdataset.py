"""WebDataset tars (.tar, .tar.gz, .tgz): mixkit's own shards, img2dataset's samples (KEY.jpg +
KEY.txt caption [+ KEY.json metadata]) and LLaVA records inside a tar. Read by
mixkit.core.shard_format.iter_tar, so links, devices, absolute or ../ names and adjacent
repeated keys become rejects too; a tar cut short keeps the samples before the break."""
from __future__ import annotations

import os
from typing import Iterator

from mixkit.core.shard_format import SampleError, TarSample, iter_tar
from mixkit.sources.base import SourceFormat
from mixkit.sources.records import Pair, ReadContext, Reject, check_image, normalise, reject


def _sample(ctx: ReadContext, sample: TarSample) -> Pair:
    pos = f"member {sample.key}"
    try:
        if sample.reject is not None:
            raise Reject(*sample.reject)
        rec = sample.doc()
        caption = sample.caption()
        images = [check_image(d, sample.name(e)) for e, d in sample.image_members()]
        if not rec and not images and caption is None:
            raise Reject("bad_record", f"sample {sample.key} has no json, text or image member")
        rec.setdefault("key", sample.key)
        return normalise(ctx, rec, sample.key, pos, member_images=images, caption=caption)
    except (Reject, SampleError) as r:
        return None, reject(ctx, sample.key, ctx.lang, r.reason,
                            f"{ctx.file} {pos} ({', '.join(map(os.path.basename, sample.names))}): {r.detail}")


def read(ctx: ReadContext, batch_rows: int = 0) -> Iterator[Pair]:
    keys: set[str] = set()
    for n, item in enumerate(iter_tar(ctx.file)):
        if isinstance(item, TarSample):
            row, rej = _sample(ctx, item)
            if item.key in keys and rej is not None:
                # A key met before, not adjacent: its members were split apart (GNU tar from disk
                # stores a folder in directory order); say so, or the reason alone misleads.
                rej["detail"] += (f"; key {item.key!r} also came earlier in this tar: a sample's members must be "
                                  "adjacent (write the tar sorted, e.g. tar --sort=name)")
            keys.add(item.key)
            yield row, rej
        elif item.reason == "broken_tar" and item.key:
            yield None, reject(ctx, item.key, ctx.lang, item.reason, f"{ctx.file}: {item.detail}")
        else:
            # A refused member name never becomes an id: the reject is keyed by file and position.
            yield None, reject(ctx, f"{ctx.base}:{item.reason}@{n}", ctx.lang, item.reason,
                               f"{ctx.file}: {item.detail}")


FORMAT = SourceFormat("webdataset", (".tar", ".tar.gz", ".tgz"), read, priority=50)
