"""Shared test fixtures.

Prefect's test home is isolated before anything imports prefect (flows tests use the harness).
"""

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

_prefect_home = tempfile.mkdtemp(prefix="ufm-prefect-test-home-")
atexit.register(shutil.rmtree, _prefect_home, ignore_errors=True)
os.environ.update(
    PREFECT_HOME=_prefect_home, DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false"
)
os.environ.pop("PREFECT_API_URL", None)
# The CLI's default is one worker process per core; tests that give an in-process engine (a fake
# or a loaded model) run in this process unless they ask for workers themselves.
os.environ["UFMCLEAN_WORKERS"] = "1"
# What ufmclean derives from its packages (the name lexicon) is cached in a folder of the test run's own.
_cache_home = tempfile.mkdtemp(prefix="ufm-cache-test-")
atexit.register(shutil.rmtree, _cache_home, ignore_errors=True)
os.environ["UFMCLEAN_CACHE"] = _cache_home

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_DATA = REPO_ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _no_root_log_handler_on_a_closed_stream():
    """Drop root-logger handlers left writing to a closed stream before each test.

    Prefect's logging set-up (the flow tests) adds its console handler to the root logger, bound
    to the stream pytest was capturing then; once that is closed, every later log record of any
    test printed '--- Logging error ---' to stderr, and a test that checks stderr failed.
    """
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        console = getattr(handler, "console", None)  # rich-based handlers (Prefect's) keep it there
        stream = getattr(console, "file", None) or getattr(handler, "stream", None)
        if getattr(stream, "closed", False):
            root.removeHandler(handler)
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    """The committed synthetic sample dataset."""
    if not (SAMPLE_DATA / "ground_truth.json").is_file():
        pytest.skip("sample_data/ has not been generated")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def sample_scan_run(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-OCR scan (CPU, default options) of ``sample_data/images``, run once per session.

    Other stages' tests copy its ``.work/scan`` parts into their own run folders, so the scan is
    reused instead of repeated (the parts are keyed on content and detection settings).
    """
    from ufmclean.pipeline.scan import ScanOptions, run_scan

    run = tmp_path_factory.mktemp("sample-scan") / "run"
    run_scan(sample_data_dir / "images", run, options=ScanOptions(device="cpu"))
    return run


@pytest.fixture
def inject_ocr():
    """``inject_ocr(engine)`` makes every ``ufmclean.ocr.get_engine`` call return ``engine`` for the test
    (through the public :func:`ufmclean.ocr.use_engine`); returns the engine."""
    from ufmclean.ocr import use_engine

    with contextlib.ExitStack() as stack:
        yield lambda engine: stack.enter_context(use_engine(engine))

