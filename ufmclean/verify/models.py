"""Probe networks for the memorisation check: a small CNN for CPU and ResNet-18 for GPU.

Both take grey images ``(N, 1, S, S)`` float in ``[0, 1]`` and return logits ``(N, C)``. Weights are
randomly initialised (seeded by the caller through ``torch.manual_seed``): a probe must learn only
from the dataset under test.
"""

from __future__ import annotations

from typing import Any

from ufmclean.errors import UsageError

MODEL_NAMES = ("cnn", "resnet18")


def build_model(name: str, *, n_classes: int, width: int = 16) -> Any:
    """Return a freshly initialised probe ``torch.nn.Module``.

    Parameters
    ----------
    name : ``"cnn"`` (four conv-BN-ReLU-maxpool blocks, ``width``..``8*width`` channels, global average pooling;
        trains in minutes on 2 CPU cores at 64²) or ``"resnet18"`` (torchvision, random init,
        first convolution replaced by a 1-channel one).
    n_classes : number of output classes (>= 2).
    width : channels of the CNN's first block (ignored for ResNet-18).
    """
    if name not in MODEL_NAMES:
        raise UsageError(f"unknown probe model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if n_classes < 2:
        raise UsageError(f"a probe needs at least 2 classes, got {n_classes}; give a labels CSV with 2+ labels")
    if width < 1:
        raise UsageError(f"width must be >= 1, got {width}")
    import torch.nn as nn

    if name == "resnet18":
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=n_classes)
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return net

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )

    w = width
    return nn.Sequential(
        block(1, w),
        block(w, 2 * w),
        block(2 * w, 4 * w),
        block(4 * w, 8 * w),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8 * w, n_classes),
    )


def gradcam_target_layer(model: Any, name: str) -> Any:
    """The last convolutional block of a probe built by :func:`build_model` (for Grad-CAM)."""
    if name == "resnet18":
        return model.layer4[-1]
    if name == "cnn":
        return model[3]
    raise UsageError(f"unknown probe model {name!r}")
