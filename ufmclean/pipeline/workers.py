"""Run batch jobs in this process, alone or beside spawned worker processes that share the machine's cores."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
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
    """``batch_size``, made smaller for a small set so each of ``workers`` gets about four batches.

    A set of 8 images in batches of 16 is one batch, which runs in one process however many
    workers were asked for; and the last batch to finish sets the run's end, so a worker left
    with one more whole batch than the others idles them (16 images of 1024² in 4 batches on 2
    workers ended 0.6 s after the first worker went idle). Large sets keep ``batch_size`` (their
    parts and resume points).
    """
    if workers <= 1 or n_items <= 0:
        return batch_size
    return max(1, min(batch_size, -(-n_items // (4 * workers))))


#: A spawned worker's thread limits, entered once and kept for the process's life.
_WORKER_LIMITS = contextlib.ExitStack()


def _init_worker(threads: int) -> None:
    """Per worker process: share the cores instead of every worker using all of them."""
    _WORKER_LIMITS.enter_context(_held_to(threads))


def map_batches(fn: Callable[..., R], batches: Sequence[B], *, workers: int, on_done: Callable[[R], None],
                local_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Call ``fn(batch, **kwargs)`` for every batch and ``on_done(result)`` as each finishes.

    ``local_kwargs`` (e.g. an already loaded OCR engine, which cannot cross a process boundary) are
    added only to calls that run in this process.
    With ``workers == 1`` (or a single batch) the calls run here, in order. Otherwise this process is
    one of the ``workers``: it runs batches in a thread of its own while ``workers - 1`` spawned
    processes (spawn, not fork: torch and easyocr hold threads and locks that a forked child would
    inherit half-taken) run the others, each batch going to whichever is free; every worker, this
    one included, is limited to :func:`threads_per_worker` threads. A spawned worker pays Python's,
    numpy's, OpenCV's and the engine's start-up again (about 0.75 CPU-s); this process has paid
    them already. Batches finish in any order; ``on_done`` is called in this process's main thread.
    ``fn`` and ``kwargs`` must be picklable; a worker's exception is re-raised here. Each process
    loads what ``fn`` caches (e.g. one OCR engine) once, not once per batch.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    local = {**kwargs, **(local_kwargs or {})}
    if workers == 1 or len(batches) <= 1:
        for batch in batches:
            on_done(fn(batch, **local))
        return
    import concurrent.futures as cf
    import multiprocessing as mp
    from collections import deque

    threads = threads_per_worker(workers)
    queue = deque(batches)
    with (_held_to(threads),
          cf.ProcessPoolExecutor(max_workers=workers - 1, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(threads,)) as pool,
          cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ufmclean-local") as here):
        running: dict[cf.Future[R], bool] = {}

        def feed(in_here: bool) -> None:
            if queue:
                batch = queue.popleft()
                running[here.submit(fn, batch, **local) if in_here else pool.submit(fn, batch, **kwargs)] = in_here

        for _ in range(workers - 1):
            feed(False)
        feed(True)
        while running:
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                in_here = running.pop(fut)
                try:
                    result = fut.result()
                except BaseException:
                    queue.clear()  # what is running finishes; nothing new starts
                    raise
                on_done(result)
                feed(in_here)


@contextlib.contextmanager
def _held_to(threads: int) -> Iterator[None]:
    """This process's OCR engines, OpenCV and torch at ``threads`` CPU threads within the block (restored after).

    OpenCV's pool ignores ``OMP_NUM_THREADS`` and would use every core. Torch reads that variable when
    first imported, which may happen within the block (an easyocr engine loaded by a worker): it is
    set for the block too, and torch is not imported just to set its thread count (the PP-OCR scan
    never needs it).
    """
    import sys

    import cv2

    from ufmclean.ocr import thread_budget_scope

    saved_cv2 = cv2.getNumThreads()
    saved_env = os.environ.get("OMP_NUM_THREADS")
    torch = sys.modules.get("torch")
    saved = torch.get_num_threads() if torch is not None else None
    os.environ["OMP_NUM_THREADS"] = str(threads)
    cv2.setNumThreads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with thread_budget_scope(threads):
            yield
    finally:
        cv2.setNumThreads(saved_cv2)
        if saved_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved_env
        torch = sys.modules.get("torch")
        if torch is not None:
            default = int(saved_env) if saved_env and saved_env.isdigit() else (os.cpu_count() or 1)
            torch.set_num_threads(saved if saved is not None else default)
