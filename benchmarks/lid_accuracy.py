"""Per-language accuracy of mixkit's language check on held-out natural text.

Text: the held-out third of each language's UDHR paragraphs (`mixkit.lang.udhr.split`), cut into
sentences of >= 20 characters. The n-gram model never trains on them (it trains on the other
two thirds); fastText lid.176 was trained on its own data. kik_Latn ships no running text
(CLDR words only) and is measured on nothing: reported as such.

Usage: python benchmarks/lid_accuracy.py [--markdown] [--ngram-off]
Per language: sentences, ok (right language), close (the known close pair), wrong, the most
common wrong answer, and the detector.
"""
from __future__ import annotations

import argparse
from collections import Counter

from mixkit.lang import udhr
from mixkit.lang.languages import centurio_languages
from mixkit.lang.lid import LanguageIdentifier


def held_out_sentences(lang: str, min_chars: int = 20) -> list[str]:
    return [s for p in udhr.split(lang)[1] for s in udhr.sentences(p) if len(s) >= min_chars]


def measure(lid: LanguageIdentifier) -> list[dict]:
    rows = []
    for L in centurio_languages():
        sents = held_out_sentences(L.code)
        res = lid.check(sents, [L.code] * len(sents)) if sents else []
        status = Counter(r["status"] for r in res)
        wrong = Counter(r["pred"] or "?" for r in res if r["status"] == "wrong")
        rows.append({"lang": L.code, "n": len(sents), "ok": status["ok"], "close": status["close"],
                     "wrong": status["wrong"], "unchecked": status["unchecked"],
                     "top_wrong": ", ".join(f"{c} {n}" for c, n in wrong.most_common(2)),
                     "detector": lid.detector(L.code) or "none"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--ngram-off", action="store_true", help="fastText only (the old check)")
    a = ap.parse_args()
    rows = measure(LanguageIdentifier(ngram=not a.ngram_off))
    n = sum(r["n"] for r in rows)
    ok = sum(r["ok"] for r in rows)
    close = sum(r["close"] for r in rows)
    langs_ok = sum(1 for r in rows if r["n"] and r["ok"] / r["n"] >= 0.9)
    langs_okc = sum(1 for r in rows if r["n"] and (r["ok"] + r["close"]) / r["n"] >= 0.9)
    if a.markdown:
        print("| lang | detector | sentences | ok | close | wrong | most common wrong |")
        print("|---|---|---:|---:|---:|---:|---|")
        for r in rows:
            print(f"| {r['lang']} | {r['detector']} | {r['n']} | {r['ok']} | {r['close']} | {r['wrong']} | {r['top_wrong']} |")
    else:
        for r in rows:
            print(f"{r['lang']:10} {r['detector']:28} n={r['n']:3} ok={r['ok']:3} close={r['close']:3} "
                  f"wrong={r['wrong']:3} unchecked={r['unchecked']:3} {r['top_wrong']}")
    print(f"\nsentences {n}: ok {ok} ({ok / n:.1%}), close {close} ({close / n:.1%}); "
          f"languages with >= 90% ok: {langs_ok}/{sum(1 for r in rows if r['n'])}, "
          f">= 90% ok+close: {langs_okc}; unchecked languages: {sum(1 for r in rows if r['detector'] == 'none')}")


if __name__ == "__main__":
    main()
