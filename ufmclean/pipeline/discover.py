"""Discover stage driver: ``run_discover`` finds and decodes every file and writes ``RUN/images.parquet``
and ``RUN/summary.json`` (the CLI's ``ufmclean discover`` calls it); ``package_versions`` for every
stage's summary."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufmclean.errors import NotAnImageError, UfmError, UsageError
from ufmclean.io.atomic import atomic_write_bytes
from ufmclean.io.discover import discover
from ufmclean.io.load import DEFAULT_MAX_PIXELS, load_image
from ufmclean.records import ImageRecord, ImageRow
from ufmclean.run_dir import RunDir, check_run_dirs, open_run, refuse_inputs_inside

__all__ = ["discover_inputs", "package_versions", "run_discover"]


def discover_inputs(src: Path, run: Path, *, labels_csv: str | os.PathLike[str] | None = None) -> list[ImageRecord]:
    """Every file under ``src`` (:func:`ufmclean.io.discover.discover`), refusing input files that
    resolve into the run folder ``run``: the one discover step of ``run_discover``, ``run_scan`` and the flow."""
    records = discover(src, labels_csv=labels_csv)
    refuse_inputs_inside((r.path for r in records if r.status != "error"), run)
    return records


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python, ufmclean and the core packages (plus ``extra``) for run summaries."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("ufmclean", "pydicom", "numpy", "opencv-python-headless", "pyarrow", *extra):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_discover(
    input_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    *,
    labels_csv: str | os.PathLike[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Discover every file under ``input_dir``, decode each image once, write the run tables.

    Writes ``run_dir/images.parquet`` (one row per file, with status/error) and
    ``run_dir/summary.json``; returns the summary dict (counts, timings, settings, versions; no
    file content). ``progress(done, total)`` is called after each file. ``run_dir`` and
    ``input_dir`` may not overlap; the run folder is locked while it runs.
    """

    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise UsageError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    src, _ = check_run_dirs(input_dir, os.fspath(run_dir))
    with open_run(src, run_dir, command="discover") as rd:
        return _discover_locked(src, rd, labels_csv=labels_csv, max_pixels=max_pixels, progress=progress)


def _discover_locked(src: Path, rd: RunDir, *, labels_csv: str | os.PathLike[str] | None, max_pixels: int,
                     progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    from ufmclean.run_paths import write_images

    t0 = time.perf_counter()
    records = discover_inputs(src, rd.root, labels_csv=labels_csv)
    t_discover = time.perf_counter() - t0
    rows, error_kinds = list[ImageRow](), Counter[str]()
    for i, rec in enumerate(records):
        if rec.status == "ok":
            try:
                rec = load_image(rec, max_pixels=max_pixels).record
            except NotAnImageError as exc:
                rec = rec.with_(status="skipped", error=str(exc))
            except UfmError as exc:
                rec = rec.with_(status="error", error=str(exc))
                error_kinds[type(exc).__name__] += 1
        elif rec.status == "error":
            error_kinds["DiscoveryError"] += 1
        rows.append(ImageRow.of(rec))
        if progress is not None:
            progress(i + 1, len(records))
    path_counts = write_images(rd, rows)  # relpaths masked; the originals in the 0600 mapping
    status = Counter(r.status for r in rows)
    summary = {
        **path_counts,
        "stage": "discover",
        "n_files": len(rows),
        "n_ok": status.get("ok", 0),
        "n_error": status.get("error", 0),
        "n_skipped": status.get("skipped", 0),
        "formats": dict(Counter(r.format for r in rows if r.status == "ok")),
        "labels": dict(Counter(r.label for r in rows if r.status == "ok" and r.label is not None)),
        "error_kinds": dict(error_kinds),
        "timings_s": {"discover": round(t_discover, 3), "total": round(time.perf_counter() - t0, 3)},
        "settings": {"max_pixels": max_pixels, "labels_csv": labels_csv is not None},
        "versions": package_versions(),
    }
    atomic_write_bytes(rd.summary, json.dumps(summary, indent=2, sort_keys=True).encode())
    return summary
