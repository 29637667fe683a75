"""The installed entry point builds every registered subcommand and runs one end to end."""

import json

import numpy as np
import cv2

from ufmclean.cli.main import SUBCOMMAND_MODULES, main


def test_every_subcommand_has_help(capsys):
    for name in SUBCOMMAND_MODULES:
        assert main([name, "--help"]) == 0
        assert "Usage" in capsys.readouterr().out


def test_discover_through_entry_point(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    cv2.imwrite(str(data / "a.png"), np.zeros((8, 8), np.uint8))
    (data / "notes.txt").write_text("not an image")
    run = tmp_path / "run"
    assert main(["discover", str(data), "--out", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())
    assert (run / "images.parquet").is_file()
    import pyarrow.parquet as pq

    statuses = sorted(pq.read_table(run / "images.parquet").column("status").to_pylist())
    assert statuses == ["ok", "skipped"]


def test_usage_error_exit_code():
    assert main(["discover"]) == 2
