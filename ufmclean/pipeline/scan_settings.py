"""The settings of a run's scan, recorded in the run folder, so that sanitize acts on the findings a reviewer saw.

``finalize_scan`` writes ``RUN/scan_settings.json`` (the detection, batching, rarity and label
settings of the scan that wrote the run tables). Sanitize (the CLI, the library driver and the flow)
picks its scan settings with :func:`resolve_scan_options`: every setting the caller gave explicitly,
and for the rest the recorded one (else the default). Without this, a sanitize with default
settings would rescan a run scanned with ``--strategy full`` or ``--rare-max-images 3``, prune the
reviewed scan's parts and act on other findings than the reviewed ones. An explicit value that
differs from the recorded one is refused (:class:`ScanSettingsConflict`, one line naming each
setting and both values) unless ``rescan`` accepts a new scan.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ufmclean.errors import UsageError
from ufmclean.run_dir import RunDir

__all__ = ["SCAN_SETTINGS", "ScanSettingsConflict", "explicit_scan_settings", "record_scan_settings",
           "recorded_scan_settings", "resolve_scan_options", "sanitize_scan_options"]

log = logging.getLogger(__name__)

#: Settings that change what a scan finds or how its findings are rated (the device does not).
SCAN_SETTINGS = ("engine", "strategy", "max_pixels", "min_confidence", "markers", "batch_size",
                 "rare_max_images", "text_similarity", "marker_distance", "labels_csv")
#: How a user gives each setting on the command line (settings without a flag are named as they are).
_FLAGS = {"engine": "--engine", "strategy": "--strategy", "max_pixels": "--max-pixels",
          "markers": "--markers/--no-markers", "batch_size": "--batch-size",
          "rare_max_images": "--rare-max-images", "labels_csv": "--labels"}
SETTINGS_VERSION = 1


class ScanSettingsConflict(UsageError):
    """An explicit scan setting differs from the one the run folder's scan used."""


def _labels(value: Any) -> str | None:
    return os.path.abspath(os.fspath(value)) if value is not None else None


def record_scan_settings(run: RunDir | str | os.PathLike[str], options: Any, *,
                         labels_csv: str | os.PathLike[str] | None = None) -> Path:
    """Write ``RUN/scan_settings.json`` for a finished scan with ``options`` (a ScanOptions); returns its path."""
    from ufmclean.io.atomic import atomic_write_bytes

    rd = RunDir.of(run)
    settings = {k: getattr(options, k) for k in SCAN_SETTINGS if k != "labels_csv"}
    settings["labels_csv"] = _labels(labels_csv)
    data = {"version": SETTINGS_VERSION, "settings": settings, "device": options.device,
            "about": "settings of the scan behind images.parquet/findings.parquet; sanitize reuses them",
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return atomic_write_bytes(rd.scan_settings, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o644)


def recorded_scan_settings(run: RunDir | str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded settings of the run folder's last finished scan, or ``None`` when there is none.

    A run scanned before ``scan_settings.json`` existed is read from its ``summary.json`` (the
    scan's ``settings``; its labels file was not recorded, so labels are not compared).
    """
    rd = RunDir.of(run)
    for path, pick in ((rd.scan_settings, lambda d: d.get("settings")),
                       (rd.summary, lambda d: d.get("settings") if "strategy" in (d.get("settings") or {}) else None)):
        if not path.is_file():
            continue
        try:
            found = pick(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("%s is unreadable (%s); the scan's settings are not known", path.name, type(exc).__name__)
            continue
        if isinstance(found, dict):
            return {k: v for k, v in found.items() if k in SCAN_SETTINGS}
    return None


def explicit_scan_settings(scan_options: Any) -> dict[str, Any]:
    """The scan settings a caller gave: all of a ``ScanOptions``', a mapping's keys, none for ``None``."""
    if scan_options is None:
        return {}
    if isinstance(scan_options, Mapping):
        unknown = sorted(set(scan_options) - set(SCAN_SETTINGS) - {"device"})
        if unknown:
            raise UsageError(f"unknown scan setting(s): {', '.join(unknown)}; known: {', '.join(SCAN_SETTINGS)}")
        return {k: v for k, v in scan_options.items() if k != "device" and v is not None}
    names = {f.name for f in fields(scan_options)}
    return {k: getattr(scan_options, k) for k in SCAN_SETTINGS if k in names}


def _show(key: str, value: Any) -> str:
    if key == "labels_csv":
        return Path(value).name if value else "none"
    return json.dumps(value)


def resolve_scan_options(run: RunDir | str | os.PathLike[str], *, given: Mapping[str, Any], device: str,
                         rescan: bool = False) -> tuple[Any, str | None]:
    """``(ScanOptions, labels_csv)`` for a sanitize of ``run``: ``given`` over the recorded scan's settings.

    ``given`` holds only the settings the caller gave explicitly (names of :data:`SCAN_SETTINGS`;
    ``None`` values count as not given). Raises :class:`ScanSettingsConflict` when one differs from
    the recorded scan's, unless ``rescan``. Reads only.
    """
    from ufmclean.pipeline.scan import ScanOptions

    want = {k: (_labels(v) if k == "labels_csv" else v) for k, v in explicit_scan_settings(dict(given)).items()}
    recorded = recorded_scan_settings(run) or {}  # a legacy record has no labels_csv: not compared
    diffs = [k for k in SCAN_SETTINGS if k in want and k in recorded and recorded[k] != want[k]]
    if diffs and not rescan:
        shown = "; ".join(f"{_FLAGS.get(k, k)}: {_show(k, recorded[k])} in the scan, {_show(k, want[k])} now"
                          for k in diffs)
        raise ScanSettingsConflict(
            f"this run folder was scanned with other settings ({shown}); leave the option(s) out to reuse the "
            "scan's settings (the findings that were reviewed), add --rescan to scan again with the new ones "
            "(the reviewed findings are replaced), or choose a new --out")
    merged = {**recorded, **want}
    labels = merged.pop("labels_csv", None)
    return ScanOptions(**merged, device=device), labels


def sanitize_scan_options(run: RunDir | str | os.PathLike[str], *, options: Any, scan_options: Any = None,
                          rescan: bool = False, labels_csv: str | os.PathLike[str] | None = None
                          ) -> tuple[Any, str | None, Any]:
    """``(ScanOptions, labels_csv, options)`` of a sanitize of ``run``: the given scan settings over the
    recorded scan's (see :func:`ufmclean.pipeline.sanitize.run_sanitize`), and ``options`` with the scan's engine and
    ``max_pixels`` filled in. Raises ``ScanSettingsConflict`` for a differing setting unless ``rescan``."""
    given = explicit_scan_settings(scan_options)
    for key, value in (("engine", options.engine),
                       ("max_pixels", options.max_pixels), ("labels_csv", labels_csv)):
        if value is not None:
            given.setdefault(key, value)
    device = getattr(scan_options, "device", None) or options.device
    scan_opts, labels = resolve_scan_options(run, given=given, device=device, rescan=rescan)
    return scan_opts, labels, replace(options, engine=options.engine or scan_opts.engine,
                                      max_pixels=options.max_pixels or scan_opts.max_pixels)
