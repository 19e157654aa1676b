"""read: the recipe's sources into parquet partitions, one task per source file (or per limited source)."""
from __future__ import annotations

import math
import zlib
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixkit.build.steps.base import (ROWS_PER_PART, SHUFFLE_ROWS, BuildContext, BuildStep, RowsResult, count_rows,
                                     rows_of)
from mixkit.core.schema import REJECT_SCHEMA, make_reject, rows_to_table
from mixkit.core import storage
from mixkit.runtime.partitions import is_done, mark_done, parts, read_table, write_table_atomic


def _read_task(job: dict) -> dict:
    from mixkit.sources import read_source_file

    out_dir = storage.path(job["out_dir"])
    rows_left = job["limit"]
    n_rows = n_rej = part = 0
    rej_buf: list[dict] = []
    row_buf: list[dict] = []
    tag = job["tag"]

    def flush_rows():
        nonlocal part, row_buf
        if row_buf:
            write_table_atomic(rows_to_table(row_buf), out_dir / f"part-{tag}-{part:05d}.parquet")
            part += 1
            row_buf = []

    for file in job["files"]:
        for rows, rejects in read_source_file(file, source=job["source"], format=job["format"], task=job["task"],
                                              lang=job["lang"], image_root=job["image_root"]):
            if rows_left is not None:
                rows = rows[:max(rows_left, 0)]
                rows_left -= len(rows)
            row_buf.extend(rows)
            rej_buf.extend(rejects)
            n_rows += len(rows)
            n_rej += len(rejects)
            if len(row_buf) >= ROWS_PER_PART:
                flush_rows()
            if rows_left is not None and rows_left <= 0:
                break
        if rows_left is not None and rows_left <= 0:
            break
    flush_rows()
    write_table_atomic(rows_to_table(rej_buf, REJECT_SCHEMA), out_dir / f"rejects-{tag}.parquet")
    # The task's mark, last: a rerun removes the partitions of a task without one (a killed read
    # leaves no partial set that could pass for complete); no rename, which object storage lacks.
    storage.write_text(out_dir / f"{tag}.done", "ok\n")
    return {"rows": n_rows, "rejects": n_rej}


class ReadSources(BuildStep):
    name = "read"
    row_step = True

    def run(self, ctx: BuildContext) -> RowsResult:
        d = self.dir
        if not is_done(d):
            from mixkit.sources import list_source_files

            d.mkdir(parents=True, exist_ok=True)
            present = sorted(d.iterdir())               # one listing (object storage: one request)
            names = {p.name for p in present}
            by_tag: dict[str, list] = {}                # part-<tag>-NNNNN.parquet[.tmp] by its task's tag
            for p in present:
                if p.name.startswith("part-"):
                    by_tag.setdefault(p.name[5:].rsplit("-", 1)[0], []).append(p)
            jobs = []
            for i, src in enumerate(ctx.recipe.sources):
                files = list_source_files(src.path, None if src.format == "auto" else src.format)
                # With a limit the files of a source are read in order by one task; else one task per file.
                groups = [files] if src.limit else [[f] for f in files]
                for j, g in enumerate(groups):
                    tag = f"s{i:03d}-f{j:05d}"
                    if f"{tag}.done" in names:
                        continue
                    for stale in by_tag.get(tag, ()):          # what a killed task of it wrote
                        stale.unlink(missing_ok=True)
                    jobs.append({"out_dir": str(d), "tag": tag, "files": g, "source": src.name,
                                 "format": src.format, "task": src.task, "lang": src.lang,
                                 "image_root": src.image_root, "limit": src.limit})
            if jobs:
                ctx.engine.map_tasks(_read_task, jobs,
                                     on_done=lambda n, t: ctx.progress.update("read sources", n, t))
            _reject_duplicate_ids(ctx, d)
            mark_done(d)
        ctx.rows_dir = d
        res = RowsResult(dir=d, rows_out=count_rows(d))
        res.rows_in = res.rows_out + res.rejected()
        return res


ID_GROUP_ROWS = 500_000         # ids compared in one worker


def _id_rows(item: tuple[str, int], groups: int) -> pa.Table:
    """A partition's ids with their place (partition, row) and their group (a hash of the id)."""
    path, part = item
    ids = read_table(path, columns=["id"])["id"]
    g = [zlib.crc32(i.encode("utf-8")) % groups for i in ids.to_pylist()]
    return pa.table({"g": pa.array(g, pa.int64()), "id": ids, "part": pa.array([part] * len(ids), pa.int32()),
                     "row": pa.array(range(len(ids)), pa.int32())})


def _later_copies(table: pa.Table, out_dir: str) -> dict:
    """Rows whose id an earlier row (in partition order, then row order) already has -> a file."""
    t = table.sort_by([("id", "ascending"), ("part", "ascending"), ("row", "ascending")])
    ids = t["id"].to_numpy(zero_copy_only=False)
    later = np.flatnonzero(ids[1:] == ids[:-1]) + 1
    if not len(later):
        return {"parts": []}
    dup = t.take(pa.array(later)).select(["part", "row"])
    write_table_atomic(dup, storage.path(out_dir) / f"g-{int(t['g'][0].as_py()):06d}.parquet")
    return {"parts": sorted(set(dup["part"].to_pylist()))}


def _drop_copies(job: dict) -> None:
    """One partition without its later copies of an id, each a reject (written first: rerunnable)."""
    path = storage.path(job["path"])
    rows = read_table(path)
    drop = set()
    for f in job["dup_files"]:
        t = read_table(f)
        drop |= set(t.filter(pc.equal(t["part"], job["part"]))["row"].to_pylist())
    if not drop:
        return
    rej = [make_reject(r, "read", "duplicate_id", "another record of this source has the same id")
           for i, r in enumerate(rows.drop_columns(["images"]).to_pylist()) if i in drop]
    write_table_atomic(rows_to_table(rej, REJECT_SCHEMA), path.with_name(f"rejects-dupid-{path.stem}.parquet"))
    keep = pa.array([i not in drop for i in range(rows.num_rows)])
    write_table_atomic(rows.filter(keep), path)


def _reject_duplicate_ids(ctx: BuildContext, d) -> None:
    """Two records that normalise to the same id (same source, origin id, lang, task): keep the
    first. Ids meet by hash group in workers (a shuffle); only partitions with a copy are rewritten."""
    src = parts(d)
    rows = rows_of(src)
    groups = max(1, math.ceil(sum(rows) / ID_GROUP_ROWS))
    (d / "dupids").mkdir(exist_ok=True)
    found = ctx.engine.group_apply([(str(p), i) for i, p in enumerate(src)], partial(_id_rows, groups=groups), "g",
                                   partial(_later_copies, out_dir=str(d / "dupids")), scratch=d / "shuffle",
                                   groups=groups, weights=rows, batch_weight=SHUFFLE_ROWS)
    affected = sorted({p for r in found for p in r["parts"]})
    dup_files = [str(f) for f in sorted((d / "dupids").glob("g-*.parquet"))]
    ctx.engine.map_tasks(_drop_copies, [{"path": str(src[p]), "part": p, "dup_files": dup_files} for p in affected])
    storage.remove_tree(d / "dupids")
