"""Fast scanning strategy: a cheap pixel pass finds text lines, CRAFT reads one small mosaic of them.

CRAFT detection dominates easyocr's cost and grows with the pixel count it sees, while burned-in
text covers a few percent of a medical image. So:

1. :func:`ink_masks` — white and black top-hats (bright-on-dark and dark-on-light strokes) at a few
   kernel sizes, above ``min_contrast``: thin sharp strokes survive, smooth anatomy does not.
2. :func:`text_lines` — glyph-sized components of the ink, linked left-right into line boxes.
3. :func:`plan_crops` — each line padded into a :class:`Crop`, resized so its text is about
   ``target_height`` px (small text is upscaled, which is what makes 9-10 px text detectable).
4. :func:`~ufmclean.ocr.mosaic.pack_mosaic` — all crops shelf-packed into one canvas, each
   contrast-stretched, so CRAFT runs once on a few hundred thousand pixels instead of the frame.
5. :func:`~ufmclean.ocr.mosaic.boxes_with_crops` — detected boxes split by the crops they touch
   and mapped back to original pixel coordinates.
6. :func:`~ufmclean.ocr.mosaic.cut_extensions` — boxes that run into an inner side of their crop
   (a line candidate that was only a fragment of the text) are detected again in wider crops.

Candidates that the recogniser reads without a detector box (lone letters, labels, letter
fragments) are :mod:`ufmclean.ocr.direct`'s.

When the candidates would make a mosaic bigger than the frame itself (text-heavy frames such as
ultrasound screens), the caller detects the whole frame instead: never slower than plain easyocr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ufmclean.ocr.mosaic import Crop, Placement, boxes_with_crops, cut_extensions, pack_mosaic
from ufmclean.records import BBox


@dataclass(frozen=True, slots=True)
class CandidateSettings:
    """Knobs of the fast strategy (defaults measured with bench/scan.py on sample_data and synthetic sets).

    ``min_contrast``: grey-level step a stroke needs over its surroundings. ``kernels``: top-hat sizes
    (px); the largest bounds the stroke width found. ``min_glyph``/``max_glyph``: glyph heights (px) considered.
    ``target_height``: text height (px) the detector sees after resizing; ``max_upscale``/``min_scale``
    bound that resizing. ``pad``: context around a line, in units of its height. ``canvas_width``:
    mosaic width (CRAFT's own canvas limit is 2560). ``extend_reach``/``extend_rounds``: how far (in
    box heights) and how often a detector box cut by its crop's edge is detected again in a wider crop.
    """

    min_contrast: int = 24
    kernels: tuple[int, ...] = (5, 9, 17)
    min_glyph: int = 5
    max_glyph: int = 160
    target_height: int = 28
    max_upscale: float = 3.0
    min_scale: float = 0.25
    pad: float = 0.5
    canvas_width: int = 1024
    gap: int = 12
    max_components: int = 2000
    extend_reach: float = 4.0
    extend_rounds: int = 2

    def __post_init__(self) -> None:
        if not (0 < self.min_contrast <= 255 and self.kernels and min(self.kernels) >= 3):
            raise ValueError("invalid CandidateSettings: contrast in (0, 255], kernels >= 3 px")
        if not 1 <= self.min_glyph <= self.max_glyph:
            raise ValueError("invalid CandidateSettings: min_glyph <= max_glyph")
        if not (0 < self.min_scale <= 1.0 <= self.max_upscale and 256 <= self.canvas_width <= 2560):
            raise ValueError("invalid CandidateSettings: min_scale <= 1 <= max_upscale, canvas_width in [256, 2560]")
        if not (self.extend_reach >= 0 and 0 <= self.extend_rounds <= 8):
            raise ValueError("invalid CandidateSettings: extend_reach >= 0, extend_rounds in [0, 8]")


def odd_size(n: int) -> int:
    """``n``, or ``n + 1`` when even: OpenCV kernels need a centre pixel."""
    return n if n % 2 else n + 1


def ink_masks(grey: np.ndarray, *, settings: CandidateSettings | None = None) -> list[tuple[int, np.ndarray]]:
    """Thin-stroke masks of ``grey`` (uint8 ``(H, W)``): ``[(kernel, (H, W) uint8 0/1 mask), ...]``.

    One white top-hat (bright strokes) and one black top-hat (dark strokes) mask per kernel size in
    ``settings.kernels``. Small kernels keep only thin strokes, which separates small text from thicker
    anatomy it touches (a rim of bright tissue would otherwise merge with the letters into one blob).
    """
    import cv2

    if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError("ink_masks needs a uint8 (H, W) array")
    s = settings or CandidateSettings()
    out = []
    for k in s.kernels:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (odd_size(k), odd_size(k)))
        for op in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
            out.append((k, (cv2.morphologyEx(grey, op, kernel) >= s.min_contrast).astype(np.uint8)))
    return out


def components_8(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats(mask, connectivity=8)``: ``(n, labels, stats, centroids)``.

    The same labels and stats (in the same order), by Grana's block-based algorithm (BBDT), which
    OpenCV 5.0 runs 3x faster than its default on these sparse stroke masks: 5.0 against 15.7 ms
    for a 2048² frame, 1.2 against 3.8 ms at 1024² (one thread). A scan labels 10 such masks per frame.
    ``mask``: uint8 ``(H, W)``.
    """
    import cv2

    n, labels, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return int(n), labels, stats, centroids


def _components(grey: np.ndarray, s: CandidateSettings) -> np.ndarray:
    """``(N, 4)`` int array ``x, y, w, h`` of glyph-sized components of every ink mask of ``grey``.

    A kernel of ``k`` px keeps strokes up to ``k - 1`` px wide, i.e. glyphs up to about ``8 k`` tall
    (and it is the smallest kernel that sees glyphs taller than about ``2 k``).
    """

    found = []
    for k, mask in ink_masks(grey, settings=s):
        _, _, stats, _ = components_8(mask)
        st = stats[1:].astype(np.int64)
        w, h, area = st[:, 2], st[:, 3], st[:, 4]
        fill = area / np.maximum(w * h, 1)
        # A solid block wider than a stroke is a patch or marker, not a glyph; thin rules are not glyphs.
        solid = (fill > 0.9) & (np.minimum(w, h) >= k)
        lo = s.min_glyph if k == min(s.kernels) else 2 * k
        keep = (h >= lo) & (h <= min(8 * k, s.max_glyph)) & (w <= 40 * h) & (area >= 6) & ~solid
        found.append(st[keep, :4])
    return np.concatenate(found) if found else np.zeros((0, 4), np.int64)


def _link(c: np.ndarray) -> np.ndarray:
    """Line label per component of ``c`` (``(N, 4)`` x, y, w, h): glyphs of one text line share a label.

    Two glyphs are on one line when their rows overlap by half the smaller height, their heights
    differ by at most 2x and the horizontal gap is at most the larger height.
    """
    x, y, w, h = (c[:, i][:, None] for i in range(4))
    xt, yt, wt, ht = x.T, y.T, w.T, h.T
    v_overlap = np.minimum(y + h, yt + ht) - np.maximum(y, yt)
    gap = np.maximum(x, xt) - np.minimum(x + w, xt + wt)
    hmin, hmax = np.minimum(h, ht), np.maximum(h, ht)
    adj = (v_overlap >= 0.5 * hmin) & (hmax <= 2.0 * hmin) & (gap <= hmax)
    rows, cols = np.nonzero(adj)
    return component_labels(len(c), rows, cols)


def component_labels(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes joined by the edges ``rows[i]``-``cols[i]``.

    The labels of ``scipy.sparse.csgraph.connected_components(..., directed=False)``: components
    numbered 0, 1, ... in the order of their lowest node. Here, because importing scipy.sparse cost
    every scan worker 0.2 s for one call on a few hundred glyphs: each node takes the lowest label
    among its neighbours and its label's label, until nothing changes.
    """
    labels = np.arange(n)
    if len(rows):
        while True:
            low = np.minimum(labels[rows], labels[cols])
            new = labels.copy()
            np.minimum.at(new, rows, low)
            np.minimum.at(new, cols, low)
            new = new[new]  # pointer jumping: a chain of glyphs settles in a few rounds
            if np.array_equal(new, labels):
                break
            labels = new
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def text_lines(grey: np.ndarray, *, settings: CandidateSettings | None = None) -> list[BBox] | None:
    """Boxes of text-line candidates in ``grey`` (uint8 ``(H, W)``), tight around their glyphs.

    Glyph-sized ink components (height in ``[min_glyph, max_glyph]``, not a solid block) on one
    line are grouped (see :func:`_link`). A lone component is kept only when it is no taller than
    ``max(24, 6%`` of the frame's longer side) — a laterality letter, not an anatomical edge.
    Returns ``None`` when the frame has more than ``max_components`` glyph-like components (too busy
    for candidates to pay off), else boxes in (y0, x0) order.
    """
    s = settings or CandidateSettings()
    c = _components(grey, s)
    if len(c) == 0:
        return []
    if len(c) > s.max_components:
        return None
    labels = _link(c)
    lone_max = max(24, int(0.06 * max(grey.shape)))
    lines = []
    for g in np.unique(labels):
        m = c[labels == g]
        if len(m) == 1 and m[0, 3] > lone_max:
            continue
        x0, y0 = int(m[:, 0].min()), int(m[:, 1].min())
        lines.append(BBox(x0, y0, int((m[:, 0] + m[:, 2]).max()), int((m[:, 1] + m[:, 3]).max())))
    return sorted(lines, key=lambda b: (b.y0, b.x0))


def plan_crops(
    grey: np.ndarray, *, settings: CandidateSettings | None = None, lines: list[BBox] | None = None
) -> list[Crop] | None:
    """Crops of ``grey`` (uint8 ``(H, W)``) holding every text-line candidate, each with its resize scale.

    A line is padded by ``pad`` x its height (twice that sideways) and resized so its text is
    ``target_height`` px (clipped to ``[min_scale, max_upscale]``).
    An empty list means no text-like structure was found; ``None`` that the frame is too busy for
    candidates (detect it whole). ``lines`` from :func:`text_lines` may be passed to skip that pass.
    """
    s = settings or CandidateSettings()
    h, w = grey.shape
    if lines is None:
        lines = text_lines(grey, settings=s)
    if lines is None:
        return None
    padded = []
    for ln in lines:
        # Wider padding sideways: faint glyphs at a line's ends may have escaped the ink mask.
        py = max(3, int(np.ceil(s.pad * ln.height)))
        padded.append(BBox(ln.x0 - 2 * py, ln.y0 - py, ln.x1 + 2 * py, ln.y1 + py).clip(h, w))
    # One crop per line, not merged: merging neighbours builds big crops of mostly non-text pixels
    # (CRAFT's cost is their area x scale²); an overlap only repeats a few pixels in the mosaic.
    crops = []
    for ln, box in zip(lines, padded):
        scale = float(np.clip(s.target_height / max(ln.height, 1), s.min_scale, s.max_upscale))
        crops.append(Crop(box, scale))
    return crops


def uncovered(
    lines: list[BBox], boxes: list[BBox], *, min_cover: float = 0.5, max_height_ratio: float = 3.0
) -> list[BBox]:
    """The candidate ``lines`` that ``boxes`` cover less than ``min_cover`` of (what the detector missed).

    Only boxes at most ``max_height_ratio`` x a line's height count for it: CRAFT sometimes returns
    a box over half the frame (anatomy), which the recogniser rejects and which reads no label.
    """
    from ufmclean.ocr.recall import covered_fraction

    return [
        ln
        for ln in lines
        if covered_fraction(ln, [b for b in boxes if b.height <= max_height_ratio * ln.height]) < min_cover
    ]


def cut_short(lines: list[BBox], boxes: list[BBox], *, max_height_ratio: float = 4.0) -> list[BBox]:
    """Bands of detector ``boxes`` that an overlapping candidate line continues past, sideways, by
    half a box height or more: the box's rows over the union of the two's columns.

    The detector sometimes boxes only the part of a line with the most contrast (a low-contrast time
    stamp whose right half sits over a dark blob: '1:07' boxed, '12:4' not). The candidate line
    there is no help on its own: it merged with the blob, so its height would set the wrong scale.
    Lines over ``max_height_ratio`` x the box's height are anatomy, not a continuation.
    """
    bands = []
    for b in boxes:
        for ln in lines:
            if ln.intersection(b) == 0 or ln.height > max_height_ratio * b.height:
                continue
            x0, x1 = min(ln.x0, b.x0), max(ln.x1, b.x1)
            if b.x0 - x0 >= b.height / 2 or x1 - b.x1 >= b.height / 2:
                bands.append(BBox(x0, b.y0, x1, b.y1))
    return drop_duplicates(bands)


def drop_duplicates(boxes: list[BBox], *, overlap: float = 0.6, min_height_ratio: float = 0.6) -> list[BBox]:
    """Keep the larger of two boxes when the smaller lies ``overlap`` or more inside it and is at
    least ``min_height_ratio`` of its height (the same text found twice, e.g. in overlapping crops).

    A much taller box around a small one is not a duplicate: CRAFT sometimes returns a frame-sized
    box over anatomy that the recogniser then rejects, and it must not take the real label with it.
    """
    kept: list[BBox] = []
    for b in sorted(boxes, key=lambda b: -b.area):
        if all(k.intersection(b) < overlap * b.area or b.height < min_height_ratio * k.height for k in kept):
            kept.append(b)
    return sorted(kept, key=lambda b: (b.y0, b.x0))


def detect_in_mosaic(
    grey: np.ndarray, crops: list[Crop], detect: Callable[[np.ndarray], list[BBox]], *,
    settings: CandidateSettings | None = None, packed: tuple[np.ndarray, list[Placement]] | None = None,
) -> list[BBox]:
    """Detector boxes of ``crops`` of ``grey`` (uint8 ``(H, W)``) packed into one mosaic, in frame
    coordinates, with text that a crop's edge cut detected again in wider crops.

    ``detect(canvas)`` returns boxes in the canvas's pixels. Boxes running into an inner side of
    their crop are detected again in a wider crop (:func:`~ufmclean.ocr.mosaic.cut_extensions`), up
    to ``extend_rounds`` times: on Kermany chest X-rays a name stamped over bright anatomy left only
    a letter's bar as a candidate, and without this 5 of 25 such names were read as 'VAV' (the 'AN').
    ``packed``: :func:`~ufmclean.ocr.mosaic.pack_mosaic` of ``crops``, when the caller has it already.
    """
    s = settings or CandidateSettings()
    h, w = grey.shape
    if not crops:
        return []
    canvas, placements = packed or pack_mosaic(grey, crops, canvas_width=s.canvas_width, gap=s.gap)
    found = boxes_with_crops(detect(canvas), placements, height=h, width=w)
    boxes = [b for b, _ in found]
    for _ in range(s.extend_rounds):
        grown = cut_extensions(found, height=h, width=w, target_height=s.target_height, reach=s.extend_reach,
                               min_scale=s.min_scale, max_scale=s.max_upscale)
        if not grown:
            break
        canvas, placements = pack_mosaic(grey, grown, canvas_width=s.canvas_width, gap=s.gap)
        found = boxes_with_crops(detect(canvas), placements, height=h, width=w)
        boxes += [b for b, _ in found]
    return boxes
