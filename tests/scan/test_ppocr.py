"""PP-OCR engine: DB post-processing, CTC decoding, sizing rules, missing models, and the real models."""

import numpy as np
import pytest

from ufmclean.ocr import ppocr
from ufmclean.ocr.ppocr import DetectorSettings, ModelsMissingError, boxes_from_probability, detector_scale


def test_db_postprocess_boxes_a_region_grown_by_the_unclip_distance_and_mapped_back():
    prob = np.zeros((64, 128), np.float32)
    prob[20:30, 10:90] = 0.9  # one text line of 80 x 10 map pixels
    prob[50:52, 100:101] = 0.9  # a speck thinner than 3 px: not a box
    s = DetectorSettings(unclip_ratio=1.5)
    (box,) = boxes_from_probability(prob, sy=2.0, sx=2.0, shape=(128, 256), settings=s)
    # contour 81 x 11 (2x2 dilation), unclip distance = area * 1.5 / perimeter ~ 7.3 px per side
    d = 81 * 11 * 1.5 / (2 * (81 + 11))
    assert box.x0 == pytest.approx(2 * (10 - d), abs=3) and box.x1 == pytest.approx(2 * (91 + d), abs=3)
    assert box.y0 == pytest.approx(2 * (20 - d), abs=3) and box.y1 == pytest.approx(2 * (31 + d), abs=3)


def test_db_postprocess_drops_regions_below_box_threshold_and_clips():
    prob = np.zeros((32, 32), np.float32)
    prob[0:8, 0:20] = 0.35  # above the pixel threshold 0.3, below box_thresh 0.5
    assert boxes_from_probability(prob, sy=1, sx=1, shape=(32, 32), settings=DetectorSettings()) == []
    prob[0:8, 0:20] = 0.95
    (box,) = boxes_from_probability(prob, sy=1, sx=1, shape=(32, 32), settings=DetectorSettings())
    assert box.x0 == 0 and box.y0 == 0  # clipped to the frame


def test_detector_scale_upscales_small_frames_and_caps_big_ones():
    s = DetectorSettings(min_side=384, max_side=2560)
    assert detector_scale((256, 256), s) == 1.5
    assert detector_scale((1024, 1024), s) == 1.0
    assert detector_scale((5120, 2560), s) == 0.5
    with pytest.raises(ValueError):
        DetectorSettings(min_side=16)


def test_ctc_decoding_collapses_repeats_and_drops_blanks():
    rec = ppocr.TextRecognizer.__new__(ppocr.TextRecognizer)
    rec._chars = np.array(["", "A", "B", " "], dtype=object)
    steps = [1, 1, 0, 1, 2, 2, 0, 3, 0]  # A A _ A B B _ ' ' _  ->  "AAB "
    probs = np.full((len(steps), 4), 0.02, np.float32)
    for t, k in enumerate(steps):
        probs[t, k] = 0.9
    text, conf = rec._decode(probs)
    assert text == "AAB " and conf == pytest.approx(0.9)
    assert rec._decode(np.eye(4, dtype=np.float32)[[0, 0, 0]]) == ("", 0.0)


def test_missing_models_name_the_fix(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelsMissingError, match="pip install --no-deps rapidocr-onnxruntime"):
        ppocr.model_dir()


def _line_image(text: str, *, height: int = 256, width: int = 512, scale: float = 0.8) -> np.ndarray:
    import cv2

    img = np.full((height, width), 60, np.uint8)
    cv2.putText(img, text, (20, 60), cv2.FONT_HERSHEY_SIMPLEX, scale, 230, 2, cv2.LINE_AA)
    return img


@pytest.mark.ocr
def test_real_models_read_a_burned_in_line():
    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    engine = PpOcrEngine("cpu", threads=1)
    from ufmclean.redact.residual import text_similarity

    regions = engine.read(_line_image("DOE JOHN 1971-03-04"))
    text = " ".join(r.text for r in regions)
    assert text_similarity("DOE JOHN 1971-03-04", text) >= 85 and "1971-03-04" in text
    assert all(0 <= r.bbox.x0 < r.bbox.x1 <= 512 and 0 <= r.bbox.y0 < r.bbox.y1 <= 256 for r in regions)
    assert engine.read(np.full((128, 128), 90, np.uint8)) == []  # a flat frame holds no text


@pytest.mark.ocr
def test_full_strategy_reads_a_line_crop_whole():
    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    engine = PpOcrEngine("cpu", strategy="full", threads=1)
    import cv2

    crop = np.full((40, 140), 50, np.uint8)
    cv2.putText(crop, "SMITH", (8, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 220, 2, cv2.LINE_AA)
    texts = [r.text.upper() for r in engine.read(crop)]
    assert any("SMITH" in t for t in texts)


def test_zero_for_o_is_undone_inside_words_only():
    from ufmclean.ocr.ppocr_engine import latin_digits

    assert latin_digits("HELL0 D0E, JANE") == "HELLO DOE, JANE"
    assert latin_digits("MRN 00482913 1971-03-04 ACC 7731920 10:00") == "MRN 00482913 1971-03-04 ACC 7731920 10:00"
    assert latin_digits("A0") == "A0"


@pytest.mark.ocr
def test_a_small_dark_on_light_label_at_the_frame_edge_is_read_on_its_own():
    """A 13x16 label patch by the right edge: the detector's box over it (and the patch padded in the
    frame) read 'n' or nothing; the patch read alone, framed by its own edge, reads 'L'."""
    import cv2

    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    g = np.full((256, 256), 12, np.uint8)
    g[:, :232] = 150
    g = cv2.GaussianBlur(g, (0, 0), 2)
    g[121:137, 237:250] = 225
    cv2.putText(g, "L", (239, 134), cv2.FONT_HERSHEY_PLAIN, 0.8, 25, 1)
    engine = PpOcrEngine("cpu", threads=1)
    patch = [r for r in engine.read(g) if r.bbox.x0 >= 228 and 110 <= r.bbox.y0 <= 130]
    assert any(r.text == "L" for r in patch)
    assert all(r.bbox.x1 <= 256 and r.bbox.y1 <= 256 for r in patch)


@pytest.mark.ocr
def test_recogniser_reads_a_repeated_crop_once():
    from ufmclean.records import BBox

    rec = ppocr.TextRecognizer(device="cpu", threads=1)
    a = _line_image("DOE JOHN")
    b = a.copy()
    b[150:, :] = 200  # another image: the stamp's place is the same, the rest differs
    box, other = BBox(10, 35, 200, 70), BBox(10, 150, 200, 200)
    first = rec.recognize(a, [box, box])  # twice in one call: read once
    assert (rec.reads, rec.reused) == (1, 1) and first[0] == first[1] and "JOHN" in first[0][0]
    again = rec.recognize(b, [box, other])
    assert again[0] == first[0] and (rec.reads, rec.reused) == (2, 2)
    rec.memo_size = 1  # from the next call on, only the last distinct crop is remembered
    rec.recognize(b, [other])
    assert (rec.reads, rec.reused) == (2, 3) and len(rec._memo) == 1
    rec.recognize(a, [box])  # forgotten: read again
    assert (rec.reads, rec.reused) == (3, 3)
