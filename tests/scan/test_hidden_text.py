"""Text hidden in the values a clinical window clips is read by the real PP-OCR engine (issue 17).

A 12-bit frame whose display is a linear window narrower than the data: a name stamped at the
stored maximum on bright 'bone' above the window renders as one white patch. The above-window view
holds it at the window's own contrast and is read only in its non-flat regions.
"""

import numpy as np

from ufmclean.detect.text import text_findings
from ufmclean.io.display import grey_views
from ufmclean.records import ImageRecord, LoadedImage


def _frame() -> tuple[np.ndarray, np.ndarray]:
    import cv2

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:384]
    values = 1100.0 + x * 1800.0 / 383 + rng.normal(0, 15, (256, 384))  # what the window is for
    values[150:200, 20:360] = 3700.0  # bright bone, above the window
    mask = np.zeros((256, 384), np.uint8)
    cv2.putText(mask, "DOE JANE 1961", (30, 186), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    values[mask > 0] = 4095.0
    values[20:40, 10:120] = np.where(values[20:40, 10:120] > 0, 2000.0, 0)  # a grey plate the window shows
    cv2.putText(mask := np.zeros((256, 384), np.uint8), "AP", (40, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2)
    values[mask > 0] = 2900.0
    display = np.clip(np.rint((values - 1000.0) * 255.0 / 2000.0), 0, 255).astype(np.uint8)
    return values[None], display[None]


def test_a_name_on_bone_above_the_window_is_read_in_the_above_window_view():
    from ufmclean.ocr.ppocr_engine import PpOcrEngine

    values, display = _frame()
    views = grey_views(values, display)
    assert [n for n, _ in views] == ["above-window"]
    record = ImageRecord("id1", "a.dcm", "/x/a.dcm", "0" * 64, 1, "dicom", frames=1)
    engine = PpOcrEngine("cpu", threads=1)
    only_display = text_findings(LoadedImage(record, values, display), engine)
    assert not any("DOE" in f.text for f in only_display)  # the window shows one white patch
    found = text_findings(LoadedImage(record, values, display, views=views), engine)
    by_view = {f.text.replace(" ", ""): f.view for f in found}
    assert by_view.get("DOEJANE1961") == "above-window", by_view
    assert by_view.get("AP") == "display"
