"""Seeded, deterministic probe training and batched prediction.

Recipe (the same for the original and the sanitised dataset): Adam, cross-entropy, no augmentation,
shuffled mini-batches from a ``torch.Generator`` seeded with the run seed. The learning rate follows
a one-cycle schedule by default (warm-up, then cosine decay to ~0): the probe ends in a settled state
whose batch-norm statistics match its weights, so accuracy is stable across seeds and a single
training sample's features are fitted (a constant rate left eval-mode accuracy swinging 0.63-0.90 on
Kermany and the train set unfitted in eval mode). Device ``auto`` picks CUDA
when present; on CUDA the forward pass runs under bfloat16 autocast (AMP).

Early stopping (``patience``, the paper recipe's): after each epoch the loss on a validation set is
computed in eval mode; training stops once it has not fallen below its best for ``patience`` epochs
in a row (Keras' EarlyStopping rule; the last weights are kept, as Keras does by default).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ufmclean.errors import UsageError
from ufmclean.verify.models import build_model

SCHEDULES = ("onecycle", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """Probe recipe: ``model`` name, ``epochs``, ``batch_size``, Adam peak ``lr`` and ``weight_decay``,
    ``device`` (``auto``/``cpu``/``cuda``/``cuda:N``), CNN ``width``, ``schedule`` (``onecycle``: warm-up
    then cosine decay per step; ``constant``), ``patience`` (early stopping on a validation loss; ``None``:
    train all ``epochs``, which are then the cap)."""

    model: str = "cnn"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    device: str = "auto"
    width: int = 16
    schedule: str = "onecycle"
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise UsageError("epochs and batch_size must be >= 1, lr > 0 and weight_decay >= 0")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"patience must be >= 1 (or None: no early stopping), got {self.patience}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")


@dataclass
class TrainedProbe:
    """A trained probe: ``model`` (eval mode, on ``device``), wall ``seconds``, ``images_per_s`` and the
    number of ``epochs`` it trained (fewer than asked when early stopping ended it)."""

    model: Any
    device: str
    seconds: float
    images_per_s: float
    n_classes: int
    epochs: int = 0


def resolve_device(device: str) -> str:
    """The torch device for ``auto|cpu|cuda[:N]`` (:func:`ufmclean.devices.resolve_torch_device`)."""
    from ufmclean.devices import resolve_torch_device

    return resolve_torch_device(device)


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch/numpy and turn on deterministic algorithms for the block, restoring the flag after."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    prev = torch.are_deterministic_algorithms_enabled()
    prev_bench = torch.backends.cudnn.benchmark
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev)
        torch.backends.cudnn.benchmark = prev_bench


def _autocast(device: str) -> Any:
    import torch

    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_probe(images: np.ndarray, labels: np.ndarray, *, n_classes: int, config: TrainConfig, seed: int,
                on_epoch: Callable[[int, TrainedProbe], None] | None = None,
                val: tuple[np.ndarray, np.ndarray] | None = None) -> TrainedProbe:
    """Train a fresh probe on ``images`` ``(N, S, S)`` float32 in [0, 1] with ``labels`` ``(N,)`` int.

    Deterministic for a given ``seed`` on a given device. Inputs are not modified. ``on_epoch(epoch, probe)``
    is called after each epoch (1-based) with the model in eval mode; it must not train it. Its time is
    not counted in ``seconds``, and it does not change the training (no random numbers are drawn for it).
    ``val`` = ``(images, labels)`` is the validation set of early stopping (needed with ``config.patience``).
    """
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise UsageError(f"training needs (N, S, S) images with N labels, got {images.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise UsageError("training labels out of range for the number of classes")
    if config.patience is not None and (val is None or len(val[1]) == 0):
        raise UsageError("early stopping (patience) needs validation images")
    device = resolve_device(config.device)
    with deterministic(seed):
        # Channels-last on CPU: the probe's max-pooling is memory-bound and ran 2.5x faster that way
        # (512 images of 64², width 16: forward 453 -> 274 ms, a training step 71 -> 58 ms; same outputs
        # to 1e-5). Scoring pastes every feature on every held-out image: most of verify's time.
        layout = torch.channels_last if device == "cpu" else torch.contiguous_format
        model = build_model(config.model, n_classes=n_classes, width=config.width).to(device, memory_format=layout)
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1).to(device)
        y = torch.from_numpy(labels.astype(np.int64)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps_per_epoch = sum(1 for s in range(0, len(x), config.batch_size) if min(config.batch_size, len(x) - s) >= 2)
        sched = None
        if config.schedule == "onecycle" and steps_per_epoch > 0:
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        t0 = time.perf_counter()
        hook_seconds = 0.0
        best, since_best, done = float("inf"), 0, 0
        for epoch in range(config.epochs):
            order = torch.randperm(len(x), generator=gen).to(device)
            for start in range(0, len(x), config.batch_size):
                idx = order[start : start + config.batch_size]
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                with _autocast(device):
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
            done = epoch + 1
            if on_epoch is not None:
                t_hook = time.perf_counter()
                model.eval()
                on_epoch(done, TrainedProbe(model, device, 0.0, 0.0, n_classes, done))
                model.train()
                hook_seconds += time.perf_counter() - t_hook
            if config.patience is not None and val is not None:
                model.eval()
                loss_val = _mean_loss(TrainedProbe(model, device, 0.0, 0.0, n_classes, done), *val)
                model.train()
                best, since_best = (loss_val, 0) if loss_val < best else (best, since_best + 1)
                if since_best >= config.patience:
                    break
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0 - hook_seconds
    model.eval()
    return TrainedProbe(model, device, seconds, done * len(x) / max(seconds, 1e-9), n_classes, done)


def _mean_loss(probe: TrainedProbe, images: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of ``probe`` on ``images`` ``(N, S, S)`` with ``labels`` ``(N,)``."""
    p = predict_proba(probe, images)
    return float(-np.log(np.clip(p[np.arange(len(labels)), np.asarray(labels)], 1e-7, 1.0)).mean())


def predict_proba(probe: TrainedProbe, images: np.ndarray, *, batch_size: int = 128) -> np.ndarray:
    """Softmax outputs ``(N, C)`` float64 of ``probe`` on ``images`` ``(N, S, S)`` in [0, 1].

    Batches of 128: at 512 the activations (134 MB per layer at 64², width 16) were mapped and
    unmapped on every call, and page faults cost as much CPU as the convolutions (624 images, width
    16, 2 threads: 0.49 user + 0.41 system CPU-s per pass at 512, 0.70 + 0.10 at 128); verify makes
    thousands of such passes."""
    import torch

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"expected (N, S, S) images, got {images.shape}")
    out = np.empty((len(images), probe.n_classes), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).unsqueeze(1).to(probe.device)
            with _autocast(probe.device):
                logits = probe.model(xb)
            out[start : start + len(xb)] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    return out


def accuracy_auroc(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float | None]:
    """Accuracy of ``argmax probs`` ``(N, C)`` against ``labels`` ``(N,)``, and AUROC of class 1 when C == 2
    (Mann–Whitney estimate; ``None`` when a class is absent)."""
    from scipy.stats import mannwhitneyu

    probs = np.asarray(probs)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan"), None
    acc = float((probs.argmax(1) == labels).mean())
    if probs.shape[1] != 2:
        return acc, None
    pos, neg = probs[labels == 1, 1], probs[labels == 0, 1]
    if len(pos) == 0 or len(neg) == 0:
        return acc, None
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return acc, float(u / (len(pos) * len(neg)))
