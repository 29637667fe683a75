"""The sanitize flow on a local Dask cluster (2 worker processes, real easyocr) gives the thread runner's outputs."""

from pathlib import Path

import pytest
from flow_helpers import copy_subset, run_flow, snapshot

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.ocr, pytest.mark.usefixtures("prefect_harness")]
pytest.importorskip("ufmclean.pipeline.scan", reason="the scan stage is not installed")


def test_dask_local_cluster_matches_threads(sample_data_dir: Path, tmp_path: Path) -> None:
    inp = copy_subset(sample_data_dir / "images", tmp_path / "in", n_png=3, n_dcm=1)
    threads = run_flow(inp, tmp_path / "threads", settings={"batch_size": 2})
    assert threads.is_completed(), threads.message
    # The same pseudonym key (a run folder's secret): DICOM headers get the same pseudonyms, so bytes can match.
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "pseudonym.key").write_bytes((tmp_path / "threads" / "pseudonym.key").read_bytes())
    dask = run_flow(inp, tmp_path / "dask", settings={"batch_size": 2}, runner="dask", workers=2)
    assert dask.is_completed(), dask.message
    summary = dask.result()
    assert summary["runner"] == "dask" and summary["workers"] == 2
    assert summary["batches"]["scan"]["computed"] == summary["batches"]["scan"]["n"] == 4
    ref = snapshot(tmp_path / "threads")
    assert ref["findings"], "the real OCR read nothing on the sample images"
    assert snapshot(tmp_path / "dask") == ref
