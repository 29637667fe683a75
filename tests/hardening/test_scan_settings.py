"""Issue 16, 9: sanitize on a scanned run acts on the reviewed findings (the scan's settings), or refuses.

A sanitize without scan options reuses the settings ``ufmclean scan`` recorded, so the scan parts
a reviewer saw are kept (same files, same mtimes); an explicit value that differs is refused with
exit 2 and one line naming it, before anything under RUN changes.
"""

import json
from pathlib import Path

import pytest

from tests.hardening.run_helpers import cli, ocr_double, planted_tree, sanitize_cli
from tests.io.io_factory import tree_digest
from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
from ufmclean.pipeline.scan_settings import ScanSettingsConflict, recorded_scan_settings
from ufmclean.policy import load_policy
from ufmclean.run_dir import RunDir

SCAN_ARGS = ("--strategy", "full", "--no-markers", "--batch-size", "2", "--rare-max-images", "2")


def _parts(run: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in RunDir(run).scan_parts.glob("*.parquet")}


@pytest.fixture()
def scanned(tmp_path: Path, fake_ocr) -> tuple[Path, Path]:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert cli("scan", inp, "--out", run, "--device", "cpu", *SCAN_ARGS) == 0
    return inp, run


def test_scan_records_its_settings(scanned) -> None:
    _, run = scanned
    rec = recorded_scan_settings(run)
    assert rec is not None
    assert (rec["strategy"], rec["markers"], rec["batch_size"], rec["rare_max_images"]) == ("full", False, 2, 2)


def test_sanitize_without_options_reuses_the_scan(scanned, capsys) -> None:
    inp, run = scanned
    parts = _parts(run)
    assert len(parts) == 3  # 6 images in batches of 2
    assert sanitize_cli(inp, run) in (0, 3)
    assert _parts(run) == parts, "the reviewed scan's parts were recomputed or pruned"
    summary = json.loads(RunDir(run).summary.read_text())
    assert summary["settings"]["strategy"] == "full" and summary["settings"]["batch_size"] == 2
    assert summary["settings"]["rare_max_images"] == 2
    assert "error" not in capsys.readouterr().err


def test_sanitize_with_a_conflicting_value_exits_2(scanned, capsys) -> None:
    inp, run = scanned
    before_run, before_in = tree_digest(run), tree_digest(inp)
    capsys.readouterr()
    assert sanitize_cli(inp, run, "--strategy", "fast", "--batch-size", "4", "--no-markers") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    line = err[0]
    assert '--strategy: "full" in the scan, "fast" now' in line
    assert "--batch-size: 2 in the scan, 4 now" in line
    assert "markers" not in line  # the same value as the scan's is no conflict
    assert "--rescan" in line and "--out" in line and "Traceback" not in line
    assert tree_digest(run) == before_run and tree_digest(inp) == before_in


def test_policy_k_that_differs_is_a_conflict_too(scanned, capsys) -> None:
    inp, run = scanned
    before = tree_digest(run)
    assert sanitize_cli(inp, run, "--rare-max-images", "5") == 2
    assert "--rare-max-images: 2 in the scan, 5 now" in capsys.readouterr().err
    assert tree_digest(run) == before


def test_rescan_accepts_the_new_settings(scanned) -> None:
    inp, run = scanned
    old = _parts(run)
    assert sanitize_cli(inp, run, "--strategy", "fast", "--rescan") in (0, 3)
    rec = recorded_scan_settings(run)
    assert rec["strategy"] == "fast"
    assert rec["batch_size"] == 2 and rec["markers"] is False  # the settings not given stay the scan's
    assert not set(_parts(run)) & set(old)  # a new scan: new parts, the old ones pruned


def test_library_driver_reuses_and_refuses(scanned) -> None:
    inp, run = scanned
    parts = _parts(run)
    opts = SanitizeOptions(device="cpu", thumbnails=False, report=False)
    before = tree_digest(run)
    with pytest.raises(ScanSettingsConflict, match="--batch-size: 2 in the scan, 16 now"):
        run_sanitize(inp, run, policy=load_policy(), options=opts, scan_options={"batch_size": 16},
                     engine=ocr_double())
    assert tree_digest(run) == before
    res = run_sanitize(inp, run, policy=load_policy(), options=opts, engine=ocr_double())
    assert res["scan"]["settings"]["strategy"] == "full" and _parts(run) == parts


def test_flow_options_follow_the_scan(scanned) -> None:
    pytest.importorskip("prefect")
    from flows.options import SanitizeSettings
    from flows.sanitize import build_options

    _, run = scanned
    _, scan_opts, san_opts, labels = build_options(SanitizeSettings(device="cpu"), action=None, rare_max_images=None,
                                                   run=run)
    assert (scan_opts.strategy, scan_opts.markers, scan_opts.batch_size, scan_opts.rare_max_images) == ("full", False, 2, 2)
    assert san_opts.batch_size == 2 and labels is None
    with pytest.raises(ScanSettingsConflict, match='--strategy: "full" in the scan, "fast" now'):
        build_options(SanitizeSettings(strategy="fast"), action=None, rare_max_images=None, run=run)
    _, again, _, _ = build_options(SanitizeSettings(strategy="fast", rescan=True), action=None, rare_max_images=None,
                                   run=run)
    assert again.strategy == "fast" and again.batch_size == 2
