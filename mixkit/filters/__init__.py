"""Quality and language filters: each filter only says keep or drop, and why (datatrove style).

    base.py        Filter, Rejection, FilterSwitch and FILTERS, the one list of filters
                   (a subclass with a `name` registers itself)
    structure.py   placeholders, language_code
    text.py        text_length, non_letters
    repetition.py  repetition (repeated n-grams, token runs)
    script.py      script (the letters are in the language's script)
    language.py    lid (fastText lid.176 + n-gram LID, per-language thresholds)
    images.py      images (decode, size, aspect ratio)
    options.py     FilterOptions, the recipe's `steps.filters:` block, made from FILTERS
    stage.py       FilterStage: the first failing filter rejects the row

Filters run in the order they register, which is the order of the imports below: cheap text
checks first, then script and language, images (which need a decode) last. Every filter's
options block has the one switch `enabled`; a filter that needs "the caption" (the answer text
of a caption sample) takes mixkit.core.schema.caption_of(row).

Rejection reasons (stable names; rejects.parquet and `mixkit build --dry-run` count them):
placeholder_mismatch, unknown_language, empty_text, text_too_short, text_too_long,
too_many_non_letters, repeated_ngrams, wrong_script, wrong_language, undecodable_image,
image_too_small, aspect_ratio.
"""
from mixkit.filters.base import FILTERS, Filter, FilterSwitch, Rejection
# Importing a module registers its filters: this order is the order they run in.
from mixkit.filters.structure import LanguageCodeFilter, PlaceholderFilter
from mixkit.filters.text import NonLetterFilter, NonLetterOptions, TextLengthFilter, TextLengthOptions
from mixkit.filters.repetition import RepetitionFilter, RepetitionOptions, tokens_of
from mixkit.filters.script import ScriptFilter, ScriptOptions
from mixkit.filters.language import LanguageFilter, LidOptions
from mixkit.filters.images import ImageFilter, ImageOptions
from mixkit.filters.options import FilterOptions
from mixkit.filters.stage import FilterStage, build_filter_stage, build_filters

FILTER_NAMES = tuple(FILTERS)

__all__ = ["FILTERS", "FILTER_NAMES", "Filter", "FilterOptions", "FilterStage", "FilterSwitch", "ImageFilter",
           "ImageOptions", "LanguageCodeFilter", "LanguageFilter", "LidOptions", "NonLetterFilter", "NonLetterOptions",
           "PlaceholderFilter", "Rejection", "RepetitionFilter", "RepetitionOptions", "ScriptFilter", "ScriptOptions",
           "TextLengthFilter", "TextLengthOptions", "build_filter_stage", "build_filters", "tokens_of"]
