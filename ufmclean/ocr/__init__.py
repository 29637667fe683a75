"""OCR: the engine seam (:class:`OcrEngine`, :class:`TextRegion`), easyocr, a fake, and a per-process cache."""

from __future__ import annotations

from ufmclean.ocr.base import OcrEngine, TextRegion

_ENGINES: dict[tuple[str, str], OcrEngine] = {}


def get_engine(device: str = "auto", *, strategy: str = "fast") -> OcrEngine:
    """Return this process's easyocr engine for ``device``/``strategy``, loading it on first use."""
    key = (device, strategy)
    if key not in _ENGINES:
        from ufmclean.ocr.easyocr_engine import EasyOcrEngine

        _ENGINES[key] = EasyOcrEngine(device, strategy=strategy)  # type: ignore[arg-type]
    return _ENGINES[key]


__all__ = ["OcrEngine", "TextRegion", "get_engine"]
