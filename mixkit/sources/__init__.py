"""Source readers: every input format becomes rows of the one schema (mixkit.core.schema).

    formats.py     THE table of formats (name -> recognised by -> reader): the recipe's
                   `format:` choices, detection and the directory walk come from it
    reader.py      list_source_files, read_source_file, read_source
    records.py     one record -> a row or a reject (caption, messages and LLaVA records;
                   images; roles; REJECT_REASONS), shared by every format
    parquet.py, jsonl.py, llava.py, hf.py, webdataset.py   one module per format

Readers stream in batches; images stay the encoded bytes they were stored as (nothing is
decoded). Every input record ends either as a row or as a reject with a reason
(REJECT_REASONS); nothing is dropped silently.
"""
from mixkit.sources.formats import AUTO, FORMAT_CHOICES, FORMATS, SourceFormat, detect_format
from mixkit.sources.reader import list_source_files, read_source, read_source_file
from mixkit.sources.records import CAPTION_PROMPT, REJECT_REASONS, TRIMMED_META, SourceError

__all__ = ["AUTO", "CAPTION_PROMPT", "FORMATS", "FORMAT_CHOICES", "REJECT_REASONS", "SourceError", "SourceFormat",
           "TRIMMED_META", "detect_format", "list_source_files", "read_source", "read_source_file"]
