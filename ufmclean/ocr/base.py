"""The OCR seam: a text region record and the engine protocol every OCR backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ufmclean.records import BBox


@dataclass(frozen=True, slots=True)
class TextRegion:
    """One piece of text read from an image.

    ``bbox`` is in the pixel coordinates of the array given to :meth:`OcrEngine.read`;
    ``confidence`` is in ``[0, 1]``.
    """

    bbox: BBox
    text: str
    confidence: float


@runtime_checkable
class OcrEngine(Protocol):
    """Anything that reads text from one uint8 image."""

    def read(self, image: np.ndarray) -> list[TextRegion]:
        """Return the text regions of ``image`` (uint8, ``(H, W)`` or ``(H, W, 3)`` RGB)."""
        ...


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate an OCR input and return it as a grey ``(H, W)`` uint8 view or copy.

    Raises ``ValueError`` for anything but uint8 ``(H, W)`` / ``(H, W, 3)`` arrays.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("OCR input must be a uint8 numpy array; convert with the loader's display view")
    if image.ndim == 3 and image.shape[2] == 3:
        import cv2

        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"OCR input must have shape (H, W) or (H, W, 3), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("OCR input is empty")
    return image
