"""Residual check: is anything we removed still legible?

Each redacted region (padded by a margin) of the *written* pixels is rendered to a display view and
re-read with an :class:`~ufmclean.ocr.base.OcrEngine`. Text similar (rapidfuzz) to what was removed is a failure.
Markers carry no text: they fail when the region still has most of its original contrast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ufmclean.ocr.base import OcrEngine
from ufmclean.records import BBox, Finding
from ufmclean.redact.apply import RedactionRegion
from ufmclean.redact.masks import MIN_CONTRAST


@dataclass(frozen=True, slots=True)
class ResidualResult:
    """Outcome of re-reading one redacted region (no text: scores and counts only)."""

    finding_id: str
    frame: int
    ok: bool
    similarity: float = 0.0
    n_read: int = 0


def normalise(text: str) -> str:
    """Upper-case alphanumerics only (what OCR variants of the same string share)."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def text_similarity(removed: str, read: str) -> float:
    """Similarity 0-100 between removed text and text read back.

    ``partial_ratio`` (substring alignment) when the read text is at least half as long as the
    removed text and 3+ characters, plain ``ratio`` otherwise, so a stray "ON" does not match
    "DAVIDSON" while "DAVID" does.
    """
    from rapidfuzz import fuzz

    a, b = normalise(removed), normalise(read)
    if not a or not b:
        return 0.0
    if len(b) >= 3 and len(b) * 2 >= len(a):
        return float(fuzz.partial_ratio(a, b))
    return float(fuzz.ratio(a, b))


def display_like(new_raw: np.ndarray, raw: np.ndarray, display: np.ndarray) -> np.ndarray:
    """Display view of redacted pixels, through the loader's own raw -> display mapping.

    The mapping is read off the original ``(raw, display)`` pair of the same frame (per channel for
    colour) and interpolated for values that did not occur, so LUTs, windows and MONOCHROME1
    inversion are followed without re-implementing them.

    Parameters
    ----------
    new_raw, raw : np.ndarray
        One frame, ``(H, W)`` or ``(H, W, S)``, stored dtype.
    display : np.ndarray
        The original display of that frame, ``uint8`` ``(H, W)`` or ``(H, W, 3)``.

    Returns
    -------
    np.ndarray
        ``uint8`` array shaped like ``display``.
    """
    if raw.shape != new_raw.shape or raw.shape[:2] != display.shape[:2]:
        raise ValueError("new_raw, raw and display must describe the same frame")
    if raw.ndim == 2 and display.ndim == 2:
        pairs = [(new_raw, raw, display)]
    elif raw.ndim == 3 and display.ndim == 3:
        pairs = [(new_raw[..., c], raw[..., c], display[..., c]) for c in range(display.shape[2])]
    elif raw.ndim == 2:  # grey stored, colour display (palette); map luminance-free, channel by channel
        pairs = [(new_raw, raw, display[..., c]) for c in range(display.shape[2])]
    else:
        raise ValueError(f"cannot map raw {raw.shape} to display {display.shape}")
    out = []
    for new_c, raw_c, disp_c in pairs:
        keys, idx = np.unique(raw_c.ravel(), return_inverse=True)
        sums = np.bincount(idx, weights=disp_c.ravel().astype(np.float64), minlength=keys.size)
        counts = np.bincount(idx, minlength=keys.size)
        mapped = np.interp(new_c.astype(np.float64).ravel(), keys.astype(np.float64), sums / counts)
        out.append(np.clip(np.rint(mapped), 0, 255).astype(np.uint8).reshape(new_c.shape))
    return out[0] if display.ndim == 2 else np.stack(out, axis=-1)


def _crop_for_ocr(frame: np.ndarray, box: BBox, margin: int, min_height: int = 48) -> np.ndarray:
    """Padded crop of one display frame, upscaled so small text reaches ``min_height`` rows."""
    import cv2

    h, w = frame.shape[:2]
    pad = margin + box.height // 4
    crop = frame[box.pad(pad, height=h, width=w).slices]
    if crop.size == 0:
        return crop
    if crop.shape[0] < min_height:
        f = min(4.0, min_height / max(crop.shape[0], 1))
        crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


def _contrast(frame: np.ndarray, box: BBox) -> float:
    """95th percentile of |pixel - border median| inside ``box`` (display levels)."""
    h, w = frame.shape[:2]
    outer = box.pad(1, height=h, width=w)
    patch = frame[outer.slices].astype(np.float32)
    if patch.ndim == 3:
        patch = patch[..., :3].mean(axis=2)
    if patch.size == 0:
        return 0.0
    ring = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]])
    return float(np.percentile(np.abs(patch - np.median(ring)), 95))


def check_residual(
    findings: Mapping[str, Finding],
    regions: Iterable[RedactionRegion],
    before: np.ndarray,
    after: np.ndarray,
    *,
    engine: OcrEngine | None,
    margin: int = 6,
    similarity: float = 70.0,
    min_confidence: float = 0.1,
) -> list[ResidualResult]:
    """Re-read every redacted region of ``after`` and say whether the removed item is still there.

    Parameters
    ----------
    findings : mapping
        ``finding_id -> Finding`` (the removed text is compared, never returned).
    regions : iterable of RedactionRegion
        What was redacted (one result per region).
    before, after : np.ndarray
        Display views ``uint8`` ``(F, H, W)`` or ``(F, H, W, 3)`` of the original and redacted image.
    engine : OCR engine or None
        ``None`` skips the OCR part (markers are still checked by contrast; text results are ``ok``
        only if an engine read nothing similar, so without one text regions get ``ok=True`` with
        ``n_read=-1`` to show they were not read).
    similarity : float
        Threshold 0-100 at or above which read text counts as the removed text.

    Returns
    -------
    list of ResidualResult
        One per region, in order. Identical crops are read once.
    """
    if before.shape != after.shape or before.dtype != np.uint8:
        raise ValueError("before/after must be uint8 display views of the same shape")
    cache: dict[bytes, list[tuple[str, float]]] = {}
    results = []
    for r in regions:
        f = findings[r.finding_id]
        if f.kind == "marker" or not f.text.strip():
            c0, c1 = _contrast(before[r.frame], r.bbox), _contrast(after[r.frame], r.bbox)
            ok = c1 <= max(MIN_CONTRAST, 0.35 * c0)
            results.append(ResidualResult(r.finding_id, r.frame, ok, similarity=0.0, n_read=0))
            continue
        if engine is None:
            results.append(ResidualResult(r.finding_id, r.frame, True, n_read=-1))
            continue
        crop = _crop_for_ocr(after[r.frame], r.bbox, margin)
        key = hashlib.sha1(crop.tobytes() + str(crop.shape).encode()).digest()
        if key not in cache:
            cache[key] = [(t.text, float(t.confidence)) for t in (engine.read(crop) if crop.size else [])]
        reads = [t for t, conf in cache[key] if conf >= min_confidence and normalise(t)]
        candidates = reads + ([" ".join(reads)] if len(reads) > 1 else [])
        best = max((text_similarity(f.text, t) for t in candidates), default=0.0)
        results.append(ResidualResult(r.finding_id, r.frame, best < similarity, similarity=best, n_read=len(reads)))
    return results
