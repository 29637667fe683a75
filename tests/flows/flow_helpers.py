"""Helpers of the flow tests: an OCR double, small trees, run-folder snapshots, a flow call.

(A plain module, not a package: ``tests/flows`` must not become an importable ``flows`` package.)
"""

import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.records import BBox


class HashReader:
    """Deterministic OCR double: "reads" one ID at a fixed box when that box has ink.

    The text is derived from the box's pixels, so it differs between images (rare, removed) and
    disappears or changes once the box is redacted; every process computes the same answer.
    """

    box = BBox(8, 8, 96, 34)

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: np.ndarray) -> list[TextRegion]:
        grey = check_image(image)
        self.calls += 1
        clipped = self.box.clip(*grey.shape)
        if clipped.area == 0:
            return []
        patch = np.ascontiguousarray(grey[clipped.slices])
        if int(patch.max()) - int(patch.min()) < 40:
            return []
        return [TextRegion(clipped, f"ACC {zlib.crc32(patch.tobytes()) % 1000000:06d}", 0.9)]


def copy_subset(src: Path, dest: Path, *, n_png: int, n_dcm: int) -> Path:
    """Copy the first ``n_png`` PNG and ``n_dcm`` DICOM files of each class folder of ``src``."""
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        chosen = [p for p in files if p.suffix == ".png"][:n_png] + [p for p in files if p.suffix == ".dcm"][:n_dcm]
        for p in chosen:
            target = dest / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
    return dest


# Columns that legitimately differ between two runs of the same data (none today; kept explicit).
VOLATILE_IMAGE_COLUMNS: frozenset[str] = frozenset()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (the writer derives new DICOM UIDs from content, so reruns are byte-identical)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(run: Path) -> dict:
    """What must be identical between two runs: both tables (all columns) and every clean/ file's bytes."""
    images = sorted(({k: v for k, v in r.items() if k not in VOLATILE_IMAGE_COLUMNS}
                     for r in pq.read_table(run / "images.parquet").to_pylist()), key=lambda r: r["image_id"])
    findings = sorted(pq.read_table(run / "findings.parquet").to_pylist(), key=lambda r: r["finding_id"])
    clean = {p.relative_to(run / "clean").as_posix(): file_digest(p)
             for p in sorted((run / "clean").rglob("*")) if p.is_file()}
    return {"images": images, "findings": findings, "clean": clean}


def run_flow(inp: Path, run: Path, **kw):
    from flows.options import SanitizeSettings
    from flows.sanitize import sanitize

    settings = SanitizeSettings(device="cpu", **kw.pop("settings", {}))
    return sanitize(str(inp), str(run), options=settings, return_state=True, **kw)
