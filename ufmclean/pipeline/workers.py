"""Run batch jobs in-process or in spawned worker processes that share the machine's cores."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

B = TypeVar("B")
R = TypeVar("R")


def threads_per_worker(workers: int, *, cpu_count: int | None = None) -> int:
    """Torch CPU threads for each of ``workers`` processes: the cores split evenly, at least 1."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def default_workers() -> int:
    """Worker processes when the user names none: ``$UFMCLEAN_WORKERS`` if set, else one per core.

    Processes, not threads: one single-threaded PP-OCR worker per core scanned 32 images of 1024²
    in 9.9 s on 2 cores, one process with 2 ONNX threads in 16.2 s (bench/scan.py).
    """
    env = os.environ.get("UFMCLEAN_WORKERS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            from ufmclean.errors import UsageError

            raise UsageError(f"UFMCLEAN_WORKERS must be an integer >= 1, got {env!r}")
        return int(env)
    return max(1, os.cpu_count() or 1)


def spread_batch_size(n_items: int, batch_size: int, workers: int) -> int:
    """``batch_size``, made smaller for a small set so each of ``workers`` gets at least two batches.

    A set of 8 images in batches of 16 is one batch, which runs in one process however many
    workers were asked for. Large sets keep ``batch_size`` (their parts and resume points).
    """
    if workers <= 1 or n_items <= 0:
        return batch_size
    return max(1, min(batch_size, -(-n_items // (2 * workers))))


def _init_worker(threads: int) -> None:
    """Per worker process: share the cores instead of every worker using all of them."""
    import sys

    from ufmclean.ocr import set_thread_budget

    set_thread_budget(threads)
    # torch reads OMP_NUM_THREADS when first imported: the PP-OCR scan never imports it, so a
    # worker does not pay torch's start-up and memory just to set its thread count.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def map_batches(fn: Callable[..., R], batches: Sequence[B], *, workers: int, on_done: Callable[[R], None],
                local_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Call ``fn(batch, **kwargs)`` for every batch and ``on_done(result)`` as each finishes.

    ``local_kwargs`` (e.g. an already loaded OCR engine, which cannot cross a process boundary) are
    added only to calls that run in this process.
    With ``workers == 1`` (or a single batch) the calls run here, in order. Otherwise they run in a pool
    of ``workers`` spawned processes (spawn, not fork: torch and easyocr hold threads and locks that a
    forked child would inherit half-taken), each limited to :func:`threads_per_worker` torch threads, and
    finish in any order. ``fn`` and ``kwargs`` must then be picklable; a worker's exception is re-raised
    here. Each worker process loads what ``fn`` caches (e.g. one OCR engine) once, not once per batch.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(batches) <= 1:
        kwargs = {**kwargs, **(local_kwargs or {})}
        for batch in batches:
            on_done(fn(batch, **kwargs))
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                initializer=_init_worker, initargs=(threads_per_worker(workers),)) as pool:
        futures = [pool.submit(fn, batch, **kwargs) for batch in batches]
        for fut in cf.as_completed(futures):
            on_done(fut.result())
