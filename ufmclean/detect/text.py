"""Text findings: OCR every frame of an image (identical frames read once), typed for PHI."""

from __future__ import annotations

import hashlib

import numpy as np

from ufmclean.ocr.base import OcrEngine, TextRegion
from ufmclean.phi import phi_type
from ufmclean.records import Finding, LoadedImage


def _finding_id(image_id: str, frame: int, index: int) -> str:
    return hashlib.sha1(f"{image_id}:text:{frame}:{index}".encode()).hexdigest()[:16]


def text_findings(image: LoadedImage, engine: OcrEngine, *, min_confidence: float = 0.0) -> list[Finding]:
    """Read every frame of every view of ``image`` with ``engine``; one Finding per text region.

    Views (:meth:`LoadedImage.ocr_views`): the clinical ``display`` first, then the views of the
    stored values (full range, robust stretch) where they differ: text that a stale window hides is
    still in the data a model trains on. A region read in a later view is added when the regions
    already kept for that frame cover less than half of its box (:func:`~ufmclean.ocr.recall.is_found`),
    and its Finding names the view. Frames with identical pixels in a view (cine loops often repeat)
    are read once and their regions reported on every such frame, so redaction covers all of them.
    Boxes are in the frame's original pixel coordinates. ``phi_type`` is set from the text and the
    file's header seeds.

    Parameters
    ----------
    image : LoadedImage
        ``display`` (and every view) of shape ``(F, H, W)`` or ``(F, H, W, 3)``, uint8.
    engine : OcrEngine
        Any object with ``read(uint8 image) -> list[TextRegion]``.
    min_confidence : float
        Regions below this OCR confidence are dropped.
    """
    from ufmclean.ocr.recall import is_found

    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError("min_confidence must be in [0, 1]")
    record = image.record
    kept: dict[int, list[tuple[str, TextRegion]]] = {}
    for name, view in image.ocr_views():
        display = np.asarray(view)
        if display.dtype != np.uint8 or display.ndim not in (3, 4):
            raise ValueError(f"view {name!r} must be uint8 (F, H, W[, 3]); got {display.dtype} {display.shape}")
        read_by_hash: dict[bytes, list[TextRegion]] = {}
        for frame in range(display.shape[0]):
            pixels = np.ascontiguousarray(display[frame])
            digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).digest()
            if digest not in read_by_hash:
                read_by_hash[digest] = engine.read(pixels)
            mine = kept.setdefault(frame, [])
            boxes = [r.bbox for _, r in mine]
            for region in read_by_hash[digest]:
                if region.confidence < min_confidence or not region.text.strip():
                    continue
                if name != "display" and is_found(region.bbox, boxes):
                    continue
                mine.append((name, region))
    findings: list[Finding] = []
    for frame in sorted(kept):
        for index, (name, region) in enumerate(kept[frame]):
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
                    view=name,
                )
            )
    return findings
