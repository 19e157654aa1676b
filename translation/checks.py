"""Output checks on a translated row. Each failure is a rejection reason; the first failing
check (in the order below) names the reason, all results go to the row's meta.

lost_placeholder   <image> counts per message, protected spans or numbers not all back
output_truncated   a segment reached its new-token budget without </s>
repetition_loop    an n-gram repeated many times in a row (a hallucination loop) absent from the source
untranslated_copy  most of the source prose came back unchanged
wrong_language     letters not in the target's script, or fastText LID confidently names another
                   language (languages LID has no label for are 'unchecked', not rejected)
length_ratio       translated / source prose length outside per-script bounds
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from mixkit import languages
from mixkit.schema import IMAGE_TOKEN
from mixkit.scripts import dominant_script, matches_script
from translation.options import CheckOptions
from translation.segment import numbers_in

REASONS = ("lost_placeholder", "output_truncated", "repetition_loop", "untranslated_copy", "wrong_language",
           "length_ratio", "segment_too_long", "unsupported_language")
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SPACELESS = {"Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"}


@dataclass
class CheckResult:
    reason: str = ""
    detail: str = ""
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reason


def units(text: str, script: str) -> list[str]:
    """Words, or characters for scripts written without spaces."""
    if script in _SPACELESS:
        return [c for c in text if not c.isspace()]
    return _WORD.findall(text.lower())


def longest_repeat(seq: list[str], max_n: int) -> tuple[int, str]:
    """Most consecutive repetitions of any n-gram (n <= max_n) and that n-gram."""
    best, gram = 1, ""
    for n in range(1, max_n + 1):
        for start in range(n):
            run, prev = 1, None
            for i in range(start, len(seq) - n + 1, n):
                g = tuple(seq[i:i + n])
                if g == prev:
                    run += 1
                    if run > best:
                        best, gram = run, " ".join(g)
                else:
                    run, prev = 1, g
    return best, gram


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).casefold().split())


class OutputChecker:
    def __init__(self, options: CheckOptions):
        self.o = options
        self._lid = None

    @property
    def lid(self):
        if self._lid is None:
            from mixkit.lid import LanguageIdentifier

            self._lid = LanguageIdentifier(self.o.lid_model)
        return self._lid

    def check(self, src_messages: list[dict], out_messages: list[dict], segments: list[tuple[str, str, bool]],
              literals_ok: bool, tgt: str) -> CheckResult:
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
        if not o.enabled:
            res.info["checks"] = "disabled"
            return res
        if o.numbers:
            for s, t, _ in segments:
                if numbers_in(s) != numbers_in(t):
                    return CheckResult("lost_placeholder", f"numbers {numbers_in(s)} became {numbers_in(t)} in {t[:80]!r}")
        for s, t, trunc in segments:
            if trunc:
                return CheckResult("output_truncated", f"no end of sentence within the token budget: {t[:80]!r}")
        for s, t, _ in segments:
            if not t.strip():
                return CheckResult("length_ratio", f"empty translation of {s[:80]!r}")
            n, gram = longest_repeat(units(t, lang.script), o.repetition_max_n)
            if n >= o.repetition_max_repeats:
                n_src, _ = longest_repeat(units(s, "Latn"), o.repetition_max_n)
                if n_src < o.repetition_max_repeats:
                    return CheckResult("repetition_loop", f"{gram!r} repeated {n}x in {t[:80]!r}")
        src_chars = sum(len(s) for s, _, _ in segments)
        out_text = " ".join(t for _, t, _ in segments)
        copied = sum(len(s) for s, t, _ in segments if len(s) >= o.copy_min_chars and _norm(s) == _norm(t))
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
        same = pred == tgt or (pred and lang.lid176 and languages.get(pred).lid176 == lang.lid176)
        thr = o.lid_thresholds.get(tgt, o.lid_threshold)
        info = {"status": "ok" if same else "other", "pred": pred, "prob": round(prob, 3)}
        if not same and prob >= thr:
            info["reject"] = True
        return info
