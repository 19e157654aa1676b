"""Exact and near-duplicate removal over the whole dataset.

A row meets its duplicates through keys (`signatures`): the hash of its normalised text, the
hash of its image bytes, MinHash LSH bands of its character n-grams, bit-sampling LSH bands of
its image dHash. Rows sharing a key become pairs (`pairs`), near pairs are verified (exact
Jaccard of the n-gram sets; Hamming distances of the dHashes), and the passes turn pairs into
clusters (`components`): exact text, exact image, near text, near image, each over the rows
the earlier passes kept; each cluster keeps its lowest-order row. `stages.run_dedup` runs this as
distributed stages over parquet partitions (the build's dedup step); `find_duplicates` /
`deduplicate_rows` run it in one process over a list of rows.

Choices (documented because they change what is removed):
- Text key: `conversation` (default) = every turn, so a prompt shared by all samples ("Describe
  the image.") never makes them duplicates; `assistant` = answers only. Normalised with Unicode
  NFKC, casefold, whitespace collapsed.
- Near-duplicate text: Jaccard of character n-gram sets (works for Chinese, Japanese, Thai)
  >= threshold, computed exactly for every candidate; LSH bands chosen so a pair at the
  threshold is found with probability >= `recall` (`bands.lsh_params`).
- Rows are only compared within the same `partition_by` values (default: lang), because the
  translations of one English sample share its image by design.
- Images: exact bytes hash (all images of the row) and a 2 x 64-bit dHash for rows with exactly
  one image; near if both Hamming distances <= max_hamming. Image dedup applies to `image_tasks`
  only (default: captions): a LLaVA-style source asks several questions about one image.
- 64-bit hashes for exact keys: a false collision is ~3e-8 at 1M rows.
"""
from mixkit.dedup.bands import Bands, image_lsh_params, image_recall, lsh_params, text_recall
from mixkit.dedup.image_hashes import image_dhash, images_hash
from mixkit.dedup.in_memory import deduplicate_rows, find_duplicates
from mixkit.dedup.minhash import MinHasher, dedup_text, normalize_text, shingle_hashes, text_jaccard
from mixkit.dedup.options import REASONS, DedupOptions, ImagePhashOptions, NearTextOptions
from mixkit.dedup.removal import duplicate_rejects, empty_duplicates
from mixkit.dedup.signatures import compute_signatures
from mixkit.dedup.stages import run_dedup

__all__ = ["REASONS", "Bands", "DedupOptions", "ImagePhashOptions", "MinHasher", "NearTextOptions",
           "compute_signatures", "dedup_text", "deduplicate_rows", "duplicate_rejects", "empty_duplicates",
           "find_duplicates", "image_dhash", "image_lsh_params", "image_recall", "images_hash", "lsh_params",
           "normalize_text", "run_dedup", "shingle_hashes", "text_jaccard", "text_recall"]
