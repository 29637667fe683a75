"""text_findings reads every view and unions what it finds (issue 17), with a contrast-gated fake OCR."""

import numpy as np

from ufmclean.detect.text import text_findings
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox, ImageRecord, LoadedImage

NAME = BBox(4, 4, 40, 12)
WORD = BBox(4, 30, 40, 38)


def _image(display, views):
    record = ImageRecord("id1", "a.dcm", "/x/a.dcm", "0" * 64, 1, "dicom", frames=1)
    return LoadedImage(record, display.copy(), display, views=views)


def test_text_hidden_in_the_display_is_read_in_the_range_view():
    dark = np.zeros((1, 48, 48), np.uint8)
    dark[0, 6, 6:38] = 20  # the window leaves the name 20 levels above black: below the reader's contrast
    dark[0, 32, 6:38] = 200  # a word the window shows well
    full = np.zeros_like(dark)
    full[0, 6, 6:38] = 255
    full[0, 32, 6:38] = 255
    engine = FakeOcrEngine([(NAME, "DOE JOHN"), (WORD, "PORTABLE")], min_contrast=40)
    found = text_findings(_image(dark, (("range", full),)), engine)
    by_text = {f.text: f.view for f in found}
    assert by_text == {"PORTABLE": "display", "DOE JOHN": "range"}  # the word is not repeated from 'range'
    assert engine.calls == 2
    only_display = text_findings(_image(dark, ()), FakeOcrEngine([(NAME, "DOE JOHN"), (WORD, "PORTABLE")]))
    assert {f.text for f in only_display} == {"PORTABLE"}
