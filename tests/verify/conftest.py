"""Tiny synthetic datasets for the verify tests (class folders of grey PNGs)."""

from pathlib import Path

import cv2
import numpy as np
import pytest


def make_dataset(root: Path, *, n_per_class: int = 12, size: int = 32, seed: int = 0) -> Path:
    """Two classes: 'dark' (low mean) and 'bright' (high mean) noisy squares, PNG, in class folders."""
    rng = np.random.default_rng(seed)
    for label, base in (("dark", 60), ("bright", 170)):
        d = root / label
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = np.clip(base + rng.normal(0, 25, (size, size)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(d / f"img{i:03d}.png"), img)
    return root


@pytest.fixture()
def tiny_dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")
