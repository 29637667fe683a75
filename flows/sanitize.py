"""Prefect flow ``sanitize``: discover -> scan batches -> rarity -> sanitize batches -> report.

Wiring only: every step calls the library's pipeline API (:mod:`ufmclean.pipeline.scan`,
:mod:`ufmclean.pipeline.sanitize`), so the run folder is the one ``ufmclean sanitize`` writes.
Batch tasks get file records or image ids (never arrays), return PHI-free count dicts, cache on
their inputs' content hashes plus the task source (not the run id), and retry with backoff. A rerun
after a crash therefore recomputes only the batches that had not finished; before a cached result is
trusted the flow checks that the batch's output files still exist.

No postponed annotations (PEP 563 future import): it breaks pydantic parameters of served deployments.
"""

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
from prefect.futures import as_completed
from prefect.tasks import exponential_backoff

from flows.artifacts import Progress, publish_sanitize
from flows.options import Action, SanitizeSettings, make_task_runner, resolve_runner
from ufmclean.pipeline import sanitize as sanitize_stage
from ufmclean.pipeline import scan as scan_stage
from ufmclean.pipeline.sanitize import SanitizeOptions
from ufmclean.pipeline.sanitize_parts import SanitizeBatchResult
from ufmclean.policy import Policy, load_policy
from ufmclean.records import ImageRecord
from ufmclean.run_paths import plan_clean_paths
from ufmclean.run_dir import check_run_dirs, open_run, usable_sanitize_part, usable_scan_part

def batch_task(name: str) -> Any:
    """The decorator of a batch task: resumable across runs (no run id in the key), small JSON results,
    retried with backoff."""
    return task(name=name, cache_policy=INPUTS + TASK_SOURCE, persist_result=True, result_serializer="json",
                retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2))


# ------------------------------------------------------------------------------------------- tasks
@task(name="discover", cache_policy=NO_CACHE, persist_result=False)
def discover_task(input_dir: str, run_dir: str, labels_csv: Optional[str] = None) -> list[ImageRecord]:
    """One record per file under ``input_dir`` with its content hash (``sha256``); none may resolve into the run folder."""
    from ufmclean.pipeline.discover import discover_inputs

    return discover_inputs(Path(input_dir), Path(run_dir), labels_csv=labels_csv)


@batch_task("scan-batch")
def scan_batch_task(records: list[ImageRecord], run_dir: str, options: scan_stage.ScanOptions) -> scan_stage.ScanBatchResult:
    """OCR, markers and overlays of one batch into ``RUN/.work/scan/<key>.parquet``; returns counts."""
    return scan_stage.scan_batch(records, run_dir=run_dir, options=options)


@task(name="rarity", cache_policy=NO_CACHE, persist_result=False)
def finalize_scan_task(run_dir: str, records: list[ImageRecord], options: scan_stage.ScanOptions,
                       timings: dict[str, float], labels_csv: Optional[str] = None) -> dict[str, Any]:
    """The one dataset-wide step: rarity over all scan parts -> run tables, ``summary.json``, ``scan_settings.json``."""
    return scan_stage.finalize_scan(run_dir, records=records, options=options, timings=timings, labels_csv=labels_csv)


@batch_task("sanitize-batch")
def sanitize_batch_task(image_ids: list[str], content_key: str, input_dir: str, run_dir: str, policy: Policy,
                        options: sanitize_stage.SanitizeOptions) -> SanitizeBatchResult:
    """Decide, redact and check one batch into ``RUN/.work/sanitize/<key>.parquet`` and ``RUN/clean``.

    ``content_key`` hashes the members' ``(relpath, sha256)`` so that the task's cache key changes
    whenever an input file changes (image ids alone are derived from paths).
    """
    return sanitize_stage.sanitize_batch(image_ids, input_dir=input_dir, run_dir=run_dir, policy=policy, options=options)


@task(name="report", cache_policy=NO_CACHE, persist_result=False)
def finalize_sanitize_task(run_dir: str, policy: Policy, options: sanitize_stage.SanitizeOptions) -> dict[str, Any]:
    """Merge the sanitize parts into the run tables, ``summary.json`` and ``report.html``."""
    return sanitize_stage.finalize_sanitize(run_dir, policy=policy, options=options)


# ----------------------------------------------------------------------------------------- helpers
def build_options(settings: SanitizeSettings, *, action: Optional[str], rare_max_images: Optional[int],
                  run: Path) -> tuple[Policy, scan_stage.ScanOptions, sanitize_stage.SanitizeOptions, Optional[str]]:
    """Policy, stage options and labels CSV from the flow parameters, the way ``ufmclean sanitize`` builds them.

    Scan settings not given are those of ``run``'s last scan (see
    :func:`ufmclean.pipeline.scan_settings.sanitize_scan_options`); a given one that differs is refused
    (``ScanSettingsConflict``) unless ``settings.rescan``.
    """
    from ufmclean.pipeline.scan_settings import sanitize_scan_options

    policy = load_policy(settings.policy_file, action=action, residual_check=settings.residual_check)
    given = {k: v for k, v in (("strategy", settings.strategy), ("markers", settings.markers),
                               ("batch_size", settings.batch_size), ("rare_max_images", rare_max_images))
             if v is not None}
    options = sanitize_stage.SanitizeOptions(device=settings.device, engine=settings.engine,
                                             show_text=settings.show_text, max_pixels=settings.max_pixels,
                                             rename_phi_paths=settings.rename_phi_paths, header=settings.header,
                                             keep_metadata=settings.keep_metadata,
                                             batch_size=settings.batch_size or SanitizeOptions().batch_size)
    scan_opts, labels, options = sanitize_scan_options(run, options=options, scan_options=given, rescan=settings.rescan,
                                                       labels_csv=settings.labels_csv)
    if settings.batch_size is None:  # batch tasks of both stages follow the scan's batch size
        options = replace(options, batch_size=scan_opts.batch_size)
    return policy, scan_opts, options, labels


def content_key(records: list[ImageRecord]) -> str:
    """Hash of the members' ``(relpath, sha256)`` (24 hex chars)."""
    members = sorted((r.relpath, r.sha256 or "") for r in records)
    return hashlib.sha256(json.dumps(members).encode()).hexdigest()[:24]


def scan_outputs_ok(result: dict[str, Any], *, run: Path, records: dict[str, ImageRecord]) -> bool:
    """True when the scan part a batch result names may be reused (the library's rule)."""
    return usable_scan_part(run, result["batch_key"]) is not None


def sanitize_outputs_ok(result: dict[str, Any], *, run: Path, records: dict[str, ImageRecord]) -> bool:
    """True when the batch's part may be reused: the library's rule (readable, and every ``clean/``
    file it wrote or copied on disk). When it may not, the rerun task recomputes it (the library
    checks the same rule before reusing a part)."""
    return usable_sanitize_part(run, result["batch_key"], relpaths=_Relpaths(records)) is not None


class _Relpaths(Mapping):
    """image id -> relpath over the discovered records (a view: built per call at no cost)."""

    def __init__(self, records: dict[str, ImageRecord]) -> None:
        self._records = records

    def __getitem__(self, image_id: str) -> str:
        return self._records[image_id].relpath

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


def run_batches(runner: Any, batch_task: Any, batches: list[dict[str, Any]], *, statics: dict[str, Any],
                outputs_ok: Any, run: Path, records: dict[str, ImageRecord], progress: Progress,
                stage: str) -> dict[str, Any]:
    """Map ``batch_task`` over ``batches`` (each a dict of per-batch parameters) on ``runner``.

    Results whose outputs are gone are recomputed with the cache refreshed. Failed batches are
    counted and raised after all others finished, so their siblings' results persist for a rerun.
    Returns ``{"n", "from_cache", "reused_parts", "computed", "failed", "seconds"}``.
    """
    logger = get_run_logger()
    t0 = time.perf_counter()
    counts: dict[str, Any] = {"n": len(batches), "from_cache": 0, "reused_parts": 0, "computed": 0, "failed": 0}
    if not batches:
        progress.stage(stage, 1.0)
        return {**counts, "seconds": 0.0}
    params: dict[str, Any] = {k: [b[k] for b in batches] for k in batches[0]}
    params.update({k: unmapped(v) for k, v in statics.items()})
    futures = list(runner.map(batch_task, parameters=params))
    index = {id(f): i for i, f in enumerate(futures)}
    redo: list[int] = []
    finished = 0
    for fut in as_completed(futures):
        fut.wait()  # sets the future's final state (``state`` would otherwise ask the API)
        state = fut.state
        if state.is_completed():
            result = fut.result()
            if not outputs_ok(result, run=run, records=records):
                redo.append(index[id(fut)])
                continue
            key = "from_cache" if state.name == "Cached" else ("reused_parts" if result["cached"] else "computed")
            counts[key] += 1
        else:
            counts["failed"] += 1
        finished += 1
        progress.stage(stage, finished / len(batches))
    if redo:
        logger.info("%s: %d cached batch result(s) lost their output files; recomputing them", stage, len(redo))
        again = batch_task.with_options(refresh_cache=True)
        for i in redo:
            fut = runner.submit(again, parameters={**batches[i], **statics})
            fut.wait()
            ok = fut.state.is_completed() and outputs_ok(fut.result(), run=run, records=records)
            counts["computed" if ok else "failed"] += 1
            finished += 1
            progress.stage(stage, finished / len(batches))
    counts["seconds"] = round(time.perf_counter() - t0, 3)
    logger.info("%s: %d batches (%d from cache, %d reused parts, %d computed, %d failed) in %.1f s", stage,
                counts["n"], counts["from_cache"], counts["reused_parts"], counts["computed"], counts["failed"],
                counts["seconds"])
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} of {counts['n']} {stage} batches failed; "
                           "run the deployment again with the same parameters to resume")
    return counts


# -------------------------------------------------------------------------------------------- flow
@flow(name="sanitize", description="Find and remove rare or PHI burned-in features; write RUN/clean, tables and report.html.")
def sanitize(
    input_dir: str,
    output_dir: str,
    action: Optional[Action] = None,
    rare_max_images: Optional[int] = None,
    options: SanitizeSettings = SanitizeSettings(),
    runner: Optional[str] = None,
    workers: Optional[int] = None,
) -> dict[str, Any]:
    """Sanitize ``input_dir`` into the run folder ``output_dir`` (the same folder ``ufmclean sanitize`` writes).

    Parameters
    ----------
    input_dir, output_dir : str
        Dataset (read only) and run folder (created; the two may not overlap; locked while the flow runs).
    action : {"inpaint", "mask", "flag"}, optional
        Overrides the policy's action.
    rare_max_images : int, optional
        K: features carried by at most K images are rare (a scan setting, like the CLI's
        ``--rare-max-images``; default the run's scan's, else 5).
    options : SanitizeSettings
        Policy file, OCR device/strategy, batch size, report options.
    runner : str, optional
        ``threads`` (default), ``dask`` (local cluster of ``workers`` processes) or a Dask scheduler
        address; default ``$UFMCLEAN_TASK_RUNNER``.
    workers : int, optional
        Threads or Dask workers; default ``$UFMCLEAN_WORKERS`` or 1.

    Returns
    -------
    dict
        PHI-free summary: counts by outcome/action/reason, batch counts, timings, report path.
    """
    # Library loggers are forwarded at their own level (PREFECT_LOGGING_EXTRA_LOGGERS=ufmclean).
    logging.getLogger("ufmclean").setLevel(logging.INFO)
    kind, n_workers = resolve_runner(runner, workers)
    src, _ = check_run_dirs(input_dir, output_dir)
    with open_run(src, output_dir, command="sanitize flow") as rd:
        return _sanitize_locked(src, rd.root, options=options, action=action, rare_max_images=rare_max_images,
                                kind=kind, n_workers=n_workers)


def _sanitize_locked(src: Path, run: Path, *, options: SanitizeSettings, action: Optional[str],
                     rare_max_images: Optional[int], kind: str, n_workers: int) -> dict[str, Any]:
    """The flow's body, run while the flow holds the run folder's lock."""
    logger = get_run_logger()
    policy, scan_opts, san_opts, labels_csv = build_options(options, action=action, rare_max_images=rare_max_images,
                                                            run=run)
    progress = Progress(key="sanitize-progress", description="Batches done (scan, then sanitize)",
                        weights={"scan": 0.6, "sanitize": 0.35, "report": 0.05})
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    records = discover_task(str(src), str(run), labels_csv)
    timings["discover"] = time.perf_counter() - t0
    by_id = {r.image_id: r for r in records}
    scan_batches = scan_stage.make_batches(records, batch_size=scan_opts.batch_size)
    logger.info("discovered %d files (%d to scan in %d batches); runner %s x%d", len(records),
                sum(len(b) for b in scan_batches), len(scan_batches), kind, n_workers)
    batches: dict[str, Any] = {}
    with make_task_runner(kind, n_workers) as task_runner:
        batches["scan"] = run_batches(task_runner, scan_batch_task, [{"records": b} for b in scan_batches],
                                      statics={"run_dir": str(run), "options": scan_opts}, outputs_ok=scan_outputs_ok,
                                      run=run, records=by_id, progress=progress, stage="scan")
        timings["scan"] = batches["scan"]["seconds"]
        t1 = time.perf_counter()
        finalize_scan_task(str(run), records, scan_opts,
                           {"discover": timings["discover"], "detect": timings["scan"],
                            "batches_cached": batches["scan"]["from_cache"] + batches["scan"]["reused_parts"],
                            "workers": n_workers}, labels_csv)
        timings["rarity"] = time.perf_counter() - t1
        plan_clean_paths(run, rename=san_opts.rename_phi_paths)  # where each clean/ copy goes
        id_batches = sanitize_stage.make_id_batches(run, batch_size=san_opts.batch_size)
        items = [{"image_ids": ids, "content_key": content_key([by_id[i] for i in ids])} for ids in id_batches]
        batches["sanitize"] = run_batches(task_runner, sanitize_batch_task, items,
                                          statics={"input_dir": str(src), "run_dir": str(run), "policy": policy,
                                                   "options": san_opts},
                                          outputs_ok=sanitize_outputs_ok, run=run, records=by_id, progress=progress,
                                          stage="sanitize")
        timings["sanitize"] = batches["sanitize"]["seconds"]
    t2 = time.perf_counter()
    final = finalize_sanitize_task(str(run), policy, san_opts)
    timings["report"] = time.perf_counter() - t2
    progress.stage("report", 1.0)
    timings["total"] = time.perf_counter() - t0
    summary = {"run_dir": str(run), "report": final.get("report"), "n_images": final["n_images"],
               "by_clean_status": final["by_clean_status"], "decisions": final["decisions"],
               "n_residual_failures": final["n_residual_failures"], "n_phi_paths": final.get("n_phi_paths", 0),
               "n_renamed_paths": final.get("n_renamed_paths", 0), "batches": batches,
               "timings": {k: round(v, 3) for k, v in timings.items()}, "runner": kind, "workers": n_workers}
    publish_sanitize(summary)
    logger.info("sanitized %d files: %s; report at %s", summary["n_images"],
                ", ".join(f"{v} {k}" for k, v in sorted(summary["by_clean_status"].items())), summary["report"])
    return summary


if __name__ == "__main__":  # pragma: no cover - manual runs: python -m flows.sanitize IN OUT
    import sys

    print(json.dumps(sanitize(sys.argv[1], sys.argv[2]), indent=2))
