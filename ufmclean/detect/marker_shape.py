"""Shape helpers of the marker detector: accepted parts, rings, side contrasts, merging, descriptor.

Split from :mod:`ufmclean.detect.markers` (which finds and scores components) to keep modules small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ufmclean.records import BBox

_N_CLASSES = 4
PATCH_SIDE = 4  # descriptor patch is PATCH_SIDE x PATCH_SIDE; finer patches split one glyph (measured)
DESCRIPTOR_SIZE = PATCH_SIDE * PATCH_SIDE + 7 + 3 + _N_CLASSES
# Moments of a glyph-sized ink map are ~0.01-0.2; these bring them to ~unit scale.
_NU_SCALE = np.array([4.0, 8.0, 4.0, 20.0, 20.0, 20.0, 20.0])
# Descriptor length. The rarity stage merges marks within RarityOptions.marker_distance (0.25) of a
# cluster leader; on 185 Kermany "R" markers (224 px, JPEG, stretched by aspect-changing resizes)
# unit-norm descriptors of one marker spread to ~0.45, so the vector is shortened to put that spread
# inside 0.25 while a sticker and an "R" stay far apart (bench/markers.py prints both).
DESCRIPTOR_NORM = 0.55
RING_IN, RING_OUT = 2, 4  # ring around a component used as its "surroundings" (pixels)


@dataclass(frozen=True, slots=True)
class Part:
    """One accepted component: box, its mask inside the box, class, signed contrast, score."""

    box: BBox
    mask: np.ndarray  # bool (box.height, box.width)
    cls: int
    contrast: float
    score: float


def square_kernel(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))


def ring_mask(mask: np.ndarray) -> np.ndarray:
    """Bool ring ``RING_IN``..``RING_OUT`` px outside ``mask`` (uint8 0/1)."""
    return cv2.dilate(mask, square_kernel(RING_OUT)).astype(bool) & ~cv2.dilate(mask, square_kernel(RING_IN - 1)).astype(bool)


_DIRECTIONS = ((0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1))
_SIDE_SHIFT = 3  # pixels; must stay below RING_OUT so the shifted mask stays inside the padded box


def weakest_side(mask: np.ndarray, values: np.ndarray, level: float, polarity: float | None) -> float:
    """Least contrast of ``level`` over the 8 directions (mask uint8 0/1, values same shape).

    Signed by ``polarity`` (+1: the mark is brighter, -1: darker); absolute when ``polarity`` is None.

    Each direction's surroundings are the mask shifted ``_SIDE_SHIFT`` px that way, less the mask
    and its 1-px neighbourhood. Directions that fall off the frame are skipped.
    """
    near = cv2.dilate(mask, square_kernel(1)).astype(bool)
    h, w = mask.shape
    weakest = np.inf
    for dx, dy in _DIRECTIONS:
        sx, sy = dx * _SIDE_SHIFT, dy * _SIDE_SHIFT
        shifted = np.zeros_like(mask)
        shifted[max(sy, 0) : h + min(sy, 0), max(sx, 0) : w + min(sx, 0)] = mask[
            max(-sy, 0) : h + min(-sy, 0), max(-sx, 0) : w + min(-sx, 0)
        ]
        region = shifted.astype(bool) & ~near
        if region.any():
            diff = level - float(np.median(values[region]))
            weakest = min(weakest, abs(diff) if polarity is None else diff * polarity)
    return float(weakest)


def excluded(box: BBox, exclude: Sequence[BBox], fraction: float) -> bool:
    area = max(box.area, 1)
    return any(box.intersection(ex) >= fraction * area for ex in exclude)


def merge_parts(parts: list[Part], gap: int, max_w: float, max_h: float) -> list[list[Part]]:
    """Group parts whose boxes come within ``gap`` px, as long as the group's box stays small enough."""
    groups: list[tuple[BBox, list[Part]]] = []
    for part in sorted(parts, key=lambda p: (p.box.y0, p.box.x0)):
        box, members = part.box, [part]
        merged = True
        while merged:  # absorbing one group can bring the box within reach of another
            merged = False
            for k, (gbox, gmembers) in enumerate(groups):
                union = gbox.union(box)
                if gbox.intersection(box.pad(gap)) > 0 and union.width <= max_w and union.height <= max_h:
                    box, members = union, gmembers + members
                    groups.pop(k)
                    merged = True
                    break
        groups.append((box, members))
    return [members for _, members in groups]


def descriptor(members: list[Part], box: BBox, grey: np.ndarray, frame_diag: float) -> tuple[float, ...]:
    """Appearance vector (``DESCRIPTOR_SIZE`` floats, L2 norm ``DESCRIPTOR_NORM``) of one merged mark.

    Blocks: a coarse ``PATCH_SIDE``² "ink" patch (how far each pixel departs from the surroundings,
    as a fraction of the mark's strongest departure; zero-mean, unit norm) so shape, not exposure,
    counts; the seven normalised central moments of the ink (stable under the one-pixel jitter of
    boxes on small, JPEG-blurred glyphs, where a finer patch is not); aspect (log2 w/h), fill and
    size (log2 of box diagonal over frame diagonal); and the area fraction of each candidate class
    (bright/dark/flat/colour) so a white "R" and a flat grey sticker differ even at equal shape.
    """
    mask = np.zeros((box.height, box.width), bool)
    cls_area = np.zeros(_N_CLASSES)
    for p in members:
        mask[p.box.translate(-box.x0, -box.y0).slices] |= p.mask
        cls_area[p.cls] += p.mask.sum()
    h, w = grey.shape
    outer = box.pad(RING_OUT, height=h, width=w)
    crop = grey[outer.slices].astype(np.float32)
    inner = box.translate(-outer.x0, -outer.y0)
    full = np.zeros(crop.shape, np.uint8)
    full[inner.slices] = mask
    ring = ring_mask(full)
    background = float(np.median(crop[ring])) if ring.any() else float(np.median(crop))
    ink = np.abs(crop[inner.slices] - background)
    peak = float(ink[mask].max()) if mask.any() else 0.0
    ink = np.clip(ink / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(ink)
    patch = cv2.resize(ink, (PATCH_SIDE, PATCH_SIDE), interpolation=cv2.INTER_AREA).ravel()
    patch = patch - patch.mean()
    norm = float(np.linalg.norm(patch))
    patch = patch / norm if norm > 1e-6 else np.zeros_like(patch)
    m = cv2.moments(ink)
    nu = np.array([m["nu20"], m["nu11"], m["nu02"], m["nu30"], m["nu21"], m["nu12"], m["nu03"]])
    nu = np.clip(nu * _NU_SCALE, -1.0, 1.0)
    aspect = float(np.clip(np.log2(box.width / box.height) / 3.0, -1.0, 1.0))
    fill = float(mask.mean())
    size = float(np.clip(np.log2(np.hypot(box.width, box.height) / frame_diag) / 4.0 + 1.0, -1.0, 1.0))
    classes = cls_area / max(cls_area.sum(), 1.0)
    vec = np.concatenate([0.5 * patch, 0.5 * nu, 0.5 * np.array([aspect, fill, size]), 0.5 * classes])
    vec = DESCRIPTOR_NORM * vec / float(np.linalg.norm(vec))
    return tuple(float(v) for v in vec)
