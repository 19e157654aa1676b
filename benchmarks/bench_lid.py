"""LID throughput: mixkit's LanguageIdentifier vs calling fastText directly on the same list.

Usage: python benchmarks/bench_lid.py [--n 20000] [--repeats 3]
The full check is the ensemble (fastText, CLD3, the n-gram model; lingua only where they disagree);
"before issue 22" is the fastText + n-gram check it replaced, "ngram=False" fastText only.
Prints rows/s for: direct `model.predict(line)` loop (the plain public API), direct
`model.f.predict(line+"\\n", 1, 0.0, "strict")` loop (the binding, fastest per-line call),
`f.multilinePredict` (labels only, no probabilities), and mixkit's predict / score.
"""
from __future__ import annotations

import argparse
import time

from mixkit.lang.lid import LanguageIdentifier

SENTS = [
    "A brown dog is running along the beach next to the sea while the waves roll in.",
    "Ein brauner Hund läuft am Strand entlang, während die Wellen hereinrollen.",
    "Un chien brun court le long de la plage pendant que les vagues arrivent.",
    "Коричневая собака бежит по пляжу, пока волны накатывают на берег.",
    "一只棕色的狗沿着海边的沙滩奔跑，海浪不断地涌上岸边。",
    "茶色の犬が海のそばの浜辺を走っていて、波が打ち寄せています。",
    "สุนัขสีน้ำตาลกำลังวิ่งไปตามชายหาดข้างทะเลขณะที่คลื่นซัดเข้ามา",
    "Un perro marrón corre por la playa junto al mar mientras llegan las olas.",
]


def interleaved(fns: dict, repeats: int) -> dict:
    """Best time of each, the methods alternating round by round (fair on a shared machine)."""
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            s = time.process_time()      # CPU time: less disturbed by other jobs on a shared machine
            fn()
            best[k] = min(best[k], time.process_time() - s)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    texts = [SENTS[i % len(SENTS)] + f" {i}" for i in range(a.n)]   # one line each, as fastText needs
    lid = LanguageIdentifier()
    ft_only = LanguageIdentifier(ngram=False)      # the check before issue 14 (plus the script gate)
    before = LanguageIdentifier(detectors=("fasttext", "ngram"))   # the check before issue 22
    m = lid.model
    f = m.f
    lines_nl = [t + "\n" for t in texts]
    expected = ["eng_Latn"] * len(texts)
    res = interleaved({
        "direct model.predict loop": lambda: [m.predict(t) for t in texts],
        "direct f.predict loop": lambda: [f.predict(t + "\n", 1, 0.0, "strict") for t in texts],
        "direct f.multilinePredict (labels only)": lambda: f.multilinePredict(lines_nl, 1, 0.0, "strict"),
        "mixkit LanguageIdentifier.predict": lambda: lid.predict(texts),
        "mixkit LanguageIdentifier.score (top-3, filter path)": lambda: lid.score(texts, expected, 3),
        "direct f.predict loop, k=3": lambda: [f.predict(t + "\n", 3, 0.0, "strict") for t in texts],
        "mixkit predict, fastText only (ngram=False)": lambda: ft_only.predict(texts),
        "mixkit score, fastText only (ngram=False)": lambda: ft_only.score(texts, expected, 3),
        "before issue 22 (fasttext+ngram) predict": lambda: before.predict(texts),
        "before issue 22 (fasttext+ngram) score": lambda: before.score(texts, expected, 3),
    }, a.repeats)
    base = res["direct model.predict loop"]
    fp = res["direct f.predict loop"]
    print(f"{a.n} lines, avg {sum(map(len, texts)) / len(texts):.0f} chars, best of {a.repeats}, one core")
    for k, t in res.items():
        print(f"{k:55s} {a.n / t:10.0f} rows/s   vs model.predict {base / t:5.2f}x   vs f.predict {fp / t:5.2f}x")
    print(f"score vs direct f.predict k=3: {res['direct f.predict loop, k=3'] / res['mixkit LanguageIdentifier.score (top-3, filter path)']:.2f}x")
    for what, new in (("predict (audit path)", "mixkit LanguageIdentifier.predict"),
                      ("score (filter path)", "mixkit LanguageIdentifier.score (top-3, filter path)")):
        old = f"before issue 22 (fasttext+ngram) {what.split()[0]}"
        print(f"ensemble vs before issue 22, {what}: {res[old] / res[new]:.2f}x the throughput")


if __name__ == "__main__":
    main()
