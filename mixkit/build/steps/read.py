"""read: the recipe's sources into parquet partitions, one task per source file (or per limited source)."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from mixkit.build.steps.base import ROWS_PER_PART, BuildContext, BuildStep, RowsResult, count_rows
from mixkit.core.schema import REJECT_SCHEMA, make_reject, rows_to_table
from mixkit.runtime.partitions import is_done, mark_done, parts, write_table_atomic


def _read_task(job: dict) -> dict:
    from mixkit.sources import read_source_file

    out_dir = Path(job["out_dir"])
    rows_left = job["limit"]
    n_rows = n_rej = part = 0
    rej_buf: list[dict] = []
    row_buf: list[dict] = []
    tag = job["tag"]

    def flush_rows():
        nonlocal part, row_buf
        if row_buf:
            write_table_atomic(rows_to_table(row_buf), out_dir / f"part-{tag}-{part:05d}.parquet.staged")
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
    # Staged names become real only when the whole task finished: a killed read leaves no
    # partial partitions that a rerun could mistake for complete ones.
    for p in sorted(out_dir.glob(f"part-{tag}-*.parquet.staged")):
        p.rename(p.with_suffix(""))
    (out_dir / f"{tag}.done").write_text("ok\n")
    return {"rows": n_rows, "rejects": n_rej}


class ReadSources(BuildStep):
    name = "read"
    row_step = True

    def run(self, ctx: BuildContext) -> RowsResult:
        d = self.dir
        if not is_done(d):
            from mixkit.sources import list_source_files

            d.mkdir(parents=True, exist_ok=True)
            jobs = []
            for i, src in enumerate(ctx.recipe.sources):
                files = list_source_files(src.path, None if src.format == "auto" else src.format)
                # With a limit the files of a source are read in order by one task; else one task per file.
                groups = [files] if src.limit else [[f] for f in files]
                for j, g in enumerate(groups):
                    tag = f"s{i:03d}-f{j:05d}"
                    if (d / f"{tag}.done").exists():
                        continue
                    for stale in d.glob(f"part-{tag}-*"):
                        stale.unlink()
                    jobs.append({"out_dir": str(d), "tag": tag, "files": g, "source": src.name,
                                 "format": src.format, "task": src.task, "lang": src.lang,
                                 "image_root": src.image_root, "limit": src.limit})
            if jobs:
                ctx.engine.map_tasks(_read_task, jobs,
                                     on_done=lambda n, t: ctx.progress.update("read sources", n, t))
            _reject_duplicate_ids(d)
            mark_done(d)
        ctx.rows_dir = d
        res = RowsResult(dir=d, rows_out=count_rows(d))
        res.rows_in = res.rows_out + res.rejects().num_rows
        return res


def _reject_duplicate_ids(d: Path) -> None:
    """Two records that normalise to the same id (same source, origin id, lang, task): keep the first."""
    seen: set[str] = set()
    extra: list[dict] = []
    for p in parts(d):
        ids = pq.read_table(p, columns=["id"])["id"].to_pylist()      # ids only: images stay on disk
        dup = set()
        for i, x in enumerate(ids):
            if x in seen:
                dup.add(i)
            seen.add(x)
        if dup:
            rows = pq.read_table(p).to_pylist()
            extra += [make_reject(rows[i], "read", "duplicate_id", "another record of this source has the same id")
                      for i in sorted(dup)]
            write_table_atomic(rows_to_table([r for i, r in enumerate(rows) if i not in dup]), p)
    if extra:
        write_table_atomic(rows_to_table(extra, REJECT_SCHEMA), d / "rejects-zz-duplicate-ids.parquet")
