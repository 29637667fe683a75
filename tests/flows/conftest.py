"""Fixtures of the flow tests: one Prefect test server per session, a deterministic OCR double, small trees.

The harness lives here (not in tests/conftest.py) so that non-flow tests do not pay its start-up.
tests/conftest.py has already pointed PREFECT_HOME at a temp folder and removed PREFECT_API_URL
before anything imported prefect.
"""

from pathlib import Path

import pytest
from flow_helpers import HashReader, copy_subset


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API (SQLite) for the session; flow heartbeats off (they cost ~1 s per flow)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def fake_ocr(inject_ocr) -> HashReader:
    """Every ``ufmclean.ocr.get_engine`` call of this process returns a :class:`HashReader`."""
    return inject_ocr(HashReader())


@pytest.fixture
def small_tree(sample_data_dir: Path, tmp_path: Path) -> Path:
    """14 sample images (5 PNG and 2 DICOM per class) in a temp folder."""
    return copy_subset(sample_data_dir / "images", tmp_path / "in", n_png=5, n_dcm=2)
