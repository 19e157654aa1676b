"""Source readers: every input format becomes rows of the one schema (mixkit.core.schema).

    formats/       one module per format (parquet, jsonl, llava, hf, webdataset), each declaring
                   its FORMAT; formats/__init__.py gathers them into FORMATS, the one table
                   the recipe's `format:` choices, detection and the directory walk come from.
                   A new format is a new module there, nothing else.
    base.py        SourceFormat: what a format module declares (name, extensions, reader, priority)
    reader.py      list_source_files, read_source_file, read_source
    records.py     one record -> a row or a reject (caption, messages and LLaVA records;
                   images; roles; REJECT_REASONS), shared by every format

Readers stream in batches; images stay the encoded bytes they were stored as (nothing is
decoded). Every input record ends either as a row or as a reject with a reason
(REJECT_REASONS); nothing is dropped silently.
"""
from mixkit.sources.base import SourceFormat
from mixkit.sources.formats import AUTO, FORMAT_CHOICES, FORMATS, detect_format
from mixkit.sources.reader import list_source_files, read_source, read_source_file
from mixkit.sources.records import CAPTION_PROMPT, REJECT_REASONS, TRIMMED_META, SourceError

__all__ = ["AUTO", "CAPTION_PROMPT", "FORMATS", "FORMAT_CHOICES", "REJECT_REASONS", "SourceError", "SourceFormat",
           "TRIMMED_META", "detect_format", "list_source_files", "read_source", "read_source_file"]
