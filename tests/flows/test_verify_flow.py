"""The ``verify`` flow under the Prefect test harness: a tiny probe run over a sanitized small tree."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]
pytest.importorskip("ufmclean.pipeline.scan", reason="the scan stage is not installed")


def test_verify_flow_writes_the_report_and_publishes_counts(small_tree: Path, tmp_path: Path, fake_ocr) -> None:
    from flows.options import SanitizeSettings, VerifySettings
    from flows.sanitize import sanitize
    from flows.verify import verify

    run = tmp_path / "run"
    assert sanitize(str(small_tree), str(run), options=SanitizeSettings(device="cpu"), return_state=True).is_completed()
    settings = VerifySettings(seeds=1, size=32, epochs=1, device="cpu", gradcam_images=1, max_features=3)
    state = verify(str(small_tree), str(run), settings=settings, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    doc = json.loads((run / "verify" / "verify.json").read_text())
    assert Path(summary["html"]) == run / "verify" / "verify.html" and Path(summary["html"]).is_file()
    assert summary["n_features"] == len(doc["summary"]) >= 1
    assert summary["probe"]["before"]["accuracy"] == doc["probe"]["before"]["accuracy"]
    assert {r["feature_id"] for r in summary["rows"]} == {s["feature_id"] for s in doc["summary"]}
    texts = {f["text"] for f in pq.read_table(run / "findings.parquet").to_pylist() if f["text"]}
    assert texts and not [t for t in texts if t in repr(summary)]


def test_verify_flow_rejects_missing_folders(tmp_path: Path) -> None:
    from flows.verify import verify

    state = verify(str(tmp_path / "nope"), str(tmp_path), return_state=True)
    assert state.is_failed() and "does not exist" in state.message
