"""A classifier trained elsewhere, seen only through its last layer's outputs (TorchScript or ONNX).

The audit needs nothing but ``images -> class scores``: no weights, no gradients, no training data
(the black-box claim of Hartley et al. 2023). :func:`load_model` opens the file, checks it accepts the
stated input (``(N, channels, size, size)`` float32, grey images in [0, 1] repeated over the channels,
then ``(x - mean) / std``) and returns a :class:`BlackBoxModel`; :func:`to_probs` turns its raw outputs
into softmax probabilities, as logits or as probabilities already (``outputs``; ``auto`` decides on the
held-out outputs: rows in [0, 1] summing to 1 are probabilities). A single output is read as class 1's
logit (or probability) of a binary model.

Errors are :class:`ufmclean.errors.UsageError` with the fix in the message; messages name the file by
its name only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np

from ufmclean.errors import UsageError

FORMATS = ("auto", "torchscript", "onnx")
OUTPUTS = ("auto", "logits", "probs")
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class BlackBoxModel:
    """A loaded model: ``name`` (file name), ``format`` (``torchscript``/``onnx``), input ``channels`` and
    ``size``, ``n_outputs`` (its last layer's width), the normalisation ``mean``/``std``, and ``run``
    mapping ``(n, channels, size, size)`` float32 to raw outputs ``(n, n_outputs)``."""

    name: str
    format: str
    channels: int
    size: int
    n_outputs: int
    mean: float
    std: float
    device: str
    run: Callable[[np.ndarray], np.ndarray]

    def raw(self, images: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Raw outputs ``(N, n_outputs)`` float64 on grey ``images`` ``(N, size, size)`` in [0, 1]."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3 or images.shape[1:] != (self.size, self.size):
            raise UsageError(f"images must be (N, {self.size}, {self.size}), got {images.shape}")
        out = np.empty((len(images), self.n_outputs), dtype=np.float64)
        for start in range(0, len(images), batch_size):
            x = (images[start : start + batch_size] - self.mean) / self.std
            x = np.ascontiguousarray(np.repeat(x[:, None], self.channels, axis=1), dtype=np.float32)
            out[start : start + len(x)] = _as_2d(self.run(x), len(x), self.name)
        return out


def _as_2d(y: object, n: int, name: str) -> np.ndarray:
    a = np.asarray(y, dtype=np.float64)
    if a.ndim == 1 and len(a) == n:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n:
        raise UsageError(f"{name}: expected outputs of shape ({n}, classes) from its last layer, got {a.shape}; "
                         "export a model whose first output is the class scores")
    if not np.isfinite(a).all():
        raise UsageError(f"{name}: the model returned NaN or infinite outputs; check --mean/--std and the export")
    return a


def detect_outputs(raw: np.ndarray) -> str:
    """``probs`` when every row of ``raw`` ``(N, K)`` lies in [0, 1] and (K >= 2) sums to 1 within 1e-3, else
    ``logits``."""
    raw = np.asarray(raw, float)
    in_range = bool(((raw >= 0) & (raw <= 1)).all())
    if raw.shape[1] == 1:
        return "probs" if in_range else "logits"
    return "probs" if in_range and bool(np.allclose(raw.sum(1), 1.0, atol=1e-3)) else "logits"


def to_probs(raw: np.ndarray, kind: str) -> np.ndarray:
    """Softmax probabilities ``(N, C)`` from raw outputs ``(N, K)`` read as ``kind`` (``logits``/``probs``);
    K = 1 becomes C = 2 (``[1 - p, p]``, p = sigmoid of a logit)."""
    raw = np.asarray(raw, float)
    if kind not in ("logits", "probs"):
        raise UsageError(f"outputs must be logits or probs, got {kind!r}")
    if raw.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-raw[:, 0])) if kind == "logits" else np.clip(raw[:, 0], 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
    if kind == "probs":
        p = np.clip(raw, 0.0, None)
        return p / np.maximum(p.sum(1, keepdims=True), 1e-12)
    z = raw - raw.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def sniff_format(path: Path) -> str:
    """``torchscript`` for a zip archive (how ``torch.jit.save`` writes), ``onnx`` for ``.onnx`` or anything else."""
    if path.suffix.lower() == ".onnx":
        return "onnx"
    with path.open("rb") as fh:
        return "torchscript" if fh.read(4) == _ZIP_MAGIC else "onnx"


def _load_torchscript(path: Path, device: str) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    import torch

    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for but no CUDA device is available; use --device cpu or auto")
    try:
        module = torch.jit.load(str(path), map_location=dev)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/ValueError/pickle errors alike
        raise UsageError(f"{path.name} is not a TorchScript model ({type(exc).__name__}); a torch.save checkpoint "
                         "or state_dict is not enough: export with torch.jit.script(model).save(FILE) or "
                         "torch.onnx.export") from None
    module.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            y = module(torch.from_numpy(x).to(dev))
        if isinstance(y, (tuple, list)):
            y = y[0]
        if isinstance(y, dict):
            y = next(iter(y.values()))
        return y.float().cpu().numpy()

    return run, dev


def _load_onnx(path: Path, device: str) -> tuple[Callable[[np.ndarray], np.ndarray], str, list]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("ONNX models need onnxruntime (pip install onnxruntime); or export to TorchScript") from None
    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        sess = ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
        raise UsageError(f"{path.name} is neither a TorchScript nor a readable ONNX model ({type(exc).__name__}); "
                         "export with torch.jit.script(model).save(FILE) or torch.onnx.export") from None
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise UsageError(f"{path.name} takes {len(inputs)} inputs; the audit feeds one image batch")
    inp = inputs[0]
    dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}.get(inp.type)
    if dtype is None:
        raise UsageError(f"{path.name} takes {inp.type} input; the audit feeds float images")

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {inp.name: x.astype(dtype)})[0]

    return run, sess.get_providers()[0], list(inp.shape)


def load_model(path: str | Path, *, format: str = "auto", size: int | None = None, channels: int | None = None,
               mean: float = 0.0, std: float = 1.0, device: str = "auto") -> BlackBoxModel:
    """Open a TorchScript or ONNX classifier and check it takes ``(N, channels, size, size)`` images.

    ONNX models with a fixed input shape give ``channels``/``size`` themselves (a different value given
    here is an error); TorchScript models need ``size`` (``channels`` defaults to 1).
    """
    path = Path(path)
    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not path.is_file():
        raise UsageError(f"model file not found: {path.name}; pass an exported TorchScript or ONNX file to --model")
    if not std > 0:
        raise UsageError(f"--std must be > 0, got {std}")
    fmt = sniff_format(path) if format == "auto" else format
    if fmt == "onnx":
        run, dev, shape = _load_onnx(path, device)
        if len(shape) != 4:
            raise UsageError(f"{path.name} takes {len(shape)}-D input; the audit feeds (N, C, H, W) images")
        fixed_c = shape[1] if isinstance(shape[1], int) else None
        fixed_s = shape[2] if isinstance(shape[2], int) and shape[2] == shape[3] else None
        if isinstance(shape[2], int) and isinstance(shape[3], int) and shape[2] != shape[3]:
            raise UsageError(f"{path.name} takes {shape[2]}x{shape[3]} images; the audit feeds square images")
        for what, given, fixed in (("--channels", channels, fixed_c), ("--size", size, fixed_s)):
            if given is not None and fixed is not None and given != fixed:
                raise UsageError(f"{path.name} takes {what.lstrip('-')} {fixed}, not {given}; drop {what} or fix it")
        channels, size = channels or fixed_c, size or fixed_s
    else:
        run, dev = _load_torchscript(path, device)
    channels = channels or 1
    if size is None:
        raise UsageError(f"{path.name} does not state its input size; pass --size (the side it was trained at)")
    if size < 8 or channels not in (1, 3):
        raise UsageError(f"--size must be >= 8 and --channels 1 or 3, got {size} and {channels}")
    try:
        probe = run(np.zeros((2, channels, size, size), np.float32))
    except Exception as exc:  # noqa: BLE001 - the runtime's shape error (the input is zeros: no data in it)
        first = (str(exc).strip().splitlines() or [""])[-1][:160]
        raise UsageError(f"{path.name} did not accept a (2, {channels}, {size}, {size}) batch ({type(exc).__name__}: "
                         f"{first}); pass the --size and --channels it was trained with") from None
    n_out = _as_2d(probe, 2, path.name).shape[1]
    return BlackBoxModel(path.name, fmt, channels, size, n_out, float(mean), float(std), dev, run)
