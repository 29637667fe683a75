"""How many workers the CLI starts when none is named, and how a small set is spread over them."""

import pytest

from ufmclean.errors import UsageError
from ufmclean.pipeline.workers import default_workers, spread_batch_size


def test_default_workers_follow_the_environment_else_the_cores(monkeypatch):
    monkeypatch.setenv("UFMCLEAN_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("UFMCLEAN_WORKERS")
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert default_workers() == 6
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("UFMCLEAN_WORKERS", bad)
        with pytest.raises(UsageError, match="UFMCLEAN_WORKERS"):
            default_workers()


def test_a_small_set_gives_every_worker_two_batches_and_a_big_one_keeps_its_batch_size():
    assert spread_batch_size(8, 16, 2) == 1  # 8 batches for 2 workers, not one batch in one process
    assert spread_batch_size(32, 16, 2) == 4
    assert spread_batch_size(3, 16, 2) == 1
    assert spread_batch_size(1000, 16, 2) == 16
    assert spread_batch_size(8, 16, 1) == 16  # one process: batching only sets the resume points
    assert spread_batch_size(0, 16, 4) == 16


def test_a_scan_with_two_workers_over_a_small_set_writes_one_part_per_batch_and_records_the_batch_size(tmp_path):
    import json

    import numpy as np
    from PIL import Image

    from ufmclean.pipeline.scan import ScanOptions, run_scan
    from ufmclean.run_dir import RunDir

    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(src / f"img{i}.png")
    # workers=2 on 4 images: batches of 1, in 2 spawned processes (blank frames: no OCR text).
    run_scan(src, tmp_path / "run", options=ScanOptions(device="cpu"), workers=2)
    rd = RunDir.of(tmp_path / "run")
    assert len(list(rd.scan_parts.glob("*.parquet"))) == 4
    assert json.loads(rd.scan_settings.read_text())["settings"]["batch_size"] == 1
