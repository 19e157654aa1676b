"""Per-language accuracy of mixkit's language check, in domain (UDHR) and out of domain, against CLD3
and lingua alone on the same texts.

Texts, per language, in two kinds: `sentence` and `short` (3-8 words; 5-20 characters in scripts
written without spaces):
- in domain: the held-out third of the UDHR paragraphs (`mixkit.lang.udhr.split`; the n-gram model
  trains on the other two thirds), cut into sentences of >= 20 characters; the short texts are the
  first 3-8 words of each;
- out of domain: benchmarks/data/lid_heldout.tsv.gz, software translations (Firefox, LibreOffice,
  VLC, Tux Paint, Django; GNOME, MATE and Sugar for six languages those lack; scripts/extract_lid_heldout.py,
  provenance in benchmarks/data/README.md). No detector of mixkit trains on them.
  A third of it (by a hash of the text) chose the ensemble's weights and margins; only the other
  two thirds are measured here (`--split all` for everything).

Columns per language and kind: n, the check's verdicts (ok = right, close = a language written the
same way, wrong), the top answer's right share, CLD3's and lingua's right share where they know the
language. Summary: languages measured (>= --min-texts texts), how many reach >= 90% right+close and
>= 80% right-only.

Usage: python benchmarks/lid_accuracy.py [--markdown] [--split test|all] [--no-baselines]
       [--detectors fasttext,ngram]   (the check before issue 22, for comparison)
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from mixkit.lang import udhr
from mixkit.lang.languages import centurio_languages
from mixkit.lang.lid import LanguageIdentifier

HELDOUT = Path(__file__).resolve().parent / "data" / "lid_heldout.tsv.gz"


def held_out_sentences(lang: str, min_chars: int = 20) -> list[str]:
    return [s for p in udhr.split(lang)[1] for s in udhr.sentences(p) if len(s) >= min_chars]


def udhr_texts() -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for L in centurio_languages():
        for s in held_out_sentences(L.code):
            out[(L.code, "sentence")].append(s)
            words = s.split()
            if len(words) >= 3:
                out[(L.code, "short")].append(" ".join(words[:3 + len(s) % 6]))
    return out


def is_dev(text: str) -> bool:
    """The third of the out-of-domain set the ensemble was tuned on."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 3 == 0


def heldout_texts(split: str = "test") -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    with gzip.open(HELDOUT, "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if split == "all" or not is_dev(r["text"]):
                out[(r["lang"], r["kind"])].append(r["text"])
    return out


def baseline_right(texts: list[str], lang: str, lid: LanguageIdentifier, which: str) -> float | None:
    """Right share of CLD3 or lingua alone (over all the languages it knows), None where it lacks `lang`."""
    from mixkit.lang import lid_backends

    if which == "cld3":
        b = lid_backends.cld3()
        if lang not in b.knows:
            return None
        preds = [c for c, _ in b.top(texts)]
    else:
        b = lid_backends.lingua()
        if lang not in b.knows:
            return None
        preds = [max(d, key=d.get) if d else "" for d in b.scores(texts, b.knows)]
    return sum(lid.same_language(lang, p) for p in preds) / len(texts)


def measure(lid: LanguageIdentifier, sets: dict[tuple[str, str], list[str]], baselines: bool) -> list[dict]:
    rows = []
    for (lang, kind), texts in sorted(sets.items()):
        res = lid.check(texts, [lang] * len(texts))
        status = Counter(r["status"] for r in res)
        top_right = sum(lid.same_language(lang, r["pred"]) for r in res)
        wrong = Counter(r["pred"] or "?" for r in res if r["status"] == "wrong")
        row = {"lang": lang, "kind": kind, "n": len(texts), "ok": status["ok"], "close": status["close"],
               "wrong": status["wrong"], "top": top_right, "top_wrong": ", ".join(f"{c} {n}" for c, n in wrong.most_common(2)),
               "detector": lid.detector(lang) or "none"}
        if baselines:
            row["cld3"] = baseline_right(texts, lang, lid, "cld3")
            row["lingua"] = baseline_right(texts, lang, lid, "lingua")
        rows.append(row)
    return rows


def summary(rows: list[dict], kind: str, min_texts: int) -> str:
    meas = [r for r in rows if r["kind"] == kind and r["n"] >= min_texts]
    n = sum(r["n"] for r in meas) or 1
    ok, close, top = sum(r["ok"] for r in meas), sum(r["close"] for r in meas), sum(r["top"] for r in meas)
    okc90 = sum((r["ok"] + r["close"]) / r["n"] >= 0.9 for r in meas)
    ok80 = sum(r["ok"] / r["n"] >= 0.8 for r in meas)
    line = (f"{kind}: {len(meas)} languages, {n} texts; check right {ok / n:.1%}, close {close / n:.1%}, top answer "
            f"right {top / n:.1%}; languages >= 90% right+close: {okc90}/{len(meas)}, right-only >= 80%: {ok80}/{len(meas)}")
    for b in ("cld3", "lingua"):
        known = [r for r in meas if r.get(b) is not None]
        if known:
            line += (f"; {b} alone on its {len(known)}: {sum(r[b] * r['n'] for r in known) / sum(r['n'] for r in known):.1%}"
                     f", >= 90%: {sum(r[b] >= 0.9 for r in known)}/{len(known)}")
    return line


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--split", choices=("test", "all"), default="test")
    ap.add_argument("--min-texts", type=int, default=20, help="a language is measured with at least this many texts")
    ap.add_argument("--no-baselines", action="store_true", help="skip CLD3 and lingua alone")
    ap.add_argument("--detectors", default="", help="comma-separated subset, e.g. fasttext,ngram (the old check)")
    a = ap.parse_args()
    lid = LanguageIdentifier(detectors=tuple(a.detectors.split(",")) if a.detectors else None)
    domains = {"UDHR (in domain)": udhr_texts(), "software translations (out of domain)": heldout_texts(a.split)}
    results = {d: measure(lid, sets, not a.no_baselines) for d, sets in domains.items()}
    for d, rows in results.items():
        print(f"\n## {d}: detectors {', '.join(lid.detectors)}")
        for kind in ("sentence", "short"):
            print(summary(rows, kind, a.min_texts))
    ood, ind = results["software translations (out of domain)"], results["UDHR (in domain)"]
    by = {(r["lang"], r["kind"]): r for r in ood}
    byi = {(r["lang"], r["kind"]): r for r in ind}
    langs = [L.code for L in centurio_languages()]
    if a.markdown:
        print("\n| lang | detectors | UDHR sent. right+close | UDHR short right+close | OOD sent. n | right | close | top "
              "| CLD3 | lingua | OOD short n | right | close | top | CLD3 | lingua | most common wrong (OOD) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for lang in langs:
        s, t = by.get((lang, "sentence")), by.get((lang, "short"))
        u, us = byi.get((lang, "sentence")), byi.get((lang, "short"))
        cells = []
        for r in (s, t):
            if r is None:
                cells.append(["0", "—", "—", "—", "—", "—"])
            else:
                cells.append([str(r["n"]), pct(r["ok"] / r["n"]), pct(r["close"] / r["n"]), pct(r["top"] / r["n"]),
                              pct(r.get("cld3")), pct(r.get("lingua"))])
        udhr_cell = pct((u["ok"] + u["close"]) / u["n"]) if u else "—"
        udhr_short = pct((us["ok"] + us["close"]) / us["n"]) if us else "—"
        wrong = "; ".join(x for x in ((s or {}).get("top_wrong", ""), (t or {}).get("top_wrong", "")) if x)
        if a.markdown:
            print(f"| {lang} | {lid.detector(lang).split(':')[0]} | {udhr_cell} | {udhr_short} | " + " | ".join(cells[0]) + " | "
                  + " | ".join(cells[1]) + f" | {wrong} |")
        else:
            print(f"{lang:9} udhr {udhr_cell:>3}  sent n={cells[0][0]:>3} ok={cells[0][1]:>3} close={cells[0][2]:>3} "
                  f"top={cells[0][3]:>3} cld3={cells[0][4]:>3} lingua={cells[0][5]:>3}  short n={cells[1][0]:>3} "
                  f"ok={cells[1][1]:>3} close={cells[1][2]:>3} top={cells[1][3]:>3}  {wrong}")


if __name__ == "__main__":
    main()
