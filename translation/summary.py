"""What a dry run would send to the model, summed over rows: the share of characters that
reach it, the protected pieces by kind (translation.segment's Template.protected, plus whole
messages answered from the short-answer table or left in a role that is not translated), and
the rows where nothing at all would be translated."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from translation.answers import ShortAnswer
from translation.segment import Template


@dataclass
class SegmentationSummary:
    rows: int = 0
    messages: int = 0
    chars: int = 0                      # characters of every message
    model_chars: int = 0                # characters of prose the model receives (placeholders excluded)
    segments: int = 0
    too_long: int = 0                   # sentences that would be rejected as segment_too_long
    protected: Counter = field(default_factory=Counter)
    untranslated: list[str] = field(default_factory=list)     # rows with nothing to translate (origin ids)

    def add(self, row_id: str, messages: list[dict], plan: list[Template | ShortAnswer]) -> None:
        """One row (row_id: the id its input gave it, a row's origin_id): its messages and the plan
        TranslateStage.plan_messages made for them."""
        self.rows += 1
        translated = False
        for m, p in zip(messages, plan):
            self.messages += 1
            self.chars += len(m["content"])
            if isinstance(p, ShortAnswer):
                self.protected["short_answer"] += 1
                translated = True
                continue
            self.model_chars += p.model_chars
            self.segments += len(p.units)
            self.too_long += len(p.too_long)
            self.protected.update(p.protected)
            translated = translated or bool(p.units)
        if not translated:
            self.untranslated.append(row_id)

    @property
    def model_share(self) -> float:
        return self.model_chars / self.chars if self.chars else 0.0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "messages": self.messages, "chars": self.chars, "model_chars": self.model_chars,
                "model_share": round(self.model_share, 4), "segments": self.segments, "too_long": self.too_long,
                "protected": dict(sorted(self.protected.items(), key=lambda kv: (-kv[1], kv[0]))),
                "untranslated_rows": len(self.untranslated), "untranslated_ids": self.untranslated}
