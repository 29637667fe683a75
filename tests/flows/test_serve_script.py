"""scripts/serve.sh's polling helper: it must really wait for what it polls (make demo raced serve before)."""

import re
import subprocess
from pathlib import Path

SERVE_SH = Path(__file__).resolve().parents[2] / "scripts" / "serve.sh"


def _wait(*args: str) -> int:
    """Exit code of ``_ufm_wait ARGS...`` run in a bash that sourced serve.sh (PID = that bash)."""
    script = f'source "{SERVE_SH}"; _ufm_wait {" ".join(args)}'
    return subprocess.run(["bash", "-c", script], capture_output=True, timeout=60).returncode


def test_wait_succeeds_when_the_command_does():
    assert _wait("5", "$$", "x", "true") == 0


def test_wait_times_out_on_a_failing_command():
    assert _wait("1", "$$", "x", "false") == 1


def test_wait_gives_up_when_the_process_is_gone():
    assert _wait("30", "999999999", "x", "false") == 1


def test_wait_without_a_command_is_an_error_not_success():
    assert _wait("5", "$$", "x") == 2


def test_every_wait_call_names_a_pid_a_description_and_a_command():
    calls = [ln.strip() for ln in SERVE_SH.read_text().splitlines() if re.match(r"\s*_ufm_wait\s", ln)]
    assert calls, "serve.sh no longer polls anything"
    for call in calls:
        words = call.split("||")[0].split()
        assert words[2].startswith('"$UFM_') and len(words) >= 5, call
