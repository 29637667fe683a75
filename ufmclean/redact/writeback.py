"""Write one image's sanitised copy: load, redact and check (:func:`clean_image`), then write, copy
or hold, and store its review thumbnails. Per-file errors become a status row, never an exception."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ufmclean.errors import UfmError
from ufmclean.ocr.base import OcrEngine
from ufmclean.policy import Policy
from ufmclean.records import CleanResult, CleanStatus, Finding, HeaderStatus, ImageRecord, LoadedImage
from ufmclean.report.thumbs import make_thumbnail, save_thumbnails

if TYPE_CHECKING:
    from ufmclean.io.deid import HeaderDeidentifier

log = logging.getLogger(__name__)


def _check_unchanged(record: ImageRecord) -> None:
    """Raise LoadError when the input file is gone or differs from what the scan hashed."""
    from ufmclean.errors import LoadError

    h = hashlib.sha256()
    try:
        with open(record.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        raise LoadError("input file is missing or unreadable since the scan; re-run sanitize to rescan") from None
    if record.sha256 and h.hexdigest() != record.sha256:
        raise LoadError("input file changed since the scan; re-run sanitize to rescan it")


def _display_frame_for(findings: Sequence[Finding]) -> int:
    counts = Counter(f.frame for f in findings if f.action != "keep")
    return counts.most_common(1)[0][0] if counts else 0


def _copy_file(src: Path, dest: Path) -> None:
    from ufmclean.io.atomic import atomic_output

    with atomic_output(dest, mode=0o644) as tmp:
        shutil.copyfile(src, tmp)


def _write_copy(record: ImageRecord, loaded: LoadedImage, dest: Path, *, deid: HeaderDeidentifier | None,
                keep_metadata: bool) -> list[str]:
    """The unchanged file into ``clean/``: DICOM with a de-identified header (pixel data bytes kept)
    unless ``deid`` is None; rasters with pixels only unless ``keep_metadata``. Returns notes."""
    if record.format == "dicom":
        if deid is None:
            _copy_file(Path(record.path), dest)
            return []
        from ufmclean.io.deid import deidentify_copy
        from ufmclean.io.write import write_image

        if deidentify_copy(record.path, dest, deid):
            return []
        # Retired big endian: the writer stores the same pixels as Explicit VR Little Endian.
        return list(write_image(loaded, loaded.raw, dest, method="none", deid=deid).notes)
    if keep_metadata:
        _copy_file(Path(record.path), dest)
        return []
    from ufmclean.io.strip import write_pixels_only

    return list(write_pixels_only(loaded, dest).notes)


def _header_status(record: ImageRecord, dest: Path, status: CleanStatus,
                   deid: HeaderDeidentifier | None) -> HeaderStatus | None:
    """``deidentified`` / ``kept-identifying`` / ``kept`` for a DICOM written into clean/, else None."""
    if record.format != "dicom" or status not in ("written", "copied"):
        return None
    if deid is not None:
        return "deidentified"
    from ufmclean.io.deid import keeps_identifying
    from ufmclean.io.dicom import read_dataset

    return "kept-identifying" if keeps_identifying(read_dataset(str(dest), stop_before_pixels=True)) else "kept"


def _thumb_view(frame: np.ndarray) -> np.ndarray:
    return frame[..., :3] if frame.ndim == 3 else frame


def sanitize_image(
    record: ImageRecord,
    findings: Sequence[Finding],
    *,
    clean_root: Path,
    policy: Policy,
    engine: OcrEngine | None,
    thumbs_dir: Path | None = None,
    thumb_size: int = 256,
    max_pixels: int | None = None,
    clean_relpath: str | None = None,
    deid: HeaderDeidentifier | None = None,
    keep_metadata: bool = False,
) -> tuple[CleanResult, list[Finding]]:
    """Sanitise one input file into ``clean_root/<relpath>``.

    Parameters
    ----------
    record : ImageRecord
        The input file (its ``sha256`` must still match the file).
    findings : sequence of Finding
        Its findings after :func:`ufmclean.policy.decide`.
    clean_root : Path
        ``RUN/clean``; the copy goes to the same relative path.
    policy, engine
        Passed to :func:`ufmclean.redact.clean.clean_image`.
    clean_relpath : str, optional
        Where under ``clean_root`` the copy goes (a pseudonymous relpath); default ``record.relpath``.
    thumbs_dir : Path, optional
        Where to store before/after review thumbnails (only for images with removed, flagged or
        rare items); ``None`` stores none.
    deid : HeaderDeidentifier, optional
        De-identify DICOM headers with the run's pseudonyms (``None``: headers kept and no
        de-identification markers set).
    keep_metadata : bool
        Copy unchanged raster files byte for byte (default: pixels only, no text chunks or EXIF).

    Returns
    -------
    result : CleanResult
        PHI-free outcome; ``clean_status`` is ``written | copied | held | flagged | error``.
    findings : list of Finding
        With ``residual_ok`` (and escalated actions) filled in.
    """
    from ufmclean.io import load_image
    from ufmclean.io.atomic import safe_join
    from ufmclean.io.write import write_image
    from ufmclean.redact.clean import clean_image
    from ufmclean.redact.residual import display_like

    out = list(findings)
    row = CleanResult(record.image_id)
    try:
        dest = safe_join(clean_root, clean_relpath or record.relpath)
        _check_unchanged(record)
        loaded = load_image(record, **({"max_pixels": max_pixels} if max_pixels else {}))
        outcome = clean_image(loaded, out, policy=policy, engine=engine)
        out = list(outcome.findings)
        row = row.with_(n_redacted=outcome.n_redacted, n_escalated=outcome.n_escalated)
        if outcome.held:
            row = row.with_(clean_status="held", clean_note=outcome.note)
        elif any(f.action == "flag" for f in out) and outcome.new_raw is None and not outcome.remove_overlays:
            row = row.with_(clean_status="flagged", clean_note="policy action is flag: review the flagged items; not written")
        elif outcome.new_raw is None and not outcome.remove_overlays:
            notes = _write_copy(record, loaded, dest, deid=deid, keep_metadata=keep_metadata)
            row = row.with_(clean_status="copied", clean_note="; ".join(notes))
        else:
            pixels = outcome.new_raw is not None
            method = ("mask" if any(f.action == "mask" for f in out) else policy.action) if pixels else "overlay removal"
            new_raw = outcome.new_raw if outcome.new_raw is not None else loaded.raw
            res = write_image(loaded, new_raw, dest, method=method,
                              remove_overlays=outcome.remove_overlays, deid=deid, markers=deid is not None)
            row = row.with_(clean_status="written", clean_note="; ".join(res.notes), transfer_syntax_out=res.transfer_syntax_out)
        row = row.with_(header=_header_status(record, dest, row.clean_status, deid))
        if thumbs_dir is not None and any(f.action != "keep" or f.is_rare for f in out):
            g = _display_frame_for(out)
            before = make_thumbnail(_thumb_view(loaded.display[g]), max_side=thumb_size, frame_index=g)
            after = None
            shown = outcome.new_raw if outcome.new_raw is not None else outcome.attempt
            if shown is not None:
                after_disp = display_like(shown[g], loaded.raw[g], loaded.display[g])
                after = make_thumbnail(_thumb_view(after_disp), max_side=thumb_size, frame_index=g)
            save_thumbnails(thumbs_dir, record.image_id, before, after)
    except UfmError as exc:
        row = row.with_(clean_status="error", clean_note=str(exc))
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the run; no message text (may hold PHI)
        log.error("unexpected %s while sanitising image %s (message withheld: may hold PHI)", type(exc).__name__, record.image_id)
        row = row.with_(clean_status="error",
                   clean_note=f"internal error while sanitising ({type(exc).__name__}); the file was not written, please report it")
    return row, out
