"""The recipe's `steps.filters:` block, made from the registry: one sub-block per filter with
options, named after it (`steps.filters.lid: {enabled: false}`), plus `enabled` (all filters)
and `exempt_tasks` (filter name -> tasks it does not apply to, e.g. {lid: [ocr]}).

Keys of mixkit <= 0.2 are still read, with a FutureWarning naming the new key:
placeholder_check -> placeholders.enabled; min_text_chars / max_text_chars ->
text_length.min_chars / max_chars; max_non_letter_ratio -> non_letters.max_ratio (null:
non_letters.enabled: false).
"""
from __future__ import annotations

import warnings
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model, field_validator, model_validator

from mixkit.filters.base import FILTERS

# old key -> (filter, its option)
_RENAMED = {"placeholder_check": ("placeholders", "enabled"), "min_text_chars": ("text_length", "min_chars"),
            "max_text_chars": ("text_length", "max_chars"), "max_non_letter_ratio": ("non_letters", "max_ratio")}
_NULL_MEANS_OFF = {"max_non_letter_ratio"}          # old keys whose null turned their filter off


class _FilterOptionsBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    exempt_tasks: dict[str, list[str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(k in data for k in _RENAMED):
            return data
        data = dict(data)
        for old, (name, key) in _RENAMED.items():
            if old not in data:
                continue
            value = data.pop(old)
            block = dict(data.get(name) or {})
            if value is None and old in _NULL_MEANS_OFF:
                new, block["enabled"] = f"{name}.enabled: false", False
            else:
                new, block[key] = f"{name}.{key}", value
            data[name] = block
            warnings.warn(f"steps.filters.{old} is now steps.filters.{new} (read as such; rename it)", FutureWarning)
        return data

    @field_validator("exempt_tasks")
    @classmethod
    def _names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k in v if k not in FILTERS]
        if bad:
            raise ValueError(f"unknown filter name(s) {bad}; valid: {', '.join(FILTERS)}")
        return v


# One field per registered filter that has options, defaulting to its defaults.
FilterOptions = create_model(
    "FilterOptions", __base__=_FilterOptionsBase, __module__=__name__,
    **{name: (cls.Options, cls.Options()) for name, cls in FILTERS.items() if cls.Options is not None})
FilterOptions.__doc__ = __doc__
