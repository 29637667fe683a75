"""Crash and resume: SIGKILL a sanitize run part-way, rerun it, compare with an uninterrupted run."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from ufmclean.records import BBox

N_IMAGES, BATCH = 12, 2
BOXES = {"common": BBox(4, 4, 40, 12), "name": BBox(4, 40, 50, 48)}
PLANTED = [(BOXES["common"], "PORTABLE"), (BOXES["name"], "DOE, JOHN")]

# The child process: a slow planted-text OCR double (so the kill lands mid-run), then run_sanitize.
CHILD = textwrap.dedent(f"""
    import sys, time
    from ufmclean.ocr.fake import FakeOcrEngine
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.pipeline.scan import ScanOptions
    from ufmclean.policy import load_policy
    from ufmclean.records import BBox

    class Slow(FakeOcrEngine):
        def read(self, image):
            time.sleep(0.15)
            return super().read(image)

    engine = Slow([(BBox(4, 4, 40, 12), "PORTABLE"), (BBox(4, 40, 50, 48), "DOE, JOHN")])
    run_sanitize(sys.argv[1], sys.argv[2], policy=load_policy(), engine=engine,
                 options=SanitizeOptions(device="cpu", batch_size={BATCH}, thumbnails=False),
                 scan_options=ScanOptions(device="cpu", batch_size={BATCH}, markers=False))
""")


def _tree(root: Path) -> Path:
    rng = np.random.default_rng(5)
    for i in range(N_IMAGES):
        img = rng.integers(40, 60, (64, 64), dtype=np.uint8)  # below the OCR double's ink contrast
        img[6:10, 5:39:3] = 250
        if i % 4 == 1:
            img[42:46, 5:49:3] = 250
        root.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f"img_{i:02d}.png"), img)
    return root


def _sanitize_in_process(inp: Path, run: Path, progress=None):
    from ufmclean.ocr.fake import FakeOcrEngine
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.pipeline.scan import ScanOptions
    from ufmclean.policy import load_policy

    engine = FakeOcrEngine(PLANTED)
    run_sanitize(inp, run, policy=load_policy(), engine=engine, progress=progress,
                 options=SanitizeOptions(device="cpu", batch_size=BATCH, thumbnails=False),
                 scan_options=ScanOptions(device="cpu", batch_size=BATCH, markers=False))
    return engine


def _outputs(run: Path) -> dict:
    images = pq.read_table(run / "images.parquet").to_pylist()
    findings = pq.read_table(run / "findings.parquet").to_pylist()
    clean = {p.relative_to(run / "clean").as_posix(): p.read_bytes() for p in sorted((run / "clean").rglob("*"))
             if p.is_file()}
    return {"images": images, "findings": findings, "clean": clean}


@pytest.mark.slow
def test_killed_sanitize_resumes_to_the_same_result(tmp_path: Path) -> None:
    inp = _tree(tmp_path / "in")
    run = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, str(script), str(inp), str(run)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parts = run / ".work" / "sanitize"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("*.parquet"))) < 2 and child.poll() is None:
        time.sleep(0.05)
    assert child.poll() is None, f"the run ended before it could be killed: {child.stderr.read().decode()[-2000:]}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = len(list(parts.glob("*.parquet")))
    n_batches = N_IMAGES // BATCH
    assert 2 <= finished < n_batches

    progress: list[dict] = []
    _sanitize_in_process(inp, run, progress=progress.append)
    recomputed = sum(not p["cached"] for p in progress)
    assert len(progress) == n_batches and recomputed == n_batches - finished, (recomputed, finished)

    reference = tmp_path / "reference"
    _sanitize_in_process(inp, reference)
    resumed, fresh = _outputs(run), _outputs(reference)
    assert resumed["clean"].keys() == fresh["clean"].keys() and len(fresh["clean"]) == N_IMAGES
    assert resumed["clean"] == fresh["clean"], "resumed clean/ files differ from an uninterrupted run"
    assert resumed["images"] == fresh["images"] and resumed["findings"] == fresh["findings"]
    assert not list(run.rglob("*.tmp*")), "temporary files left behind"
