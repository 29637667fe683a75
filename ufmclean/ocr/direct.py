"""Candidates the recogniser reads as they are, without a detector box.

Detectors miss many lone letters (laterality marks), dark-on-light labels whose glyphs link with the
patch rim, and faint letters on a tissue edge. :func:`direct_candidates` gathers, where the
detector's boxes leave them uncovered: short lines of :func:`~ufmclean.ocr.fast.text_lines`,
:func:`collinear_runs` of them, :func:`label_patches` (light patches with dark glyphs) and
:func:`fragment_letters` (faint letters of which only a short bar survives).
"""

from __future__ import annotations

import numpy as np

from ufmclean.ocr.fast import CandidateSettings, components_8, odd_size, drop_duplicates, uncovered
from ufmclean.records import BBox


def label_patches(
    grey: np.ndarray,
    *,
    settings: CandidateSettings | None = None,
    min_height: int = 8,
    max_height: int = 48,
    kernel: int = 49,
    levels: tuple[int, ...] = (128, 160, 192, 224),
) -> list[BBox]:
    """Boxes of light rectangular patches with dark strokes inside (dark-on-light labels) in ``grey``.

    ``grey``: uint8 ``(H, W)``. Such a label's glyphs link with the patch rim and the anatomy next
    to it into a line too tall to read, yet the recogniser reads the patch itself well. A closing
    fills the dark strokes; a white top-hat of ``kernel`` px and thresholds at each of ``levels``
    give bright regions; patches are those ``min_height``..``max_height`` tall, at most 8x as wide,
    filling >= 85% of their box, with 3-70% of their area dark stroke ink (a plain blob is no label).
    Returns boxes in (y0, x0) order.
    """
    import cv2

    if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError("label_patches needs a uint8 (H, W) array")
    s = settings or CandidateSettings()
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    big = cv2.getStructuringElement(cv2.MORPH_RECT, (odd_size(kernel), odd_size(kernel)))
    # The top-hat alone merges a patch with bright anatomy it touches (a narrow rim of tissue is
    # smaller than the kernel too), so absolute levels separate a near-white patch from tissue.
    masks = [cv2.morphologyEx(closed, cv2.MORPH_TOPHAT, big) >= s.min_contrast]
    masks += [closed >= level for level in levels]
    ink = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    out: set[BBox] = set()
    for mask in masks:
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        for x, y, w, h, area in stats[1:]:
            if not (min_height <= h <= max_height and h // 2 <= w <= 8 * h and area >= 0.85 * w * h):
                continue
            box = BBox(int(x), int(y), int(x + w), int(y + h))
            dark = float((ink[box.slices] >= s.min_contrast).mean())
            if 0.03 <= dark <= 0.7:
                out.add(box)
    return sorted(drop_duplicates(list(out), overlap=0.8), key=lambda b: (b.y0, b.x0))


def fragment_letters(grey: np.ndarray, *, settings: CandidateSettings | None = None, pad: int = 3) -> list[BBox]:
    """Letter-sized boxes around lone short bright strokes of ``grey`` (uint8 ``(H, W)``), two per stroke.

    A faint letter drawn on a tissue edge (an ``L`` at the foot of a bright rim) loses its other
    strokes to the edge in every top-hat: only a short bar (2-4 px thick, 2-7x as long, filled,
    at least 4/3 ``min_contrast`` above its surroundings) survives, too small for a glyph. Letters
    are about 5.5 stroke widths tall, so each bar gives a box with the bar at its foot and one with
    it on top, padded by ``pad`` px; the recogniser decides (on sample_data such bars are rare
    outside these letters, so the extra recogniser calls are few).
    """
    import cv2

    if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError("fragment_letters needs a uint8 (H, W) array")
    s = settings or CandidateSettings()
    k = odd_size(min(s.kernels))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    height, width = grey.shape
    # Bright bars only: dark bars are common (gaps between bright strokes and lines; 130 on 50
    # sample_data frames against 1 bright one), and dark-on-light labels sit on patches anyway.
    hat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel)
    n, labels, stats, _ = components_8((hat >= s.min_contrast).astype(np.uint8))
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (2 <= h <= 4 and 2 * h <= w <= 7 * h and area >= 0.8 * w * h):
            continue
        if hat[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i].mean() < 4 * s.min_contrast / 3:
            continue
        tall = round(5.5 * h)
        for y0 in (y + h - tall, y):
            out.append(BBox(x - pad - 1, y0 - pad, x + w + pad, y0 + tall + pad).clip(height, width))
    return [b for b in out if b.area > 0]


def collinear_runs(lines: list[BBox], *, max_height: int = 32, max_gap: float = 2.0) -> list[BBox]:
    """Boxes joining two or more ``lines`` that sit on one text line: tops and heights within a
    quarter of the height, gaps at most ``max_gap`` heights, each at most ``max_height`` tall.

    Text over a bright band (a spine, a tube) breaks into pieces where the band links a letter with
    the anatomy; the pieces alone are too long to be lone letters or too short to read, while the
    joined run reads whole ('POR' + 'ABLE' -> 'PORTABLE'). Bone edges rarely give equal-height
    pieces on one baseline.
    """
    pieces = sorted((ln for ln in lines if ln.height <= max_height), key=lambda b: b.x0)
    runs = []
    used: set[int] = set()
    for i, first in enumerate(pieces):
        if i in used:
            continue
        run, last = first, first
        for j in range(i + 1, len(pieces)):
            nxt = pieces[j]
            tol = max(2, last.height // 4)
            if (j not in used and abs(nxt.y0 - last.y0) <= tol and abs(nxt.height - last.height) <= tol
                    and 0 <= nxt.x0 - last.x1 <= max_gap * last.height):  # fmt: skip
                used.add(j)
                run = BBox(run.x0, min(run.y0, nxt.y0), nxt.x1, max(run.y1, nxt.y1))
                last = nxt
        if run != first:
            runs.append(run)
    return runs


def direct_candidates(
    grey: np.ndarray, lines: list[BBox], boxes: list[BBox], *, settings: CandidateSettings | None = None,
    max_height: int = 32, patches: list[BBox] | None = None, fragments: list[BBox] | None = None,
) -> list[BBox]:
    """Candidate boxes of ``grey`` (uint8 ``(H, W)``) that go to the recogniser without a detector box.

    Detectors miss many lone letters (laterality marks), dark-on-light labels whose glyphs link
    with the patch rim, and faint letters on a tissue edge. So, where the detector ``boxes`` cover
    less than half of them: short candidate ``lines`` (a letter or two, at most ``max_height`` px;
    bigger lone marks are the marker detector's job, and on real X-rays most long uncovered
    candidates are bone and device edges) and :func:`collinear_runs` of uncovered lines, padded by
    a third of their height (the recogniser reads a lone 9-12 px letter far better with context),
    :func:`label_patches` (``patches``, when the caller has them already) and
    :func:`fragment_letters` (``fragments``, likewise). Callers hold their reads to a stricter confidence.
    """
    s = settings or CandidateSettings()
    h, w = grey.shape
    missed = uncovered(lines, boxes)
    short = [ln for ln in missed if ln.width <= 2 * ln.height and ln.height <= max_height]
    short += uncovered(collinear_runs(missed, max_height=max_height), boxes)
    direct = [ln.pad(max(4, ln.height // 3), height=h, width=w) for ln in short]
    # Checked against detector boxes only: a padded direct line over a label may read as nothing.
    found = label_patches(grey, settings=s) if patches is None else patches
    direct += [p.pad(1, height=h, width=w) for p in uncovered(found, boxes)]
    direct += uncovered(fragment_letters(grey, settings=s) if fragments is None else fragments, boxes)
    return direct
