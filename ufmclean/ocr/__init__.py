"""OCR: the engine seam (:class:`OcrEngine`, :class:`TextRegion`), PP-OCR and easyocr engines, a fake,
and a per-process cache."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ufmclean.ocr.base import OcrEngine, TextRegion

#: Engines behind the seam. ``ppocr`` (PP-OCRv4 through ONNX Runtime) is the default: on the
#: benches it reads as much as easyocr at a fraction of the cost (bench/scan.py prints the table).
ENGINES = ("ppocr", "easyocr")
DEFAULT_ENGINE = "ppocr"

_ENGINES: dict[tuple[str, str, str, int], OcrEngine] = {}
_THREADS: list[int] = []
_INJECTED: list[OcrEngine] = []


def set_thread_budget(threads: int) -> None:
    """CPU threads each engine of this process may use (worker pools split the cores this way)."""
    _THREADS[:] = [max(1, int(threads))]


@contextlib.contextmanager
def thread_budget_scope(threads: int) -> Iterator[int]:
    """Within the block, this process's OCR thread budget is ``threads`` (restored after).

    For a process that is itself one of a pool's workers: its engines must not use every core
    while the spawned workers use the rest.
    """
    saved = list(_THREADS)
    set_thread_budget(threads)
    try:
        yield _THREADS[0]
    finally:
        _THREADS[:] = saved


def thread_budget() -> int:
    """This process's OCR thread budget (default: ``OMP_NUM_THREADS`` when set, else every core)."""
    if _THREADS:
        return _THREADS[0]
    env = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, int(env)) if env.isdigit() else max(1, os.cpu_count() or 1)


def get_engine(device: str = "auto", *, strategy: str = "fast", engine: str = DEFAULT_ENGINE) -> OcrEngine:
    """Return this process's ``engine`` for ``device``/``strategy``, loading it on first use.

    ``strategy`` ``fast`` reads whole frames; ``full`` reads small crops (the residual check) with
    settings for them. Raises ``ValueError`` for an unknown engine or strategy.
    """
    if engine not in ENGINES:
        raise ValueError(f"OCR engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if _INJECTED:
        return _INJECTED[-1]
    # The thread budget is part of the key: an engine loaded for a whole machine must not be
    # reused by a process that is one worker of several.
    key = (engine, device, strategy, thread_budget())
    if key not in _ENGINES:
        if engine == "ppocr":
            from ufmclean.ocr.ppocr_engine import PpOcrEngine

            _ENGINES[key] = PpOcrEngine(device, strategy=strategy, threads=thread_budget())  # type: ignore[arg-type]
        else:
            from ufmclean.ocr.easyocr_engine import EasyOcrEngine

            _ENGINES[key] = EasyOcrEngine(device, strategy=strategy)  # type: ignore[arg-type]
    return _ENGINES[key]


@contextlib.contextmanager
def use_engine(engine: OcrEngine) -> Iterator[OcrEngine]:
    """Within the block, :func:`get_engine` returns ``engine`` in this process (every name, device and strategy).

    For callers that cannot pass ``engine=`` down (the Prefect flow's tasks, the CLI): tests use it
    for an OCR double, and a site may use it for its own engine behind :class:`OcrEngine`. Worker
    processes do not inherit it; use ``workers=1`` or a thread task runner. Blocks nest.
    """
    if not isinstance(engine, OcrEngine):
        raise TypeError("use_engine needs an object with read(image) -> list[TextRegion] (ufmclean.ocr.OcrEngine)")
    _INJECTED.append(engine)
    try:
        yield engine
    finally:
        _INJECTED.pop()


__all__ = ["DEFAULT_ENGINE", "ENGINES", "OcrEngine", "TextRegion", "get_engine", "set_thread_budget", "thread_budget",
           "thread_budget_scope",
           "use_engine"]
