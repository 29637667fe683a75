"""Text findings: OCR every frame of an image (identical frames read once), typed for PHI."""

from __future__ import annotations

import hashlib

import numpy as np

from ufmclean.ocr.base import OcrEngine
from ufmclean.phi import phi_type
from ufmclean.records import Finding, LoadedImage


def _finding_id(image_id: str, frame: int, index: int) -> str:
    return hashlib.sha1(f"{image_id}:text:{frame}:{index}".encode()).hexdigest()[:16]


def text_findings(image: LoadedImage, engine: OcrEngine, *, min_confidence: float = 0.0) -> list[Finding]:
    """Read every frame of ``image.display`` with ``engine`` and return one Finding per text region.

    Frames with identical display pixels (cine loops often repeat) are read once and their regions
    reported on every such frame, so redaction later covers all of them. Boxes are in the frame's
    original pixel coordinates (the engine maps its own preprocessing back). ``phi_type`` is set from
    the text and the file's header seeds.

    Parameters
    ----------
    image : LoadedImage
        ``display`` of shape ``(F, H, W)`` or ``(F, H, W, 3)``, uint8.
    engine : OcrEngine
        Any object with ``read(uint8 image) -> list[TextRegion]``.
    min_confidence : float
        Regions below this OCR confidence are dropped.
    """
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError("min_confidence must be in [0, 1]")
    display = np.asarray(image.display)
    if display.dtype != np.uint8 or display.ndim not in (3, 4):
        raise ValueError(f"display must be uint8 (F, H, W[, 3]); got {display.dtype} {display.shape}")
    read_by_hash: dict[bytes, list] = {}
    findings: list[Finding] = []
    record = image.record
    for frame in range(display.shape[0]):
        pixels = np.ascontiguousarray(display[frame])
        digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).digest()
        if digest not in read_by_hash:
            read_by_hash[digest] = engine.read(pixels)
        for index, region in enumerate(read_by_hash[digest]):
            if region.confidence < min_confidence or not region.text.strip():
                continue
            findings.append(
                Finding(
                    finding_id=_finding_id(record.image_id, frame, index),
                    image_id=record.image_id,
                    relpath=record.relpath,
                    frame=frame,
                    kind="text",
                    bbox=region.bbox,
                    text=region.text,
                    confidence=float(region.confidence),
                    phi_type=phi_type(region.text, seeds=image.header),
                )
            )
    return findings
