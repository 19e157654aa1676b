"""The one Unicode script table (mixkit.lang.writing_systems): the fast `matches_script` (compiled
character classes; the audit and the filters' neighbours call it per sample) gives what its
definition gives, letter counts per script from `script_counts`."""
from __future__ import annotations

import random

import pytest

from mixkit.lang import writing_systems as ws

SAMPLES = ["A brown dog runs across a green meadow.", "Ein brauner Hund läuft über eine grüne Wiese.",
           "Коричневая собака бежит по зелёному лугу.", "茶色の犬が小さな川のそばの緑の草原を走っています。",
           "12345 !!", "", "Привет, world", "안녕하세요 世界", "مرحبا بالعالم", "नमस्ते दुनिया", "这个是中文",
           "ab中文字", "ÀÉÎ ĳ ǅ", "Ελληνικά", "ラーメン", "𠀀𠀁 ab", "ｶﾀｶﾅ", "x\u0301\u0301\u0301"]
SCRIPTS = ("Latn", "Cyrl", "Jpan", "Hans", "Hant", "Hang", "Kore", "Arab", "Deva", "Grek", "Hani", "Thai")


def by_definition(text: str, expected: str, min_share: float) -> bool:
    counts = ws.script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return True
    accepted = ws._ACCEPTED.get(expected, (expected,))
    return sum(counts[s] for s in accepted) / total >= min_share


def random_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pools = [(0x20, 0x7E), (0xC0, 0x24F), (0x300, 0x36F), (0x400, 0x4FF), (0x600, 0x6FF), (0x900, 0x97F),
             (0x3040, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC80), (0xFF66, 0xFF9F), (0x20000, 0x20010)]
    out = []
    for _ in range(n):
        picks = rng.sample(pools, rng.randint(1, 3))
        out.append("".join(chr(rng.randint(*rng.choice(picks))) for _ in range(rng.randint(1, 30))))
    return out


@pytest.mark.parametrize("min_share", [0.0, 0.5, 0.95, 1.0])
def test_matches_script_gives_what_its_definition_gives(min_share):
    for text in SAMPLES + random_texts(400):
        for script in SCRIPTS:
            assert ws.matches_script(text, script, min_share) == by_definition(text, script, min_share), \
                (text, script, min_share)
