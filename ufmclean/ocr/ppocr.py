"""PP-OCRv4 text detection (DBNet) and recognition (SVTR-LCNet, CTC) through ONNX Runtime.

The ONNX weights come inside the PyPI wheel ``rapidocr-onnxruntime`` (1.4.x ships
``ch_PP-OCRv4_det_infer.onnx``, ``ch_PP-OCRv4_rec_infer.onnx`` and the recogniser's character
list in the model's metadata); nothing is downloaded. We only read its model files, never import
the package (its import pulls in GUI OpenCV, PyYAML, Shapely and tqdm, which the scan does not need):
the pre- and post-processing below follow PaddleOCR's published ``DBPostProcess`` and
``CTCLabelDecode``, restricted to what an axis-aligned box scan needs.

Costs: ``bench/scan.py`` (images/s and recall against Presidio) and ``bench/views.py``.
"""

from __future__ import annotations

import importlib.util
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ufmclean.errors import UsageError
from ufmclean.records import BBox

#: The wheel that carries the weights, and the version range whose file names we know.
MODEL_PACKAGE = "rapidocr-onnxruntime"
DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"
REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
INSTALL_HINT = (
    "the PP-OCR models are missing: install them with "
    "'pip install --no-deps rapidocr-onnxruntime==1.4.4' (its wheel holds the ONNX files), "
    "or choose --engine easyocr"
)


class ModelsMissingError(UsageError):
    """The PP-OCR ONNX files (or onnxruntime itself) are not installed; the message names the fix.

    A usage error: the CLI prints it as one line and exits 2 before any file is processed."""


def model_dir() -> Path:
    """Folder holding the PP-OCR ONNX files inside the installed ``rapidocr_onnxruntime`` package.

    Found without importing that package. Raises :class:`ModelsMissingError` when absent.
    """
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ModelsMissingError(INSTALL_HINT)
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    if not (folder / DET_MODEL).is_file() or not (folder / REC_MODEL).is_file():
        raise ModelsMissingError(INSTALL_HINT)
    return folder


def _session(path: Path, *, device: str, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelsMissingError("onnxruntime is not installed: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # onnxruntime's warnings are about graph fusions, not the data
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    from ufmclean.ocr.onnx_fold import folded_bytes

    # The folded graph computes the same function ~1.35x faster on CPU (ocr/onnx_fold.py).
    try:
        return ort.InferenceSession(folded_bytes(path), sess_options=opts, providers=providers)
    except Exception:  # noqa: BLE001 - a damaged cache file: fold again from the installed model
        return ort.InferenceSession(folded_bytes(path, refresh=True), sess_options=opts, providers=providers)


def _to_tensor(grey: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 → ``(1, 3, H, W)`` float32 normalised to [-1, 1] (PP-OCR's mean/std 0.5)."""
    x = grey.astype(np.float32) * (2.0 / 255.0) - 1.0
    return np.broadcast_to(x, (1, 3, *grey.shape)).copy()


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """DBNet post-processing and input sizing.

    ``thresh``/``box_thresh``/``unclip_ratio`` are PaddleOCR's DB post-processing parameters (its
    defaults 0.3 / 0.6 / 1.5; rapidocr uses 0.5 / 1.6). ``min_side``: frames whose shorter side is
    below this are upscaled to it (small text on small frames becomes detectable, as rapidocr's
    ``limit_type: min`` does); ``max_side``: frames are downscaled so their longer side fits (cost
    grows with pixels; text of 8 px at 2048 stays >= 8 px at the default).
    ``coarse_side``: when set, a whole frame whose longer side is larger is detected at this size
    first (a fraction of the cost), and the engine detects what that pass leaves uncovered again
    at its own scale (see :class:`~ufmclean.ocr.ppocr_engine.PpOcrEngine`); ``None``: one pass.
    """

    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    min_side: int = 736
    max_side: int = 2560
    max_candidates: int = 1000
    coarse_side: int | None = None

    def __post_init__(self) -> None:
        if not (0 < self.thresh < 1 and 0 < self.box_thresh < 1 and self.unclip_ratio > 0):
            raise ValueError("invalid DetectorSettings: thresholds in (0, 1), unclip_ratio > 0")
        if not 32 <= self.min_side <= self.max_side:
            raise ValueError("invalid DetectorSettings: 32 <= min_side <= max_side")
        if self.coarse_side is not None and not 128 <= self.coarse_side <= self.max_side:
            raise ValueError("invalid DetectorSettings: 128 <= coarse_side <= max_side")


def detector_scale(shape: tuple[int, int], settings: DetectorSettings, *, coarse: bool = False) -> float:
    """The resize factor the detector applies to a frame of ``shape`` ``(H, W)``.

    ``coarse``: the factor of the coarse first pass (at most ``coarse_side`` px on the longer side),
    where ``settings.coarse_side`` is set; otherwise the full-detail factor.
    """
    h, w = shape
    scale = max(1.0, settings.min_side / max(1, min(h, w)))
    limit = settings.coarse_side if coarse and settings.coarse_side else settings.max_side
    if max(h, w) * scale > limit:
        scale = limit / max(h, w)
    return scale


class TextDetector:
    """PP-OCRv4 DBNet: ``detect(grey)`` → axis-aligned text boxes in ``grey``'s pixel coordinates."""

    def __init__(self, *, device: str = "cpu", threads: int = 1, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.border = 16  # detector pixels
        self._session = _session(model_dir() / DET_MODEL, device=device, threads=threads)

    def probability(self, grey: np.ndarray, *, scale: float | None = None) -> tuple[np.ndarray, float, float]:
        """DB text probability map of ``grey`` (uint8 ``(H, W)``) and the ``(sy, sx)`` map→frame factors.

        ``scale``: resize factor (default :func:`detector_scale`); sizes are rounded to multiples of 32.
        """
        import cv2

        h, w = grey.shape
        scale = detector_scale((h, w), self.settings) if scale is None else float(scale)
        rh = max(32, int(round(h * scale / 32)) * 32)
        rw = max(32, int(round(w * scale / 32)) * 32)
        interp = cv2.INTER_AREA if rh * rw < h * w else cv2.INTER_CUBIC
        img = cv2.resize(grey, (rw, rh), interpolation=interp) if (rh, rw) != (h, w) else grey
        out = self._session.run(None, {"x": _to_tensor(img)})[0]
        return out[0, 0], h / rh, w / rw

    def detect(self, grey: np.ndarray, *, scale: float | None = None) -> list[BBox]:
        """Text boxes of ``grey`` (uint8 ``(H, W)``), clipped to it, in reading order (``scale`` as in
        :meth:`probability`).

        The frame is detected with ``border`` px (after resizing) of its top and bottom rows' level
        added above and below: DB cuts text that touches the top edge (burned-in headers often start
        at row 0: 'KAUFMAN SCOTT' there came back as a box over 'MAN SCOTT'). Not at the sides:
        there it cost sample_data 5 of its lone 'L' markers near the right edge (432 -> 427 of 433).
        """
        import cv2

        h, w = grey.shape
        scale = detector_scale((h, w), self.settings) if scale is None else float(scale)
        b = max(1, round(self.border / scale))
        ring = np.concatenate([grey[0], grey[-1]])
        framed = cv2.copyMakeBorder(grey, b, b, 0, 0, cv2.BORDER_CONSTANT, value=int(np.median(ring)))
        prob, sy, sx = self.probability(framed, scale=scale)
        found = boxes_from_probability(prob, sy=sy, sx=sx, shape=framed.shape, settings=self.settings)
        return [c for c in (f.translate(0, -b).clip(h, w) for f in found) if c.area > 0]


def boxes_from_probability(
    prob: np.ndarray, *, sy: float, sx: float, shape: tuple[int, int], settings: DetectorSettings
) -> list[BBox]:
    """DB post-processing: boxes of the text regions of ``prob`` (``(h, w)`` float in [0, 1]).

    Regions above ``thresh`` (dilated 2x2, as PaddleOCR's ``use_dilation``) whose mean probability
    is at least ``box_thresh`` are grown by the unclip distance ``area * ratio / perimeter`` of their
    minimum-area rectangle, then mapped to frame pixels by ``(sy, sx)`` and clipped to ``shape``.
    """
    import cv2

    s = settings
    bitmap: np.ndarray = (prob > s.thresh).astype(np.uint8)
    bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    height, width = shape
    out = []
    for contour in contours[: s.max_candidates]:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < 3:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(mask, [contour.reshape(-1, 2) - [x, y]], 1)
        if float(cv2.mean(prob[y : y + bh, x : x + bw], mask)[0]) < s.box_thresh:
            continue
        d = rw * rh * s.unclip_ratio / (2 * (rw + rh))
        quad = cv2.boxPoints(((cx, cy), (rw + 2 * d, rh + 2 * d), angle))
        x0, y0 = quad.min(axis=0)
        x1, y1 = quad.max(axis=0)
        box = BBox(int(math.floor(x0 * sx)), int(math.floor(y0 * sy)), int(math.ceil(x1 * sx)), int(math.ceil(y1 * sy)))
        box = box.clip(height, width)
        if box.area > 0:
            out.append(box)
    return sorted(out, key=lambda b: (b.y0, b.x0))


class TextRecognizer:
    """PP-OCRv4 recogniser: ``recognize(grey, boxes)`` → ``[(text, confidence), ...]`` in box order.

    Crops are resized to 48 px height and batched by similar width (one ONNX call per batch). On
    CPU a batch holds at most :attr:`cpu_batch_columns` padded columns: measured on one thread
    (PP-OCRv4 rec, 48 px high), a crop of 128 columns cost 5.8 ms alone and 9.9 ms in a batch of 16,
    one of 256 columns 12.8 and 20.3 ms (the batch's activations outgrow the cache), while two
    64-column crops together cost no more than apart. Large batches pay off on CUDA only.
    """

    height = 48
    min_width = 64
    cpu_batch_columns = 256

    def __init__(self, *, device: str = "cpu", threads: int = 1, batch_size: int = 16) -> None:
        self._session = _session(model_dir() / REC_MODEL, device=device, threads=threads)
        chars = self._session.get_modelmeta().custom_metadata_map.get("character", "").splitlines()
        if not chars:
            raise ModelsMissingError("the PP-OCR recogniser carries no character list; reinstall rapidocr-onnxruntime")
        # CTCLabelDecode: index 0 is the CTC blank, then the dictionary, then the space character.
        self._chars = np.array(["", *chars, " "], dtype=object)
        self.batch_size = int(batch_size)
        self.max_columns = None if device.startswith("cuda") else self.cpu_batch_columns
        self.memo_size = 4096
        self._memo: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self.reads = 0
        self.reused = 0

    def _crop(self, grey: np.ndarray, box: BBox) -> np.ndarray:
        import cv2

        patch = grey[box.slices]
        width = max(self.height // 4, int(math.ceil(patch.shape[1] * self.height / max(1, patch.shape[0]))))
        interp = cv2.INTER_AREA if patch.shape[0] > self.height else cv2.INTER_CUBIC
        return cv2.resize(patch, (width, self.height), interpolation=interp)

    def forget(self) -> None:
        """Drop every remembered read (a benchmark that times reads must not time reuse)."""
        self._memo.clear()

    def recognize(self, grey: np.ndarray, boxes: list[BBox]) -> list[tuple[str, float]]:
        """Text and mean character confidence for each box of ``grey`` (uint8 ``(H, W)``).

        A crop whose resized pixels this recogniser has read before (the same stamp or screen
        label at the same place in many images or frames) is not read again: its earlier read is
        reused (the last :attr:`memo_size` distinct crops are remembered, by a 128-bit digest of
        their pixels). ``reads`` and ``reused`` count both kinds.
        """
        crops = [self._crop(grey, b) for b in boxes]
        keys = [_crop_key(c) for c in crops]
        known = {k: self._memo[k] for k in keys if k in self._memo}
        first: dict[bytes, int] = {}  # each distinct unread crop once (the same crop twice: one read)
        for i, k in enumerate(keys):
            if k not in known:
                first.setdefault(k, i)
        todo = list(first.values())
        self.reused += len(crops) - len(todo)
        self.reads += len(todo)
        for sub in _width_batches([crops[i].shape[1] for i in todo], batch_size=self.batch_size,
                                  min_width=self.min_width, max_columns=self.max_columns):
            idx = [todo[j] for j in sub]
            # PaddleOCR pads every batch to at least 320 px; the model is convolutional + CTC over
            # the width, so padding a batch only to its own widest crop (multiple of 8) reads the
            # same and costs a fraction: most burned-in boxes are 1-3 words, many a lone letter.
            width = -(-max(self.min_width, max(crops[i].shape[1] for i in idx)) // 8) * 8
            batch = np.zeros((len(idx), 3, self.height, width), np.float32)
            for row, i in enumerate(idx):
                c = crops[i]
                batch[row, :, :, : c.shape[1]] = c.astype(np.float32) * (2.0 / 255.0) - 1.0
            probs = self._session.run(None, {"x": batch})[0]
            for row, i in enumerate(idx):
                known[keys[i]] = self._decode(probs[row])
        for k in keys:
            self._memo[k] = known[k]
            self._memo.move_to_end(k)
        while len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return [known[k] for k in keys]

    def _decode(self, probs: np.ndarray) -> tuple[str, float]:
        """Greedy CTC decoding of one ``(T, C)`` probability sequence."""
        best = probs.argmax(axis=1)
        conf = probs.max(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        if not keep.any():
            return "", 0.0
        return "".join(self._chars[best[keep]]), float(conf[keep].mean())


def _crop_key(crop: np.ndarray) -> bytes:
    """Digest of a resized crop's shape and pixels (what the recogniser reads)."""
    import hashlib

    digest = hashlib.blake2b(np.ascontiguousarray(crop).tobytes(), digest_size=16)
    digest.update(repr(crop.shape).encode())
    return digest.digest()


def _width_batches(widths: list[int], *, batch_size: int, min_width: int, max_waste: float = 1.3,
                   max_columns: int | None = None) -> list[list[int]]:
    """Indices of ``widths`` grouped into recogniser batches: sorted by width, at most ``batch_size``
    each, and a new batch whenever a crop is more than ``max_waste`` x the batch's narrowest (the
    recogniser's cost is the batch's padded area, so a long line must not pad 15 lone letters).
    ``max_columns``: a batch's padded width times its size stays within it (a crop wider than that
    is a batch of its own)."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    batches: list[list[int]] = []
    for i in order:
        w = max(widths[i], min_width)
        # Sorted by width, so ``w`` is the padded width of the batch it joins.
        if (batches and len(batches[-1]) < batch_size and w <= max_waste * max(widths[batches[-1][0]], min_width)
                and (max_columns is None or (len(batches[-1]) + 1) * w <= max_columns)):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
