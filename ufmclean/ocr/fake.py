"""A deterministic OCR engine for unit tests: it 'reads' text that was planted at known places."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.records import BBox


class FakeOcrEngine:
    """Return preset text for boxes whose pixels differ from the background.

    Parameters
    ----------
    planted : iterable of (BBox, str)
        Where text was drawn and what it says. A planted item is reported only when its box
        still has ink (pixel range >= ``min_contrast``), so redacting it makes it disappear —
        which lets tests of downstream stages (rarity, residual checks) behave like real OCR.
    confidence : float
        Confidence given to every region.
    """

    def __init__(
        self, planted: Iterable[tuple[BBox, str]] = (), *, confidence: float = 0.9, min_contrast: int = 40
    ) -> None:
        self.planted = tuple(planted)
        self.confidence = float(confidence)
        self.min_contrast = int(min_contrast)
        self.calls = 0

    def read(self, image: np.ndarray) -> list[TextRegion]:
        """Return planted regions that still have contrast in ``image`` (uint8 (H, W) or (H, W, 3))."""
        grey = check_image(image)
        self.calls += 1
        out = []
        for box, text in self.planted:
            clipped = box.clip(*grey.shape)
            if clipped.area == 0:
                continue
            patch = grey[clipped.slices]
            if int(patch.max()) - int(patch.min()) >= self.min_contrast:
                out.append(TextRegion(clipped, text, self.confidence))
        return out
