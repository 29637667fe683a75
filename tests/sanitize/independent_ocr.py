"""An OCR pass independent of the one that found the text: Tesseract when installed, else easyocr at
another scale and with the full-frame strategy. Used only by the slow integration tests."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from ufmclean.redact.residual import normalise


def read_words(image: np.ndarray, *, scale: float | None = None) -> list[str]:
    """Words read from a uint8 ``(H, W)`` or ``(H, W, 3)`` image (upscaled by ``scale`` first;
    default 2 for images up to 1024 pixels, else 1)."""
    import cv2

    if scale is None:
        scale = 2.0 if max(image.shape[:2]) <= 1024 else 1.0
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if shutil.which("tesseract"):
        ok, png = cv2.imencode(".png", big if big.ndim == 2 else cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        words: list[str] = []
        for psm in ("11", "6"):  # sparse text, then a uniform block
            out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", psm], input=png.tobytes(),
                                 capture_output=True, timeout=120, check=False)
            words += out.stdout.decode("utf-8", "replace").split()
        return words
    from ufmclean.ocr import get_engine

    return [w for r in get_engine("cpu", strategy="full").read(big) for w in r.text.split()]


def legible(tokens: list[str], words: list[str], *, min_ratio: float = 85.0) -> list[str]:
    """The ``tokens`` (normalised, 3+ characters) that some read word (or word pair) matches."""
    from rapidfuzz import fuzz

    reads = [normalise(w) for w in words]
    reads += [a + b for a, b in zip(reads, reads[1:])]
    hits = []
    for t in tokens:
        n = normalise(t)
        if len(n) >= 3 and any(r and (n in r or fuzz.ratio(n, r) >= min_ratio) for r in reads):
            hits.append(t)
    return hits
