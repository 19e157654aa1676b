"""Image degradations on numpy arrays (OpenCV): small rotation, blur, noise, JPEG encoding.

OpenCV's functions are several times faster than Pillow's filters at these sizes; its random
number generator is reseeded from the job's generator so output stays deterministic.
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
        cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
        noise = np.empty(img.shape, np.int16)
        cv2.randn(noise, 0, sigma)
        img = cv2.add(img, noise, dtype=cv2.CV_8U)
        params["noise"] = round(sigma, 3)
    return img


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
