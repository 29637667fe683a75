"""The run folder: every path under RUN, the checks on it, and the rule for reusing a batch part.

This module is the one owner of the run folder's layout (see ``docs/ARCHITECTURE.md``)::

    RUN/images.parquet  findings.parquet (0600)  summary.json  report.html (0600)
    RUN/clean/<relpath>                 sanitised copies
    RUN/.work/scan/<key>.parquet        resumable scan parts (0600)
    RUN/.work/sanitize/<key>.parquet    resumable sanitize parts (0600)
    RUN/.work/thumbs/<image_id>.*       review thumbnails (0600)
    RUN/.work/journal/<host>-<pid>.txt  outputs a batch is about to write (see run_manifest)
    RUN/paths.parquet (0600)            original relpaths behind the masked ones, clean/ names (run_paths)
    RUN/manifest.json                   every file under clean/ and .work/ this tool wrote
    RUN/scan_settings.json              the settings of the last finished scan (sanitize reuses them)
    RUN/ufmclean.lock                   the holder of the run (see run_lock)
    RUN/pseudonym.key                   secret seed of the DICOM header pseudonyms (0600, see io.deid)

Stages, flows, the report and the CLI ask a :class:`RunDir` for paths instead of spelling them.
:func:`open_run` is how a stage driver starts: it refuses an input and run folder that overlap (in
either direction, symlinks resolved), creates the folder, takes the run lock and adopts the outputs
of a run folder written before the manifest existed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufmclean.errors import UsageError

__all__ = ["RunLike", "RunDir", "check_out_arg", "check_run_dirs", "open_run", "read_part_rows", "refuse_inputs_inside",
           "usable_sanitize_part", "usable_scan_part"]

log = logging.getLogger(__name__)

#: Statuses of a sanitize part's image rows whose ``clean/`` copy must be on disk for the part to count.
CLEAN_WRITTEN = ("written", "copied")


@dataclass(frozen=True, slots=True)
class RunDir:
    """Paths of one run folder (nothing is created by asking)."""

    root: Path

    @classmethod
    def of(cls, run: RunDir | str | os.PathLike[str]) -> RunDir:
        """``run`` itself when it is a RunDir, else the RunDir of that folder."""
        return run if isinstance(run, RunDir) else cls(Path(run))

    images_table = property(lambda self: self.root / "images.parquet", doc="``RUN/images.parquet``")
    findings_table = property(lambda self: self.root / "findings.parquet", doc="``RUN/findings.parquet`` (0600)")
    summary = property(lambda self: self.root / "summary.json", doc="``RUN/summary.json``")
    report = property(lambda self: self.root / "report.html", doc="``RUN/report.html`` (0600)")
    clean = property(lambda self: self.root / "clean", doc="``RUN/clean``: the sanitised copies")
    work = property(lambda self: self.root / ".work", doc="``RUN/.work``: resumable batch state")
    scan_parts = property(lambda self: self.work / "scan", doc="folder of the scan parts")
    sanitize_parts = property(lambda self: self.work / "sanitize", doc="folder of the sanitize parts")
    thumbs = property(lambda self: self.work / "thumbs", doc="folder of the review thumbnails")
    journal = property(lambda self: self.work / "journal", doc="folder of the write-ahead output journals")
    paths = property(lambda self: self.root / "paths.parquet",
                     doc="``RUN/paths.parquet`` (0600): image id -> original and clean relpath (see run_paths)")
    manifest = property(lambda self: self.root / "manifest.json", doc="``RUN/manifest.json``")
    lock = property(lambda self: self.root / "ufmclean.lock", doc="``RUN/ufmclean.lock``")
    scan_settings = property(lambda self: self.root / "scan_settings.json",
                             doc="``RUN/scan_settings.json``: settings of the last finished scan")
    pseudonym_key = property(lambda self: self.root / "pseudonym.key",
                             doc="``RUN/pseudonym.key`` (0600): seed of the run's DICOM header pseudonyms")

    def scan_part(self, key: str) -> Path:
        """Where the scan part of batch ``key`` lives."""
        return self.scan_parts / f"{key}.parquet"

    def sanitize_part(self, key: str) -> Path:
        """Where the sanitize part of batch ``key`` lives."""
        return self.sanitize_parts / f"{key}.parquet"

    def clean_file(self, relpath: str) -> Path:
        """Where the sanitised copy of input ``relpath`` lives (lexical; writers use ``safe_join``)."""
        return self.clean / relpath

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the run folder, posix style (as the manifest stores it)."""
        p = Path(path)
        for base in (self.root, Path(os.path.abspath(self.root)), self.root.resolve()):
            with contextlib.suppress(ValueError):
                return (p if p.is_absolute() == base.is_absolute() else Path(os.path.abspath(p))
                        ).relative_to(base).as_posix()
        raise ValueError(f"{p} is not inside the run folder {self.root}")


# ----------------------------------------------------------------------------------------- checks
def check_out_arg(value: str | os.PathLike[str] | None, *, option: str = "--out") -> Path:
    """The run folder named by a ``--out`` value; :class:`UsageError` for an empty or odd one.

    Refused: empty or blank (it would silently mean the current folder), control characters, a
    component longer than the file system allows.
    """
    text = os.fspath(value) if value is not None else ""
    if not str(text).strip():
        raise UsageError(f"{option} is empty; name the run folder to write (e.g. {option} runs/mydata)")
    if any(ord(c) < 32 or ord(c) == 127 for c in str(text)):
        raise UsageError(f"{option} contains control characters (a newline or tab?); name the run folder plainly")
    too_long = [p for p in Path(text).parts if len(os.fsencode(p)) > 255]
    if too_long:
        raise UsageError(f"{option} has a folder name of {len(os.fsencode(too_long[0]))} bytes; at most 255 fit")
    return Path(text)


def _overlap(src: Path, run: Path) -> str | None:
    if run == src:
        return "the run folder is the input folder"
    if src in run.parents:
        return "the run folder lies inside the input folder"
    if run in src.parents:
        return "the input folder lies inside the run folder"
    return None


def check_run_dirs(input_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Resolve and check the dataset and run folders; returns ``(input, run)`` resolved. Creates nothing.

    Refuses (:class:`UsageError`, one line) a missing input, an empty or odd run folder name, a run
    folder that is a file, and any overlap of the two folders: equal, run inside input or input
    inside run, after resolving symlinks (a second pass over ``RUN/clean`` into ``RUN`` would
    otherwise let the run's own outputs and inputs mix).
    """
    run_path = check_out_arg(run_dir) if isinstance(run_dir, str) else Path(run_dir)
    input_path = Path(input_dir)
    src, run = input_path.resolve(), run_path.resolve()
    if not src.is_dir():
        raise UsageError(f"input folder {input_path} does not exist or is not a folder")
    why = _overlap(src, run)
    if why:
        raise UsageError(f"{why}; the input and the run folder must not overlap: choose --out elsewhere")
    if run.exists() and not run.is_dir():
        raise UsageError(f"run folder {run_path} exists and is not a folder")
    return src, run


def refuse_inputs_inside(paths: Iterable[str | os.PathLike[str]], run_dir: str | os.PathLike[str]) -> None:
    """Refuse input files that resolve into the run folder (an input symlink into RUN); names none."""
    run = Path(run_dir).resolve()
    inside = 0
    for p in paths:
        real = Path(os.path.realpath(p))
        inside += real == run or run in real.parents
    if inside:
        raise UsageError(f"{inside} input file(s) lie inside the run folder through symlinks; "
                         "remove those links or choose --out elsewhere")


def _make_dir(run: Path) -> None:
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create run folder {run}: {exc.strerror or exc}; choose a writable --out") from None
    if not os.access(run, os.W_OK | os.X_OK):
        raise UsageError(f"run folder {run} is not writable; choose a writable --out")


@contextlib.contextmanager
def open_run(input_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str], *,
             command: str = "") -> Iterator[RunDir]:
    """Check the folders, create the run folder and hold its lock for the ``with`` block.

    Yields the :class:`RunDir` (resolved). Raises :class:`UsageError` for overlapping, missing or
    unwritable folders and :class:`~ufmclean.run_lock.RunLockedError` when another run holds it.
    Re-entrant within one thread.
    """
    from ufmclean.run_lock import hold_run_lock
    from ufmclean.run_manifest import adopt_legacy_outputs

    _, run = check_run_dirs(input_dir, run_dir)
    _make_dir(run)
    rd = RunDir(run)
    with hold_run_lock(rd.lock, command=command):
        adopt_legacy_outputs(rd)
        yield rd


# ------------------------------------------------------------------------------ part-validity rule
def read_part_rows(path: Path, *, stage: str) -> list[dict[str, Any]] | None:
    """Rows of a batch part; ``None`` when it is absent or damaged (0 bytes, truncated, foreign).

    A damaged part is logged as a warning (its name and the error type, no content) so the caller
    recomputes it; its replacement is written atomically over it.
    """
    from ufmclean.tables import read_rows

    if not path.is_file():
        return None
    try:
        rows = read_rows(path)
        if rows and not {"row", "image_id"} <= rows[0].keys():
            raise ValueError("not a ufmclean part")
        return rows
    except Exception as exc:  # noqa: BLE001 - whatever the reader says, the part is recomputed
        log.warning("%s part %s is damaged (%s); recomputing it", stage, path.name, type(exc).__name__)
        return None


def usable_scan_part(run: RunDir | str | os.PathLike[str], key: str, *,
                     member_ids: Collection[str] | None = None) -> tuple[list[Any], list[Any]] | None:
    """The scan part of batch ``key`` as ``(image scans, findings)`` when it may be reused, else ``None``.

    Reusable: readable, and (when ``member_ids`` is given) its image rows are exactly those members.
    """
    from ufmclean.pipeline.scan_parts import read_part

    path = RunDir.of(run).scan_part(key)
    if not path.is_file():
        return None
    try:
        images, findings = read_part(path)
    except Exception as exc:  # noqa: BLE001 - a damaged part (power loss, disk full) is recomputed
        log.warning("scan part %s is damaged (%s); recomputing it", path.name, type(exc).__name__)
        return None
    if member_ids is not None and {i.image_id for i in images} != set(member_ids):
        log.warning("scan part %s does not hold its batch's images; recomputing it", path.name)
        return None
    return images, findings


def usable_sanitize_part(run: RunDir | str | os.PathLike[str], key: str, *, relpaths: Mapping[str, str],
                         member_ids: Collection[str] | None = None) -> list[dict[str, Any]] | None:
    """The rows of sanitize part ``key`` when it may be reused, else ``None``.

    Reusable: readable, its image rows are exactly ``member_ids`` (when given), and every ``clean/``
    copy its rows say were written or copied is still on disk (``relpaths``: image id -> relpath; the
    run's path mapping says where a renamed copy lives).
    """
    rd = RunDir.of(run)
    path = rd.sanitize_part(key)
    rows = read_part_rows(path, stage="sanitize")
    if rows is None:
        return None
    images = [r for r in rows if r["row"] == "image"]
    if member_ids is not None and {r["image_id"] for r in images} != set(member_ids):
        log.warning("sanitize part %s does not hold its batch's images; recomputing it", path.name)
        return None
    done = [r["image_id"] for r in images if r.get("clean_status") in CLEAN_WRITTEN]
    from ufmclean.run_paths import clean_relpaths

    renamed = clean_relpaths(rd, done)  # where --rename-phi-paths put a copy
    if not all(rd.clean_file(renamed.get(i, relpaths[i])).is_file() for i in done if i in relpaths):
        log.info("sanitize part %s lost some clean/ files; recomputing it", key)
        return None
    return rows


#: What the stage functions accept as a run folder: a :class:`RunDir` or its path.
RunLike = RunDir | str | os.PathLike[str]
