"""Named probe recipes for ``verify --recipe``: presets of the training options, applied over the others.

- ``default``: the options as given (the small CNN, width 8, at 64², 30 epochs of one-cycle Adam peaking at
  3e-3: it fits a few hundred training images, so a single copy can be memorised; minutes on a CPU).
- ``paper``: Hartley et al. (2023)'s chest X-ray recipe: ResNet-18 from scratch at 224², Adam at a
  constant 1e-5 with weight decay 1e-4, batch 32, early stopping with patience 1 on a validation loss
  (10% of the training images, never a canary's carrier: see :mod:`ufmclean.verify.run`). ``--epochs``
  stays the cap. Meant for a GPU: one epoch over 1,000 images at 224² costs about 5 TFLOP.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from ufmclean.errors import UsageError

RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {"model": "resnet18", "size": 224, "lr": 1e-5, "weight_decay": 1e-4, "batch_size": 32,
              "schedule": "constant", "patience": 1},
}

T = TypeVar("T")


def apply_recipe(options: T, name: str) -> T:
    """``options`` (a dataclass with the recipe's fields) with recipe ``name``'s values put over them."""
    if name not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")
    return dataclasses.replace(options, **RECIPES[name], recipe=name)  # type: ignore[type-var]
