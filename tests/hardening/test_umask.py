"""Issue 16 item 8: outputs honour the process umask (``umask 077`` -> nothing under RUN readable by others)."""

import os
import stat
from pathlib import Path

from tests.hardening.run_helpers import planted_tree, sanitize_cli
from ufmclean.io.atomic import atomic_write_bytes


def test_sanitize_under_umask_077_leaves_nothing_group_or_other_readable(tmp_path: Path, fake_ocr) -> None:
    inp = planted_tree(tmp_path / "in")
    old = os.umask(0o077)
    try:
        assert sanitize_cli(inp, tmp_path / "run") in (0, 3)
    finally:
        os.umask(old)
    run = tmp_path / "run"
    assert (run / "clean").is_dir() and (run / "images.parquet").is_file() and (run / "summary.json").is_file()
    readable = [f"{p.relative_to(run)} {oct(stat.S_IMODE(p.stat().st_mode))}"
                for p in [run, *run.rglob("*")] if p.stat().st_mode & 0o077]
    assert readable == []


def test_requested_mode_is_kept_under_the_usual_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a", b"x", mode=0o644)
        atomic_write_bytes(tmp_path / "b", b"x", mode=0o600)
        os.umask(0o027)
        atomic_write_bytes(tmp_path / "c", b"x", mode=0o644)
    finally:
        os.umask(old)
    modes = {n: stat.S_IMODE((tmp_path / n).stat().st_mode) for n in "abc"}
    assert modes == {"a": 0o644, "b": 0o600, "c": 0o640}
