"""Overlay findings: every non-empty DICOM overlay plane (60xx) becomes one ``overlay`` Finding."""

from __future__ import annotations

import hashlib

import numpy as np

from ufmclean.records import BBox, Finding, LoadedImage


def overlay_findings(image: LoadedImage) -> list[Finding]:
    """Return one Finding per non-empty overlay plane, boxed tightly around its set pixels.

    The box is in the image's pixel coordinates of the plane's frame (the loader has applied the
    overlay origin). ``text`` stays empty: overlay content is bitmap, not recognised text.
    """
    found = []
    for plane in image.overlays:
        mask = np.asarray(plane.mask, dtype=bool)
        if mask.ndim != 2 or not mask.any():
            continue
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        box = BBox(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        digest = hashlib.sha1(f"{image.record.image_id}:overlay:{plane.group:04x}:{plane.frame}".encode()).hexdigest()
        found.append(
            Finding(
                finding_id=digest[:16],
                image_id=image.record.image_id,
                relpath=image.record.relpath,
                frame=plane.frame,
                kind="overlay",
                bbox=box,
                confidence=1.0,
            )
        )
    return found
