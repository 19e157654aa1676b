"""Every detector's raw answer on every held-out text, cached: what benchmarks/lid_tune.py tunes the
language check's ensemble on without calling the detectors again.

Per text: the script profile, fastText's top 5 (FLORES codes, script-gated), CLD3's answer, the n-gram
model's posterior row and n-gram count, and lingua's confidences over all its languages written in the
text's script (the check asks lingua about two or three candidates; lingua's confidences over a subset
are these renormalised, checked in tests/test_lid.py).

    python benchmarks/lid_votes.py --out /tmp/lid_votes.pkl
"""
from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path


def raw_votes(lid, lines: list[str]) -> list[dict]:
    """[{'profile', 'fasttext', 'cld3', 'ngram', 'ngram_n', 'lingua'}] for lines (already one line each)."""
    from lingua import LanguageDetectorBuilder

    from mixkit.lang import languages
    from mixkit.lang.lid import _compatible

    profiles = lid._scripts(lines)
    out = []
    for line, prof, (c3, p3) in zip(lines, profiles, lid._cld3.top(lines)):
        ft = lid._fasttext_votes(line, prof[1])
        ok = (not prof[1]) or (c3 and _compatible(languages.get(c3).script, prof[1]))
        out.append({"profile": prof, "fasttext": ft, "cld3": {c3: p3} if c3 and ok else {}})
    for v, ng in zip(out, lid._ngram_rows(lines, profiles)):
        if ng is not None and ng[2]:
            model, row, n = ng
            v["ngram"] = {c: float(p) for c, p in zip(model.langs, row) if p > 1e-4}
            v["ngram_n"] = int(n)
    backend = lid._lingua
    det = LanguageDetectorBuilder.from_languages(*set(backend._by_code.values())).build()
    code_of = {lang: c for c, lang in sorted(backend._by_code.items(), reverse=True)}
    for v, line in zip(out, lines):
        shares = v["profile"][1]
        conf = det.compute_language_confidence_values(line) if line.strip() else []
        v["lingua"] = {code_of[x.language]: float(x.value) for x in conf
                       if x.value > 1e-6 and _compatible(languages.get(code_of[x.language]).script, shares)}
    return out


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lid_accuracy import heldout_texts, is_dev, udhr_texts

    from mixkit.lang.lid import LanguageIdentifier

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/lid_votes.pkl"))
    a = ap.parse_args()
    lid = LanguageIdentifier()
    items = []          # (domain, lang, kind, text, dev)
    for (lang, kind), texts in heldout_texts("all").items():
        items += [("ood", lang, kind, t, is_dev(t)) for t in texts]
    for (lang, kind), texts in udhr_texts().items():
        items += [("udhr", lang, kind, t, False) for t in texts]
    t0 = time.time()
    votes = raw_votes(lid, [lid._line(t) for _, _, _, t, _ in items])
    print(f"{len(items)} texts in {time.time() - t0:.0f} s")
    with open(a.out, "wb") as fh:
        pickle.dump({"items": items, "votes": votes}, fh)


if __name__ == "__main__":
    main()
