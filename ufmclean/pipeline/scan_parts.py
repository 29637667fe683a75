"""Resumable scan parts: one Parquet file per batch under ``RUN/.work/scan/``.

A part holds one ``image`` row per member (what loading learned: status, error, geometry) and one
``finding`` row per detection *before* the dataset-wide rarity step, including the marker
``descriptor`` that the run tables do not store. Parts hold recognised text, so they are written
atomically with mode 0600 like ``findings.parquet``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufmclean.records import BBox, Finding

__all__ = ["PART_MODE", "ImageScan", "part_schema", "read_part", "read_parts", "write_part"]

PART_MODE = 0o600


@dataclass(frozen=True, slots=True)
class ImageScan:
    """What scanning one image learned about it (the ``image`` rows of a part)."""

    image_id: str
    status: str
    error: str | None = None
    rows: int | None = None
    cols: int | None = None
    frames: int | None = None
    modality: str | None = None


def part_schema() -> Any:
    """pyarrow schema of a scan part (``row`` is ``"image"`` or ``"finding"``)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("row", pa.string()), ("image_id", pa.string()), ("status", pa.string()), ("error", pa.string()),
            ("rows", pa.int32()), ("cols", pa.int32()), ("frames", pa.int32()), ("modality", pa.string()),
            ("finding_id", pa.string()), ("relpath", pa.string()), ("frame", pa.int32()), ("kind", pa.string()),
            ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32()), ("text", pa.string()),
            ("confidence", pa.float64()), ("phi_type", pa.string()), ("descriptor", pa.list_(pa.float32())),
            ("view", pa.string()),
        ]
    )  # fmt: skip


_IMAGE_NULLS = dict.fromkeys(
    ("finding_id", "relpath", "frame", "kind", "x0", "y0", "x1", "y1", "text", "confidence", "phi_type", "descriptor",
     "view")
)
_FINDING_NULLS = dict.fromkeys(("status", "error", "rows", "cols", "frames", "modality"))


def write_part(path: str | os.PathLike[str], images: Sequence[ImageScan], findings: Iterable[Finding]) -> int:
    """Write one batch's part atomically (mode 0600); returns the number of finding rows."""
    from ufmclean.tables import write_rows

    rows: list[dict[str, Any]] = []
    for im in images:
        rows.append({"row": "image", "image_id": im.image_id, "status": im.status, "error": im.error, "rows": im.rows,
                     "cols": im.cols, "frames": im.frames, "modality": im.modality, **_IMAGE_NULLS})
    n = 0
    for f in findings:
        rows.append({"row": "finding", "image_id": f.image_id, **_FINDING_NULLS, "finding_id": f.finding_id,
                     "relpath": f.relpath, "frame": int(f.frame), "kind": f.kind, "x0": f.bbox.x0, "y0": f.bbox.y0,
                     "x1": f.bbox.x1, "y1": f.bbox.y1, "text": f.text, "confidence": float(f.confidence),
                     "phi_type": f.phi_type, "descriptor": [float(v) for v in f.descriptor], "view": f.view})
        n += 1
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_rows(path, rows, mode=PART_MODE, schema=part_schema())
    return n


def _split_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[ImageScan], list[Finding]]:
    images: list[ImageScan] = []
    findings: list[Finding] = []
    for r in rows:
        if r["row"] == "image":
            images.append(ImageScan(image_id=r["image_id"], status=r["status"], error=r["error"], rows=r["rows"],
                                    cols=r["cols"], frames=r["frames"], modality=r["modality"]))
        else:
            findings.append(Finding(
                finding_id=r["finding_id"], image_id=r["image_id"], relpath=r["relpath"], frame=int(r["frame"]),
                kind=r["kind"], bbox=BBox(int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"])),
                text=r["text"] or "", confidence=float(r["confidence"]), phi_type=r["phi_type"] or "",
                descriptor=tuple(r["descriptor"] or ()), view=r.get("view") or "",
            ))  # fmt: skip
    return images, findings


def read_part(path: str | os.PathLike[str]) -> tuple[list[ImageScan], list[Finding]]:
    """Image scans and pre-rarity findings of one part."""
    from ufmclean.tables import read_rows

    return _split_rows(read_rows(path, schema=part_schema(), missing_ok=False))


def read_parts(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[ImageScan], list[Finding]]:
    """Image scans and findings of many parts, read as one dataset (streamed by record batch)."""
    from ufmclean.tables import iter_rows

    images: list[ImageScan] = []
    findings: list[Finding] = []
    for batch in iter_rows(paths, schema=part_schema()):
        im, fs = _split_rows(batch)
        images += im
        findings += fs
    return images, findings
