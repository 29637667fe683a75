"""The fast strategy's mosaic: candidate crops packed into one small canvas for CRAFT, and back.

CRAFT's cost grows with the pixels it sees; text-line crops (resized so their text is readable)
shelf-packed give it a few hundred thousand pixels instead of the whole frame. Boxes it finds
map back to the original frame through the crop they fall in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ufmclean.records import BBox


@dataclass(frozen=True, slots=True)
class Crop:
    """A region of the original frame given to the detector, resized by ``scale``.

    A box ``b`` found in the resized crop maps back with ``b.scale(1/scale, 1/scale).translate(x0, y0)``.
    """

    box: BBox
    scale: float = 1.0

    def to_original(self, box: BBox) -> BBox:
        """Map ``box`` from crop coordinates back to original frame coordinates (clipped to the crop)."""
        inv = 1.0 / self.scale
        return box.scale(inv, inv).translate(self.box.x0, self.box.y0).clip(self.box.y1, self.box.x1)

    @property
    def out_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the crop after resizing."""
        return max(1, round(self.box.height * self.scale)), max(1, round(self.box.width * self.scale))



@dataclass(frozen=True, slots=True)
class Placement:
    """Where a :class:`Crop` sits in a mosaic: its resized pixels start at ``(x, y)``."""

    crop: Crop
    x: int
    y: int

    @property
    def rect(self) -> BBox:
        """The crop's rectangle in mosaic coordinates."""
        ch, cw = self.crop.out_shape
        return BBox(self.x, self.y, self.x + cw, self.y + ch)


def pack_mosaic(
    grey: np.ndarray, crops: list[Crop], *, canvas_width: int = 1024, gap: int = 12
) -> tuple[np.ndarray, list[Placement]]:
    """Shelf-pack the resized ``crops`` of ``grey`` into one uint8 ``(Hm, Wm)`` canvas.

    Each crop is min-max stretched on its own (low-contrast text becomes full-contrast for the
    detector) and separated from its neighbours by ``gap`` px of black. Crops wider than the
    canvas are shrunk to fit. Returns the canvas and where each crop went.
    """
    import cv2

    limit = canvas_width - 2 * gap
    fitted = []
    for c in crops:
        ch, cw = c.out_shape
        if cw > limit:
            c = Crop(c.box, c.scale * limit / cw)
        fitted.append(c)
    order = sorted(range(len(fitted)), key=lambda i: -fitted[i].out_shape[0])
    placements: list[Placement | None] = [None] * len(fitted)
    x = y = shelf = gap
    row_h = 0
    width_used = 0
    for i in order:
        ch, cw = fitted[i].out_shape
        if x + cw + gap > canvas_width:
            x, shelf, row_h = gap, shelf + row_h + gap, 0
        placements[i] = Placement(fitted[i], x, shelf)
        x += cw + gap
        row_h = max(row_h, ch)
        width_used = max(width_used, x)
    y = shelf + row_h + gap
    canvas = np.zeros((max(y, 32), max(width_used, 32)), np.uint8)
    for p in placements:
        assert p is not None
        patch = grey[p.crop.box.slices]
        ch, cw = p.crop.out_shape
        if (ch, cw) != patch.shape:
            interp = cv2.INTER_CUBIC if p.crop.scale > 1 else cv2.INTER_AREA
            patch = cv2.resize(patch, (cw, ch), interpolation=interp)
        canvas[p.y : p.y + ch, p.x : p.x + cw] = cv2.normalize(patch, None, 0, 255, cv2.NORM_MINMAX)
    return canvas, [p for p in placements if p is not None]


def boxes_from_mosaic(boxes: list[BBox], placements: list[Placement], *, height: int, width: int) -> list[BBox]:
    """Map detector ``boxes`` (mosaic coordinates) back to the original ``height`` x ``width`` frame.

    A box touching several crops is split: each part inside a crop maps back through that crop.
    """
    out = []
    for b in boxes:
        for p in placements:
            r = p.rect
            if r.intersection(b) == 0:
                continue
            part = BBox(max(b.x0, r.x0), max(b.y0, r.y0), min(b.x1, r.x1), min(b.y1, r.y1))
            mapped = p.crop.to_original(part.translate(-p.x, -p.y)).clip(height, width)
            if mapped.area > 0:
                out.append(mapped)
    return out
