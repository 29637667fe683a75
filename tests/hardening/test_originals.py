"""Originals never change (scan, sanitize, canary, verify through the CLI) and outputs stay inside RUN."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.io.io_factory import tree_digest
from ufmclean.cli.main import main
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox

NAME_BOX = BBox(4, 40, 50, 48)


def _dataset(root: Path, outside: Path) -> Path:
    rng = np.random.default_rng(7)
    for label in ("normal", "pneumonia"):
        for i in range(6):
            img = rng.integers(40, 60, (64, 64), dtype=np.uint8)
            img[8:32, 20:44] += 60 if label == "pneumonia" else 0
            if i == 2:
                img[42:46, 5:49:3] = 250  # the one image with a burned-in "name"
            (root / label).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / label / f"{label}_{i}.png"), img)
    outside.mkdir(parents=True, exist_ok=True)
    target = outside / "victim.png"
    target.write_bytes(cv2.imencode(".png", np.full((64, 64), 50, np.uint8))[1].tobytes())
    (root / "normal" / "linked_outside.png").symlink_to(target)  # a symlink to a file outside the input
    return root


@pytest.fixture()
def fake_ocr(inject_ocr) -> FakeOcrEngine:
    return inject_ocr(FakeOcrEngine([(NAME_BOX, "DOE, JOHN")]))


def _inside(run: Path) -> None:
    for dirpath, dirnames, files in os.walk(run):
        for name in files + dirnames:
            path = Path(dirpath, name)
            assert not path.is_symlink(), f"{path} is a symlink"
            assert path.resolve().is_relative_to(run.resolve()), f"{path} escapes the run folder"


@pytest.mark.slow
def test_cli_stages_leave_inputs_byte_identical(tmp_path: Path, fake_ocr) -> None:
    inp = _dataset(tmp_path / "in", tmp_path / "outside")
    before, outside_before = tree_digest(inp), tree_digest(tmp_path / "outside")
    run, canaried, verify = tmp_path / "run", tmp_path / "canaried", tmp_path / "verify"
    assert main(["scan", str(inp), "--out", str(run)]) == 0
    assert main(["sanitize", str(inp), "--out", str(run)]) == 0
    assert main(["canary", str(inp), "--text", "JANE CANARY", "--k", "1", "--out", str(canaried)]) == 0
    assert main(["verify", "--original", str(inp), "--sanitized", str(run), "--seeds", "1", "--epochs", "1",
                 "--size", "64", "--gradcam-images", "0", "--device", "cpu", "--out", str(verify)]) == 0
    assert tree_digest(inp) == before, "the input tree changed"
    assert tree_digest(tmp_path / "outside") == outside_before, "a file outside the input changed"
    _inside(run)
    assert (run / "clean" / "normal" / "linked_outside.png").is_file()
    assert not (run / "clean" / "normal" / "linked_outside.png").is_symlink()


def test_run_folder_inside_input_is_refused(tmp_path: Path, fake_ocr) -> None:
    inp = _dataset(tmp_path / "in", tmp_path / "outside")
    before = tree_digest(inp)
    assert main(["scan", str(inp), "--out", str(inp / "run")]) == 2
    assert main(["sanitize", str(inp), "--out", str(inp / "normal" / "run")]) == 2
    assert tree_digest(inp) == before and not (inp / "run").exists()


@pytest.mark.parametrize("relpath", ["../escape.png", "/etc/passwd", "a/../../escape.png"])
def test_relative_paths_cannot_escape(tmp_path: Path, relpath: str) -> None:
    from ufmclean.errors import UsageError
    from ufmclean.io import safe_join

    with pytest.raises(UsageError):
        safe_join(tmp_path / "run" / "clean", relpath)
