"""Parquet export: DIR/part-00000.parquet ... (one per shard): columns id, origin_id, source,
task, lang, messages (list of {role, content}), images (list of Hugging Face Image structs
{bytes, path}: the encoded bytes, never decoded), meta (JSON string). Loads with
`datasets.load_dataset("parquet", data_dir=DIR)`."""
from __future__ import annotations

import json
import os
from pathlib import Path

from mixkit.core.shard_format import TarSample
from mixkit.export.base import ExportResult, ExportWriter

_ROW_GROUP = 256          # rows per row group: bounds memory with image bytes inline


class ParquetWriter(ExportWriter):
    name = "parquet"
    about = "part-NNNNN.parquet that `datasets` loads (Hugging Face Image columns)"

    def __init__(self, out: Path, res: ExportResult):
        super().__init__(out, res)
        self.schema = _parquet_schema()
        self.writer = None

    def begin_shard(self, index: int, path: str) -> None:
        import pyarrow.parquet as pq

        self.part = f"part-{index:05d}.parquet"
        self.writer = pq.ParquetWriter(self.out / (self.part + ".tmp"), self.schema)
        self.rows: list[dict] = []

    def add(self, sample: TarSample, doc: dict) -> None:
        images = sample.image_members()
        self.rows.append({
            "id": str(doc.get("id") or sample.key), "origin_id": str(doc.get("origin_id") or ""),
            "source": str(doc.get("source") or ""), "task": str(doc.get("task") or ""), "lang": str(doc.get("lang") or ""),
            "messages": [{"role": m.get("role"), "content": m.get("content")} for m in doc["messages"]],
            "images": [{"bytes": data, "path": sample.name(ext)} for ext, data in images],
            "meta": doc["meta"] if isinstance(doc.get("meta"), str) else json.dumps(doc.get("meta") or {}),
        })
        self.res.images += len(images)
        if len(self.rows) >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def end_shard(self) -> None:
        self._flush()
        self.writer.close()
        os.replace(self.out / (self.part + ".tmp"), self.out / self.part)
        self.res.files.append(self.part)


def _parquet_schema():
    """The arrow schema with Hugging Face feature metadata, so `datasets` sees Image columns."""
    from datasets import Features, Image, Value

    s = Value("string")
    return Features({"id": s, "origin_id": s, "source": s, "task": s, "lang": s,
                     "messages": [{"role": s, "content": s}], "images": [Image()], "meta": s}).arrow_schema
