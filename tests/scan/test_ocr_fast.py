"""Unit tests of the OCR seam, the fake engine and the fast strategy's crop planning (synthetic arrays)."""

import numpy as np
import pytest

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.ocr.fast import Crop, drop_duplicates, merge_boxes, plan_crops, text_candidates
from ufmclean.records import BBox


def _image_with_text(size=1024):
    import cv2

    img = np.full((size, size), 90, np.uint8)
    cv2.putText(img, "DOE JOHN 1971", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1, cv2.LINE_AA)
    return img


def test_check_image_rejects_bad_input():
    with pytest.raises(ValueError):
        check_image(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError):
        check_image(np.zeros((2, 4, 4), np.uint8))
    assert check_image(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5)


def test_fake_engine_reports_only_inked_boxes():
    img = np.zeros((50, 50), np.uint8)
    img[6:9, 6:18] = 255  # strokes inside the planted box
    eng = FakeOcrEngine([(BBox(5, 5, 20, 10), "A"), (BBox(30, 30, 40, 40), "B")])
    out = eng.read(img)
    assert out == [TextRegion(BBox(5, 5, 20, 10), "A", 0.9)]


def test_crop_maps_back_to_original():
    crop = Crop(BBox(100, 50, 200, 90), 2.0)
    assert crop.to_original(BBox(0, 0, 20, 10)) == BBox(100, 50, 110, 55)


def test_merge_and_dedup():
    assert merge_boxes([BBox(0, 0, 10, 10), BBox(11, 0, 20, 10)], gap=2) == [BBox(0, 0, 20, 10)]
    assert drop_duplicates([BBox(0, 0, 100, 20), BBox(10, 2, 40, 18)]) == [BBox(0, 0, 100, 20)]


def test_small_text_gets_full_resolution_crop():
    img = _image_with_text()
    cands = text_candidates(img, max_height=30)
    assert any(c.intersection(BBox(40, 50, 150, 62)) > 0 for c in cands)
    crops = plan_crops(img)
    assert crops[0].box == BBox(0, 0, 1024, 1024) and crops[0].scale < 1
    assert any(c.scale == 2.0 and c.box.intersection(BBox(40, 50, 150, 62)) > 0 for c in crops[1:])
    # flat image: no small-text crops, just the downscaled frame
    assert len(plan_crops(np.full((1024, 1024), 90, np.uint8))) == 1
