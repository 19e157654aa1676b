"""Export mixkit shards for the trainers people already use, through the one tar reader.

    export_shards("runs/demo/shards", "out/llava", format="llava")
    export_shards("runs/demo/shards", "out/pq", format="parquet")

    shards.py    export_shards: every sample exported or counted in `skipped` by reason
    formats.py   FORMATS: the formats (name -> writer); the CLI's --format choices
    llava.py     llava: DIR/data.json + DIR/images/ (LLaVA, LLaMA-Factory, prismatic)
    parquet.py   parquet: DIR/part-NNNNN.parquet that Hugging Face `datasets` loads
    base.py      ExportWriter (what a format implements) and ExportResult
"""
from mixkit.export.base import ExportResult, ExportWriter
from mixkit.export.formats import FORMATS
from mixkit.export.shards import export_shards

__all__ = ["FORMATS", "ExportResult", "ExportWriter", "export_shards"]
