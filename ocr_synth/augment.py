"""Image degradations on numpy arrays (OpenCV): small rotation, blur, noise, JPEG encoding.

OpenCV's functions are several times faster than Pillow's filters at these sizes. Noise is a
window of a fixed Gaussian bank chosen by the job's generator (or OpenCV's generator reseeded
from it for pages larger than the bank), so output stays deterministic.
"""
from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)   # one worker per core; OpenCV's own threads would oversubscribe


def rotate(img: np.ndarray, angle: float, border: tuple[int, int, int]) -> np.ndarray:
    if abs(angle) < 1e-3:
        return img
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=tuple(int(c) for c in border))


def degrade(img: np.ndarray, rng: np.random.Generator, params: dict) -> np.ndarray:
    """Blur and noise, each with some probability; what was applied goes into `params`."""
    if rng.random() < 0.3:
        k = int(rng.choice([3, 5]))
        sigma = float(rng.uniform(0.3, 1.0))
        img = cv2.GaussianBlur(img, (k, k), sigma)
        params["blur"] = round(sigma, 3)
    if rng.random() < 0.4:
        sigma = float(rng.uniform(2, 8))
        h, w = img.shape[:2]
        bank = _noise_bank()
        if h <= bank.shape[0] and w <= bank.shape[1]:
            # a random window of a fixed bank of unit Gaussian noise, scaled: drawing fresh normal
            # numbers for every pixel was the largest cost of a large page
            y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
            img = cv2.addWeighted(img, 1.0, bank[y:y + h, x:x + w], sigma / _BANK_UNIT, 0.0, dtype=cv2.CV_8U)
        else:
            cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
            noise = np.empty(img.shape, np.int16)
            cv2.randn(noise, 0, sigma)
            img = cv2.add(img, noise, dtype=cv2.CV_8U)
        params["noise"] = round(sigma, 3)
    return img


_BANK_UNIT = 16.0     # the bank holds N(0, 1) * 16 as int16 (fixed point)
_BANK = None


def _noise_bank() -> np.ndarray:
    """2048x2048x3 Gaussian noise from a fixed seed, made once per process (25 MB)."""
    global _BANK
    if _BANK is None:
        g = np.random.default_rng(20261130)
        _BANK = np.clip(g.standard_normal((2048, 2048, 3), dtype=np.float32) * _BANK_UNIT, -32767, 32767) \
            .astype(np.int16)
    return _BANK


def encode_jpeg(img_rgb: np.ndarray, quality: int, prior_quality: int | None = None) -> bytes:
    """JPEG bytes of an RGB array; `prior_quality` first round-trips it once (double-JPEG artefacts)."""
    bgr = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR)
    if prior_quality:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(prior_quality)])
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to encode JPEG")
    return buf.tobytes()
