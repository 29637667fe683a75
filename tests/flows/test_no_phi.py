"""No PHI in logs (issue 7): a sanitize flow on DICOMs whose header and pixels carry known fake PHI.

None of those strings may appear in captured stdout/stderr, the flow's and tasks' Prefect logs, its
artifacts, the Prefect database file, or Prefect's result storage; the PHI-bearing outputs are 0600.
"""

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from tests.io.io_factory import FAKE_DOB, FAKE_ID, FAKE_NAME, make_ds, save
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

PLANTED = [(BBox(4, 4, 60, 12), "ZZTESTNAME QWERTY"), (BBox(4, 20, 60, 28), FAKE_ID), (BBox(4, 36, 60, 44), "1971-03-04")]
NEEDLES = ["ZZTESTNAME", "QWERTY", FAKE_ID, FAKE_DOB, "1971-03-04", FAKE_NAME]


@pytest.fixture
def phi_tree(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    for i in range(4):
        arr = rng.integers(40, 60, (64, 80), dtype=np.uint8)
        for box, _ in PLANTED:
            arr[box.y0 + 2 : box.y1 - 2, box.x0 + 1 : box.x1 - 1 : 3] = 250
        save(make_ds(arr), tmp_path / "in" / f"img_{i}.dcm")
    return tmp_path / "in"


@pytest.fixture
def planted_ocr(inject_ocr) -> FakeOcrEngine:
    return inject_ocr(FakeOcrEngine(PLANTED))


def _published(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        task_runs = client.read_task_runs()
    assert arts and logs, "nothing was published: the check would be empty"
    parts = [str(a.data) for a in arts] + [str(a.description) for a in arts] + [lg.message for lg in logs]
    parts += [str(t.state.message if t.state else "") + str(t.name) for t in task_runs]
    return "\n".join(parts)


def _files_under(root: Path) -> list[Path]:
    return [Path(d, f) for d, _, fs in os.walk(root) for f in fs]


def test_no_phi_reaches_logs_artifacts_or_the_prefect_database(phi_tree: Path, tmp_path: Path, planted_ocr,
                                                                capfd) -> None:
    import pyarrow.parquet as pq
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_HOME

    from flows.options import SanitizeSettings
    from flows.sanitize import sanitize

    run = tmp_path / "run"
    state = sanitize(str(phi_tree), str(run), options=SanitizeSettings(device="cpu", batch_size=2), return_state=True)
    assert state.is_completed()
    texts = {r["text"] for r in pq.read_table(run / "findings.parquet").to_pylist()}
    assert {"ZZTESTNAME QWERTY", FAKE_ID, "1971-03-04"} <= texts, "the PHI was not found: the check would be empty"
    out = capfd.readouterr()
    published = _published(state.state_details.flow_run_id) + repr(state.result())
    for where, text in (("stdout/stderr", out.out + out.err), ("Prefect logs/artifacts/results", published)):
        leaked = [n for n in NEEDLES if n in text]
        assert not leaked, f"{leaked} reached {where}"
    db_url = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    stores = [Path(db_url.split(":///", 1)[1])] if ":///" in db_url else []
    stores += _files_under(Path(PREFECT_HOME.value()))
    checked = 0
    for path in stores:
        for candidate in (path, Path(str(path) + "-wal")):
            if candidate.is_file():
                data = candidate.read_bytes()
                checked += 1
                leaked = [n for n in NEEDLES if n.encode() in data]
                assert not leaked, f"{leaked} stored in {candidate}"
    assert checked, "no Prefect database or storage file was found to check"
    for path in [run / "findings.parquet", run / "report.html", *(run / ".work").rglob("*.parquet")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
