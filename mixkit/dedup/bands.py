"""Locality-sensitive hashing: how many bands, and the band keys of a row.

Two rows become a candidate pair when they share a band key; every candidate is then verified
(exact Jaccard for text, Hamming distances for images), so a band only costs work, never a
wrong removal.

- Text: MinHash LSH, b bands of r signature values. A pair of Jaccard s shares a band with
  probability 1 - (1 - s^r)^b. `lsh_params` takes the largest r (fewest chance candidates)
  whose smallest b reaches `recall` at the threshold within num_perm values.
- Images: bit-sampling LSH on the 128 bits of the two dHashes. A band is r sampled bit
  positions; a pair at the threshold (max_hamming on both hashes, D = 2 x max_hamming differing
  bits) shares a band with probability C(128 - D, r) / C(128, r). r grows with log2 of the
  number of rows, so a row meets unrelated hashes in its bands about b * N / 2^r <= 4 times:
  the candidates per row stay bounded as N grows (a fixed r would give b * N^2 / 2^r pairs).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from math import ceil, comb, log1p

import numpy as np

from mixkit.dedup.hashing import mix64

HASH_BITS = 128            # two 64-bit dHashes
MIN_IMAGE_BITS = 16        # bits per image band, at least
RANDOM_MEETS = 4           # image bands: at most this many chance meetings per row with random hashes
IMAGE_BAND_SEED = 2        # which bit positions each image band samples (part of the result: fixed)


def _bands_for(p: float, recall: float) -> int:
    """Fewest bands, each hit with probability p, so that at least one is hit with probability >= recall."""
    if p >= 1:
        return 1
    miss = log1p(-p)
    if miss == 0:              # p below float resolution
        return 10 ** 12
    return max(1, ceil(log1p(-recall) / miss - 1e-9))


def text_recall(s: float, bands: int, rows: int) -> float:
    """Probability that a pair of Jaccard s shares at least one of `bands` bands of `rows` MinHash values."""
    return 1 - (1 - s ** rows) ** bands


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows per band) for MinHash LSH: the largest rows r (fewest chance candidates)
    for which some b with b*r <= num_perm finds a pair at `threshold` with probability >= recall;
    b is the smallest such."""
    best_perm = None
    for r in range(num_perm, 0, -1):
        b = _bands_for(threshold ** r, recall)
        if b * r <= num_perm:
            return b, r
    for r in range(1, 64):
        b = _bands_for(threshold ** r, recall)
        best_perm = b * r if best_perm is None else min(best_perm, b * r)
    raise ValueError(f"near_text: num_perm {num_perm} cannot find pairs at Jaccard {threshold} with recall {recall}; "
                     f"use num_perm >= {best_perm}, a higher threshold or a lower recall")


def image_recall(distance: int, bands: int, bits: int) -> float:
    """Probability that a pair whose hashes differ in `distance` of 128 bits shares one of `bands` bands of `bits` bits."""
    p = comb(HASH_BITS - distance, bits) / comb(HASH_BITS, bits)
    return 1 - (1 - p) ** bands


@lru_cache(maxsize=64)
def image_lsh_params(max_hamming: int, n_rows: int, recall: float = 0.95) -> tuple[int, int]:
    """(bands, bits per band) for bit-sampling LSH over 2 x 64-bit dHashes: the fewest bits r >= 16
    such that the bands needed for `recall` at 2 x max_hamming differing bits meet random hashes
    at most RANDOM_MEETS times per row (n_rows * b / 2^r <= RANDOM_MEETS)."""
    d = 2 * max_hamming
    for r in range(MIN_IMAGE_BITS, HASH_BITS - d + 1):
        b = _bands_for(comb(HASH_BITS - d, r) / comb(HASH_BITS, r), recall)
        if max(n_rows, 1) * b <= RANDOM_MEETS * 2 ** r:
            return b, r
    raise ValueError(f"image_phash: no LSH bands find max_hamming {max_hamming} among {n_rows} rows; "
                     f"use a smaller max_hamming")


@dataclass(frozen=True)
class Bands:
    """The LSH shape of one dedup run (persisted with it, so a resumed run uses the same)."""
    text: tuple[int, int]      # (bands, MinHash values per band)
    image: tuple[int, int]     # (bands, sampled bits per band)

    @classmethod
    def choose(cls, options, n_rows: int) -> "Bands":
        nt, ip = options.near_text, options.image_phash
        return cls(text=nt.bands_rows if nt.enabled else (0, 0),
                   image=image_lsh_params(ip.max_hamming, n_rows, ip.recall) if ip.enabled else (0, 0))

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Bands":
        return cls(text=tuple(d["text"]), image=tuple(d["image"]))


def text_band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """[n, bands] uint64: one hash per band of `rows` MinHash values."""
    n = sigs.shape[0]
    x = sigs[:, :bands * rows].reshape(n, bands, rows).astype(np.uint64)
    h = np.zeros((n, bands), dtype=np.uint64)
    for j in range(rows):
        h = mix64(h ^ x[:, :, j])
    return h


@lru_cache(maxsize=16)
def image_band_masks(bands: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """For each band, masks of the sampled bit positions in the horizontal and the vertical hash."""
    rng = np.random.default_rng(IMAGE_BAND_SEED)
    mh = np.zeros(bands, dtype=np.uint64)
    mv = np.zeros(bands, dtype=np.uint64)
    for j in range(bands):
        for pos in rng.choice(HASH_BITS, bits, replace=False):
            if pos < 64:
                mh[j] |= np.uint64(1) << np.uint64(pos)
            else:
                mv[j] |= np.uint64(1) << np.uint64(pos - 64)
    return mh, mv


def image_band_keys(h: np.ndarray, v: np.ndarray, bands: int, bits: int) -> np.ndarray:
    """[n, bands] uint64: one hash per band of the sampled bits of (h, v)."""
    mh, mv = image_band_masks(bands, bits)
    return mix64(mix64(h[:, None] & mh[None, :]) ^ (v[:, None] & mv[None, :]))
