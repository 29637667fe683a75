"""Synthetic images and records for the sanitize tests (no real data, no OCR model)."""

from __future__ import annotations

import numpy as np

from ufmclean.records import BBox, Finding, ImageRecord, LoadedImage


def record(image_id: str = "img0", relpath: str = "a.png", frames: int = 1) -> ImageRecord:
    """An ImageRecord for a file that does not need to exist."""
    return ImageRecord(image_id=image_id, relpath=relpath, path=f"/nonexistent/{relpath}", sha256="0" * 64,
                       size_bytes=0, format="png", rows=64, cols=128, frames=frames)


def finding(fid: str = "f1", *, kind: str = "text", text: str = "", frame: int = 0,
            bbox: BBox = BBox(10, 10, 60, 30), doc_freq: int = 1, is_rare: bool = True,
            phi_type: str = "", confidence: float = 0.9, image_id: str = "img0", key: str = "",
            action: str = "keep") -> Finding:
    """A Finding with sensible defaults."""
    return Finding(finding_id=fid, image_id=image_id, relpath="a.png", frame=frame, kind=kind, bbox=bbox,
                   text=text, confidence=confidence, key=key or text.lower(), doc_freq=doc_freq,
                   is_rare=is_rare, phi_type=phi_type, action=action)


def textured(h: int = 64, w: int = 128, *, seed: int = 0) -> np.ndarray:
    """Smooth float background in [0, 1], shape ``(h, w)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    return (0.3 + 0.2 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + 0.02 * rng.standard_normal((h, w))).clip(0, 1)


def draw_text(canvas: np.ndarray, text: str, org: tuple[int, int], value: float | tuple[float, ...], *, scale: float = 0.6) -> np.ndarray:
    """Return a copy of ``canvas`` (``(H, W)`` or ``(H, W, C)``) with ``text`` written in ``value``."""
    import cv2

    ink = np.zeros(canvas.shape[:2], np.uint8)
    cv2.putText(ink, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2, cv2.LINE_8)
    out = canvas.copy()
    out[ink > 0] = value
    return out


def loaded_from(raw: np.ndarray, display: np.ndarray, *, photometric: str = "MONOCHROME2",
                image_id: str = "img0") -> LoadedImage:
    """A LoadedImage around synthetic arrays."""
    return LoadedImage(record=record(image_id, frames=raw.shape[0]), raw=raw, display=display,
                       photometric=photometric)


class ContrastReader:
    """OCR test double: "reads" ``text`` when the crop still shows strong strokes.

    Legibility is modelled by contrast: a crop whose 99th-percentile deviation from its median exceeds
    ``threshold`` display levels returns the text it was told about, otherwise nothing.
    """

    def __init__(self, text: str, threshold: float = 100.0) -> None:
        self.text, self.threshold, self.calls = text, threshold, 0

    def read(self, image: np.ndarray) -> list:
        self.calls += 1
        grey = image.astype(np.float32)
        if grey.ndim == 3:
            grey = grey.mean(axis=2)
        dev = np.percentile(np.abs(grey - np.median(grey)), 99)
        return [_Region(self.text, 0.9)] if dev > self.threshold else []


class _Region:
    def __init__(self, text: str, confidence: float) -> None:
        self.text, self.confidence = text, confidence
