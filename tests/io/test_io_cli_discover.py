"""``ufmclean discover``: run tables, exit codes, no PHI in output, input untouched."""

from __future__ import annotations

import json

import cv2
import typer
from io_factory import FAKE_NAME, gradient, make_ds, save, tree_digest
from typer.testing import CliRunner

from ufmclean.cli import discover as discover_cli
from ufmclean.tables import read_images_table


def _app() -> typer.Typer:
    app = typer.Typer()
    discover_cli.register(app)

    @app.callback()
    def main() -> None:  # keeps "discover" as a named subcommand
        """test app"""

    return app


def test_discover_writes_tables_and_exit_codes(tmp_path):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    cv2.imwrite(str(src / "a" / "x.png"), gradient())
    save(make_ds(gradient()), src / "a" / "y.dcm")
    (src / "a" / "readme.txt").write_text("hello")
    before = tree_digest(src)
    run = tmp_path / "run"
    res = CliRunner().invoke(_app(), ["discover", str(src), "--out", str(run)])
    assert res.exit_code == 0, res.output
    rows = {r.relpath: r for r in read_images_table(run / "images.parquet")}
    assert rows["a/x.png"].status == "ok" and rows["a/y.dcm"].frames == 1 and rows["a/y.dcm"].label == "a"
    assert rows["a/readme.txt"].status == "skipped"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_ok"] == 2 and summary["n_skipped"] == 1 and summary["n_error"] == 0
    # A truncated DICOM makes the run partial (exit 3) with a per-file error; the walk goes on.
    data = (src / "a" / "y.dcm").read_bytes()
    (src / "a" / "z.dcm").write_bytes(data[:-900])
    res = CliRunner().invoke(_app(), ["discover", str(src), "--out", str(run)])
    assert res.exit_code == 3
    rows = {r.relpath: r for r in read_images_table(run / "images.parquet")}
    assert rows["a/z.dcm"].status == "error" and "truncated" in rows["a/z.dcm"].error
    assert rows["a/x.png"].status == "ok"
    assert FAKE_NAME not in res.output and FAKE_NAME not in (run / "summary.json").read_text()
    assert tree_digest(src) == {**before, "a/z.dcm": tree_digest(src)["a/z.dcm"]}


def test_discover_usage_errors(tmp_path):
    res = CliRunner().invoke(_app(), ["discover", str(tmp_path / "nope"), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    (tmp_path / "in").mkdir()
    res = CliRunner().invoke(_app(), ["discover", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "run")])
    assert res.exit_code == 2 and "inside the input folder" in res.output
