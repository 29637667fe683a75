"""One run per run folder: an exclusive lock file holding the holder's PID, host and start time.

The lock is an ``flock`` on ``RUN/ufmclean.lock`` (released by the kernel when the holder dies, so a
crash never leaves the folder locked on this host) plus the holder's identity written into the
file, which a refusal quotes. A lock file whose holder is gone — no ``flock`` held and, on this
host, no live process with its PID — is taken over with a warning. A lock written on another host
is never taken over (``flock`` may not reach across a network file system): the message says how to
clear it. The lock is re-entrant within one thread (``run_sanitize`` runs ``run_scan`` inside it);
another thread of the same process is refused like another process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ufmclean.errors import UsageError

__all__ = ["LOCK_MODE", "RunLockedError", "hold_run_lock", "lock_holder"]

log = logging.getLogger(__name__)

LOCK_MODE = 0o644
_HELD: dict[tuple[str, int], list[Any]] = {}  # (lock path, thread) -> [fd, depth], for re-entry
_GUARD = threading.Lock()


class RunLockedError(UsageError):
    """Another run holds the run folder (CLI exit code 2, like every usage error)."""


def lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The identity written into a lock file (``{"pid", "host", "started", "command"}``), or ``None``."""
    try:
        data = json.loads(Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another ufmclean run"
    return f"another ufmclean run (PID {holder.get('pid')} on host {holder.get('host')}, since {holder.get('started')})"


def _unwritable(folder: Path, exc: OSError) -> UsageError:
    return UsageError(f"run folder {folder} is not writable ({exc.strerror or exc}); choose a writable --out")


def _open_locked(path: Path, folder: Path) -> int:
    """Open ``path`` and take its flock; retries when the file was replaced meanwhile. Returns the fd."""
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, LOCK_MODE)
        except OSError as exc:
            raise _unwritable(folder, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise RunLockedError(f"run folder {folder} is in use by {_describe(lock_holder(path))}; "
                                     "wait for it to finish or choose another --out") from None
            raise UsageError(f"cannot lock run folder {folder} ({exc.strerror or exc})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder released and removed it between our open and flock: try again
    raise RunLockedError(f"run folder {folder} is being locked and released repeatedly; try again")


def _take_over_check(path: Path, folder: Path, fd: int) -> None:
    """We hold the flock; refuse a lock file left by another host, warn when taking over a dead run's."""
    holder = lock_holder(path)
    if not holder:
        return
    host, pid = holder.get("host"), holder.get("pid")
    if host != socket.gethostname():
        os.close(fd)
        raise RunLockedError(
            f"run folder {folder} is locked by a run on host {host} (PID {pid}, since {holder.get('started')}); "
            f"if no run is active there, delete {path} and try again")
    if isinstance(pid, int) and pid != os.getpid():
        state = "no longer running" if not _pid_alive(pid) else "not holding the lock (PID reused?)"
        log.warning("run folder %s: taking over the lock of PID %s, which is %s (an earlier run stopped "
                    "without finishing; it resumes from its finished batches)", folder, pid, state)


@contextlib.contextmanager
def hold_run_lock(path: str | os.PathLike[str], *, command: str = "") -> Iterator[dict[str, Any]]:
    """Hold the run folder's lock for the ``with`` block; yields the identity written into it.

    Raises :class:`RunLockedError` when another live run (another process, or another thread of
    this one) holds it and :class:`UsageError` when the folder cannot be written. Re-entrant in the
    holding thread. The lock file is removed on exit.
    """
    lock = Path(path)
    key = (str(lock.resolve()), threading.get_ident())
    folder = lock.parent
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
    if held is not None:
        try:
            yield lock_holder(lock) or {}
        finally:
            with _GUARD:
                held[1] -= 1
        return
    fd = _open_locked(lock, folder)
    _take_over_check(lock, folder, fd)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "command": command}
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        raise _unwritable(folder, exc) from None
    with _GUARD:
        _HELD[key] = [fd, 1]
    try:
        yield me
    finally:
        with _GUARD:
            _HELD.pop(key, None)
        with contextlib.suppress(OSError):
            lock.unlink()  # before releasing the flock: a waiting run then creates a fresh file
        os.close(fd)
