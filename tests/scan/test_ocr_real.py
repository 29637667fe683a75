"""The real easyocr engine (fast strategy) on one small synthetic frame: small, faint and dark-on-light text.

One 320x320 frame, one model load: slow (a few seconds on CPU), so marked slow + ocr.
"""

import numpy as np
import pytest

from ufmclean.ocr.recall import covered_fraction
from ufmclean.records import BBox

pytestmark = [pytest.mark.slow, pytest.mark.ocr]


def _frame():
    """A smooth grey frame with three lines of known tight boxes: 10 px bright, 12 px +45 grey, 12 px dark on a label."""
    import cv2

    yy, xx = np.mgrid[0:320, 0:320]
    img = (70 + 50 * np.exp(-((xx - 160) ** 2 + (yy - 170) ** 2) / 9000.0)).astype(np.uint8)
    cv2.rectangle(img, (176, 266), (300, 290), 230, -1)
    lines = [("PORTABLE", (12, 30), 0.36, 255), ("DOE JOHN", (12, 300), 0.42, "faint"), ("04/03/2001", (182, 284), 0.42, 20)]
    truth = []
    for text, (x, y), scale, colour in lines:
        mask = np.zeros_like(img)
        cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 1, cv2.LINE_AA)
        ys, xs = np.nonzero(mask)
        box = BBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        value = float(np.median(img[box.slices])) + 45 if colour == "faint" else float(colour)
        a = mask.astype(np.float32) / 255
        img = np.clip(np.rint(img * (1 - a) + value * a), 0, 255).astype(np.uint8)
        truth.append((text, box))
    return img, truth


def test_fast_engine_finds_small_faint_and_dark_text_in_original_coordinates():
    from ufmclean.ocr.easyocr_engine import EasyOcrEngine

    img, truth = _frame()
    assert 9 <= truth[0][1].height <= 12 and truth[1][1].height <= 12  # really small text
    engine = EasyOcrEngine("cpu", strategy="fast")
    regions = engine.read(img)
    boxes = [r.bbox for r in regions]
    for text, box in truth:
        assert covered_fraction(box, boxes) >= 0.5, text
        # boxes are in original pixel coordinates: the region over this line sits on it, not scaled away
        best = max((r for r in regions if r.bbox.intersection(box) > 0), key=lambda r: r.bbox.iou(box))
        assert best.bbox.iou(box) > 0.4
        assert abs(best.bbox.y0 - box.y0) <= 4 and abs(best.bbox.x0 - box.x0) <= 6
    # the digits of the date are read (text quality, not only boxes)
    assert any(sum(ch.isdigit() for ch in r.text) >= 6 for r in regions)


def _edge_frame():
    """256x256: tissue (150) with a soft rim at x ~ 200 on a dark background (12); a dark R on a
    light patch straddling the rim, and a faint L (52) whose upright sits on the rim's foot."""
    import cv2

    img = np.full((256, 256), 12, np.uint8)
    img[:, :200] = 150
    img[:, 200:204] = (112, 62, 28, 16)
    img[30:46, 193:209] = 225  # label patch over the rim
    cv2.putText(img, "R", (197, 42), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 25, 1, cv2.LINE_AA)
    img[120:132, 202:204] = 50  # the L's upright, merged into the rim's foot
    img[130:132, 202:209] = 52  # its foot
    return img, [("R", BBox(193, 30, 209, 46)), ("L", BBox(201, 120, 210, 132))]


def test_fast_engine_reads_a_patch_label_and_a_faint_letter_on_a_tissue_edge():
    from ufmclean.ocr.easyocr_engine import EasyOcrEngine

    img, truth = _edge_frame()
    regions = EasyOcrEngine("cpu", strategy="fast").read(img)
    boxes = [r.bbox for r in regions]
    for name, box in truth:
        assert covered_fraction(box, boxes) >= 0.5, name
    assert all(r.bbox.height <= 40 for r in regions)  # no frame-sized region over the tissue


@pytest.mark.parametrize("strategy", ["fast", "full"])
def test_text_filling_a_small_frame_or_crop_is_read(strategy: str) -> None:
    """A line a third of the frame tall is still text: small frames, and the residual check's crops
    (read with the full strategy, upscaled) must not lose it to the tall-box filter."""
    import cv2

    from ufmclean.ocr import get_engine

    engine = get_engine("cpu", strategy=strategy)
    frame = np.full((128, 256), 30, np.uint8)
    cv2.putText(frame, "HELLO 123", (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, 255, 2)
    assert any("HELLO" in r.text.upper() for r in engine.read(frame))
    crop = np.full((40, 180), 30, np.uint8)
    cv2.putText(crop, "JOHN DOE", (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    reads = [r.text.upper() for r in engine.read(cv2.resize(crop, None, fx=3, fy=3))]
    if strategy == "full":
        assert any("JOHN" in t for t in reads), reads
