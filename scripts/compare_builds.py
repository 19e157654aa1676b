"""Compare the shards of two builds sample by sample: how many samples are byte-identical, and
which sources the differing ones come from (e.g. after a refactor, or a library upgrade).

    python scripts/compare_builds.py runs/before runs/after
    python scripts/compare_builds.py runs/demo s3://bucket/demo     # a build folder may be a URL
"""
from __future__ import annotations

import sys
from collections import Counter
from mixkit.core import storage
from mixkit.core.shard_format import TarSample, expand_shards, iter_tar


def samples(build_dir: str) -> dict[str, TarSample]:
    out = {}
    for path in expand_shards(storage.join(build_dir, "shards")):
        for s in iter_tar(path):
            if isinstance(s, TarSample):
                out[s.key] = s
    return out


def main() -> None:
    a, b = samples(sys.argv[1]), samples(sys.argv[2])
    same, differ = Counter(), Counter()
    for key in sorted(set(a) | set(b)):
        s = a.get(key) or b.get(key)
        source = str(s.doc().get("source", "?"))
        equal = key in a and key in b and a[key].members == b[key].members
        (same if equal else differ)[source] += 1
    print("byte-identical samples by source:", dict(sorted(same.items())))
    print("differing or missing samples by source:", dict(sorted(differ.items())))


if __name__ == "__main__":
    main()
