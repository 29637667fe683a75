"""One run per run folder: a second run refuses (exit 2), a dead run's lock is taken over with a warning."""

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.hardening.run_helpers import planted_tree, sanitize_cli
from tests.io.io_factory import tree_digest
from ufmclean.run_dir import RunDir, open_run
from ufmclean.run_lock import RunLockedError, hold_run_lock, lock_holder

HOLDER = textwrap.dedent("""
    import sys, time
    from ufmclean.run_lock import hold_run_lock
    with hold_run_lock(sys.argv[1], command="sanitize"):
        print("held", flush=True)
        sys.stdin.readline()
""")


@pytest.fixture()
def held_elsewhere(tmp_path: Path):
    """A separate process holding ``tmp_path/run``'s lock until the test ends; yields (run, pid)."""
    run = tmp_path / "run"
    run.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(RunDir(run).lock)], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == "held"
    yield run, child.pid
    child.stdin.write("\n")
    child.stdin.close()
    child.wait(timeout=30)


def test_a_second_run_is_refused_while_one_holds_the_folder(tmp_path: Path, held_elsewhere, fake_ocr,
                                                             capsys) -> None:
    run, pid = held_elsewhere
    inp = planted_tree(tmp_path / "in")
    before = tree_digest(run)
    assert sanitize_cli(inp, run) == 2
    err = capsys.readouterr().err
    assert f"in use by another ufmclean run (PID {pid} on host {socket.gethostname()}" in err
    assert "Traceback" not in err and len([x for x in err.splitlines() if x.strip()]) == 1
    assert tree_digest(run) == before, "the refused run wrote into the folder"
    assert lock_holder(RunDir(run).lock)["pid"] == pid


def test_the_lock_is_free_again_after_a_run(tmp_path: Path, fake_ocr) -> None:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 0
    assert not RunDir(run).lock.exists()
    with pytest.raises(ZeroDivisionError), open_run(inp, run):
        raise ZeroDivisionError  # a run that fails still releases the folder
    assert not RunDir(run).lock.exists()
    assert sanitize_cli(inp, run) == 0


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path, fake_ocr, caplog) -> None:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.mkdir()
    RunDir(run).lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                            "started": "2024-01-01T00:00:00", "command": "sanitize"}))
    with caplog.at_level(logging.WARNING, logger="ufmclean.run_lock"):
        assert sanitize_cli(inp, run) == 0
    assert f"taking over the lock of PID {dead.pid}" in caplog.text
    assert (run / "clean" / "a" / "img_0.png").is_file() and not RunDir(run).lock.exists()


def test_a_lock_written_on_another_host_is_not_taken_over(tmp_path: Path, fake_ocr, capsys) -> None:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    run.mkdir()
    lock = RunDir(run).lock
    lock.write_text(json.dumps({"pid": 1, "host": "other-node", "started": "2024-01-01T00:00:00"}))
    assert sanitize_cli(inp, run) == 2
    err = capsys.readouterr().err
    assert "locked by a run on host other-node" in err and "ufmclean.lock" in err
    assert not (run / "clean").exists()


def test_reentrant_in_one_thread_exclusive_between_threads(tmp_path: Path) -> None:
    lock = tmp_path / "ufmclean.lock"
    seen: list[str] = []

    def other() -> None:
        try:
            with hold_run_lock(lock):
                seen.append("held")
        except RunLockedError:
            seen.append("refused")

    with hold_run_lock(lock, command="outer"):
        with hold_run_lock(lock, command="inner"):  # run_sanitize -> run_scan
            assert lock_holder(lock)["command"] == "outer"
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert lock.exists()
    assert seen == ["refused"] and not lock.exists()
