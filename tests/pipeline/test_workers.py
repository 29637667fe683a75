"""map_batches: in-process and spawned-pool paths give the same results; errors surface."""

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


def test_process_pool_same_results_other_processes():
    batches = [[i, i + 1] for i in range(6)]
    out = []
    map_batches(square_sum, batches, workers=2, on_done=out.append, offset=0)
    assert sorted(v for v, _ in out) == sorted(a * a + b * b for a, b in batches)
    assert os.getpid() not in {pid for _, pid in out}


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
    map_batches(square_sum, [[1], [2]], workers=2, on_done=out.append, local_kwargs={"offset": 10})
    assert sorted(v for v, _ in out) == [1, 4]
