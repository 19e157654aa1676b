"""The translation cache at scale: parquet files (translation/cache.py) vs the one-JSON-file-per-
segment cache it replaced, on the same entries in the same run.

Usage: python benchmarks/bench_translation_cache.py [--sizes 200000,1000000] [--dir /tmp/x] [--batch 512]

For each size N: N entries (source ~60-160 characters, translation ~1.2x, as NLLB captions),
written the way the translation stage writes them (one flush per batch of --batch new
entries), then:
- seconds to write (and, for the parquet cache, to compact), files, disk bytes (allocated
  blocks, as `du` counts them) and the data's own bytes (source + translation, UTF-8);
- lookup time per batch of --batch keys (wall and CPU: the machine may be shared), on a fresh
  reader (as a new Ray actor would be):
  all hits (a rebuild) and all misses (new text), mean over --lookups batches; for the parquet
  cache also before compaction (loose files only);
- parquet cache: then 1% more entries (a reserve round), compacted: seconds and files written
  (they go to the small 'recent' level instead of rewriting the cache).
Ratios are old / new. The OS page cache is warm for both (files just written).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from translation.cache import TranslationCache, cache_files, cache_key, compact_cache

SETTINGS = {"backend": "transformers", "num_beams": 1, "max_new_tokens": 256, "dtype": "bfloat16"}
WORDS = ("a the dog cat man woman child street car tree sky cloud beach sea wave sand red blue green yellow white "
         "black old young small large tall running sitting standing walking holding looking next to near under "
         "over behind front of with and on in at wooden table window door kitchen building city park").split()


class OneFilePerEntryCache:
    """The cache before the parquet one (translation/cache.py up to commit 3d1f64e), kept here
    as the baseline: <dir>/v1/<key[:2]>/<key>.json, written by a 4-thread pool, create + rename."""

    def __init__(self, cache_dir, model_id, settings):
        self.root = Path(cache_dir) / "v1"
        self.model_id, self.settings = model_id, settings
        self._pool = ThreadPoolExecutor(max_workers=4)
        self._pending, self._dirs = [], set()

    def _path(self, k):
        return self.root / k[:2] / f"{k}.json"

    def get(self, src_lang, tgt_lang, text):
        k = cache_key(self.model_id, self.settings, src_lang, tgt_lang, text)
        try:
            with open(self._path(k), encoding="utf-8") as f:
                e = json.load(f)
        except (OSError, ValueError):
            return None
        return (e["translation"], bool(e.get("truncated"))) if e.get("src") == text else None

    def put(self, src_lang, tgt_lang, text, translation, truncated=False):
        k = cache_key(self.model_id, self.settings, src_lang, tgt_lang, text)
        e = {"model": self.model_id, "settings": self.settings, "src_lang": src_lang, "tgt_lang": tgt_lang,
             "src": text, "translation": translation, "truncated": truncated}
        self._pending.append(self._pool.submit(self._write, k, e))

    def _write(self, k, e):
        path = self._path(k)
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        tmp = path.parent / f".{k}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(e, f, ensure_ascii=False)
        os.replace(tmp, path)

    def flush(self):
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 28, n)
    return [" ".join(rng.choice(WORDS, k)).capitalize() + f" {i}." for i, k in enumerate(lengths)]


def disk(root: Path) -> tuple[int, int]:
    """(files, allocated bytes) under root."""
    files = blocks = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            files += 1
            blocks += os.stat(os.path.join(dirpath, n)).st_blocks * 512
    return files, blocks


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def lookups(cache, items, batch, n_batches) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds) per batch and the hits, on a fresh reader."""
    get_many = getattr(cache, "get_many", None) or (lambda its: [it for it in its if cache.get(*it) is not None])
    t, c = time.perf_counter(), time.process_time()
    hits = 0
    for b in range(n_batches):
        hits += len(get_many(items[b * batch:(b + 1) * batch]))
    return (time.perf_counter() - t) / n_batches, (time.process_time() - c) / n_batches, hits


def run(n: int, base: Path, batch: int, n_batches: int) -> dict:
    src = sentences(n, seed=n)
    rng = np.random.default_rng(1)
    trans = [s[::-1] + " ok" for s in src]          # a stand-in translation, ~1.1x the source
    data_bytes = sum(len(s.encode()) + len(t.encode()) for s, t in zip(src, trans))
    langs = ["deu_Latn", "swh_Latn", "hin_Deva", "arb_Arab"]
    tgt = [langs[i % 4] for i in range(n)]
    want = rng.choice(n, batch * n_batches, replace=False) if n >= batch * n_batches else rng.integers(0, n, batch * n_batches)
    hit_items = [("eng_Latn", tgt[i], src[i]) for i in want]
    miss_items = [("eng_Latn", "deu_Latn", f"never cached {i}") for i in range(batch * n_batches)]
    out = {"entries": n, "data_bytes": data_bytes}

    old_dir, new_dir = base / f"old-{n}", base / f"new-{n}"
    for d in (old_dir, new_dir):
        shutil.rmtree(d, ignore_errors=True)

    def write(cache):
        for i in range(n):
            cache.put("eng_Latn", tgt[i], src[i], trans[i])
            if (i + 1) % batch == 0:
                cache.flush()
        cache.flush()

    out["old_write_s"], _ = timed(lambda: write(OneFilePerEntryCache(old_dir, "nllb@rev", SETTINGS)))
    out["old_files"], out["old_disk"] = disk(old_dir)
    old = lambda: OneFilePerEntryCache(old_dir, "nllb@rev", SETTINGS)      # noqa: E731
    new = lambda: TranslationCache(new_dir, "nllb@rev", SETTINGS)          # noqa: E731
    out["old_hit_batch_s"], out["old_hit_batch_cpu"], h = lookups(old(), hit_items, batch, n_batches)
    assert h == len(hit_items), h
    out["old_miss_batch_s"], out["old_miss_batch_cpu"], h = lookups(old(), miss_items, batch, n_batches)
    assert h == 0

    out["new_write_s"], _ = timed(lambda: write(TranslationCache(new_dir, "nllb@rev", SETTINGS)))
    out["new_loose_files"], out["new_loose_disk"] = disk(new_dir)
    out["new_loose_hit_batch_s"], out["new_loose_hit_batch_cpu"], h = lookups(new(), hit_items, batch, n_batches)
    assert h == len(hit_items), h
    out["new_compact_s"], rep = timed(lambda: compact_cache(new_dir))
    out["new_files"], out["new_disk"] = disk(new_dir)
    out["new_depth"] = rep["depth"]
    assert cache_files(new_dir)["entries"] == n
    out["new_hit_batch_s"], out["new_hit_batch_cpu"], h = lookups(new(), hit_items, batch, n_batches)
    assert h == len(hit_items), h
    out["new_miss_batch_s"], out["new_miss_batch_cpu"], h = lookups(new(), miss_items, batch, n_batches)
    assert h == 0
    extra = max(1, n // 100)
    more = TranslationCache(new_dir, "nllb@rev", SETTINGS)
    for i in range(extra):
        more.put("eng_Latn", "deu_Latn", f"one more sentence {i}.", f"noch ein Satz {i}.")
        if (i + 1) % batch == 0:
            more.flush()
    more.flush()
    out["more_entries"] = extra
    out["more_compact_s"], rep = timed(lambda: compact_cache(new_dir))
    out["more_files_written"], out["more_level"] = rep["files_written"], rep["level"]
    assert cache_files(new_dir)["entries"] == n + extra
    shutil.rmtree(old_dir, ignore_errors=True)
    shutil.rmtree(new_dir, ignore_errors=True)
    return out


def report(r: dict) -> None:
    mb = lambda b: f"{b / 1e6:,.1f} MB"       # noqa: E731
    ms = lambda s: f"{s * 1e3:,.1f} ms"       # noqa: E731
    print(f"\n## {r['entries']:,} entries ({mb(r['data_bytes'])} of text)")
    print("| | one JSON file per entry | parquet files | old / new |")
    print("|---|---|---|---|")
    print(f"| write (flush per batch) | {r['old_write_s']:.1f} s | {r['new_write_s']:.1f} s "
          f"+ compaction {r['new_compact_s']:.1f} s | {r['old_write_s'] / (r['new_write_s'] + r['new_compact_s']):.1f}x |")
    print(f"| files | {r['old_files']:,} | {r['new_files']:,} (before compaction {r['new_loose_files']:,}; "
          f"prefix {r['new_depth']} bits) | {r['old_files'] / r['new_files']:,.0f}x |")
    print(f"| disk | {mb(r['old_disk'])} | {mb(r['new_disk'])} (before compaction {mb(r['new_loose_disk'])}) | "
          f"{r['old_disk'] / r['new_disk']:.1f}x |")
    for kind, label in (("hit", "hits"), ("miss", "misses")):
        o, n = f"old_{kind}_batch", f"new_{kind}_batch"
        before = f" (before compaction {ms(r['new_loose_hit_batch_s'])})" if kind == "hit" else ""
        print(f"| lookup, batch of {label}, wall | {ms(r[o + '_s'])} | {ms(r[n + '_s'])}{before} | "
              f"{r[o + '_s'] / r[n + '_s']:.2f}x |")
        print(f"| lookup, batch of {label}, CPU | {ms(r[o + '_cpu'])} | {ms(r[n + '_cpu'])} | "
              f"{r[o + '_cpu'] / r[n + '_cpu']:.2f}x |")
    print(f"| then +{r['more_entries']:,} entries, compacted | | {r['more_compact_s']:.2f} s, "
          f"{r['more_files_written']} file(s) written (level {r['more_level']}) | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="200000,1000000")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    ap.add_argument("--batch", type=int, default=512, help="entries per flush and keys per lookup batch")
    ap.add_argument("--lookups", type=int, default=100, help="lookup batches timed")
    a = ap.parse_args()
    base = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="bench_tcache_"))
    base.mkdir(parents=True, exist_ok=True)
    for n in (int(x) for x in a.sizes.split(",")):
        r = run(n, base, a.batch, a.lookups)
        report(r)
        print(json.dumps(r))


if __name__ == "__main__":
    main()
