"""Synthetic scan-benchmark images: a real chest X-ray background with burned-in text of known boxes.

Used by bench/scan.py. Texts mix sizes (8-40 px), contrasts (bright, grey, dark-on-light label) and
places (corners, edges), like real burned-in annotations. Ground truth is one box per text line.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WORDS = ["DOE JOHN", "SMITH, ANNA", "MRN 00482913", "DOB 1971-03-04", "04/03/2001", "PORTABLE", "AP",
         "ST MARY HOSP", "12:41:07", "45Y M", "ACC 7731920", "SEMI-UPRIGHT", "KAUFMAN SCOTT"]


def background(size: int, seed: int) -> np.ndarray:
    """A (size, size) uint8 chest X-ray (real when ../shared/data is present, else smooth noise)."""
    import cv2

    files = sorted((SHARED / "cxr_fullres_samples").glob("*/*")) if SHARED.is_dir() else []
    files = [f for f in files if f.suffix.lower() in (".png", ".jpeg", ".jpg")]
    if files:
        img = cv2.imread(str(files[seed % len(files)]), cv2.IMREAD_GRAYSCALE)
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (8, 8)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC), (0, 0), size / 64)


def make_image(size: int, seed: int, n_text: int = 4) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[str]]:
    """Return ``(image (size, size) uint8, boxes [(x0, y0, x1, y1)], texts)`` with ``n_text`` lines."""
    import cv2

    rng = random.Random(seed)
    img = background(size, seed)
    boxes, texts = [], []
    slots = [(0.03, 0.04), (0.6, 0.04), (0.03, 0.9), (0.6, 0.92), (0.03, 0.12), (0.6, 0.12)]
    for i in range(n_text):
        text = rng.choice(WORDS)
        px_height = rng.choice([9, 12, 16, 24, 36]) * size / 1024 if i % 2 else rng.choice([10, 14, 20])
        scale = max(px_height, 8) / 22.0
        thick = max(1, int(round(scale * 1.6)))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        fx, fy = slots[i % len(slots)]
        x, y = int(fx * size), int(fy * size) + th
        x = min(x, size - tw - 2)
        style = i % 3
        if style == 2:  # dark text on a light label
            cv2.rectangle(img, (x - 4, y - th - 4), (x + tw + 4, y + base + 4), 235, -1)
            colour = 20
        else:
            colour = 255 if style == 0 else int(np.clip(img[y - th:y, x:x + tw].mean() + 60, 0, 255))
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, int(colour), thick, cv2.LINE_AA)
        boxes.append((x, y - th, x + tw, y + base))
        texts.append(text)
    return img, boxes, texts
