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
    # no canary in small_tree: no positive control, so no claim either way
    assert summary["verdict"]["status"] == "inconclusive" and summary["verdict"]["canary_detected_before"] is None
    assert summary["verdict"] == {k: doc["verdict"][k] for k in summary["verdict"]}
    texts = {f["text"] for f in pq.read_table(run / "findings.parquet").to_pylist() if f["text"]}
    assert texts and not [t for t in texts if t in repr(summary)]


def test_verify_flow_rejects_missing_folders(tmp_path: Path) -> None:
    from flows.verify import verify

    state = verify(str(tmp_path / "nope"), str(tmp_path), return_state=True)
    assert state.is_failed() and "does not exist" in state.message


def test_verify_markdown_starts_with_the_verdict_and_shows_the_audit() -> None:
    from flows.artifacts import verify_markdown

    summary = {"verdict": {"status": "mitigated", "reason": "Seen before, not after."}, "n_features": 1, "n_seeds": 2,
               "probe": {ph: {"accuracy": 0.8, "device": "cpu"} for ph in ("before", "after")}, "wall_seconds": 1.0,
               "tests": ["white/A"], "rows": [{"feature_id": "canary", "source": "canary", "white/A": "2→0"}],
               "audit": [{"phase": "before", "n_inserted": 50, "n_controls": 50, "auroc": 0.71, "auroc_low": 0.6,
                          "auroc_high": 0.8, "p": 1e-4, "eps_lb": 0.3}]}
    md = verify_markdown(summary)
    assert md.splitlines()[0] == "# Verdict: **mitigated**" and md.splitlines()[2] == "Seen before, not after."
    assert "| before | 50 | 50 | 0.710 | 0.60–0.80 | 0.0001 | 0.30 |" in md
