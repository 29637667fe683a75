"""The ``sanitize`` flow under the Prefect test harness, with a deterministic OCR double.

Must show (issue 6): the flow writes the same run folder as the CLI; a rerun after a crash
recomputes only the unfinished batches; a cached batch whose outputs vanished is recomputed;
nothing recognised reaches Prefect (results, artifacts, logs).
"""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from flow_helpers import run_flow, snapshot

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]
pytest.importorskip("ufmclean.pipeline.scan", reason="the scan stage is not installed")

def test_flow_writes_the_same_run_folder_as_the_cli(small_tree: Path, tmp_path: Path, fake_ocr) -> None:
    from ufmclean.cli.main import main

    assert main(["sanitize", str(small_tree), "--out", str(tmp_path / "cli"), "--device", "cpu"]) in (0, 3)
    # Smaller batches than the CLI's 16: the result must not depend on how the work was cut. The same
    # pseudonym key (a run folder's secret): DICOM headers get the same pseudonyms, so bytes can match.
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "pseudonym.key").write_bytes((tmp_path / "cli" / "pseudonym.key").read_bytes())
    state = run_flow(small_tree, tmp_path / "flow", settings={"batch_size": 4})
    assert state.is_completed()
    summary = state.result()
    cli, flw = snapshot(tmp_path / "cli"), snapshot(tmp_path / "flow")
    assert len(cli["images"]) == 14 and cli["findings"] and cli["clean"]
    assert any(f["action"] in ("inpaint", "mask") for f in cli["findings"])
    assert flw == cli
    assert summary["n_images"] == 14
    assert summary["batches"]["scan"]["n"] == 4 and summary["batches"]["scan"]["computed"] == 4
    assert Path(summary["report"]).is_file()
    assert fake_ocr.calls > 0


@pytest.mark.slow
def test_flow_matches_the_cli_on_all_of_sample_data(sample_data_dir: Path, tmp_path: Path, fake_ocr) -> None:
    from ufmclean.cli.main import main

    inp = sample_data_dir / "images"
    assert main(["sanitize", str(inp), "--out", str(tmp_path / "cli"), "--device", "cpu"]) in (0, 3)
    # The same pseudonym key: DICOM headers then get the same pseudonyms, so clean/ bytes can match.
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "pseudonym.key").write_bytes((tmp_path / "cli" / "pseudonym.key").read_bytes())
    state = run_flow(inp, tmp_path / "flow", settings={"batch_size": 24})
    assert state.is_completed()
    cli = snapshot(tmp_path / "cli")
    assert len(cli["images"]) == 200 and len(cli["clean"]) > 100
    assert snapshot(tmp_path / "flow") == cli


def _artifacts_and_logs(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    import time

    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # run logs reach the API in batches
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        for _ in range(50):
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            if any("sanitized" in lg.message for lg in logs):
                break
            time.sleep(0.2)
    assert {a.key for a in arts} >= {"sanitize-summary", "sanitize-reasons", "sanitize-report", "sanitize-progress"}
    progress = [a for a in arts if a.type == "progress"]
    assert progress and progress[0].data == 100.0
    return "\n".join([str(a.data) for a in arts] + [str(a.description) for a in arts] + [lg.message for lg in logs])


def test_nothing_recognised_reaches_prefect(small_tree: Path, tmp_path: Path, fake_ocr) -> None:
    state = run_flow(small_tree, tmp_path / "run")
    summary = state.result()
    texts = {r["text"] for r in pq.read_table(tmp_path / "run" / "findings.parquet").to_pylist() if r["text"]}
    assert texts, "the OCR double read nothing: the check below would be empty"
    published = _artifacts_and_logs(state.state_details.flow_run_id) + repr(summary)
    assert "sanitized 14 files" in published and "rare" in published
    leaked = [t for t in texts if t in published]
    assert not leaked, f"{len(leaked)} recognised strings reached Prefect"


def test_rerun_after_a_crash_recomputes_only_unfinished_batches(small_tree: Path, tmp_path: Path, fake_ocr,
                                                                monkeypatch) -> None:
    import flows.sanitize as fs
    from ufmclean.pipeline.sanitize import make_id_batches

    real = fs.sanitize_stage.sanitize_batch
    crash: dict = {"on": True, "calls": [], "crashed": None}

    def crashing(image_ids, **kw):
        crash["calls"].append(list(image_ids))
        if crash["on"] and len(crash["calls"]) == 2:
            crash["crashed"] = list(image_ids)
            raise RuntimeError("simulated crash")
        return real(image_ids, **kw)

    monkeypatch.setattr(fs.sanitize_stage, "sanitize_batch", crashing)
    # No retry delays in the test (retries are not part of the task's cache key).
    monkeypatch.setattr(fs, "sanitize_batch_task", fs.sanitize_batch_task.with_options(retries=0))
    run = tmp_path / "run"
    crashed = run_flow(small_tree, run, settings={"batch_size": 4})
    assert crashed.is_failed()
    n_batches = len(make_id_batches(run, batch_size=4))
    assert n_batches >= 3 and crash["crashed"]
    assert len(list((run / ".work" / "sanitize").glob("*.parquet"))) == n_batches - 1
    assert not (run / "report.html").exists()

    crash["on"], crash["calls"] = False, []
    resumed = run_flow(small_tree, run, settings={"batch_size": 4})
    assert resumed.is_completed()
    b = resumed.result()["batches"]
    assert b["scan"]["computed"] == 0 and b["scan"]["from_cache"] == b["scan"]["n"]
    assert b["sanitize"] == {**b["sanitize"], "n": n_batches, "from_cache": n_batches - 1, "computed": 1, "failed": 0}
    assert crash["calls"] == [crash["crashed"]]  # the library ran again for the unfinished batch only
    assert (run / "report.html").is_file()


def test_cached_batches_whose_outputs_vanished_are_recomputed(small_tree: Path, tmp_path: Path, fake_ocr) -> None:
    run = tmp_path / "run"
    first = run_flow(small_tree, run, settings={"batch_size": 4})
    assert first.is_completed()
    before = snapshot(run)
    scan_parts = sorted((run / ".work" / "scan").glob("*.parquet"))
    scan_parts[0].unlink()                                   # a scan part is gone
    victim = sorted(before["clean"])[-1]
    (run / "clean" / victim).unlink()                        # a clean file of some sanitize batch is gone
    again = run_flow(small_tree, run, settings={"batch_size": 4})
    assert again.is_completed()
    b = again.result()["batches"]
    assert b["scan"]["computed"] == 1 and b["scan"]["from_cache"] == b["scan"]["n"] - 1
    assert b["sanitize"]["computed"] == 1 and b["sanitize"]["from_cache"] == b["sanitize"]["n"] - 1
    assert snapshot(run) == before


def test_bad_parameters_fail_before_any_work(tmp_path: Path) -> None:
    state = run_flow(tmp_path / "missing", tmp_path / "run")
    assert state.is_failed()
    assert not (tmp_path / "run").exists()
