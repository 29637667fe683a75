"""Marker findings: non-text burned-in marks (laterality letters, stickers, rulers, pen marks).

OCR misses marks that are not words, yet a sticker in one image is exactly the kind of rare feature a
network memorises. Burned-in graphics are *rendered*, not imaged, so a cheap pixel pass can tell them
from anatomy: **bright / dark** strokes that stand far above (below) the local mean and step to the
background within a pixel (bone and soft tissue roll off over several); **flat plateaus** of one exact
grey value (a sticker's fill; imaged anatomy is never exactly flat over 3x3); **colour** in a grey
frame (pen marks, coloured stickers). Components that are large (borders, collimator blades,
over-exposed regions), touch the frame edge, lack contrast to a ring around them or have soft edges
are dropped, and so are pieces of longer structures (ribs, clavicles, wires): a rendered mark
steps down to its background on *every* side (8 directional contrasts) and does not run on when
re-thresholded at half the contrast, while a rib piece is just where a long bright band crosses
the seed level. Nearby survivors merge into one mark (a sticker's fill and its printed ring), which gets
a compact appearance descriptor that the rarity stage clusters by L2 distance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ufmclean.detect.marker_shape import (
    Part,
    RING_OUT,
    descriptor,
    excluded,
    merge_parts,
    ring_mask,
    square_kernel,
    weakest_side,
)
from ufmclean.records import BBox, Finding, LoadedImage

# Candidate classes, also the order of the class-fraction block of the descriptor.
_BRIGHT, _DARK, _FLAT, _COLOUR = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class MarkerOptions:
    """Thresholds of the marker detector (grey levels of the uint8 display frame; measured in bench/markers.py)."""

    min_contrast: float = 50.0  # seed: pixel vs local box mean; accept: median(component) vs median(ring 2-4 px out)
    background_fraction: float = 0.06  # side of the local-mean box, as a fraction of the frame's longer side
    bright_level: int = 250  # exact plateaus at or above / at or below these are windowing clips, not marks
    dark_level: int = 5
    chroma_level: int = 48  # max(R,G,B) - min(R,G,B) that seeds a colour candidate (RGB frames)
    min_flat_contrast: float = 40.0  # contrast an exact flat plateau needs (flatness is evidence already)
    min_sharpness: float = 0.6  # fraction of the 1-px outer boundary already past the half-way level
    min_side_ratio: float = 0.6  # weakest of 8 directional contrasts, as a fraction of the ring contrast
    grow_fraction: float = 0.5  # bright/dark parts re-thresholded at this fraction of min_contrast ...
    max_growth: int = 2  # ... may spread at most this many px past their box (a mark's blurred rim)
    min_area: int = 6  # least pixels of a component
    min_flat_area: int = 16  # least pixels of a flat plateau's 3x3 interior
    max_area_fraction: float = 0.02  # largest component, fraction of the frame's pixels
    max_side_fraction: float = 0.25  # largest box side (also of a merged mark), fraction of the frame side
    merge_gap: int = 2  # parts within this many px (at 256 px; scaled with the frame) form one mark
    min_confidence: float = 0.6  # marks scoring below this (see Mark.confidence) are not reported
    max_per_frame: int = 32  # keep the most confident marks per frame
    max_work_side: int = 640  # longer frames are shrunk by an integer factor first (boxes mapped back)
    exclude_overlap: float = 0.5  # drop a candidate this much (of its box) inside an excluded box
    dark: bool = True  # candidate classes besides bright
    flat: bool = True
    colour: bool = True

    def __post_init__(self) -> None:
        for name in ("bright_level", "dark_level", "chroma_level"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or not 0 <= value <= 255:
                raise ValueError(f"{name} must be an int in [0, 255]")
        if self.dark_level >= self.bright_level:
            raise ValueError("dark_level must be below bright_level")
        for name in ("min_contrast", "min_flat_contrast"):
            if not 0 < getattr(self, name) <= 255:
                raise ValueError(f"{name} must be in (0, 255]")
        for name in ("min_sharpness", "min_side_ratio", "grow_fraction", "min_confidence"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.max_growth < 0:
            raise ValueError("max_growth must be >= 0")
        for name in ("min_area", "min_flat_area", "max_per_frame", "max_work_side"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.merge_gap < 0:
            raise ValueError("merge_gap must be >= 0")
        for name in ("max_area_fraction", "max_side_fraction", "exclude_overlap", "background_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class Mark:
    """One merged mark in a frame: box, confidence in [0, 1] and appearance descriptor."""

    bbox: BBox
    confidence: float
    descriptor: tuple[float, ...]


def _finding_id(image_id: str, frame: int, index: int) -> str:
    return hashlib.sha1(f"{image_id}:marker:{frame}:{index}".encode()).hexdigest()[:16]


def _values(grey: np.ndarray, chroma: np.ndarray | None, cls: int) -> np.ndarray:
    """The plane a part of class ``cls`` is scored on: chroma for colour parts (seeded only where it exists)."""
    if cls != _COLOUR:
        return grey
    if chroma is None:
        raise ValueError("colour parts need the chroma plane")
    return chroma


def _evaluate(
    mask: np.ndarray, outer: BBox, grey: np.ndarray, chroma: np.ndarray | None, cls: int, opts: MarkerOptions
) -> Part | None:
    """Score one component or reject it.

    ``mask`` (uint8 0/1, ``outer``-sized) marks the component inside ``outer``, its box padded by
    ``RING_OUT`` (clipped to the frame) so the ring around it is visible.
    """
    if cls == _FLAT:
        mask = cv2.dilate(mask, square_kernel(1))  # the flat seed is the plateau's 3x3 interior
    values = _values(grey, chroma, cls)[outer.slices]
    inside = mask.astype(bool)
    ring = ring_mask(mask)
    edge_out = cv2.dilate(mask, square_kernel(1)).astype(bool) & ~inside
    if not ring.any() or not edge_out.any():
        return None
    level = float(np.median(values[inside]))
    contrast = level - float(np.median(values[ring]))
    # Bright and colour marks stand above their ring, dark ones below; flat ones either way.
    polarity = {_BRIGHT: 1.0, _COLOUR: 1.0, _DARK: -1.0}.get(cls, 1.0 if contrast >= 0 else -1.0)
    need = {_FLAT: opts.min_flat_contrast, _COLOUR: opts.chroma_level / 2}.get(cls, opts.min_contrast)
    if contrast * polarity < need:
        return None
    # A rendered mark steps from ink to background within a pixel or two: the pixels just outside it
    # are already past the half-way level. Imaged edges (ribs, bone) roll off over several pixels, so
    # their near neighbours are still ink-like.
    mid = level - contrast / 2
    sharpness = float(np.mean((values[edge_out].astype(np.float32) - mid) * polarity < 0))
    if sharpness < opts.min_sharpness:
        return None
    # A rendered mark stands out on every side; a bright piece of a rib or wire continues along its
    # length, so the background just past its ends is as bright as the piece itself.
    # An exact plateau (a sticker's fill) may sit between darker and brighter surroundings, so it
    # needs a step of either sign on each side, measured against the plateau threshold.
    side = weakest_side(mask, values, level, None if cls == _FLAT else polarity)
    if side < opts.min_side_ratio * (opts.min_flat_contrast if cls == _FLAT else abs(contrast)):
        return None
    # Confidence of "rendered, not imaged": strong contrast, a step edge, and a step on every side.
    need_side = opts.min_flat_contrast if cls == _FLAT else abs(contrast)
    score = (min(1.0, abs(contrast) / 128.0) + sharpness + min(1.0, side / need_side)) / 3.0
    ys, xs = np.nonzero(inside)
    tight = BBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return Part(tight.translate(outer.x0, outer.y0), inside[tight.slices], cls, contrast, score)


def _grows(part: Part, low: np.ndarray, margin: int) -> bool:
    """Whether ``part`` continues past its box padded by ``margin`` in ``low`` (uint8 0/1, frame-sized).

    ``low`` is the seed re-thresholded at a lower contrast. A rendered mark ends in a step, so at the
    lower level it only gains its blurred rim; a bright piece of a rib or wire is where a longer
    structure happens to cross the seed level, and at the lower level it runs on. Labelling only a
    window around the part keeps this cheap (the few accepted parts, not the frame).
    """
    h, w = low.shape
    window = part.box.pad(margin + 1, height=h, width=w)
    labels = cv2.connectedComponents(np.ascontiguousarray(low[window.slices]), connectivity=8)[1]
    inner = part.box.translate(-window.x0, -window.y0)
    mine = np.unique(labels[inner.slices][part.mask])
    reach = np.isin(labels, mine[mine > 0])
    keep = part.box.pad(margin).translate(-window.x0, -window.y0)
    reach[max(keep.y0, 0) : keep.y1, max(keep.x0, 0) : keep.x1] = False
    return bool(reach.any())


def _components(
    seed: np.ndarray,
    grey: np.ndarray,
    chroma: np.ndarray | None,
    cls: int,
    opts: MarkerOptions,
    min_area: int,
    low: np.ndarray | None = None,
) -> list[Part]:
    """Accepted components of one seed mask (uint8 0/1, frame-sized).

    ``low`` (uint8 0/1, frame-sized, a superset of ``seed``): when given, parts that run on in it
    past ``opts.max_growth`` px are dropped (see :func:`_grows`).

    External contours instead of connected-component labelling: seeds are sparse, and labelling a
    2048² frame costs ~10x more than tracing the few contours in it.
    """
    h, w = seed.shape
    max_area = opts.max_area_fraction * h * w
    max_w, max_h = opts.max_side_fraction * w, opts.max_side_fraction * h
    contours, _ = cv2.findContours(seed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    values_all = _values(grey, chroma, cls)
    parts = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        if bw * bh < min_area or bw > max_w or bh > max_h:
            continue
        # Touching the frame edge: black borders, collimator blades, cropped anatomy, not burned-in marks.
        if x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue
        x0, y0 = max(x - RING_OUT, 0), max(y - RING_OUT, 0)
        x1, y1 = min(x + bw + RING_OUT, w), min(y + bh + RING_OUT, h)
        px, py = (int(v) for v in contour[0, 0])
        if not _plausible(values_all[y0:y1, x0:x1], int(values_all[py, px]), cls, opts):
            continue
        outer = BBox(x0, y0, x1, y1)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.drawContours(mask, [contour], -1, 1, thickness=-1, offset=(-x0, -y0))
        mask &= seed[y0:y1, x0:x1]  # drawing fills holes; the seed puts them back
        area = int(np.count_nonzero(mask))
        if area < min_area or area > max_area:
            continue
        part = _evaluate(mask, outer, grey, chroma, cls, opts)
        if part is not None and (low is None or not _grows(part, low, opts.max_growth)):
            parts.append(part)
    return parts


def _plausible(values: np.ndarray, on_component: int, cls: int, opts: MarkerOptions) -> bool:
    """Cheap contrast pre-check against the border of the padded box (most candidates fail here).

    Uses bounds that never reject a component :func:`_evaluate` would accept: the box's extreme value
    for bright/dark/colour, the plateau's own value for flat ones.
    """
    border = np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])
    background = float(np.sort(border)[border.size // 2])
    if cls == _FLAT:
        return abs(on_component - background) >= 0.75 * opts.min_flat_contrast
    if cls == _COLOUR:
        return int(values.max()) - background >= 0.75 * opts.chroma_level / 2
    if cls == _DARK:
        return background - int(values.min()) >= 0.75 * opts.min_contrast
    return int(values.max()) - background >= 0.75 * opts.min_contrast


def _candidates(frame: np.ndarray, opts: MarkerOptions) -> list[Part]:
    """All accepted components of one frame (``(H, W)`` or ``(H, W, 3)`` uint8), before exclusion."""
    if frame.ndim == 3:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        chroma = cv2.subtract(np.max(frame, axis=2), np.min(frame, axis=2)) if opts.colour else None
    else:
        grey, chroma = frame, None
    h, w = grey.shape
    # Local background: a box mean much wider than a marker's stroke, so strokes stand out of it
    # whatever the exposure around them (a grey "R" on a dark corner, a white one on soft tissue).
    side = max(9, int(round(opts.background_fraction * max(h, w)))) | 1
    background = cv2.blur(grey, (side, side), borderType=cv2.BORDER_REPLICATE)
    low_level = opts.grow_fraction * opts.min_contrast
    above = cv2.subtract(grey, background)
    seed = (above >= opts.min_contrast).view(np.uint8)
    parts = _components(seed, grey, chroma, _BRIGHT, opts, opts.min_area, (above >= low_level).view(np.uint8))
    if opts.dark:
        below = cv2.subtract(background, grey)
        seed = (below >= opts.min_contrast).view(np.uint8)
        parts += _components(seed, grey, chroma, _DARK, opts, opts.min_area, (below >= low_level).view(np.uint8))
    if opts.flat:
        k3 = square_kernel(1)
        flat = cv2.dilate(grey, k3) == cv2.erode(grey, k3)
        # Windowing clips anatomy to the extreme levels, so plateaus there are no evidence of a mark.
        flat &= (grey < opts.bright_level) & (grey > opts.dark_level)
        parts += _components(flat.view(np.uint8), grey, chroma, _FLAT, opts, opts.min_flat_area)
    if chroma is not None and int(chroma.max()) >= opts.chroma_level:
        seed = (chroma >= opts.chroma_level).view(np.uint8)
        parts += _components(seed, grey, chroma, _COLOUR, opts, opts.min_area)
    return parts


def frame_marks(frame: np.ndarray, *, exclude: Sequence[BBox] = (), options: MarkerOptions | None = None) -> list[Mark]:
    """Marks in one frame, highest confidence first.

    Parameters
    ----------
    frame : np.ndarray
        uint8 ``(H, W)`` grey or ``(H, W, 3)`` RGB display pixels (not modified).
    exclude : sequence of BBox
        Regions already owned by another detector; components mostly inside one are dropped
        before merging, so text glyphs do not glue onto a nearby marker.
    options : MarkerOptions, optional
        Thresholds; defaults when omitted.

    Returns
    -------
    list of Mark
        Boxes in the frame's pixel coordinates, ``x1``/``y1`` exclusive.
    """
    opts = options or MarkerOptions()
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise ValueError(f"frame must be uint8 (H, W) or (H, W, 3); got {frame.dtype} {frame.shape}")
    frame = np.ascontiguousarray(frame)
    full_h, full_w = frame.shape[:2]
    # Large frames are analysed shrunk by an integer factor: marks there are tens of pixels wide,
    # while full-resolution texture would yield ~10^4 candidate contours (300 ms at 2048²).
    factor = max(1, -(-max(full_h, full_w) // opts.max_work_side))
    if factor > 1:
        size = (max(1, full_w // factor), max(1, full_h // factor))
        # Nearest, not area: averaging would blend each mark's edge into a mixed pixel and cost it
        # its step-edge evidence (and break exact plateaus); marks are many source pixels wide.
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST)
    h, w = frame.shape[:2]
    if h < 8 or w < 8:
        return []
    padded_ex = [b.pad(2).scale(1 / factor, 1 / factor) for b in exclude]
    parts = [p for p in _candidates(frame, opts) if not excluded(p.box, padded_ex, opts.exclude_overlap)]
    gap = max(opts.merge_gap, int(round(opts.merge_gap * max(h, w) / 256)))
    groups = merge_parts(parts, gap, opts.max_side_fraction * w, opts.max_side_fraction * h)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    diag = float(np.hypot(w, h))
    marks = []
    for members in groups:
        box = members[0].box
        for p in members[1:]:
            box = box.union(p.box)
        if excluded(box, padded_ex, opts.exclude_overlap):
            continue
        # A mark's confidence is its strongest part's; grouping only adds evidence.
        score = max(p.score for p in members)
        if score < opts.min_confidence:
            continue
        full_box = box.scale(factor, factor).clip(full_h, full_w)
        marks.append(Mark(full_box, float(np.clip(score, 0.0, 1.0)), descriptor(members, box, grey, diag)))
    marks.sort(key=lambda m: (-m.confidence, m.bbox.y0, m.bbox.x0))
    return marks[: opts.max_per_frame]


def marker_findings(
    image: LoadedImage, *, exclude: Sequence[Finding] = (), options: MarkerOptions | None = None
) -> list[Finding]:
    """One ``marker`` Finding per burned-in non-text mark on every frame of ``image.display``.

    ``image.display`` is uint8 ``(F, H, W)`` or ``(F, H, W, 3)`` (not modified). ``exclude``: findings
    already made on this image (text, overlays); candidates mostly inside one of the same frame are
    dropped so a mark is not counted twice. Returns ``kind="marker"`` findings with ``text=""``,
    ``confidence`` in [0, 1] and a ``DESCRIPTOR_SIZE``-float ``descriptor`` (norm ``DESCRIPTOR_NORM``).
    Identical frames are analysed once and their marks reported on each frame.
    """
    opts = options or MarkerOptions()
    display = np.asarray(image.display)
    if display.dtype != np.uint8 or display.ndim not in (3, 4) or (display.ndim == 4 and display.shape[3] != 3):
        raise ValueError(f"display must be uint8 (F, H, W[, 3]); got {display.dtype} {display.shape}")
    record = image.record
    by_frame: dict[int, list[BBox]] = {}
    for f in exclude:
        by_frame.setdefault(int(f.frame), []).append(f.bbox)
    cache: dict[tuple[bytes, tuple[BBox, ...]], list[Mark]] = {}
    findings: list[Finding] = []
    for frame in range(display.shape[0]):
        pixels = np.ascontiguousarray(display[frame])
        ex = tuple(sorted(by_frame.get(frame, ()), key=lambda b: (b.x0, b.y0, b.x1, b.y1)))
        key = (hashlib.blake2b(pixels.tobytes(), digest_size=16).digest(), ex)
        if key not in cache:
            cache[key] = frame_marks(pixels, exclude=ex, options=opts)
        for index, mark in enumerate(cache[key]):
            fid = _finding_id(record.image_id, frame, index)
            findings.append(Finding(fid, record.image_id, record.relpath, frame, "marker", mark.bbox,
                                    confidence=mark.confidence, descriptor=mark.descriptor))  # fmt: skip
    return findings
