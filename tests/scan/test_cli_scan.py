"""``ufmclean scan``: exit codes, --fail-on, outputs, no recognised text on the console."""

from pathlib import Path

import pytest

from ufmclean.cli.main import main
from ufmclean.ocr.fake import FakeOcrEngine
from tests.scan.test_pipeline_scan import COMMON_BOX, NAME_BOX, _tree


@pytest.fixture()
def fake_engine(inject_ocr) -> FakeOcrEngine:
    return inject_ocr(FakeOcrEngine([(COMMON_BOX, "PORTABLE"), (NAME_BOX, "DOE, JOHN")]))


def _scan(tmp_path: Path, *extra: str, broken: bool = True) -> int:
    inp = _tree(tmp_path)
    if not broken:
        (inp / "b" / "broken.png").unlink()
    return main(["scan", str(inp), "--out", str(tmp_path / "run"), "--no-markers", "--batch-size", "4", *extra])


def test_partial_run_exits_3_and_writes_tables(tmp_path: Path, fake_engine, capsys) -> None:
    assert _scan(tmp_path) == 3
    for name in ("images.parquet", "findings.parquet", "summary.json"):
        assert (tmp_path / "run" / name).is_file()
    out = capsys.readouterr()
    assert "DOE" not in out.out + out.err and "PORTABLE" not in out.out + out.err
    assert "1 errors" in out.err


def test_clean_run_exits_0(tmp_path: Path, fake_engine) -> None:
    assert _scan(tmp_path, broken=False) == 0


@pytest.mark.parametrize(("fail_on", "code"), [("rare", 4), ("phi", 4), ("any", 4)])
def test_fail_on_matches_exit_4(tmp_path: Path, fake_engine, fail_on: str, code: int) -> None:
    assert _scan(tmp_path, "--fail-on", fail_on) == code


def test_fail_on_without_matches_keeps_the_normal_code(tmp_path: Path, inject_ocr) -> None:
    inject_ocr(FakeOcrEngine([(COMMON_BOX, "PORTABLE")]))
    assert _scan(tmp_path, "--fail-on", "any", broken=False) == 0


@pytest.mark.parametrize("args", [["--fail-on", "names"], ["--device", "tpu"], ["--rare-max-images", "0"],
                                  ["--strategy", "slow"], ["--workers", "0"]])
def test_usage_errors_exit_2(tmp_path: Path, fake_engine, args: list[str]) -> None:
    assert _scan(tmp_path, *args) == 2


def test_missing_input_exits_2(tmp_path: Path) -> None:
    assert main(["scan", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 2
