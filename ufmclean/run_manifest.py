"""What this tool wrote under ``RUN/clean`` and ``RUN/.work``: the only files a run may delete.

Before a batch writes, it appends the run-relative paths it is about to write to its process's
journal (``RUN/.work/journal/<host>-<pid>.txt``, one fsync'ed append per batch), so a run killed
between writing a file and finishing still knows the file is its own. When a stage finishes, the
journals are merged into ``RUN/manifest.json`` (written atomically), and stale outputs are pruned
from that list only: a file a user keeps under ``RUN/clean`` or ``RUN/.work`` (a README, notes, a
part of their own) is never deleted. The fixed names (tables, summary, report, lock, manifest) are
the tool's by name and are replaced in place, never pruned.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from ufmclean.errors import UsageError
from ufmclean.run_dir import CLEAN_WRITTEN, RunDir

__all__ = ["MANIFEST_VERSION", "adopt_legacy_outputs", "manifest_entries", "prune_outputs", "record_outputs"]

MANIFEST_VERSION = 1
_MERGING = ".merging"
_PART_NAME = re.compile(r"^[0-9a-f]{24}\.parquet$")


def record_outputs(run: RunDir | str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]]) -> None:
    """Note, before writing them, the files under ``RUN/clean`` or ``RUN/.work`` a batch may write.

    One append (fsync'ed) to this process's journal; safe from several processes and threads.
    """
    rd = RunDir.of(run)
    lines = "".join(rd.relative(p) + "\n" for p in paths)
    if not lines:
        return
    rd.journal.mkdir(parents=True, exist_ok=True)
    name = f"{socket.gethostname()}-{os.getpid()}.txt"
    fd = os.open(rd.journal / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines.encode("utf-8", "surrogateescape"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_manifest(rd: RunDir) -> set[str]:
    try:
        data = json.loads(rd.manifest.read_text(encoding="utf-8", errors="surrogateescape"))
        return set(data.get("files", []))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, AttributeError):
        # A damaged manifest: forget it rather than guess (nothing unknown is ever deleted).
        return set()


def _write_manifest(rd: RunDir, entries: set[str]) -> None:
    from ufmclean.io.atomic import atomic_write_bytes

    data = {"version": MANIFEST_VERSION, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "about": "files under clean/ and .work/ that ufmclean wrote; only these are ever pruned",
            "files": sorted(entries)}
    atomic_write_bytes(rd.manifest, json.dumps(data, indent=1).encode("utf-8", "surrogateescape"), mode=0o600)


def _take_journals(rd: RunDir) -> tuple[set[str], list[Path]]:
    """Entries of every journal (renamed first, so appends that come later start a new file)."""
    entries: set[str] = set()
    taken: list[Path] = []
    if not rd.journal.is_dir():
        return entries, taken
    for p in sorted(rd.journal.iterdir()):
        if not p.is_file():
            continue
        if not p.name.endswith(_MERGING):
            target = p.with_name(p.name + _MERGING)
            with contextlib.suppress(OSError):
                os.replace(p, target)
                p = target
        try:
            text = p.read_bytes().decode("utf-8", "surrogateescape")
        except OSError:
            continue
        # A line cut short by a crash is the last one and has no newline: skip it.
        entries.update(line for line in text.split("\n")[:-1] if line)
        taken.append(p)
    return entries, taken


def manifest_entries(run: RunDir | str | os.PathLike[str]) -> set[str]:
    """Run-relative paths of every file this tool wrote under ``clean/`` and ``.work/`` (manifest and
    journals; read only)."""
    rd = RunDir.of(run)
    entries = _read_manifest(rd)
    if rd.journal.is_dir():
        for p in rd.journal.iterdir():
            with contextlib.suppress(OSError):
                entries.update(x for x in p.read_bytes().decode("utf-8", "surrogateescape").split("\n")[:-1] if x)
    return entries


def _inside(rd: RunDir, entry: str, under: Path) -> Path | None:
    """The file of a manifest entry when it lies under ``under`` (lexically, and no link leads out)."""
    from ufmclean.io.atomic import safe_join

    prefix = rd.relative(under).rstrip("/") + "/"
    if not entry.startswith(prefix):
        return None
    try:
        safe_join(rd.root, entry)
    except UsageError:
        return None
    return rd.root / entry


def prune_outputs(run: RunDir | str | os.PathLike[str], *, under: Path, keep: Iterable[Path]) -> int:
    """Delete the files this tool wrote under ``under`` that are not in ``keep``; returns how many.

    Only manifest and journal entries are candidates; files nobody recorded (a user's own) stay.
    The journals are merged into ``RUN/manifest.json`` (atomically), minus what was deleted and
    entries whose file is gone.
    """
    rd = RunDir.of(run)
    journal_entries, taken = _take_journals(rd)
    entries = _read_manifest(rd) | journal_entries
    keep_rel = {rd.relative(p) for p in keep}
    removed = 0
    for entry in sorted(entries):
        path = _inside(rd, entry, under)
        if path is None or entry in keep_rel:
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed += 1
    entries = {e for e in entries if os.path.lexists(rd.root / e)}
    _write_manifest(rd, entries)
    for p in taken:
        with contextlib.suppress(OSError):
            p.unlink()
    return removed


def adopt_legacy_outputs(run: RunDir | str | os.PathLike[str]) -> None:
    """For a run folder written before the manifest existed: record what its tables say it wrote.

    The ``clean/`` copies of ``images.parquet`` rows that were written or copied and the batch parts
    named like this tool names them become the manifest. Nothing to do when a manifest exists or
    the folder holds no run tables.
    """
    rd = RunDir.of(run)
    if rd.manifest.exists() or not rd.images_table.is_file():
        return
    from ufmclean.records import ImageRow
    from ufmclean.tables import read_images_table

    entries: set[str] = set()
    rows: list[ImageRow]
    try:
        rows = read_images_table(rd.images_table)
    except Exception:  # noqa: BLE001 - unreadable tables: adopt nothing (nothing unknown is deleted)
        rows = []
    for r in rows:
        if r.clean_status in CLEAN_WRITTEN:
            path = rd.clean_file(r.relpath)
            if path.is_file():
                entries.add(rd.relative(path))
    for folder in (rd.scan_parts, rd.sanitize_parts):
        if folder.is_dir():
            entries.update(rd.relative(p) for p in folder.iterdir() if _PART_NAME.match(p.name) and p.is_file())
    _write_manifest(rd, entries)
