"""Helpers of the run-folder tests: a small PNG tree with one planted name, an OCR double, a CLI call."""

from pathlib import Path

import cv2
import numpy as np

from ufmclean.cli.main import main
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox

NAME_BOX = BBox(4, 40, 50, 48)
#: relpath of the one image carrying the planted "name" (rare + PHI: inpainted, so ``written``).
NAMED = "a/img_2.png"


def planted_tree(root: Path, *, n: int = 6, name: str = "img") -> Path:
    """``n`` 64x64 PNGs in folders ``a``/``b``; image 2 has ink in :data:`NAME_BOX`."""
    rng = np.random.default_rng(11)
    for i in range(n):
        img = rng.integers(40, 60, (64, 64), dtype=np.uint8)  # below the OCR double's ink contrast
        if i == 2:
            img[42:46, 5:49:3] = 250
        folder = root / ("a" if i % 2 == 0 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{name}_{i}.png"), img)
    return root


def ocr_double() -> FakeOcrEngine:
    """Reads "DOE, JOHN" where :data:`NAME_BOX` still has ink."""
    return FakeOcrEngine([(NAME_BOX, "DOE, JOHN")])



def cli(*args: str | Path) -> int:
    """``ufmclean ARGS`` in this process; returns the exit code."""
    return main([str(a) for a in args])


def sanitize_cli(inp: Path, run: Path | str, *extra: str) -> int:
    """``ufmclean sanitize INP --out RUN [extra]`` (CPU, no thumbnails' model needed)."""
    return cli("sanitize", inp, "--out", run, "--device", "cpu", *extra)
