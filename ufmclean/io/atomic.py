"""Atomic file output (temp file in the destination folder + ``os.replace``) and safe path joins."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ufmclean.errors import UsageError, WriteError

__all__ = ["atomic_output", "atomic_write_bytes", "safe_join"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is chmod-ed to ``mode`` and renamed onto ``path``.

    Parent folders are created. On any exception the temporary file is removed and ``path`` is
    left as it was (absent or the previous version), so readers never see a half-written file.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, mode)
        yield tmp
        os.chmod(tmp, mode)  # writers may have recreated the file
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``; returns the final path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    dest = Path(path)
    try:
        with atomic_output(dest, mode=mode) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        raise WriteError(
            f"could not write {dest.name}: {exc.strerror or exc}; check the output folder is writable"
        ) from exc
    return dest


def safe_join(root: str | os.PathLike[str], relpath: str | os.PathLike[str], *, check_symlinks: bool = True) -> Path:
    """Return ``root / relpath``, refusing absolute paths, ``..`` parts and symlinks that lead outside ``root``.

    ``check_symlinks=False`` keeps only the lexical checks: for reading input files, where a symlink
    that discovery accepted may point anywhere (we read through it, never write). Outputs always use
    the default. Raises :class:`~ufmclean.errors.UsageError` with the reason; the message holds only
    the offending relative path (relpaths are not PHI-bearing header values).
    """
    rel = Path(relpath)
    if str(relpath) == "" or rel.is_absolute() or rel.anchor:
        raise UsageError(f"refusing path {str(relpath)!r}: it must be a non-empty relative path")
    if any(part == ".." for part in rel.parts):
        raise UsageError(f"refusing path {str(relpath)!r}: '..' components are not allowed")
    if not check_symlinks:
        return Path(root) / rel
    base = Path(root).resolve()
    joined = base / rel
    # Resolve what exists (symlinks in the existing prefix) and check containment.
    resolved = joined.resolve(strict=False)
    if resolved != base and base not in resolved.parents:
        raise UsageError(f"refusing path {str(relpath)!r}: it resolves outside the output folder (symlink?)")
    return joined
