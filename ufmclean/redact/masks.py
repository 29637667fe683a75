"""Stroke-level masks: which pixels inside a box are text or a mark, not background.

Works on the display view (``uint8``, MONOCHROME1 already inverted), so "stroke" means "differs from
the local background", whichever polarity the text has.
"""

from __future__ import annotations

import numpy as np

from ufmclean.records import BBox

#: Minimum difference (display levels, 0-255) between a stroke pixel and the background.
MIN_CONTRAST = 12.0


def _grey(patch: np.ndarray) -> np.ndarray:
    """``(h, w)`` or ``(h, w, 3)`` -> float32 ``(h, w)`` luminance."""
    if patch.ndim == 3:
        return patch.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return patch.astype(np.float32)


def _otsu(values: np.ndarray) -> float:
    """Otsu threshold of a 1-D float array (values in ``[0, 255]``)."""
    import cv2

    v = np.clip(values, 0, 255).astype(np.uint8).reshape(-1, 1)
    t, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(t)


def stroke_mask(
    display: np.ndarray,
    box: BBox,
    *,
    margin: int = 2,
    dilate_px: int = 2,
    min_contrast: float = MIN_CONTRAST,
) -> np.ndarray:
    """Boolean mask of the text/mark pixels of ``box`` in one display frame.

    The box is padded by ``margin``; the background level is the median of the padded box's one-pixel
    border; pixels whose difference from it exceeds both an Otsu threshold (on the differences inside
    the box) and ``min_contrast`` are strokes. The result is dilated by ``dilate_px``, what it
    encloses is added (see :func:`_holes`: the fill of a light glyph with a dark outline on bright
    tissue differs too little to pass the threshold the outline sets), and it is limited to the
    padded box. When no stroke is found (flat or low-contrast content) the whole box is returned,
    so a removal never silently does nothing.

    Parameters
    ----------
    display : np.ndarray
        One display frame, ``uint8`` of shape ``(H, W)`` or ``(H, W, 3)``.
    box : BBox
        Region in pixel coordinates of this frame.
    margin, dilate_px : int
        Padding searched around the box and dilation of the mask, in pixels.
    min_contrast : float
        Minimum stroke/background difference in display levels.

    Returns
    -------
    np.ndarray
        ``bool`` array of shape ``(H, W)``; ``True`` on pixels to redact. Empty when ``box`` lies
        outside the frame.
    """
    if display.ndim not in (2, 3) or (display.ndim == 3 and display.shape[2] not in (3, 4)):
        raise ValueError(f"display frame must be (H, W) or (H, W, 3), got shape {display.shape}")
    if margin < 0 or dilate_px < 0:
        raise ValueError("margin and dilate_px must be >= 0")
    h, w = display.shape[:2]
    out = np.zeros((h, w), dtype=bool)
    inner = box.clip(h, w)
    if inner.area == 0:
        return out
    outer = inner.pad(margin, height=h, width=w)
    grey = _grey(display[outer.slices][..., :3] if display.ndim == 3 else display[outer.slices])
    ring = np.concatenate([grey[0, :], grey[-1, :], grey[:, 0], grey[:, -1]])
    diff = np.abs(grey - float(np.median(ring)))
    # Otsu on differences inside the original box (where the strokes are).
    iy0, ix0 = inner.y0 - outer.y0, inner.x0 - outer.x0
    inside = diff[iy0 : iy0 + inner.height, ix0 : ix0 + inner.width]
    threshold = max(_otsu(inside) if inside.max() > inside.min() else float(inside.max()), min_contrast)
    local = diff > threshold
    if not local.any():
        local[iy0 : iy0 + inner.height, ix0 : ix0 + inner.width] = True
    else:
        import cv2

        if dilate_px:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
            local = cv2.dilate(local.astype(np.uint8), kernel).astype(bool)
        local |= _holes(local)
    out[outer.slices] = local
    return out


def _holes(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``(h, w)`` bool ``mask``'s background that the mask encloses (not 4-connected to the border).

    Inpainting fills a mask from the known pixels around it, and an enclosed pixel left out of the
    mask (a glyph's centre line, a letter's counter) is known: its value bleeds into the fill. On
    Kermany X-rays a white name with a black outline left white blobs where its letters were.
    """
    import cv2

    free = (~mask).astype(np.uint8)
    n, labels = cv2.connectedComponents(free, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return (labels > 0) & ~np.isin(labels, border)

