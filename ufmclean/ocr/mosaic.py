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
        canvas[p.y : p.y + ch, p.x : p.x + cw] = cv2.normalize(patch, np.empty_like(patch), 0, 255, cv2.NORM_MINMAX)
    return canvas, [p for p in placements if p is not None]


def boxes_from_mosaic(boxes: list[BBox], placements: list[Placement], *, height: int, width: int) -> list[BBox]:
    """Map detector ``boxes`` (mosaic coordinates) back to the original ``height`` x ``width`` frame.

    A box touching several crops is split: each part inside a crop maps back through that crop.
    """
    return [b for b, _ in boxes_with_crops(boxes, placements, height=height, width=width)]


def boxes_with_crops(
    boxes: list[BBox], placements: list[Placement], *, height: int, width: int
) -> list[tuple[BBox, Crop]]:
    """:func:`boxes_from_mosaic`, each mapped box paired with the :class:`Crop` it was found in."""
    out = []
    for b in boxes:
        for p in placements:
            r = p.rect
            if r.intersection(b) == 0:
                continue
            part = BBox(max(b.x0, r.x0), max(b.y0, r.y0), min(b.x1, r.x1), min(b.y1, r.y1))
            mapped = p.crop.to_original(part.translate(-p.x, -p.y)).clip(height, width)
            if mapped.area > 0:
                out.append((mapped, p.crop))
    return out


def cut_extensions(
    found: list[tuple[BBox, Crop]],
    *,
    height: int,
    width: int,
    target_height: int = 28,
    reach: float = 4.0,
    tolerance: float = 2.0,
    min_scale: float = 0.25,
    max_scale: float = 3.0,
) -> list[Crop]:
    """Crops that finish text a crop boundary cut: one per box that runs into a side of its crop.

    A candidate line may be only a fragment of the text (glyphs that merged with bright anatomy
    into a component too tall to be a line leave a letter's bar behind), so its crop holds part of
    a word, and the box CRAFT finds there runs into the crop's left or right edge (or into its top
    and bottom: glyphs taller than the crop, grown both ways). ``found`` pairs
    frame boxes with their crops (:func:`boxes_with_crops`). A box within ``tolerance`` mosaic px
    of a left/right crop side that is not the frame's edge grows past that side by ``reach`` x its
    height (and by one height up/down where it also touches the top/bottom), plus half a height of
    context, and is resized so the box is ``target_height`` px. Skipped: boxes under 8 or over
    2.5 x ``target_height`` mosaic px tall (slivers; anatomy, not a line of the crop's text) and
    boxes that a wider box of ``found`` already covers (the whole line was found in another crop).
    Returns the distinct extension crops, in frame coordinates.
    """
    # Text seen under 8 px in the mosaic (a crop shrunk for a tall candidate) is boxed loosely.
    sized = [(b, c) for b, c in found if 8 <= b.height * c.scale <= 2.5 * target_height]
    out: dict[BBox, Crop] = {}
    for box, crop in sized:
        # A letter's crop inside a line that another crop found whole: nothing to finish.
        if any(o.width >= box.width + box.height and o.intersection(box) >= 0.6 * box.area for o, _ in sized):
            continue
        tol = tolerance / crop.scale
        c = crop.box
        left = c.x0 > 0 and box.x0 <= c.x0 + tol
        right = c.x1 < width and box.x1 >= c.x1 - tol
        top = c.y0 > 0 and box.y0 <= c.y0 + tol
        bottom = c.y1 < height and box.y1 >= c.y1 - tol
        if top and bottom and not (left or right):
            left = right = True  # glyphs taller than their crop: a letter's crop, the word runs on
        if not (left or right):
            continue
        side, ctx = round(reach * box.height), max(2, box.height // 2)
        grown = BBox(
            box.x0 - side * left - ctx, box.y0 - box.height * top - ctx,
            box.x1 + side * right + ctx, box.y1 + box.height * bottom + ctx,
        ).clip(height, width)
        if grown.area > 0:
            scale = min(max(target_height / box.height, min_scale), max_scale)
            out.setdefault(grown, Crop(grown, scale))
    return list(out.values())
