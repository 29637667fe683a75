"""Text findings: OCR every frame of an image (identical frames read once), typed for PHI."""

from __future__ import annotations

import hashlib

import numpy as np

from ufmclean.io.display import HIDDEN_VIEWS, display_is_redundant
from ufmclean.ocr.base import OcrEngine, TextRegion
from ufmclean.phi import phi_type
from ufmclean.records import BBox, Finding, LoadedImage


def _finding_id(image_id: str, frame: int, index: int) -> str:
    return hashlib.sha1(f"{image_id}:text:{frame}:{index}".encode()).hexdigest()[:16]


#: A region read in a later view is dropped only when the regions kept before cover this much of it:
#: a name whose left half sits on tissue the window shows and whose right half on bone it clips is
#: read as its left half in the display and whole in the clipped values; at a half, the whole-line
#: read was dropped and '61-07-' of its date stayed legible after sanitising (bench/views_residual.py).
LATER_VIEW_COVER = 0.9
#: Side (px) of the cells in which :func:`hidden_regions` looks for non-flat pixels.
REGION_CELL = 16
#: Fewer non-flat pixels than this in a region cannot hold a glyph and its background.
MIN_REGION_PIXELS = 16


def hidden_regions(frame: np.ndarray, *, cell: int = REGION_CELL) -> list[BBox]:
    """Boxes around the non-flat parts of one frame of a view that is flat almost everywhere.

    ``frame``: uint8 ``(H, W)`` (or ``(H, W, 3)``, judged by its first channel). The flat value is the
    most common one. Each 8-connected group of ``cell``-px cells holding non-flat pixels, with at least
    ``MIN_REGION_PIXELS`` of them, gives its box grown by one cell (context for the reader);
    overlapping boxes are merged.
    """
    import cv2

    grey = np.ascontiguousarray(frame[..., 0] if frame.ndim == 3 else frame)
    flat = int(cv2.calcHist([grey], [0], None, [256], [0, 256]).argmax())
    h, w = grey.shape
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell), np.uint8)
    np.not_equal(grey, flat, out=padded[:h, :w].view(bool))
    counts = padded.reshape(gh, cell, gw, cell).sum(axis=(1, 3), dtype=np.int32)
    if not counts.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats((counts > 0).astype(np.uint8), connectivity=8)
    sums = np.bincount(labels.ravel(), weights=counts.ravel(), minlength=n)
    boxes = [BBox(int(x - 1) * cell, int(y - 1) * cell, int(x + bw + 1) * cell, int(y + bh + 1) * cell).clip(h, w)
             for (x, y, bw, bh, _), total in zip(stats[1:], sums[1:]) if total >= MIN_REGION_PIXELS]
    return _merged(boxes)


def _merged(boxes: list[BBox]) -> list[BBox]:
    """``boxes`` with every overlapping pair replaced by their union, until none overlap."""
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a.intersection(b) > 0:
                    out[i] = BBox(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(out, key=lambda b: (b.y0, b.x0))


def read_hidden(frame: np.ndarray, engine: OcrEngine, *, known: list[BBox] | None = None) -> list[TextRegion]:
    """Text of one frame of a view that is flat outside a few regions (:func:`hidden_regions`).

    Engines with ``read_regions(image, regions, known=...)`` read the regions without a whole-frame
    pass (the cost follows what the window clips, not the frame size), skipping candidate lines that
    ``known`` boxes (text already read in another view) cover; others read each region's crop.
    Boxes in the frame's pixel coordinates.
    """
    regions = hidden_regions(frame)
    if not regions:
        return []
    read_regions = getattr(engine, "read_regions", None)
    if read_regions is not None:
        return list(read_regions(frame, regions, known=known))
    out = []
    for r in regions:
        for t in engine.read(np.ascontiguousarray(frame[r.slices])):
            out.append(TextRegion(t.bbox.translate(r.x0, r.y0), t.text, t.confidence))
    return out


def text_findings(image: LoadedImage, engine: OcrEngine, *, min_confidence: float = 0.0) -> list[Finding]:
    """Read every frame of every view of ``image`` with ``engine``; one Finding per text region.

    Views (:meth:`LoadedImage.ocr_views`): the clinical ``display`` first, then the views of the
    stored values (full range, robust stretch, the values a window clips) where they differ: text
    that a stale window hides is still in the data a model trains on. A view of clipped values
    (:data:`~ufmclean.io.display.HIDDEN_VIEWS`) is read only where it is not flat (:func:`read_hidden`);
    a display frame that the ``range`` view shows at least as clearly
    (:func:`~ufmclean.io.display.display_is_redundant`) is not read. A region read in a later view is added when the regions
    already kept for that frame cover less than ``LATER_VIEW_COVER`` of its box (:func:`~ufmclean.ocr.recall.is_found`),
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
    ranged = dict(image.views).get("range")
    for name, view in image.ocr_views():
        display = np.asarray(view)
        if display.dtype != np.uint8 or display.ndim not in (3, 4):
            raise ValueError(f"view {name!r} must be uint8 (F, H, W[, 3]); got {display.dtype} {display.shape}")
        read_by_hash: dict[bytes, list[TextRegion]] = {}
        for frame in range(display.shape[0]):
            pixels = np.ascontiguousarray(display[frame])
            if name == "display" and ranged is not None and display.ndim == 3 and display_is_redundant(pixels, ranged[frame]):
                continue  # a stale window wider than the data: the range view shows all of it more clearly
            mine = kept.setdefault(frame, [])
            boxes = [r.bbox for _, r in mine]
            hidden = name in HIDDEN_VIEWS
            # A view of clipped values skips text already read in this frame: the key holds those boxes.
            digest = hashlib.blake2b(pixels.tobytes() + (repr(boxes).encode() if hidden else b""),
                                     digest_size=16).digest()
            if digest not in read_by_hash:
                read_by_hash[digest] = read_hidden(pixels, engine, known=boxes) if hidden else engine.read(pixels)
            for region in read_by_hash[digest]:
                if region.confidence < min_confidence or not region.text.strip():
                    continue
                if name != "display" and is_found(region.bbox, boxes, min_cover=LATER_VIEW_COVER):
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
