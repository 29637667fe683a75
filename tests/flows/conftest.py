"""Fixtures of the flow tests: one Prefect test server per session, a deterministic OCR double, small trees.

The harness lives here (not in tests/conftest.py) so that non-flow tests do not pay its start-up.
tests/conftest.py has already pointed PREFECT_HOME at a temp folder and removed PREFECT_API_URL
before anything imported prefect.
"""

import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.records import BBox


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API (SQLite) for the session; flow heartbeats off (they cost ~1 s per flow)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


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


@pytest.fixture
def fake_ocr(monkeypatch) -> HashReader:
    """Pre-load this process's engine cache (``ufmclean.ocr.get_engine``) with :class:`HashReader`."""
    import ufmclean.ocr as ocr

    reader = HashReader()
    for device in ("auto", "cpu"):
        for strategy in ("fast", "full"):
            monkeypatch.setitem(ocr._ENGINES, (device, strategy), reader)
    return reader


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


@pytest.fixture
def small_tree(sample_data_dir: Path, tmp_path: Path) -> Path:
    """14 sample images (5 PNG and 2 DICOM per class) in a temp folder."""
    return copy_subset(sample_data_dir / "images", tmp_path / "in", n_png=5, n_dcm=2)
