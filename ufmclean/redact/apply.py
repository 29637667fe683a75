"""Apply redactions to every frame of an image, in its stored dtype and range.

``inpaint`` fills the stroke mask of each region (see :mod:`ufmclean.redact.masks`) with OpenCV's
Telea inpainting; ``mask`` fills the whole box with the background value (median of the box's
one-pixel border, per channel). Inpainting runs in a working type (``uint8`` for 8-bit data, otherwise
``float32``) on a crop around the regions and only the masked pixels are written back, rounded and
clipped to the stored range: every other pixel stays bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from ufmclean.records import BBox, Finding
from ufmclean.redact.masks import stroke_mask

PixelMode = Literal["inpaint", "mask"]


@dataclass(frozen=True, slots=True)
class RedactionRegion:
    """One box to redact on one frame, on behalf of one finding.

    ``propagated`` is true when the finding was seen on another frame and this frame carries the
    same content (scan de-duplicates identical frames).
    """

    finding_id: str
    frame: int
    bbox: BBox
    mode: PixelMode
    propagated: bool = False


def _frame_grey(display: np.ndarray) -> np.ndarray:
    """``(F, H, W)`` or ``(F, H, W, 3)`` uint8 -> float32 ``(F, H, W)``."""
    if display.ndim == 4:
        return display[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return display.astype(np.float32)


def _carrying_frames(display: np.ndarray, finding: Finding, *, margin: int, dilate_px: int) -> list[int]:
    """Frames (other than the finding's) whose box shows the same strokes as the finding's frame."""
    n, h, w = display.shape[:3]
    box = finding.bbox.clip(h, w)
    if n == 1 or box.area == 0:
        return []
    src = stroke_mask(display[finding.frame], box, margin=margin, dilate_px=0)
    grey = _frame_grey(display[:, box.y0 : box.y1, box.x0 : box.x1])
    ref = grey[finding.frame]
    out = []
    for g in range(n):
        if g == finding.frame:
            continue
        if float(np.abs(grey[g] - ref).mean()) <= 2.0:
            out.append(g)
            continue
        other = stroke_mask(display[g], box, margin=margin, dilate_px=0)
        inter = np.logical_and(src, other).sum()
        union = np.logical_or(src, other).sum()
        if union and inter / union >= 0.5:
            out.append(g)
    return out


def regions_for_image(
    findings: Sequence[Finding],
    display: np.ndarray,
    *,
    margin: int = 2,
    dilate_px: int = 2,
    mode_override: dict[str, PixelMode] | None = None,
) -> list[RedactionRegion]:
    """Regions to redact for one image's decided findings, on every frame that carries them.

    Parameters
    ----------
    findings : sequence of Finding
        Findings of one image after :func:`ufmclean.policy.decide`; only ``inpaint``/``mask`` text and
        marker findings produce regions (overlays are removed by the writer).
    display : np.ndarray
        The image's display view, ``uint8`` ``(F, H, W)`` or ``(F, H, W, 3)``.
    mode_override : dict, optional
        ``finding_id -> mode`` (used to escalate inpaint to mask after a failed residual check).

    Returns
    -------
    list of RedactionRegion
        The finding's own frame first, then propagated frames; frames already covered by an
        overlapping finding with the same key are not repeated.
    """
    if display.ndim not in (3, 4):
        raise ValueError(f"display must be (F, H, W) or (F, H, W, 3), got shape {display.shape}")
    n = display.shape[0]
    todo = [f for f in findings if f.action in ("inpaint", "mask") and f.kind in ("text", "marker")]
    for f in todo:
        if not 0 <= f.frame < n:
            raise ValueError(f"finding {f.finding_id} is on frame {f.frame} but the image has {n} frames")
    covered = {(f.frame, f.key or f.finding_id, f.bbox) for f in todo}
    regions: list[RedactionRegion] = []
    for f in todo:
        mode = cast(PixelMode, (mode_override or {}).get(f.finding_id, f.action))  # todo holds removals only
        regions.append(RedactionRegion(f.finding_id, f.frame, f.bbox, mode))
        for g in _carrying_frames(display, f, margin=margin, dilate_px=dilate_px):
            if any(fr == g and k == (f.key or f.finding_id) and b.iou(f.bbox) > 0.5 for fr, k, b in covered):
                continue
            regions.append(RedactionRegion(f.finding_id, g, f.bbox, mode, propagated=True))
    return regions


def _ring_median(frame: np.ndarray, box: BBox) -> np.ndarray:
    """Per-channel median of the one-pixel ring just outside ``box`` (inside when at the edge)."""
    h, w = frame.shape[:2]
    outer = box.pad(1, height=h, width=w)
    patch = frame[outer.slices]
    ring = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]], axis=0)
    return np.median(ring.reshape(ring.shape[0], -1), axis=0)


def _restore(values: np.ndarray, dtype: np.dtype, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Round (integers) and clip float work values to ``[lo, hi]``, then cast to ``dtype``."""
    if np.issubdtype(dtype, np.integer):
        values = np.rint(values)
    return np.clip(values, lo, hi).astype(dtype)


def _inpaint_frame(frame: np.ndarray, mask: np.ndarray, *, radius: int) -> np.ndarray:
    """Inpaint ``mask`` pixels of one raw frame ``(H, W)`` / ``(H, W, S)``; returns a new frame."""
    import cv2

    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    pad = 2 * radius + 4
    roi = BBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1).pad(pad, height=h, width=w)
    crop = frame[roi.slices]
    m8 = mask[roi.slices].astype(np.uint8)
    if crop.dtype == np.uint8 and (crop.ndim == 2 or crop.shape[2] == 3):
        filled = cv2.inpaint(np.ascontiguousarray(crop), m8, radius, cv2.INPAINT_TELEA)
    else:
        # OpenCV's Telea misbehaves on negative floats: work on [0, 65535] float32, then map back.
        lo, hi = crop.min(axis=(0, 1)), crop.max(axis=(0, 1))
        span = np.where(hi > lo, hi.astype(np.float64) - lo, 1.0)
        work = ((crop.astype(np.float64) - lo) * (65535.0 / span)).astype(np.float32)
        chans = [work] if work.ndim == 2 else [work[..., c] for c in range(work.shape[2])]
        done = [cv2.inpaint(np.ascontiguousarray(c), m8, radius, cv2.INPAINT_TELEA) for c in chans]
        res = (done[0] if work.ndim == 2 else np.stack(done, axis=-1)).astype(np.float64) * (span / 65535.0) + lo
        filled = _restore(res, crop.dtype, lo, hi)
    out = frame.copy()
    sel = mask[roi.slices]
    out[roi.slices][sel] = filled[sel]
    return out


def _strokes_in_views(views: Sequence[np.ndarray], frame: int, box: BBox, *, margin: int, dilate_px: int) -> np.ndarray:
    """Union of ``box``'s stroke masks over the views in which strokes were found.

    :func:`stroke_mask` returns the whole box when a view shows no stroke (a dark window hides the
    text): such a view adds nothing unless no view shows strokes, which gives the whole box.
    """
    masks = [stroke_mask(v[frame], box, margin=margin, dilate_px=dilate_px) for v in views]
    h, w = masks[0].shape
    inner = box.clip(h, w)
    found = [m for m in masks if not (int(m.sum()) == inner.area and m[inner.slices].all())]
    if not found:
        return masks[0]
    out = found[0].copy()
    for m in found[1:]:
        out |= m
    return out


def redact_image(
    raw: np.ndarray,
    display: np.ndarray,
    regions: Iterable[RedactionRegion],
    *,
    margin: int = 2,
    dilate_px: int = 2,
    inpaint_radius: int = 3,
    extra_views: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, dict[tuple[str, int], int]]:
    """Redact ``regions`` on a copy of ``raw``.

    Parameters
    ----------
    raw : np.ndarray
        Stored values, ``(F, H, W)`` or ``(F, H, W, S)``, any integer or float dtype (not changed).
    display : np.ndarray
        ``uint8`` display view ``(F, H, W)`` or ``(F, H, W, 3)`` used to find strokes.
    regions : iterable of RedactionRegion
        From :func:`regions_for_image`.
    extra_views : sequence of np.ndarray
        Further ``uint8`` views shaped like ``display`` (the loader's ``views``): a region's strokes
        are the union of its stroke masks in every view, so text that the clinical window hides
        but the stored range shows is inpainted whole.

    Returns
    -------
    new_raw : np.ndarray
        Same shape and dtype as ``raw``; differs only inside the redacted regions (padded by
        ``margin`` + ``dilate_px`` for inpainting).
    pixels : dict
        ``(finding_id, frame) -> number of pixels changed-or-covered``.
    """
    if raw.ndim not in (3, 4) or display.shape[:3] != raw.shape[:3]:
        raise ValueError(f"raw {raw.shape} and display {display.shape} must share (F, H, W)")
    if raw.dtype.kind not in "uif":
        raise ValueError(f"cannot redact pixel dtype {raw.dtype}")
    if any(v.shape != display.shape for v in extra_views):
        raise ValueError("extra_views must be shaped like display")
    views = (display, *extra_views)
    out = raw.copy()
    h, w = raw.shape[1:3]
    by_frame: dict[int, list[RedactionRegion]] = {}
    for r in regions:
        by_frame.setdefault(r.frame, []).append(r)
    pixels: dict[tuple[str, int], int] = {}
    for frame, items in sorted(by_frame.items()):
        union = np.zeros((h, w), dtype=bool)
        for r in (r for r in items if r.mode == "inpaint"):
            m = _strokes_in_views(views, frame, r.bbox, margin=margin, dilate_px=dilate_px)
            pixels[(r.finding_id, frame)] = int(m.sum())
            union |= m
        if union.any():
            out[frame] = _inpaint_frame(out[frame], union, radius=inpaint_radius)
        for r in (r for r in items if r.mode == "mask"):
            box = r.bbox.pad(margin, height=h, width=w)
            if box.area == 0:
                continue
            value = _ring_median(raw[frame], box)
            fill = value if out.ndim == 4 else value[0]
            out[frame][box.slices] = _restore(np.asarray(fill, dtype=np.float64), raw.dtype, fill, fill)
            pixels[(r.finding_id, frame)] = box.area
    return out, pixels
