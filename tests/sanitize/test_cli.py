"""CLI wiring of ``sanitize`` and ``report``: exit codes and messages (no OCR model)."""

from __future__ import annotations

import stat

import typer
from typer.testing import CliRunner

from ufmclean.cli import report as report_cli
from ufmclean.cli import sanitize as sanitize_cli

from ufmclean.tables import write_findings_table

from .test_report import PHI, _rows, _write_images


def _app() -> typer.Typer:
    app = typer.Typer()
    sanitize_cli.register(app)
    report_cli.register(app)
    return app


def test_usage_errors_exit_2(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(_app(), ["sanitize", str(tmp_path), "--out", str(tmp_path / "run"), "--action", "blur"])
    assert res.exit_code == 2 and "action" in res.output
    res = runner.invoke(_app(), ["sanitize", str(tmp_path / "absent"), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(_app(), ["report", str(tmp_path)])
    assert res.exit_code == 2 and "images.parquet" in res.output


def test_report_rebuild_masks_unless_show_text(tmp_path) -> None:
    images, findings = _rows()
    _write_images(images, tmp_path / "images.parquet")
    write_findings_table(tmp_path / "findings.parquet", findings)
    runner = CliRunner()
    res = runner.invoke(_app(), ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    assert not any(s in html for s in PHI) and not any(s in res.output for s in PHI)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o600
    res = runner.invoke(_app(), ["report", str(tmp_path), "--show-text"])
    assert res.exit_code == 0 and all(s in (tmp_path / "report.html").read_text() for s in PHI)


def test_show_policy_prints_a_loadable_default(tmp_path) -> None:
    from ufmclean.policy import default_policy, load_policy

    res = CliRunner().invoke(_app(), ["sanitize", "--show-policy"])
    assert res.exit_code == 0
    path = tmp_path / "p.toml"
    path.write_text(res.output)
    assert load_policy(path) == default_policy()
