"""The audit's per-language measures, named once: what is counted per sample (LangCounts) and
the columns made of it (LANG_COLUMNS). One column spec drives the JSON (`by_lang`), the terminal
table and the HTML table; a new column is a counter here (if it needs one) and a Column.

Per source and per task the audit keeps GroupCounts (samples, text tokens, images).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from mixkit.core.shard_format import TarSample


@dataclass(slots=True)
class Sample:
    """One sample as the measure sees it; the counters read it (LangCounts.count)."""

    tar: TarSample
    doc: dict                   # its json (empty for an image-only sample)
    format: str                 # sample format (shard_format.sample_format_of): mixkit | llava | img2dataset | other
    messages: list              # its turns as {role, content} (role as written, e.g. "gpt")
    text: str                   # all its text, placeholders removed (mixkit.core.schema.text_of)
    source: str
    task: str
    images: int
    declared: str | None        # the declared language (a registry code), None when undeclared
    hash: int | None            # hash of the normalised text (None: no text)
    tokens: int = 0
    lid_checked: bool = False   # its declared language was checked by LID ...
    lid_agrees: bool = False    # ... and LID agreed
    script_mismatch: bool = False


@dataclass(slots=True)
class GroupCounts:
    """Counters of a group of samples (a source, a task)."""

    samples: int = 0
    text_tokens: int = 0
    images: int = 0

    def count(self, s: Sample) -> None:
        self.samples += 1
        self.text_tokens += s.tokens
        self.images += s.images

    def merge(self, other: "GroupCounts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class LangCounts(GroupCounts):
    """Counters of one language."""

    declared: int = 0           # samples whose language was declared
    detected: int = 0           # samples whose language came from LID
    lid_checked: int = 0
    lid_agree: int = 0
    script_mismatch: int = 0

    def count(self, s: Sample) -> None:
        GroupCounts.count(self, s)
        if s.declared is not None:
            self.declared += 1
        else:
            self.detected += 1
        self.lid_checked += s.lid_checked
        self.lid_agree += s.lid_agrees
        self.script_mismatch += s.script_mismatch


@dataclass
class LangView:
    """Everything known about one language after the merge: what a column's value is made of."""

    code: str
    info: Any                   # mixkit.lang.languages.Language, or None (und, unknown codes)
    tier: str                   # T1..T5, "other" (not one of the study's 100) or "und"
    counts: LangCounts
    total: int                  # samples of the whole audit
    target: float | None        # None when no targets were given
    checkable: bool             # the LID model has a label for this language
    confusions: Counter = field(default_factory=Counter)   # predicted code -> n, declared samples LID disagreed on
    duplicates: int = 0

    @property
    def share(self) -> float:
        return share(self.counts.samples, self.total)


def share(n: int, total: int) -> float:
    return n / total if total else 0.0


def pct(x: float | None, signed: bool = False) -> str:
    """A share as percent points for tables ("–" when there is none)."""
    if x is None:
        return "–"
    return f"{x * 100:+.2f}" if signed else f"{x * 100:.2f}"


def _count(key: str) -> Callable[[dict], str]:
    return lambda r: f"{r[key]:,}"


@dataclass(frozen=True)
class Column:
    key: str                                    # the JSON key in by_lang[code]
    value: Callable[[LangView], Any]            # its value
    doc: str                                    # what it holds (the JSON schema's words)
    header: str = ""                            # table heading; "" = JSON only
    cell: Callable[[dict], str] | None = None   # the table text, from by_lang[code]; default str(value)
    bad: Callable[[dict], bool] | None = None   # True: the cell is shown as a problem (red)
    terminal: bool = True                       # in the terminal table too (the HTML shows every headed column)
    left: bool = False                          # text, aligned left (numbers align right)
    max_width: int | None = None                # terminal: cut longer text with an ellipsis

    def text(self, row: dict) -> str:
        return self.cell(row) if self.cell is not None else str(row[self.key])


def _lid_cell(r: dict) -> str:
    return "unchecked" if r["lid_unchecked"] and not r["lid_checked"] else pct(r["lid_agreement"])


LANG_COLUMNS: tuple[Column, ...] = (
    Column("name", lambda v: v.info.name if v.info else ("undetermined" if v.code == "und" else v.code),
           "the registry's name", "name", left=True, max_width=14),
    Column("tier", lambda v: v.tier, 'T1..T5, "other" (not one of the study\'s 100) or "und"', "tier", left=True),
    Column("script", lambda v: v.info.script if v.info else "", "the registry's ISO 15924 script"),
    Column("samples", lambda v: v.counts.samples, "samples", "samples", _count("samples")),
    Column("share", lambda v: v.share, "samples / total_samples", "share %", lambda r: pct(r["share"])),
    Column("target", lambda v: v.target, "the target share (null without targets; 0 for a language not in them)",
           "target %", lambda r: pct(r["target"])),
    Column("deviation", lambda v: None if v.target is None else v.share - v.target, "share - target",
           "dev pts", lambda r: pct(r["deviation"], signed=True),
           bad=lambda r: r["deviation"] is not None and abs(r["deviation"]) > 0.01),
    Column("text_tokens", lambda v: v.counts.text_tokens, "tokens (see `tokenisation`)", "tokens",
           _count("text_tokens")),
    Column("images", lambda v: v.counts.images, "image members", "images", _count("images")),
    Column("declared", lambda v: v.counts.declared, "samples with a declared language", "declared",
           _count("declared"), terminal=False),
    Column("detected", lambda v: v.counts.detected, "samples whose language LID assigned", "detected",
           _count("detected")),
    Column("lid_checked", lambda v: v.counts.lid_checked, "declared samples LID checked (sampled, see lid_sampling)",
           "LID checked", _count("lid_checked"), terminal=False),
    Column("lid_agreement", lambda v: v.counts.lid_agree / v.counts.lid_checked if v.counts.lid_checked else None,
           "agreeing / lid_checked (null when none checked)", "LID agree %", _lid_cell),
    Column("lid_unchecked", lambda v: not v.checkable, "true when the LID model has no label for this language"),
    Column("lid_confusions",
           lambda v: dict(sorted(v.confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:5]),
           "{predicted code: n}, the top 5 disagreements"),
    Column("script_mismatch", lambda v: v.counts.script_mismatch,
           "samples whose letters are mostly not in the language's script (writing_systems.matches_script)",
           "script ✗", _count("script_mismatch")),
    Column("duplicates", lambda v: v.duplicates, "exact duplicates of the normalised text within the language"),
    Column("duplicate_rate", lambda v: share(v.duplicates, v.counts.samples), "duplicates / samples", "dup %",
           lambda r: pct(r["duplicate_rate"])),
)


def lang_entry(view: LangView) -> dict:
    """by_lang[code] of the audit JSON: one key per column."""
    return {c.key: c.value(view) for c in LANG_COLUMNS}


def table_columns(terminal: bool) -> list[Column]:
    """The columns a table shows (after the language code)."""
    return [c for c in LANG_COLUMNS if c.header and (c.terminal or not terminal)]

