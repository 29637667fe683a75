"""Features to score: each finding the sanitiser removed, and the canary.

A finding's feature is the crop of the ORIGINAL image at its box (frame ``frame``) with a full-box mask,
resized to the probe's scale and pasted at the same place (the box scaled from the file's size to the
probe's). The canary's feature is its stored patch and stroke mask at its fractional window.
Only ids, relpaths and boxes leave this module: findings' recognised text is never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ufmclean.errors import UfmError
from ufmclean.records import BBox
from ufmclean.verify.canary import CanarySpec
from ufmclean.verify.data import read_gray

REMOVED_ACTIONS = ("inpaint", "mask")
_COLUMNS = ["finding_id", "relpath", "frame", "x0", "y0", "x1", "y1", "action"]


@dataclass(frozen=True)
class Feature:
    """One feature to score. ``box`` in the source file's pixels; ``probe_box`` at the probe's size;
    ``patch`` ``(h, w)`` float32 in [0, 1] and ``mask`` ``(h, w)`` bool with ``(h, w)`` = probe box size;
    ``y_star`` the class index of the training image that carried it (``None`` when unknown)."""

    feature_id: str
    source: str
    relpath: str
    box: BBox
    probe_box: BBox
    patch: np.ndarray
    mask: np.ndarray
    y_star: int | None


def removed_findings(run_dir: str | Path) -> list[dict]:
    """Rows of ``RUN/findings.parquet`` whose action removed them (inpaint/mask), text column never read.

    Each row: ``finding_id, relpath, frame, x0, y0, x1, y1``. Empty when the table is absent.
    """
    from ufmclean.tables import read_rows

    rows = [r for r in read_rows(Path(run_dir) / "findings.parquet", columns=_COLUMNS) if r["action"] in REMOVED_ACTIONS]
    for r in rows:
        r.pop("action")
    return sorted(rows, key=lambda r: (r["relpath"], r["finding_id"]))


def scale_box(box: BBox, *, height: int, width: int, size: int) -> BBox:
    """Map ``box`` from a ``height`` x ``width`` image to a ``size`` x ``size`` probe image (outwards, >= 1 px)."""
    b = box.clip(height, width).scale(size / width, size / height).clip(size, size)
    x1, y1 = max(b.x1, min(b.x0 + 1, size)), max(b.y1, min(b.y0 + 1, size))
    return BBox(min(b.x0, x1 - 1), min(b.y0, y1 - 1), x1, y1)


def finding_feature(original_dir: str | Path, row: dict, *, size: int, y_star: int | None) -> Feature:
    """Feature for one removed finding ``row`` (see :func:`removed_findings`). Raises ``UfmError`` when the
    original file cannot be read or the box is empty."""
    import cv2

    img = read_gray(Path(original_dir) / row["relpath"], frame=int(row.get("frame") or 0))
    H, W = img.shape
    box = BBox(int(row["x0"]), int(row["y0"]), int(row["x1"]), int(row["y1"])).clip(H, W)
    if box.area == 0:
        raise UfmError("finding box lies outside its image; the findings table does not match the original data")
    pbox = scale_box(box, height=H, width=W, size=size)
    crop = img[box.slices]
    patch = cv2.resize(crop, (pbox.width, pbox.height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return Feature(str(row["finding_id"]), "finding", row["relpath"], box, pbox, patch,
                   np.ones((pbox.height, pbox.width), bool), y_star)


def canary_feature(spec: CanarySpec, *, size: int, classes: tuple[str, ...]) -> Feature:
    """Feature for the canary at the probe's ``size``; ``y_star`` from its class when among ``classes``."""
    pbox = spec.box_for(size, size)
    patch, mask = spec.patch_for(pbox)
    y_star = classes.index(spec.label) if spec.label in classes else None
    rel = spec.relpaths[0] if spec.relpaths else ""
    return Feature("canary", "canary", rel, pbox, pbox, patch, mask, y_star)
