"""Atomic file output (temp file in the destination folder + ``os.replace``) and safe path joins."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ufmclean.errors import UsageError, WriteError

__all__ = ["atomic_output", "atomic_write_bytes", "current_umask", "fsync_path", "safe_join", "temp_prefix"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is chmod-ed to ``mode`` less the process
    umask (as ``open`` would: ``umask 077`` makes every output 0600), fsync'ed and renamed onto ``path``.

    Parent folders are created. On any exception the temporary file is removed and ``path`` is
    left as it was (absent or the previous version), so readers never see a half-written file. The
    data reach the disk before the rename, so after a power loss ``path`` is the old or the new
    version, never an empty or truncated one. The temporary name fits the file system's NAME_MAX
    even when ``path``'s own name is close to it.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(dest), suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    bits = mode & ~current_umask()
    try:
        os.chmod(tmp, bits)
        yield tmp
        os.chmod(tmp, bits)  # writers may have recreated the file
        fsync_path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def current_umask() -> int:
    """The process umask, read without changing it (``/proc/self/status``; elsewhere set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # not thread-safe for an instant; only where /proc is absent
    os.umask(old)
    return old


def temp_prefix(dest: Path) -> str:
    """Prefix of ``dest``'s temporary name: ``.<name>.``, or ``.<hash of name>.`` when that would not fit
    NAME_MAX together with :func:`tempfile.mkstemp`'s random part and the ``.tmp`` suffix."""
    try:
        name_max = os.pathconf(dest.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    prefix = f".{dest.name}."
    if len(os.fsencode(prefix)) + _RANDOM_AND_SUFFIX > name_max:
        prefix = f".{hashlib.sha256(os.fsencode(dest.name)).hexdigest()[:16]}."
    return prefix


#: mkstemp's random part (8 characters) plus the ``.tmp`` suffix, with room to spare.
_RANDOM_AND_SUFFIX = 16


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a closed file's data to disk (``fsync`` through a read-only descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` (less the umask); returns the final path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    dest = Path(path)
    try:
        with atomic_output(dest, mode=mode) as tmp, open(tmp, "wb") as fh:
            fh.write(data)  # atomic_output fsyncs it before the rename
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
    the offending relative path, its PHI-looking components masked (:mod:`ufmclean.path_phi`).
    """
    rel = Path(relpath)
    if str(relpath) == "" or rel.is_absolute() or rel.anchor:
        raise UsageError(f"refusing path {_shown(relpath)!r}: it must be a non-empty relative path")
    if any(part == ".." for part in rel.parts):
        raise UsageError(f"refusing path {_shown(relpath)!r}: '..' components are not allowed")
    if not check_symlinks:
        return Path(root) / rel
    base = Path(root).resolve()
    joined = base / rel
    # Resolve what exists (symlinks in the existing prefix) and check containment.
    resolved = joined.resolve(strict=False)
    if resolved != base and base not in resolved.parents:
        raise UsageError(f"refusing path {_shown(relpath)!r}: it resolves outside the output folder (symlink?)")
    return joined


def _shown(relpath: str | os.PathLike[str]) -> str:
    """``relpath`` as an error message may show it: PHI-looking components masked (it lands in tables)."""
    from ufmclean.path_phi import mask_relpath

    return mask_relpath(Path(relpath).as_posix())
