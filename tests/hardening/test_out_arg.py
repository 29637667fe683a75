"""Issue 16, 11: an unwritable, empty or odd ``--out`` is exit 2 with one clear line; long names work."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardening.run_helpers import cli, planted_tree, sanitize_cli
from tests.io.io_factory import tree_digest
from ufmclean.io.atomic import atomic_write_bytes

REPO = Path(__file__).resolve().parents[2]


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("out, says", [("", "--out is empty"), ("   ", "--out is empty"),
                                       ("run\nx", "control characters"), ("a\tb", "control characters"),
                                       ("x" * 300, "at most 255 fit")])
@pytest.mark.parametrize("command", ["scan", "sanitize", "discover"])
def test_empty_or_odd_out_is_exit_2(tmp_path: Path, fake_ocr, capsys, monkeypatch, command: str, out: str,
                                    says: str) -> None:
    inp = planted_tree(tmp_path / "in")
    monkeypatch.chdir(tmp_path)  # where '' used to write
    before = set(os.listdir(tmp_path))
    assert cli(command, inp, "--out", out) == 2
    assert says in _one_line(capsys.readouterr().err)
    assert set(os.listdir(tmp_path)) == before


def test_out_below_a_file_is_exit_2(tmp_path: Path, fake_ocr, capsys) -> None:
    inp = planted_tree(tmp_path / "in")
    (tmp_path / "file").write_text("x")
    assert sanitize_cli(inp, tmp_path / "file" / "run") == 2
    assert "cannot create run folder" in _one_line(capsys.readouterr().err)
    assert sanitize_cli(inp, tmp_path / "file") == 2
    assert "is not a folder" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("case", ["parent-read-only", "run-read-only"])
def test_unwritable_out_is_exit_2(tmp_path: Path, case: str) -> None:
    """As root, write permission is dropped with setpriv (the issue's reproduction)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop root's override of file permissions")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    inp = planted_tree(tmp_path / "in")
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro / "run"
    if case == "run-read-only":
        out.mkdir()
    ro.chmod(0o555)
    out.chmod(0o555) if out.exists() else None
    before = tree_digest(tmp_path)
    code = "import sys; from ufmclean.cli.main import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run([*prefix, sys.executable, "-c", code, "scan", str(inp), "--out", str(out)],
                         env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    line = _one_line("\n".join(x for x in res.stderr.splitlines() if not x.startswith("INFO ")))
    assert "writable --out" in line and str(out) in line
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize("length", [250, 255])
def test_file_names_up_to_name_max_are_written(tmp_path: Path, length: int) -> None:
    name = "n" * (length - 4) + ".bin"
    dest = atomic_write_bytes(tmp_path / name, b"data")
    assert dest.read_bytes() == b"data" and os.listdir(tmp_path) == [name]


def test_a_250_byte_file_name_is_sanitized(tmp_path: Path, fake_ocr, capsys) -> None:
    """It used to end in "internal error ... please report it": the temporary name exceeded NAME_MAX."""
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    long_name = "p" * 246 + ".png"
    os.rename(inp / "a" / "img_2.png", inp / "a" / long_name)  # the one that is inpainted and written
    os.rename(inp / "b" / "img_1.png", inp / "b" / ("q" * 246 + ".png"))  # copied
    assert sanitize_cli(inp, run) == 0, capsys.readouterr().err
    assert (run / "clean" / "a" / long_name).is_file()
    assert (run / "clean" / "b" / ("q" * 246 + ".png")).is_file()
    assert not list(run.rglob("*.tmp"))
