"""DICOM overlay planes (groups 0x6000-0x601E) as per-frame boolean masks in image coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np

from ufmclean.records import OverlayPlane

__all__ = ["OVERLAY_GROUPS", "extract_overlays", "overlay_groups_present"]

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))


def overlay_groups_present(ds: Any) -> list[int]:
    """Overlay groups of ``ds`` that carry OverlayData ``(gggg,3000)``."""
    return [g for g in OVERLAY_GROUPS if (g, 0x3000) in ds]


def _place(mask: np.ndarray, ov: np.ndarray, origin_row: int, origin_col: int) -> None:
    """Copy ``ov`` into ``mask`` at the 1-based origin, clipping to the image."""
    rows, cols = mask.shape
    r0, c0 = origin_row - 1, origin_col - 1
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + ov.shape[0], rows), min(c0 + ov.shape[1], cols)
    if re <= rs or ce <= cs:
        return
    mask[rs:re, cs:ce] |= ov[rs - r0 : re - r0, cs - c0 : ce - c0]


def extract_overlays(
    ds: Any, *, n_frames: int, rows: int, cols: int
) -> tuple[tuple[OverlayPlane, ...], tuple[str, ...]]:
    """Non-empty overlay planes of ``ds``, one per (group, image frame), masks shaped ``(rows, cols)``.

    The overlay origin ``(gggg,0050)`` (1-based row, col) and, for multi-frame overlays, the
    image frame origin ``(gggg,0051)`` and frame count ``(gggg,0015)`` are applied. A single-frame
    overlay on a multi-frame image applies to every frame (PS3.3 C.9.3). Returns ``(planes, notes)``.
    """
    planes: list[OverlayPlane] = []
    notes: list[str] = []
    for group in overlay_groups_present(ds):
        try:
            data = np.asarray(ds.overlay_array(group)).astype(bool)
        except Exception as exc:
            notes.append(f"overlay group {group:04X} could not be read ({type(exc).__name__})")
            continue
        origin = ds.get((group, 0x0050))
        o_row, o_col = (int(origin.value[0]), int(origin.value[1])) if origin is not None and origin.VM == 2 else (1, 1)
        n_ov = int(ds[(group, 0x0015)].value) if (group, 0x0015) in ds else 1
        first = int(ds[(group, 0x0051)].value) if (group, 0x0051) in ds else 1
        ov_frames = data.reshape((-1, *data.shape[-2:])) if data.ndim >= 2 else data.reshape(1, 1, -1)
        otype_el = ds.get((group, 0x0040))
        desc_el = ds.get((group, 0x0022))
        otype = str(otype_el.value) if otype_el is not None else "G"
        # Free text (may be PHI): kept in the record only, never logged.
        desc = str(desc_el.value) if desc_el is not None and desc_el.value else ""
        if n_ov <= 1 and ov_frames.shape[0] == 1:
            targets = [(f, ov_frames[0]) for f in range(n_frames)]
        else:
            targets = [
                (first - 1 + i, ov_frames[i]) for i in range(ov_frames.shape[0]) if 0 <= first - 1 + i < n_frames
            ]
        for frame, ov in targets:
            mask = np.zeros((rows, cols), dtype=bool)
            _place(mask, ov, o_row, o_col)
            if mask.any():
                planes.append(OverlayPlane(group=group, frame=frame, mask=mask, overlay_type=otype, description=desc))
    return tuple(planes), tuple(notes)
