"""The OCR seam: ``ufmclean.ocr.use_engine`` puts any OcrEngine behind ``get_engine`` for a block."""

from __future__ import annotations

import pytest

import ufmclean.ocr as ocr
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox


def test_use_engine_serves_every_request_in_the_block_only() -> None:
    outer, inner = FakeOcrEngine(), FakeOcrEngine([(BBox(0, 0, 4, 4), "X")])
    with ocr.use_engine(outer):
        assert ocr.get_engine("cpu", strategy="full", engine="easyocr") is outer
        with ocr.use_engine(inner):
            assert ocr.get_engine() is inner
        assert ocr.get_engine("auto") is outer
    assert not ocr._INJECTED  # nothing left behind for the next caller


def test_use_engine_refuses_what_cannot_read() -> None:
    with pytest.raises(TypeError, match="OcrEngine"), ocr.use_engine(object()):  # type: ignore[arg-type]
        pass

