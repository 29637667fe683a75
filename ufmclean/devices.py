"""Compute devices: the names a user may give (``--device``) and the one torch resolver.

The OCR engines and the verify probe share :func:`resolve_torch_device`, so ``--device cuda`` on a
machine without a GPU fails with one message wherever it is given. (The PP-OCR engine asks ONNX
Runtime for its CUDA provider instead, in :mod:`ufmclean.ocr.ppocr_engine`.)
"""

from __future__ import annotations

from typing import Literal, get_args

from ufmclean.errors import UsageError

#: What ``--device`` accepts on scan and sanitize (verify also takes ``cuda:N``).
Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)


def resolve_torch_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` are checked.

    Raises :class:`~ufmclean.errors.UsageError` for an unknown name, or for ``cuda`` when torch sees
    no CUDA device.
    """
    if not (device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())):
        raise UsageError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    import torch

    has_cuda = torch.cuda.is_available()
    if device.startswith("cuda") and not has_cuda:
        raise UsageError(f"--device {device} asked for but torch sees no CUDA device; use --device cpu or auto")
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device
