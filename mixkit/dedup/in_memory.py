"""All of dedup in one process over a list of rows (tests, small jobs, `mixkit` API users):
the same signatures, pairs and passes as the distributed stages, without files in between."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixkit.dedup.bands import Bands
from mixkit.dedup.components import resolve
from mixkit.dedup.hashing import sorted_unique
from mixkit.dedup.minhash import dedup_text
from mixkit.dedup.options import DedupOptions
from mixkit.dedup.pairs import bucket_pairs, unique_pairs, verify_text_pairs
from mixkit.dedup.removal import duplicate_rejects, duplicates_table, empty_duplicates
from mixkit.dedup.signatures import NEAR_TEXT, compute_signatures
from mixkit.runtime.stage import StageOutput


def find_duplicates(rows: list[dict], options: DedupOptions, bands: Bands | None = None) -> pa.Table:
    """Rows to remove (order = position in `rows`, id, reason, duplicate_of, cluster_id, detail);
    each cluster keeps its first row."""
    if not options.enabled or not rows:
        return empty_duplicates()
    bands = bands or Bands.choose(options, len(rows))
    sig = compute_signatures(rows, options, np.arange(len(rows)), bands)
    pairs = unique_pairs(bucket_pairs(sig, options.image_phash.max_hamming))
    is_text = pc.equal(pairs["kind"], NEAR_TEXT)
    cand = pairs.filter(is_text)
    texts = {}
    for i in sorted_unique(np.concatenate((cand["a"].to_numpy(), cand["b"].to_numpy()))):
        texts[int(i)] = dedup_text(rows[i], options.text_key)
    verified = verify_text_pairs(cand, [texts[i] for i in cand["a"].to_pylist()],
                                 [texts[i] for i in cand["b"].to_pylist()],
                                 options.near_text.threshold, options.near_text.ngram)
    rem = resolve(pa.concat_tables([pairs.filter(pc.invert(is_text)), verified]))
    ids = [r["id"] for r in rows]
    return duplicates_table(rem, [ids[i] for i in rem.order], [ids[i] for i in rem.rep])


def deduplicate_rows(rows: list[dict], options: DedupOptions) -> StageOutput:
    """Kept rows and a reject for each duplicate; `rows`' order decides which row of a cluster stays."""
    return duplicate_rejects(rows, find_duplicates(rows, options).to_pylist())
