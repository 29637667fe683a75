"""How an OCR result is scored against ground-truth text boxes (shared by bench/ and tests/).

Definition: a ground-truth box counts as **found** when the union of the predicted boxes covers at
least ``min_cover`` (default 0.5) of its area. The union is taken over all predictions, so a line
read as two words still counts, and a big box over a small item counts too (what matters for
redaction is that the pixels get covered, not how the reader split the line). Recall = found / total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ufmclean.records import BBox

MIN_COVER = 0.5


def covered_fraction(truth: BBox, predicted: Iterable[BBox]) -> float:
    """Fraction of ``truth``'s pixels inside the union of ``predicted`` boxes, in ``[0, 1]``.

    Exact: the union is rasterised on a mask of ``truth``'s size (``(H, W)`` bool), so overlapping
    predictions are not double counted. An empty ``truth`` box returns 0.
    """
    if truth.area == 0:
        return 0.0
    mask = np.zeros((truth.height, truth.width), dtype=bool)
    for p in predicted:
        x0, x1 = max(p.x0, truth.x0) - truth.x0, min(p.x1, truth.x1) - truth.x0
        y0, y1 = max(p.y0, truth.y0) - truth.y0, min(p.y1, truth.y1) - truth.y0
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
    return float(mask.mean())


def is_found(truth: BBox, predicted: Sequence[BBox], *, min_cover: float = MIN_COVER) -> bool:
    """True when ``predicted`` boxes cover at least ``min_cover`` of ``truth`` (see module docstring)."""
    if not 0.0 < min_cover <= 1.0:
        raise ValueError("min_cover must be in (0, 1]")
    return covered_fraction(truth, predicted) >= min_cover


def recall(
    pairs: Iterable[tuple[BBox, Sequence[BBox]]], *, min_cover: float = MIN_COVER
) -> tuple[int, int]:
    """Return ``(found, total)`` over ``(truth box, predicted boxes of the same frame)`` pairs."""
    found = total = 0
    for truth, predicted in pairs:
        total += 1
        found += is_found(truth, predicted, min_cover=min_cover)
    return found, total
