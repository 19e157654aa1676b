"""The export formats: name -> writer. The CLI's --format choices come from here; a new format
is a module with an ExportWriter subclass and one entry here."""
from __future__ import annotations

from mixkit.export.base import ExportWriter
from mixkit.export.llava import LlavaWriter
from mixkit.export.parquet import ParquetWriter

FORMATS: dict[str, type[ExportWriter]] = {w.name: w for w in (LlavaWriter, ParquetWriter)}
