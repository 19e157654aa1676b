"""What every filter is: a class with a `name`, its recipe options and a verdict per row.

A filter only says keep or drop, and why (datatrove style): `check_detail(row)` returns None
(keep) or a Rejection (reason + detail for people); `check_batch(rows)` is the same for a
batch (script and language work on the whole batch at once). A filter that learns something
worth keeping about a kept row (LID's prediction) returns it from `check_batch_meta`.

Defining a subclass with a `name` registers it in FILTERS, the one list of filters: the recipe's
`steps.filters.<name>` block (its `Options`), `exempt_tasks`, the run order (registration
order; see mixkit/filters/__init__.py) and REJECT_REASONS (each class's `reasons`) come from it.
"""
from __future__ import annotations

from typing import ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict


class Rejection(NamedTuple):
    reason: str
    detail: str = ""


class FilterSwitch(BaseModel):
    """Options every filter has: the one on/off switch (`enabled: false` turns the filter off)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True


FILTERS: dict[str, type["Filter"]] = {}     # name -> class, in the order the filters run


class Filter:
    """Base: subclasses set `name`, `reasons` (and `Options`, a FilterSwitch subclass, when they
    have settings) and implement check_detail (or check_batch). `Options = None`: no recipe
    block, the filter always runs."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[FilterSwitch] | None] = FilterSwitch
    reasons: ClassVar[dict[str, str]] = {}      # the reasons it rejects with (stable names) -> what they mean

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in FILTERS:
                raise ValueError(f"two filters are named {cls.name!r}: {FILTERS[cls.name].__qualname__} and "
                                 f"{cls.__qualname__}")
            FILTERS[cls.name] = cls

    def __init__(self, options: FilterSwitch | None = None):
        self.opts = options if options is not None or self.Options is None else self.Options()

    def setup(self) -> None:
        """Load models once per worker."""

    def check_detail(self, row: dict) -> Rejection | None:
        raise NotImplementedError

    def check(self, row: dict) -> str | None:
        r = self.check_batch([row])[0]
        return r.reason if r else None

    def check_batch(self, rows: list[dict]) -> list[Rejection | None]:
        return [self.check_detail(r) for r in rows]

    def check_batch_meta(self, rows: list[dict]) -> list[tuple[Rejection | None, dict]]:
        """Per row: the verdict, and meta to record on the row when it is kept (none by default)."""
        return [(r, {}) for r in self.check_batch(rows)]
