"""Fast scanning strategy: a cheap pixel pass picks text-like regions so CRAFT runs on crops only.

CRAFT detection dominates easyocr's cost and grows with the pixel count, while burned-in text covers
a few percent of a medical image. :func:`text_candidates` finds small, high-contrast structures
(white and black top-hat, i.e. bright-on-dark and dark-on-light strokes), closes them into line-like
blobs and returns padded boxes; :func:`plan_crops` merges them into a few crops, or returns ``None``
when they cover so much of the frame that full-frame detection is cheaper.
Every crop is a :class:`Crop` that knows its transform back to original pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ufmclean.records import BBox


@dataclass(frozen=True, slots=True)
class Crop:
    """A region of the original frame given to the detector, possibly resized by ``scale``.

    A box ``b`` found in the resized crop maps back with ``b.scale(1/scale, 1/scale).translate(x0, y0)``.
    """

    box: BBox
    scale: float = 1.0

    def to_original(self, box: BBox) -> BBox:
        """Map ``box`` from crop coordinates back to original frame coordinates."""
        inv = 1.0 / self.scale
        return box.scale(inv, inv).translate(self.box.x0, self.box.y0).clip(self.box.y1, self.box.x1)


@dataclass(frozen=True, slots=True)
class CandidateSettings:
    """Knobs of the fast strategy (defaults measured with bench/scan.py).

    ``det_max_side``: the whole frame is detected once, downscaled so its longer side is at most
    this; text too small to survive that (under ``min_det_height`` px after scaling) is found by
    the candidate pass at full resolution. ``min_contrast``: grey-level step a stroke needs over its
    surroundings. ``stroke_max``: widest stroke (px) the top-hat keeps. ``max_fraction``: when
    small-text crops cover more of the frame than this, detect the full frame at full resolution.
    """

    det_max_side: int = 640
    min_det_height: int = 14
    min_contrast: int = 40
    stroke_max: int = 15
    pad: int = 6
    max_fraction: float = 0.3


def _odd(n: int) -> int:
    return n if n % 2 else n + 1


def text_candidates(grey: np.ndarray, *, max_height: int, settings: CandidateSettings | None = None) -> list[BBox]:
    """Boxes of small text-like structures in ``grey`` (uint8 ``(H, W)``), in its pixel coordinates.

    Text strokes are thin and sharp: a top-hat with a kernel wider than a stroke keeps them and drops
    smooth anatomy. Both polarities are taken (bright text on dark, dark text on light labels).
    Components taller than ``max_height`` are left to the full-frame pass. Glyphs of one line are
    merged into one box.
    """
    import cv2

    if grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError("text_candidates needs a uint8 (H, W) array")
    s = settings or CandidateSettings()
    h, w = grey.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_odd(s.stroke_max), _odd(s.stroke_max)))
    white = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel)
    black = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    ink = ((white >= s.min_contrast) | (black >= s.min_contrast)).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    boxes = []
    for x, y, bw, bh, area in stats[1:]:
        if 3 <= bh <= max_height and bw <= 4 * max_height and area >= 4:
            boxes.append(BBox(int(x), int(y), int(x + bw), int(y + bh)).pad(s.pad, height=h, width=w))
    return merge_boxes(boxes, gap=2)


def merge_boxes(boxes: list[BBox], *, gap: int = 0) -> list[BBox]:
    """Union boxes that overlap (or come within ``gap`` px) until no two do; order is by (y0, x0)."""
    out = [b for b in boxes if b.area > 0]
    changed = True
    while changed:
        changed = False
        merged: list[BBox] = []
        for b in sorted(out, key=lambda b: (b.y0, b.x0)):
            grown = b.pad(gap)
            for i, m in enumerate(merged):
                if m.intersection(grown) > 0:
                    merged[i] = m.union(b)
                    changed = True
                    break
            else:
                merged.append(b)
        out = merged
    return sorted(out, key=lambda b: (b.y0, b.x0))


def plan_crops(grey: np.ndarray, *, settings: CandidateSettings | None = None) -> list[Crop]:
    """Crops of ``grey`` (uint8 ``(H, W)``) to run the detector on; together they cover all text sizes.

    The first crop is the whole frame, downscaled to ``det_max_side``. When that downscale loses
    small text, candidate crops at full resolution (upscaled x2 when tiny) are added; when those
    would cover more than ``max_fraction`` of the frame, the single full-resolution frame is used.
    """
    s = settings or CandidateSettings()
    h, w = grey.shape
    frame = BBox(0, 0, w, h)
    scale = min(1.0, s.det_max_side / max(h, w))
    crops = [Crop(frame, scale)]
    small = text_candidates(grey, max_height=int(np.ceil(s.min_det_height / scale)), settings=s)
    if sum(c.area for c in small) > s.max_fraction * h * w:
        return [Crop(frame)]
    for c in small:
        crops.append(Crop(c, 2.0 if c.height - 2 * s.pad < 16 else 1.0))
    return crops


def drop_duplicates(boxes: list[BBox], *, overlap: float = 0.6) -> list[BBox]:
    """Keep the larger of two boxes when the smaller lies ``overlap`` or more inside it."""
    kept: list[BBox] = []
    for b in sorted(boxes, key=lambda b: -b.area):
        if all(k.intersection(b) < overlap * b.area for k in kept):
            kept.append(b)
    return sorted(kept, key=lambda b: (b.y0, b.x0))
