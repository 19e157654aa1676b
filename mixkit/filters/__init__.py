"""Quality and language filters: each filter only says keep or drop, and why (datatrove style).

    base.py        Filter, Rejection, FilterSwitch and FILTERS, the one list of filters
                   (a subclass with a `name` registers itself)
    structure.py   checks of a row's structure (placeholders vs images, a known language code)
    text.py        checks of the text as a whole (length, share of letters)
    repetition.py  repetition loops and spam (repeated n-grams, token runs)
    script.py      the letters are in the language's script
    language.py    language identification (fastText lid.176 + n-gram LID, per-language thresholds)
    images.py      the images decode, are large enough and not too narrow
    options.py     FilterOptions, the recipe's `steps.filters:` block, made from FILTERS
    stage.py       FilterStage: the first failing filter rejects the row

Filters run in the order they register, which is the order of the imports below: cheap text
checks first, then script and language, images (which need a decode) last. Every filter's
options block has the one switch `enabled`; a filter that needs "the caption" (the answer text
of a caption sample) takes mixkit.core.schema.caption_of(row).

Rejection reasons are stable names (rejects.parquet and `mixkit build --dry-run` count them):
each filter declares its own (`reasons`); REJECT_REASONS has them all.

A new filter is a Filter subclass in the module of its family (text.py for a check of the text);
its recipe block, exemptions and reasons follow from the class. It runs in every build with its
defaults, so check that the demo's shards stay byte-identical (or default it to enabled: False).
Import it from its module: this package re-exports the built-in filters only. A new family module
is one import line below, where its place sets the run order.
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
REJECT_REASONS = {reason: what for cls in FILTERS.values() for reason, what in cls.reasons.items()}

__all__ = ["FILTERS", "FILTER_NAMES", "REJECT_REASONS", "Filter", "FilterOptions", "FilterStage", "FilterSwitch", "ImageFilter",
           "ImageOptions", "LanguageCodeFilter", "LanguageFilter", "LidOptions", "NonLetterFilter", "NonLetterOptions",
           "PlaceholderFilter", "Rejection", "RepetitionFilter", "RepetitionOptions", "ScriptFilter", "ScriptOptions",
           "TextLengthFilter", "TextLengthOptions", "build_filter_stage", "build_filters", "tokens_of"]
