"""Sanitize stage: decide -> redact -> residual check -> write ``RUN/clean/`` -> tables, summary, report.

Batches take image ids and paths, never arrays, and return small PHI-free count dicts. Each batch
writes ``RUN/.work/sanitize/<batch_key>.parquet`` (one row per image and per decided finding); an
existing part is reused, so an interrupted run resumes. :func:`finalize_sanitize` merges the parts
into ``images.parquet`` / ``findings.parquet`` (new columns ``clean_status``, ``clean_note``,
``n_redacted``; ``action``, ``reasons``, ``residual_ok``), updates ``summary.json`` and builds
``report.html``.

``clean_status`` per image: ``written`` (pixels or overlays changed), ``copied`` (nothing to remove: same
pixels, header de-identified and raster metadata dropped unless told otherwise), ``held`` (a removed item is still legible: not written, needs review),
``flagged`` (policy action ``flag`` found something: not written), ``error`` (load or write failed),
``skipped`` (the scan did not read it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from ufmclean.devices import Device
from ufmclean.errors import UsageError
from ufmclean.ocr import DEFAULT_ENGINE, ENGINES
from ufmclean.policy import Policy, decide, summarize_decisions
from ufmclean.ocr.base import OcrEngine
from ufmclean.pipeline.sanitize_parts import SanitizeBatchResult, batch_key, findings_digest, parse_part, part_rows
from ufmclean.pipeline.workers import map_batches
from ufmclean.records import CleanResult, Decision, Finding, ImageRecord, ImageRow
from ufmclean.redact.writeback import sanitize_image
from ufmclean.run_dir import RunDir, RunLike, open_run, read_part_rows, usable_sanitize_part
from ufmclean.run_manifest import prune_outputs, record_outputs
from ufmclean.run_paths import plan_clean_paths, read_images, write_images
from ufmclean.tables import (SANITIZE_IMAGE_COLUMNS, read_findings_table, read_rows, row_to_finding,
                             write_findings_table, write_rows)

log = logging.getLogger(__name__)

PHI_MODE = 0o600
HeaderMode = Literal["deidentify", "keep"]
HEADER_MODES: tuple[str, ...] = get_args(HeaderMode)


@dataclass(frozen=True, slots=True)
class SanitizeOptions:
    """Run settings that are not policy: OCR device and engine for the residual check, batching, thumbnails.

    ``engine`` and ``max_pixels`` left ``None`` mean the scan's (see :func:`run_sanitize`); given,
    they are explicit scan settings too.
    """

    device: Device = "auto"
    engine: str | None = None
    batch_size: int = 16
    thumbnails: bool = True
    thumb_size: int = 256
    show_text: bool = False
    report: bool = True
    max_pixels: int | None = None
    #: Write each copy whose relpath looks like PHI under a pseudonymous relpath (``name-3f2a9c01/...``);
    #: the original -> renamed mapping stays in ``RUN/paths.parquet`` (0600).
    rename_phi_paths: bool = False
    #: ``deidentify``: DICOM headers through the PS3.15 Basic Profile with the run's pseudonyms;
    #: ``keep``: headers kept as they are and no de-identification markers set.
    header: HeaderMode = "deidentify"
    #: Copy unchanged PNG/JPEG/TIFF byte for byte (default: pixels only, no metadata or trailing bytes).
    keep_metadata: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError("batch_size must be >= 1")
        if self.engine is not None and self.engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not 32 <= self.thumb_size <= 1024:
            raise UsageError("thumb_size must be between 32 and 1024 pixels")
        if self.header not in HEADER_MODES:
            raise UsageError(f"header must be one of {', '.join(HEADER_MODES)}, got {self.header!r}")


# ------------------------------------------------------------------------------------------ tables
def _images_schema() -> Any:
    """``images.parquet`` schema of :mod:`ufmclean.tables` plus the sanitize columns (nullable)."""
    import pyarrow as pa

    from ufmclean.tables import IMAGES_SCHEMA

    extra = [pa.field(name, pa.string()) for name in SANITIZE_IMAGE_COLUMNS if name not in IMAGES_SCHEMA.names]
    return pa.schema([*IMAGES_SCHEMA, *extra])


def _record_from_row(row: ImageRow, input_dir: Path) -> ImageRecord:
    """ImageRecord for an ``images.parquet`` row (real relpath), pointing into ``input_dir``."""
    from ufmclean.io.atomic import safe_join

    path = safe_join(input_dir, row.relpath, check_symlinks=False)  # inputs may be accepted symlinks
    return ImageRecord(image_id=row.image_id, relpath=row.relpath, path=str(path), sha256=row.sha256,
                       size_bytes=path.stat().st_size if path.is_file() else 0, format=row.format, label=row.label,
                       status=row.status, error=row.error, modality=row.modality, rows=row.rows, cols=row.cols,
                       frames=row.frames)


def _clean_relpath(row: ImageRow) -> str:
    """Where ``row``'s sanitised copy goes (rows of :func:`ufmclean.run_paths.read_images` always say)."""
    if row.clean_relpath is None:
        raise ValueError(f"image {row.image_id} was not read through run_paths.read_images (no clean_relpath)")
    return row.clean_relpath


def _key_for(run: RunDir, ids: Sequence[str], images: Mapping[str, ImageRow], policy: Policy,
             options: SanitizeOptions, findings: Sequence[dict[str, Any]] | None = None) -> str:
    if findings is None:
        findings = read_rows(run.findings_table, image_ids=sorted(ids))
    return batch_key([(images[i].relpath, images[i].sha256) for i in ids], policy.to_dict(), asdict(options),
                     findings_digest(findings))


# ------------------------------------------------------------------------------------------- batch
def sanitize_batch(image_ids: Sequence[str], *, input_dir: str | Path, run_dir: RunLike, policy: Policy,
                   options: SanitizeOptions, engine: OcrEngine | None = None) -> SanitizeBatchResult:
    """Sanitize the images ``image_ids`` of a scanned run; writes one resumable part file.

    Parameters
    ----------
    image_ids : sequence of str
        Rows of ``RUN/images.parquet`` (status ``ok``) to process.
    input_dir, run_dir : path
        The scanned input tree (read only) and the run folder.
    policy, options : Policy, SanitizeOptions
    engine : OcrEngine, optional
        For the residual check; default ``ufmclean.ocr.get_engine(options.device)`` when the
        policy's ``residual_check`` is on.

    Returns
    -------
    SanitizeBatchResult
        Counts by clean status (no text).
    """
    run, inp = RunDir.of(run_dir), Path(input_dir)
    wanted = set(image_ids)
    images = {r.image_id: r for r in read_images(run, image_ids=sorted(wanted))}
    missing = wanted - set(images)
    if missing:
        raise UsageError(f"{len(missing)} image id(s) are not in {run.images_table}; run the scan first")
    finding_rows = read_rows(run.findings_table, image_ids=sorted(wanted))
    key = _key_for(run, sorted(wanted), images, policy, options, finding_rows)
    reused = usable_sanitize_part(run, key, relpaths={i: images[i].relpath for i in wanted}, member_ids=wanted)
    if reused is not None:
        results, _ = parse_part(reused)
        return _batch_summary(key, Counter(r.clean_status for r in results), len(results), cached=True)
    part = run.sanitize_part(key)
    _record_batch_outputs(run, part, [images[i] for i in wanted], thumbnails=options.thumbnails)
    by_image: dict[str, list[Finding]] = {}
    for r in finding_rows:
        by_image.setdefault(r["image_id"], []).append(row_to_finding(r))
    if engine is None and policy.residual_check and policy.action != "flag":
        from ufmclean.ocr import get_engine

        engine = get_engine(options.device, strategy="full", engine=options.engine or DEFAULT_ENGINE)  # small crops
    deid = None
    if options.header == "deidentify" and any(images[i].format == "dicom" for i in wanted):
        from ufmclean.io.deid import HeaderDeidentifier, run_secret

        deid = HeaderDeidentifier(run_secret(run.pseudonym_key))  # one secret per run: same pseudonyms everywhere
    done: list[tuple[CleanResult, list[Finding]]] = []
    for iid in sorted(wanted, key=lambda i: images[i].relpath):
        record = _record_from_row(images[iid], inp)
        decided = decide(by_image.get(iid, []), policy)
        done.append(sanitize_image(record, decided, clean_root=run.clean, policy=policy, engine=engine,
                                   thumbs_dir=run.thumbs if options.thumbnails else None,
                                   thumb_size=options.thumb_size, max_pixels=options.max_pixels, deid=deid,
                                   keep_metadata=options.keep_metadata,
                                   clean_relpath=_clean_relpath(images[iid])))
    write_rows(part, part_rows(done), mode=PHI_MODE)
    return _batch_summary(key, Counter(result.clean_status for result, _ in done), len(wanted), cached=False)


def _record_batch_outputs(run: RunDir, part: Path, rows: Sequence[ImageRow], *, thumbnails: bool) -> None:
    """Journal what the batch may write (its part, clean copies, thumbnails) before writing any of it."""
    from ufmclean.io.atomic import safe_join
    from ufmclean.report.thumbs import thumbnail_names

    paths = [part]
    for r in rows:
        with contextlib.suppress(UsageError):  # a relpath that escapes is refused per image later
            paths.append(safe_join(run.clean, _clean_relpath(r), check_symlinks=False))
        if thumbnails:
            paths += [run.thumbs / name for name in thumbnail_names(r.image_id)]
    record_outputs(run, paths)


def _batch_summary(key: str, counts: Counter[str], n: int, *, cached: bool) -> SanitizeBatchResult:
    return {"batch_key": key, "n_images": n, "n_written": counts["written"], "n_copied": counts["copied"],
            "n_held": counts["held"], "n_flagged": counts["flagged"], "n_errors": counts["error"], "cached": cached}


def make_id_batches(run_dir: RunLike, *, batch_size: int) -> list[list[str]]:
    """Image ids with status ``ok`` in ``RUN/images.parquet``, in relpath order, chunked."""
    rows = sorted((r for r in read_images(RunDir.of(run_dir)) if r.status == "ok"), key=lambda r: r.relpath)
    ids = [r.image_id for r in rows]
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


# ---------------------------------------------------------------------------------------- finalize
def _merge(run: RunDir, policy: Policy, options: SanitizeOptions) -> tuple[dict[str, CleanResult], dict[str, Decision]]:
    """Per-image results and per-finding decisions of the current batches' parts."""
    images = {r.image_id: r for r in read_images(run)}
    findings_by_image: dict[str, list[dict[str, Any]]] = {}
    for r in read_rows(run.findings_table):  # once, not once per batch
        findings_by_image.setdefault(r["image_id"], []).append(r)
    results: dict[str, CleanResult] = {}
    decisions: dict[str, Decision] = {}
    for ids in make_id_batches(run, batch_size=options.batch_size):
        batch_findings = [r for i in ids for r in findings_by_image.get(i, [])]
        key = _key_for(run, ids, images, policy, options, batch_findings)
        rows = read_part_rows(run.sanitize_part(key), stage="sanitize")
        if rows is None:
            raise UsageError(f"sanitize batch {key} has no usable result; run sanitize_batch for it before finalizing")
        part_results, part_decisions = parse_part(rows)
        results.update((r.image_id, r) for r in part_results)
        decisions.update((d.finding_id, d) for d in part_decisions)
    return results, decisions


def _unsanitized(row: ImageRow) -> CleanResult:
    """The result of an image no batch processed: skipped by the scan, else an error (with the scan's note)."""
    return CleanResult(row.image_id, "skipped" if row.status == "skipped" else "error", row.error or "")


def finalize_sanitize(run_dir: RunLike, *, policy: Policy, options: SanitizeOptions) -> dict[str, Any]:
    """Merge the batch parts into the run tables, update ``summary.json`` and build ``report.html``.

    Returns PHI-free counts: ``{"n_images", "by_clean_status", "decisions", "n_residual_failures",
    "report"}``.
    """
    run = RunDir.of(run_dir)
    results, decided = _merge(run, policy, options)
    images = []
    for row in read_images(run):
        result = results.get(row.image_id) or _unsanitized(row)
        images.append(row.with_(clean_status=result.clean_status, clean_note=result.clean_note,
                                n_redacted=result.n_redacted, header=result.header))
    findings = []
    for f in read_findings_table(run.findings_table):
        decision = decided.get(f.finding_id)
        findings.append(decision.applied_to(f) if decision
                        else f.with_(action="keep", reasons=("not-sanitized",), residual_ok=None))
    path_counts = write_images(run, images, schema=_images_schema())  # relpaths masked (see run_paths)
    write_findings_table(run.findings_table, findings, mode=PHI_MODE)
    # Stale copies (older inputs, now held or flagged) this tool wrote; a user's own files stay.
    keep = [run.clean_file(_clean_relpath(r)) for r in images if r.clean_status in ("written", "copied")]
    pruned = prune_outputs(run, under=run.clean, keep=keep)
    decisions = summarize_decisions(findings)
    by_status = dict(Counter(r.clean_status for r in images))
    out = {
        "n_images": len(images),
        "by_clean_status": by_status,
        "decisions": decisions,
        "n_residual_failures": sum(f.residual_ok is False for f in findings),
        "n_stale_removed": pruned,
        **path_counts,
        "n_renamed_paths": sum(r.clean_relpath != r.relpath for r in images
                               if r.clean_status in ("written", "copied")),
        "header": options.header,
        # clean/ DICOM whose kept header still names someone (``--fail-on header`` counts these)
        "n_header_identifying": sum(r.header == "kept-identifying" for r in images),
    }
    summary_path = run.summary
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    summary["sanitize"] = {**out, "policy": policy.to_dict(), "options": asdict(options),
                           "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    from ufmclean.io.atomic import atomic_write_bytes

    atomic_write_bytes(summary_path, json.dumps(summary, indent=2, default=str).encode(), mode=0o644)
    if options.report:
        from ufmclean.report import build_report

        out["report"] = str(build_report(run.root, show_text=options.show_text))
    return out


def run_sanitize(
    input_dir: str | Path,
    run_dir: str | Path,
    *,
    policy: Policy,
    options: SanitizeOptions,
    scan_options: Any | None = None,
    rescan: bool = False,
    labels_csv: str | Path | None = None,
    workers: int = 1,
    engine: OcrEngine | None = None,
    progress: Callable[[SanitizeBatchResult], None] | None = None,
) -> dict[str, Any]:
    """Scan (reusing cached scan parts), decide, redact, check, write ``RUN/clean``, tables and report.

    Parameters
    ----------
    input_dir, run_dir : path
        Input tree (never written) and run folder (created).
    policy, options : Policy, SanitizeOptions
    scan_options : ScanOptions or mapping, optional
        Scan settings given explicitly: every field of a ``ScanOptions``, or only the keys of a
        mapping (names of :data:`ufmclean.pipeline.scan_settings.SCAN_SETTINGS`); K
        (``rare_max_images``) enters here and only here. ``options.engine`` / ``options.max_pixels``,
        when set, count as given too. Every other setting is the one the run folder's last scan used (``RUN/scan_settings.json``),
        else the default, so the scan parts a reviewer saw are reused rather than recomputed.
    rescan : bool
        Accept a new scan when a given setting differs from the recorded scan's; without it such a
        difference raises :class:`~ufmclean.pipeline.scan_settings.ScanSettingsConflict` (a
        ``UsageError``) before anything is written.
    labels_csv : path, optional
        Labels CSV for the scan (default: the recorded scan's).
    workers : int
        Processes for the sanitize batches (1 = in this process).
    engine : OcrEngine, optional
        Used for the scan and the residual check in-process (``workers == 1``), e.g. a test double.
    progress : callable, optional
        Called with each batch's count dict.

    Returns
    -------
    dict
        ``{"scan": <run_scan counts>, "sanitize": <finalize counts>, "n_batches": int}``.
    """
    inp = Path(input_dir)
    if not inp.is_dir():
        raise UsageError(f"input folder {inp} does not exist")
    if workers < 1:
        raise UsageError("workers must be >= 1")
    with open_run(inp, run_dir, command="sanitize") as run:
        from ufmclean.pipeline.scan_settings import sanitize_scan_options

        scan_opts, labels, options = sanitize_scan_options(run, options=options,
                                                           scan_options=scan_options, rescan=rescan,
                                                           labels_csv=labels_csv)
        return _run_sanitize_locked(inp, run, policy=policy, options=options, scan_options=scan_opts,
                                    labels_csv=labels, workers=workers, engine=engine, progress=progress)


def _run_sanitize_locked(inp: Path, run: RunDir, *, policy: Policy, options: SanitizeOptions, scan_options: Any,
                         labels_csv: str | None, workers: int, engine: OcrEngine | None,
                         progress: Callable[[SanitizeBatchResult], None] | None) -> dict[str, Any]:
    from ufmclean.pipeline import scan as scan_stage

    scan_counts = scan_stage.run_scan(inp, run.root, options=scan_options, workers=workers, labels_csv=labels_csv,
                                      engine=engine if workers == 1 else None)
    plan_clean_paths(run, rename=options.rename_phi_paths)
    batches = make_id_batches(run, batch_size=options.batch_size)
    map_batches(sanitize_batch, batches, workers=workers, on_done=progress or (lambda _res: None), input_dir=inp,
                run_dir=run.root, policy=policy, options=options, local_kwargs={"engine": engine})
    return {"scan": scan_counts, "sanitize": finalize_sanitize(run, policy=policy, options=options),
            "n_batches": len(batches)}
