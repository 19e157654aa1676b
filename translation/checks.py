"""Output checks on a translated row. Each failure is a rejection reason; the first failing
check (in the order below) names the reason, all results go to the row's meta.

lost_placeholder   <image> counts per message, protected spans or numbers not all back
output_truncated   a segment reached its new-token budget without </s>
repetition_loop    a loop of any period (find_loop) absent from the source, still there after the
                   stage's retry with stronger repetition settings
untranslated_copy  most of the source prose came back unchanged
wrong_language     letters not in the target's script, or fastText LID confidently names another
                   language (languages LID has no label for are 'unchecked', not rejected)
length_ratio       translated / source prose length outside per-script bounds
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from mixkit.lang import languages
from mixkit.core.schema import IMAGE_TOKEN
from mixkit.lang.writing_systems import dominant_script, matches_script
from mixkit.core.text import normalise_text
from translation.options import CheckOptions
from translation.segment import numbers_in

REASONS = ("lost_placeholder", "output_truncated", "repetition_loop", "untranslated_copy", "wrong_language",
           "length_ratio", "segment_too_long", "unsupported_language", "short_answer")


@dataclass
class CheckResult:
    reason: str = ""
    detail: str = ""
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reason


def _letters(text: str) -> str:
    """Letters, marks and digits only, case-folded: a loop shows whatever the spacing and
    punctuation between its repeats, in every script."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if unicodedata.category(c)[0] in "LMN")


_SHORT_LOOP = re.compile(r"(.{1,39}?)\1{2,}", re.S)
_LONG_LOOP = re.compile(r"(.{40,400}?)\1+", re.S)


def find_loop(text: str, min_chars: int = 20) -> tuple[str, int] | None:
    """A repetition loop of any period: (repeated unit, repeats), else None.

    Over letters only (see _letters): a unit of up to 39 characters repeated at least 3 times
    in a row covering at least `min_chars` (10 for a unit of 1-2 letters: "ffffffffff"), or a
    unit of 40+ characters (about 7+ words)
    repeated twice in a row. Natural sentences do neither; decoder loops ("le chat noir le chat
    noir le chat noir", 17 Thai characters three times) do.
    """
    s = _letters(text)
    for m in _SHORT_LOOP.finditer(s):
        if len(m.group(0)) >= min_chars or (len(m.group(1)) <= 2 and len(m.group(0)) >= 10):
            return m.group(1), len(m.group(0)) // len(m.group(1))
    m = _LONG_LOOP.search(s)
    if m:
        return m.group(1), len(m.group(0)) // len(m.group(1))
    return None


@lru_cache(maxsize=1 << 15)
def loop_in_output(src: str, out: str, min_chars: int = 20) -> tuple[str, int] | None:
    """A loop in a translation that its source does not have (a source that repeats may).
    Memoised: the stage asks once to decide on a retry and the row check asks again for the
    same (source, output) pair."""
    loop = find_loop(out, min_chars)
    if loop and find_loop(src, min_chars) is None:
        return loop
    return None


class OutputChecker:
    def __init__(self, options: CheckOptions):
        self.o = options
        self._lid = None

    @property
    def lid(self):
        if self._lid is None:
            from mixkit.lang.lid import LanguageIdentifier

            self._lid = LanguageIdentifier(self.o.lid_model)
        return self._lid

    def check(self, src_messages: list[dict], out_messages: list[dict], segments: list[tuple[str, str, bool]],
              literals_ok: bool, tgt: str, content: bool = True) -> CheckResult:
        """segments: (source, translation, truncated) of every prose segment of the row."""
        o = self.o
        lang = languages.get(tgt)
        res = CheckResult()
        # lost placeholders: per message, and every protected literal (checked by the caller)
        for i, (a, b) in enumerate(zip(src_messages, out_messages)):
            if a["content"].count(IMAGE_TOKEN) != b["content"].count(IMAGE_TOKEN):
                return CheckResult("lost_placeholder", f"message {i}: {IMAGE_TOKEN} count changed")
        if len(src_messages) != len(out_messages):
            return CheckResult("lost_placeholder", "turn count changed")
        if not literals_ok:
            return CheckResult("lost_placeholder", "a protected span is missing from the output")
        if not o.enabled or not content:           # content=False: the identity backend (debugging)
            res.info["checks"] = "disabled" if not o.enabled else "structure only"
            return res
        for s, t, trunc in segments:
            if trunc:
                return CheckResult("output_truncated", f"no end of sentence within the token budget: {t[:80]!r}")
        if o.numbers:
            for s, t, _ in segments:
                if numbers_in(s) != numbers_in(t):
                    return CheckResult("lost_placeholder", f"numbers {numbers_in(s)} became {numbers_in(t)} in {t[:80]!r}")
        for s, t, _ in segments:
            if not t.strip():
                return CheckResult("length_ratio", f"empty translation of {s[:80]!r}")
            loop = loop_in_output(s, t, o.repetition_min_chars)
            if loop:
                return CheckResult("repetition_loop", f"{loop[0]!r} repeated {loop[1]}x in {t[:80]!r}")
        src_chars = sum(len(s) for s, _, _ in segments)
        out_text = " ".join(t for _, t, _ in segments)
        copied = sum(len(s) for s, t, _ in segments if len(s) >= o.copy_min_chars and normalise_text(s) == normalise_text(t))
        if src_chars and copied / src_chars > o.copy_max_share and tgt != languages.ENGLISH:
            return CheckResult("untranslated_copy", f"{copied}/{src_chars} source characters came back unchanged")
        # script, then LID
        if o.script_check and out_text.strip():
            expected = lang.script
            if not matches_script(out_text, expected, o.script_min_share):
                return CheckResult("wrong_language", f"script {dominant_script(out_text) or '?'}, expected {expected}")
        res.info["lid"] = self._lid_info(out_text, tgt)
        if res.info["lid"].get("reject"):
            r = res.info["lid"]
            return CheckResult("wrong_language", f"LID says {r['pred']} ({r['prob']:.2f}), expected {tgt}", res.info)
        if src_chars >= o.length_min_chars:
            lo, hi = o.length_ratio_by_script.get(lang.script, (o.length_ratio_min, o.length_ratio_max))
            ratio = len(out_text) / max(1, len(" ".join(s for s, _, _ in segments)))
            res.info["length_ratio"] = round(ratio, 3)
            if not lo <= ratio <= hi:
                return CheckResult("length_ratio", f"{ratio:.2f} outside [{lo}, {hi}]", res.info)
        return res

    def _lid_info(self, text: str, tgt: str) -> dict:
        o = self.o
        lang = languages.get(tgt)
        if not self.lid.can_check(tgt):
            return {"status": "unchecked"}
        if len(text.strip()) < o.lid_min_chars:
            return {"status": "too_short"}
        pred, prob = self.lid.predict_one(text)
        same = pred == tgt or bool(pred and self.lid.same_language(tgt, pred)) or \
            bool(pred and lang.lid176 and languages.get(pred).lid176 == lang.lid176)
        thr = o.lid_thresholds.get(tgt, o.lid_threshold)
        info = {"status": "ok" if same else "other", "pred": pred, "prob": round(prob, 3)}
        if not same and prob >= thr:
            info["reject"] = True
        return info
