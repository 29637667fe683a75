"""map_batches: in-process and pool paths give the same results; this process is one of the workers; errors surface."""

import os

import pytest

from ufmclean.pipeline.workers import map_batches, threads_per_worker


def square_sum(batch: list[int], *, offset: int = 0) -> tuple[int, int]:
    """Top-level (picklable) job: the batch's sum of squares plus ``offset``, and the worker's PID."""
    return sum(v * v for v in batch) + offset, os.getpid()


def torch_threads(batch: list[int]) -> int:
    """The torch thread count a worker was given."""
    import torch

    return torch.get_num_threads()


def ocr_budget(batch: list[int]) -> int:
    """The OCR thread budget a worker (spawned or this process) was given."""
    from ufmclean import ocr

    return ocr.thread_budget()


def fails(batch: list[int]) -> int:
    """A job that raises."""
    raise ValueError("bad batch")


def test_threads_per_worker_splits_cores():
    assert threads_per_worker(1, cpu_count=8) == 8
    assert threads_per_worker(3, cpu_count=8) == 2
    assert threads_per_worker(16, cpu_count=8) == 1
    assert threads_per_worker(2, cpu_count=None) >= 1


def test_in_process_runs_in_order_here():
    out = []
    map_batches(square_sum, [[1, 2], [3], []], workers=1, on_done=out.append, offset=1)
    assert out == [(6, os.getpid()), (10, os.getpid()), (1, os.getpid())]


def slow_square_sum(batch: list[int], *, offset: int = 0) -> tuple[int, int]:
    """:func:`square_sum` after a pause, so that every worker gets batches."""
    import time

    time.sleep(0.3)
    return square_sum(batch, offset=offset)


def test_pool_same_results_this_process_is_one_worker():
    batches = [[i, i + 1] for i in range(8)]
    out = []
    map_batches(slow_square_sum, batches, workers=2, on_done=out.append, offset=0)
    assert sorted(v for v, _ in out) == sorted(a * a + b * b for a, b in batches)
    pids = [pid for _, pid in out]
    # One spawned process plus this one; the spawned one starts late, so this one does more.
    assert len(set(pids)) == 2 and os.getpid() in pids


def test_on_done_runs_in_the_main_thread():
    import threading

    threads = []
    map_batches(square_sum, [[1], [2], [3]], workers=2, on_done=lambda _r: threads.append(threading.current_thread()))
    assert threads == [threading.main_thread()] * 3


def test_this_process_thread_budget_is_restored():
    from ufmclean import ocr

    before = ocr.thread_budget()
    seen = []
    map_batches(ocr_budget, [[1], [2]], workers=2, on_done=seen.append)
    assert set(seen) == {threads_per_worker(2)}
    assert ocr.thread_budget() == before


def test_pool_workers_share_the_cores():
    out = []
    map_batches(torch_threads, [[1], [2]], workers=2, on_done=out.append)
    assert set(out) == {threads_per_worker(2)}


def test_worker_error_is_raised_and_workers_validated():
    with pytest.raises(ValueError, match="bad batch"):
        map_batches(fails, [[1], [2]], workers=2, on_done=lambda _r: None)
    with pytest.raises(ValueError, match="workers"):
        map_batches(square_sum, [[1]], workers=0, on_done=lambda _r: None)


def test_local_kwargs_only_reach_in_process_calls():
    out = []
    map_batches(square_sum, [[1], [2]], workers=1, on_done=out.append, local_kwargs={"offset": 10})
    assert [v for v, _ in out] == [11, 14]
    out.clear()
    map_batches(slow_square_sum, [[1], [2], [3], [4]], workers=2, on_done=out.append, local_kwargs={"offset": 1000})
    here = sorted(v for v, pid in out if pid == os.getpid())
    there = sorted(v for v, pid in out if pid != os.getpid())
    assert here and all(v >= 1000 for v in here)  # this process's calls got the local offset
    assert there and all(v < 1000 for v in there)
