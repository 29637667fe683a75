"""Scan stage: detect text, markers and overlays per batch (resumable parts), then rarity over the dataset.

``scan_batch`` loads each member, runs the detectors on every frame and writes
``RUN/.work/scan/<batch_key>.parquet``; a part that already exists is reused, so a killed run
resumes where it stopped. ``finalize_scan`` is the one dataset-wide step: it reads all parts, keys
and counts findings (:mod:`ufmclean.rarity`), flags them with the default policy in report-only
mode, and writes ``images.parquet``, ``findings.parquet`` (0600) and ``summary.json``.
Batch results are small PHI-free count dicts (they end up in Prefect's result storage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypedDict

from ufmclean.devices import DEVICES
from ufmclean.errors import NotAnImageError, UfmError, UsageError
from ufmclean.io.load import DEFAULT_MAX_PIXELS
from ufmclean.ocr import DEFAULT_ENGINE, ENGINES, OcrEngine
from ufmclean.ocr.onnx_fold import FOLD_VERSION
from ufmclean.pipeline.scan_parts import ImageScan, write_part
from ufmclean.pipeline.scan_settings import record_scan_settings
from ufmclean.pipeline.workers import map_batches, spread_batch_size
from ufmclean.rarity import RarityOptions
from ufmclean.records import Finding, ImageRecord, LoadedImage
from ufmclean.run_dir import RunDir, RunLike, check_run_dirs, open_run, usable_scan_part
from ufmclean.run_manifest import prune_outputs, record_outputs

log = logging.getLogger(__name__)

#: Bump when detection output changes for the same inputs and options (invalidates cached parts).
#: 2: the fast strategy detects cut boxes again in wider crops; merged names ("JANEDOE") are typed.
#: 3: the OCR engine is a detection setting (PP-OCR by default).
#: 4: PP-OCR detects frames over 512 px coarse-then-fine (two scales).
#: 5: a one-pass frame's faint multi-glyph lines are detected again in a contrast-stretched mosaic.
#: 6: a detector box that a candidate line runs on past is detected again over the line's columns.
#: 7: a downscaled mosaic crop the detector found nothing in is detected again at 1.6x its scale.
#: 8: a faint candidate line goes to the stretched mosaic unless a line that itself qualifies covers it.
#: 9: a linear window narrower than the data gets above-/below-window views read in their regions only;
#:    a display that is a flatter line of the range view is not read.
#: 10: a region read in a later view is kept unless earlier regions cover 90 % of it (was 50 %).
DETECT_VERSION = 10
STRATEGIES = ("fast", "full")
# Options that change what one batch detects; the rest (rarity, device, workers) do not touch parts.
_DETECT_FIELDS = ("engine", "strategy", "max_pixels", "min_confidence", "markers")
_RARITY = RarityOptions()  # the rarity settings' defaults are declared there, once


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Settings of the scan stage (construct with keywords).

    Attributes
    ----------
    rare_max_images : int
        K: a finding is rare when at most K distinct images carry its key.
    device : {"auto", "cpu", "cuda"}
        OCR device.
    engine : {"ppocr", "easyocr"}
        OCR engine (:data:`ufmclean.ocr.ENGINES`): ``ppocr`` (PP-OCRv4 through ONNX Runtime, the
        default) or ``easyocr`` (CRAFT + CRNN through torch).
    strategy : {"fast", "full"}
        OCR strategy. easyocr: ``fast`` = candidate crops + downscaled detection, ``full`` = CRAFT on
        the whole frame. ppocr: ``fast`` = frame settings, ``full`` = settings for small crops.
    max_pixels : int
        Refuse images with more pixels than this (decompression-bomb guard), per file.
    min_confidence : float
        Drop OCR regions below this confidence.
    markers : bool
        Run the non-text marker detector.
    batch_size : int
        Images per resumable batch.
    text_similarity, marker_distance : float
        Rarity clustering settings (see :class:`ufmclean.rarity.RarityOptions`).
    """

    rare_max_images: int = _RARITY.rare_max_images
    device: str = "auto"
    engine: str = DEFAULT_ENGINE
    strategy: str = "fast"
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_confidence: float = 0.0
    markers: bool = True
    batch_size: int = 16
    text_similarity: float = _RARITY.text_similarity
    marker_distance: float = _RARITY.marker_distance

    def __post_init__(self) -> None:
        if isinstance(self.rare_max_images, bool) or not isinstance(self.rare_max_images, int) or self.rare_max_images < 1:
            raise UsageError(f"rare_max_images must be an integer >= 1, got {self.rare_max_images!r}")
        if self.device not in DEVICES:
            raise UsageError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise UsageError(f"max_pixels must be a positive integer, got {self.max_pixels!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise UsageError("min_confidence must be in [0, 1]")
        self.rarity()  # validates the rarity settings early

    def rarity(self) -> RarityOptions:
        """The rarity-stage settings."""
        try:
            return RarityOptions(rare_max_images=self.rare_max_images, text_similarity=self.text_similarity,
                                 marker_distance=self.marker_distance)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for summaries)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ScanBatchResult(TypedDict):
    """What :func:`scan_batch` returns: counts only (Prefect stores it)."""

    batch_key: str
    n_images: int
    n_errors: int
    n_findings: int
    cached: bool
    seconds: float


def make_batches(records: Sequence[ImageRecord], *, batch_size: int) -> list[list[ImageRecord]]:
    """Split the scannable records (``status == "ok"``) into batches of ``batch_size``, in relpath order."""
    if batch_size < 1:
        raise UsageError("batch_size must be >= 1")
    ok = sorted((r for r in records if r.status == "ok"), key=lambda r: r.relpath)
    return [ok[i : i + batch_size] for i in range(0, len(ok), batch_size)]


def batch_key(records: Sequence[ImageRecord], options: ScanOptions) -> str:
    """Hash of the members' ``(relpath, sha256)`` and the detection settings (24 hex chars)."""
    detect = {name: getattr(options, name) for name in _DETECT_FIELDS}
    members = sorted((r.relpath, r.sha256 or "") for r in records)
    payload = json.dumps([members, detect, DETECT_VERSION, FOLD_VERSION], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:24]


def part_path(run_dir: RunLike, key: str) -> Path:
    """Where the part of batch ``key`` lives (see :class:`ufmclean.run_dir.RunDir`)."""
    return RunDir.of(run_dir).scan_part(key)


def detect_image(image: LoadedImage, *, engine: OcrEngine, options: ScanOptions) -> list[Finding]:
    """All findings of one loaded image: overlays, OCR text on every frame, then markers outside them."""
    from ufmclean.detect.overlays import overlay_findings
    from ufmclean.detect.text import text_findings

    found = overlay_findings(image)
    found += text_findings(image, engine, min_confidence=options.min_confidence)
    if options.markers:
        from ufmclean.detect.markers import marker_findings

        found += marker_findings(image, exclude=tuple(found))
    return found


def _scan_one(record: ImageRecord, *, engine: OcrEngine, options: ScanOptions) -> tuple[ImageScan, list[Finding]]:
    from ufmclean.io.load import load_image

    try:
        image = load_image(record, max_pixels=options.max_pixels)
    except NotAnImageError as exc:  # a DICOM object without pixels: nothing to scan, not a failure
        return ImageScan(record.image_id, "skipped", str(exc)), []
    except UfmError as exc:  # loader messages are PHI-free by contract
        return ImageScan(record.image_id, "error", str(exc)), []
    rec = image.record
    scan = ImageScan(record.image_id, "ok", None, rec.rows, rec.cols, rec.frames, rec.modality)
    try:
        return scan, detect_image(image, engine=engine, options=options)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the run
        # Only the type: an exception message could quote pixel text or header values.
        log.warning("detection failed on image %s: %s", record.image_id, type(exc).__name__)
        return ImageScan(record.image_id, "error", f"detection failed ({type(exc).__name__})",
                         rec.rows, rec.cols, rec.frames, rec.modality), []


def scan_batch(
    records: Sequence[ImageRecord], *, run_dir: RunLike, options: ScanOptions, engine: OcrEngine | None = None
) -> ScanBatchResult:
    """Scan one batch of images into its resumable part (reused when it already exists).

    Parameters
    ----------
    records : sequence of ImageRecord
        Members (from :func:`ufmclean.io.discover`), each with ``path`` and ``sha256``.
    run_dir : path
        The run folder; the part goes to ``RUN/.work/scan/<batch_key>.parquet``.
    options : ScanOptions
    engine : OcrEngine, optional
        OCR engine to use; default: this process's cached ``options.engine`` for ``options.device``.

    Returns
    -------
    ScanBatchResult
        Counts and seconds (no text).
    """
    if not records:
        raise UsageError("a scan batch needs at least one image")
    t0 = time.perf_counter()
    key = batch_key(records, options)
    rd = RunDir.of(run_dir)
    reused = usable_scan_part(rd, key, member_ids=[r.image_id for r in records])
    if reused is not None:
        images, findings = reused
        return _batch_result(key, images, len(findings), cached=True, seconds=time.perf_counter() - t0)
    if engine is None:
        from ufmclean.ocr import get_engine

        engine = get_engine(options.device, strategy=options.strategy, engine=options.engine)
    images, findings = [], []
    for record in records:
        scan, found = _scan_one(record, engine=engine, options=options)
        images.append(scan)
        findings += found
    path = rd.scan_part(key)
    record_outputs(rd, [path])
    write_part(path, images, findings)
    return _batch_result(key, images, len(findings), cached=False, seconds=time.perf_counter() - t0)


def _batch_result(key: str, images: list[ImageScan], n_findings: int, *, cached: bool, seconds: float) -> ScanBatchResult:
    return {"batch_key": key, "n_images": len(images), "n_errors": sum(i.status == "error" for i in images),
            "n_findings": n_findings, "cached": cached, "seconds": round(seconds, 3)}


def finalize_scan(
    run_dir: RunLike,
    *,
    records: Sequence[ImageRecord],
    options: ScanOptions,
    timings: dict[str, float] | None = None,
    labels_csv: str | Path | None = None,
) -> dict[str, Any]:
    """Rarity over all parts, then ``images.parquet``, ``findings.parquet`` (0600), ``summary.json`` and
    ``scan_settings.json`` (``options`` and ``labels_csv``, which a later sanitize reuses).

    Every batch of ``make_batches(records, batch_size=options.batch_size)`` must have a readable
    part. Parts of other batches (older settings or inputs) that this tool wrote are deleted (see
    :mod:`ufmclean.run_manifest`); files it did not write stay. Returns the summary's ``scan``
    section (counts only).
    """
    from ufmclean.pipeline.scan_summary import write_scan_outputs

    rd = RunDir.of(run_dir)
    batches = make_batches(records, batch_size=options.batch_size)
    keys = [batch_key(b, options) for b in batches]
    missing = [k for k in keys if not rd.scan_part(k).is_file()]
    if missing:
        raise UsageError(f"{len(missing)} of {len(keys)} scan batches have no part yet; run scan_batch on them first")
    paths = [rd.scan_part(k) for k in keys]
    prune_outputs(rd, under=rd.scan_parts, keep=paths)
    summary = write_scan_outputs(rd, records=records, part_paths=paths, options=options, timings=timings or {})
    record_scan_settings(rd, options, labels_csv=labels_csv)
    return summary


def run_scan(
    input_dir: str | Path,
    run_dir: str | Path,
    *,
    options: ScanOptions,
    workers: int = 1,
    labels_csv: str | Path | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    engine: OcrEngine | None = None,
) -> dict[str, Any]:
    """Discover ``input_dir``, scan every batch (resuming from existing parts), finalize the run tables.

    Parameters
    ----------
    input_dir, run_dir : path
        Dataset (read only) and run folder (created; the two may not overlap; locked for the run).
    options : ScanOptions
    workers : int
        Worker processes (1 = this process). Each worker loads one OCR engine, once.
    labels_csv : path, optional
        CSV with ``path,label`` (else labels come from parent folder names).
    progress : callable, optional
        Called with each batch's count dict as it finishes (``n_total_batches`` and
        ``n_total_images`` added).
    engine : OcrEngine, optional
        Engine for in-process scanning (``workers == 1``), e.g. a test double.

    Returns
    -------
    dict
        The summary's ``scan`` section (counts, timings, settings; no recognised text).
    """
    from ufmclean.pipeline.discover import discover_inputs

    if not isinstance(options, ScanOptions):
        raise TypeError("options must be a ScanOptions")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be an integer >= 1, got {workers!r}")
    if engine is not None and workers != 1:
        raise UsageError("an explicit OCR engine can only be used with workers=1")
    src, _ = check_run_dirs(input_dir, run_dir)
    with open_run(src, run_dir, command="scan") as rd:
        t0 = time.perf_counter()
        records = discover_inputs(src, rd.root, labels_csv=labels_csv)
        t_discover = time.perf_counter() - t0
        n_ok = sum(r.status == "ok" for r in records)
        spread = spread_batch_size(n_ok, options.batch_size, workers)
        if spread != options.batch_size:  # recorded in scan_settings.json, so finalize and sanitize agree
            options = dataclasses.replace(options, batch_size=spread)
        batches = make_batches(records, batch_size=options.batch_size)
        results = _run_batches(batches, rd.root, options=options, workers=workers, progress=progress, engine=engine)
        timings = {"discover": t_discover, "detect": time.perf_counter() - t0 - t_discover,
                   "batches_cached": sum(r["cached"] for r in results), "workers": workers}
        return finalize_scan(rd, records=records, options=options, timings=timings, labels_csv=labels_csv)


def _run_batches(batches: list[list[ImageRecord]], run: Path, *, options: ScanOptions, workers: int,
                 progress: Callable[[dict[str, Any]], None] | None, engine: OcrEngine | None) -> list[ScanBatchResult]:
    results: list[ScanBatchResult] = []
    n_images = sum(len(b) for b in batches)

    def done(res: ScanBatchResult) -> None:
        results.append(res)
        if progress is not None:
            progress({**res, "n_total_batches": len(batches), "n_total_images": n_images})

    map_batches(scan_batch, batches, workers=workers, on_done=done, run_dir=run, options=options,
                local_kwargs={"engine": engine})
    return results


__all__ = ["ScanBatchResult", "ScanOptions", "batch_key", "check_run_dirs", "detect_image", "finalize_scan", "make_batches", "part_path", "run_scan",
           "scan_batch"]
