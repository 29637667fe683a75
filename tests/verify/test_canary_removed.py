"""The demo's chain, checked: a canary stamped by ``make_canary`` is found and removed by a real sanitize
that is not told where it is (easyocr on CPU; slow)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from ufmclean.records import BBox
from ufmclean.verify.canary import make_canary, read_canary

from tests.sanitize.independent_ocr import legible, read_words

pytestmark = pytest.mark.slow


def _xray_like(size: int, seed: int, base: int) -> np.ndarray:
    """A smooth ``(size, size)`` uint8 image: a blurred random field around ``base`` with mild noise."""
    rng = np.random.default_rng(seed)
    field = cv2.resize(rng.normal(base, 30, (8, 8)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(field + rng.normal(0, 3, (size, size)), 0, 255).astype(np.uint8)


def test_sanitize_finds_and_removes_the_canary_it_was_not_told_about(tmp_path: Path) -> None:
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import load_policy

    data = tmp_path / "data"
    for label, base in (("normal", 70), ("pneumonia", 120)):
        (data / label).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(str(data / label / f"img{i}.png"), _xray_like(256, i + base, base))
    canaried = tmp_path / "canaried"
    make_canary(data, canaried, text="JANE CANARY", k=1, label="pneumonia", seed=3, box_frac=(0.1, 0.8))
    spec = read_canary(canaried)
    (rel,) = spec.relpaths
    stamped = cv2.imread(str(canaried / rel), cv2.IMREAD_GRAYSCALE)
    box = spec.box_for(*stamped.shape)
    window = box.pad(6, height=stamped.shape[0], width=stamped.shape[1])
    tokens = ["JANE", "CANARY"]
    assert legible(tokens, read_words(stamped[window.slices], scale=3.0)), "positive control: the canary reads"

    run = tmp_path / "run"
    run_sanitize(canaried, run, policy=load_policy(), options=SanitizeOptions(device="cpu"))
    findings = [f for f in pq.read_table(run / "findings.parquet").to_pylist() if f["relpath"] == rel]
    hits = [f for f in findings if BBox(f["x0"], f["y0"], f["x1"], f["y1"]).intersection(box) > 0]
    assert hits and all(f["action"] in ("inpaint", "mask") for f in hits), "the canary was not found and removed"
    clean = cv2.imread(str(run / "clean" / rel), cv2.IMREAD_GRAYSCALE)
    assert not legible(tokens, read_words(clean[window.slices], scale=3.0)), "the canary is still legible"
    # nothing else in the dataset carried text: every other image is copied unchanged
    for other in sorted(p.relative_to(canaried).as_posix() for p in canaried.rglob("*.png")):
        if other != rel:
            assert np.array_equal(cv2.imread(str(run / "clean" / other)), cv2.imread(str(canaried / other))), other
