"""PP-OCR's two-scale detection of big frames: a coarse whole-frame pass, then a fine mosaic of
what it left uncovered. Small text that the coarse pass cannot see is still read, and the detector
sees far fewer pixels than the frame."""

from dataclasses import replace

import numpy as np
import pytest

from ufmclean.ocr.ppocr import DetectorSettings, detector_scale
from ufmclean.ocr.recall import is_found
from ufmclean.records import BBox


def test_coarse_scale_caps_the_longer_side_and_leaves_small_frames_alone():
    s = DetectorSettings(min_side=384, coarse_side=640)
    assert detector_scale((2048, 2048), s, coarse=True) == pytest.approx(640 / 2048)  # settings of this test
    assert detector_scale((2048, 2048), s) == 1.0  # the full-detail factor is unchanged
    assert detector_scale((256, 256), s, coarse=True) == 1.5  # upscaled frames never go coarse
    with pytest.raises(ValueError):
        DetectorSettings(coarse_side=64)


def _frame_with_text(size: int) -> tuple[np.ndarray, list[BBox]]:
    import cv2

    rng = np.random.default_rng(0)
    small = rng.integers(60, 140, (8, 8)).astype(np.uint8)
    img = cv2.GaussianBlur(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC), (0, 0), size / 64)
    boxes = []
    for text, (x, y), px in (("DOE JOHN 1961", (40, 60), 10), ("MRN 00482913", (size // 2, size - 80), 12),
                             ("PORTABLE", (60, size // 2), 56)):  # fmt: skip
        scale = px / 22.0
        thick = max(1, round(scale * 1.6))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 250, thick, cv2.LINE_AA)
        boxes.append(BBox(x, y - th, x + tw, y + base))
    return img, boxes


@pytest.mark.ocr
def test_small_and_big_text_on_a_2048_frame_are_read_with_a_fraction_of_the_detector_pixels():
    from ufmclean.ocr.ppocr_engine import STRATEGY_DETECTOR, PpOcrEngine

    img, truth = _frame_with_text(2048)
    engine = PpOcrEngine("cpu", threads=1)
    seen = _count_detector_pixels(engine)
    regions = engine.read(img)
    for box in truth:
        assert is_found(box, [r.bbox for r in regions]), box
    # A 10 px line is 3 px at the coarse scale: only the fine mosaic can have found it.
    assert sum(seen) < 0.25 * img.size

    one_pass = PpOcrEngine("cpu", threads=1, detector=replace(STRATEGY_DETECTOR["fast"], coarse_side=None))
    seen = _count_detector_pixels(one_pass)
    one_pass.read(img)
    assert sum(seen) >= img.size  # the whole frame at full detail (plus the edge bands)


def _count_detector_pixels(engine) -> list[int]:
    """Wrap ``engine``'s detector so each call's probability-map size is appended to the returned list."""
    seen: list[int] = []
    probability = engine.detector.probability

    def counting(grey, *, scale=None):
        out = probability(grey, scale=scale)
        seen.append(out[0].size)
        return out

    engine.detector.probability = counting
    return seen


@pytest.mark.ocr
def test_faint_small_text_on_a_bright_field_is_still_detected_after_the_downscale():
    """White 14 px text on a 234 field: the coarse pass's downscale blurs it away and its strokes are
    below the candidates' contrast, so only the fainter fine candidates bring it to the mosaic."""
    import cv2

    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    rng = np.random.default_rng(3)
    img = np.clip(234 + cv2.GaussianBlur(rng.normal(0, 6, (1024, 1024)), (0, 0), 4), 0, 255).astype(np.uint8)
    cv2.putText(img, "DOE JOHN 1961", (400, 1000), cv2.FONT_HERSHEY_SIMPLEX, 14 / 22, 255, 1, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize("DOE JOHN 1961", cv2.FONT_HERSHEY_SIMPLEX, 14 / 22, 1)
    truth = BBox(400, 1000 - th, 400 + tw, 1000 + base)
    engine = PpOcrEngine("cpu", threads=1)
    assert is_found(truth, [r.bbox for r in engine.read(img)])
    engine.fine_candidates = engine.candidates  # without the fainter candidates the line is lost
    assert not is_found(truth, [r.bbox for r in engine.read(img)])


class _CountingDetector:
    """Stands in for the PP-OCR detector: records each canvas and finds text only from the ``hit``-th on."""

    def __init__(self, hit: int) -> None:
        self.canvases: list[tuple[int, int]] = []
        self.hit = hit

    def detect(self, canvas, *, scale=None):
        self.canvases.append(canvas.shape)
        if len(self.canvases) < self.hit:
            return []
        h, w = canvas.shape[:2]
        return [BBox(w // 4, h // 4, 3 * w // 4, 3 * h // 4)]  # inside the crop: no extension round


def _mosaic_engine(detector):
    from ufmclean.ocr.fast import CandidateSettings
    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    eng = PpOcrEngine.__new__(PpOcrEngine)  # no models: only the mosaic logic is under test
    eng.candidates, eng.detector, eng.shrunk_retry = CandidateSettings(), detector, 1.6
    return eng


def test_a_downscaled_crop_the_mosaic_found_nothing_in_is_tried_again_larger():
    grey = np.full((1024, 1024), 160, np.uint8)
    tall = BBox(600, 30, 760, 90)  # a 60 px line (text merged with a blob): its crop is shrunk to 28 px
    det = _CountingDetector(hit=2)
    found = _mosaic_engine(det)._in_mosaic(grey, [tall])
    assert len(det.canvases) == 2 and found  # the first mosaic found nothing, the retry did
    assert det.canvases[1][0] > det.canvases[0][0]  # at a larger scale
    det = _CountingDetector(hit=1)
    _mosaic_engine(det)._in_mosaic(grey, [tall])
    assert len(det.canvases) == 1  # found at once: no retry


def test_a_crop_already_at_full_scale_is_not_tried_again():
    grey = np.full((512, 512), 160, np.uint8)
    det = _CountingDetector(hit=99)
    _mosaic_engine(det)._in_mosaic(grey, [BBox(100, 100, 160, 112)])  # 12 px text: upscaled, not shrunk
    assert len(det.canvases) == 1


def test_a_faint_line_that_counts_is_not_dropped_for_a_shorter_line_over_it(monkeypatch):
    # White '45Y M' on a bright field: 2.86:1 at the candidates' contrast (too short for the mosaic),
    # 3.5:1 at the fainter one; the shorter line covering it must not hide the faint one.
    from ufmclean.ocr import ppocr_engine

    short, longer = BBox(310, 474, 330, 481), BBox(307, 473, 335, 481)
    monkeypatch.setattr(ppocr_engine, "text_lines", lambda grey, settings=None: [longer])
    sent = []
    eng = _mosaic_engine(_CountingDetector(hit=99))
    eng.fine_candidates = eng.candidates
    monkeypatch.setattr(eng, "_in_mosaic", lambda grey, lines: sent.extend(lines) or [])
    eng._faint_lines(np.full((512, 512), 225, np.uint8), [short], [])
    assert longer in sent
    sent.clear()
    monkeypatch.setattr(ppocr_engine, "text_lines", lambda grey, settings=None: [short])
    eng._faint_lines(np.full((512, 512), 225, np.uint8), [BBox(300, 474, 340, 481)], [])
    assert sent == [BBox(300, 474, 340, 481)]  # a faint line under a line that counts: sent once, as that line
