"""Sanitize parts are reused only when they still match: same scan findings, clean/ files present."""

from pathlib import Path

import cv2
import numpy as np

from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
from ufmclean.pipeline.scan import ScanOptions
from ufmclean.policy import load_policy
from ufmclean.records import BBox

COMMON, NAME = BBox(4, 4, 40, 12), BBox(4, 40, 50, 48)


def _tree(root: Path) -> Path:
    rng = np.random.default_rng(3)
    for i in range(6):
        img = rng.integers(40, 60, (64, 64), dtype=np.uint8)
        img[6:10, 5:39:3] = 250
        img[42:46, 5:49:3] = 250
        root.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f"img_{i}.png"), img)
    return root


def _run(inp: Path, run: Path, engine: FakeOcrEngine, scan: ScanOptions, *, rescan: bool = False) -> list[dict]:
    progress: list[dict] = []
    run_sanitize(inp, run, policy=load_policy(), engine=engine, progress=progress.append,
                 options=SanitizeOptions(device="cpu", batch_size=2, thumbnails=False), scan_options=scan,
                 rescan=rescan)
    return progress


def test_new_scan_findings_invalidate_sanitize_parts(tmp_path: Path) -> None:
    inp, run = _tree(tmp_path / "in"), tmp_path / "run"
    common_only = FakeOcrEngine([(COMMON, "PORTABLE")])
    scan = ScanOptions(device="cpu", batch_size=2, markers=False)
    assert all(not p["cached"] for p in _run(inp, run, common_only, scan))
    assert all(p["n_copied"] == 2 for p in _run(inp, run, common_only, scan))  # nothing to remove: copies
    # A rescan with other detection settings now also reads a name: every sanitize batch must redo its work.
    # (Other settings than the run's scan's must be accepted explicitly: issue 16, 9.)
    with_name = FakeOcrEngine([(COMMON, "PORTABLE"), (NAME, "DOE, JOHN")])
    again = _run(inp, run, with_name, ScanOptions(device="cpu", batch_size=2, markers=False, min_confidence=0.05),
                 rescan=True)
    assert all(not p["cached"] for p in again) and sum(p["n_written"] for p in again) == 6


def test_lost_clean_file_recomputes_its_batch(tmp_path: Path) -> None:
    inp, run = _tree(tmp_path / "in"), tmp_path / "run"
    engine = FakeOcrEngine([(COMMON, "PORTABLE"), (NAME, "DOE, JOHN")])
    scan = ScanOptions(device="cpu", batch_size=2, markers=False)
    _run(inp, run, engine, scan)
    written = (run / "clean" / "img_3.png").read_bytes()
    (run / "clean" / "img_3.png").unlink()
    again = _run(inp, run, engine, scan)
    assert sorted(p["cached"] for p in again) == [False, True, True]
    assert (run / "clean" / "img_3.png").read_bytes() == written
