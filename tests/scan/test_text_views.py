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


def test_hidden_regions_box_the_non_flat_parts_and_drop_specks():
    from ufmclean.detect.text import hidden_regions

    frame = np.zeros((128, 160), np.uint8)
    assert hidden_regions(frame) == []
    frame[20:30, 10:50] = 90  # clipped bone with text in it
    frame[24:27, 15:45] = 200
    frame[100:110, 120:150] = 60  # another clipped patch, far away
    frame[70, 80] = 30  # a lone noisy pixel above the window: no glyph fits there
    boxes = hidden_regions(frame, cell=16)
    assert len(boxes) == 2
    first, second = boxes
    assert first.x0 <= 10 and first.y0 <= 20 and first.x1 >= 50 and first.y1 >= 30  # a cell of margin around it
    assert second.x0 <= 120 and second.x1 == 160 and second.y1 == 128  # clipped to the frame
    assert hidden_regions(255 - frame, cell=16) == boxes  # flat white (a MONOCHROME1 view) is flat too


class _CropEngine:
    """Reads one 'word' at the top-left of every crop it is given; records the crop shapes."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def read(self, image):
        from ufmclean.ocr.base import TextRegion

        self.shapes.append(image.shape)
        return [TextRegion(BBox(2, 3, 12, 9), "X", 0.9)]


def test_read_hidden_reads_only_the_regions_and_maps_boxes_back_to_the_frame():
    from ufmclean.detect.text import hidden_regions, read_hidden

    frame = np.zeros((128, 160), np.uint8)
    frame[40:60, 64:100] = 120
    engine = _CropEngine()
    (region,) = hidden_regions(frame)
    (found,) = read_hidden(frame, engine)
    assert engine.shapes == [(region.height, region.width)]  # one crop, not the frame
    assert found.bbox == BBox(region.x0 + 2, region.y0 + 3, region.x0 + 12, region.y0 + 9)
    assert read_hidden(np.zeros((64, 64), np.uint8), engine) == [] and len(engine.shapes) == 1


def test_text_only_in_the_clipped_values_is_read_in_the_above_window_view():
    display = np.zeros((1, 48, 48), np.uint8)
    display[0, 32, 6:38] = 200  # a word the window shows
    display[0, 2:16, 2:44] = 255  # clipped bright patch: the name in it is invisible
    above = np.zeros_like(display)
    above[0, 2:16, 2:44] = 30
    above[0, 6, 6:38] = 200  # the name, in the values above the window
    engine = FakeOcrEngine([(NAME, "DOE JOHN"), (WORD, "PORTABLE")], min_contrast=40)
    found = text_findings(_image(display, (("above-window", above),)), engine)
    assert {f.text: f.view for f in found} == {"PORTABLE": "display", "DOE JOHN": "above-window"}


def test_a_display_the_range_view_shows_more_clearly_is_not_read():
    y, x = np.mgrid[0:48, 0:48]
    full = ((x + y) * 2).astype(np.uint8)[None]
    full[0, 6, 6:38] = 255
    dark = np.rint(full * 0.1).astype(np.uint8)  # a stale window wider than the data: 0..26
    engine = FakeOcrEngine([(NAME, "DOE JOHN")], min_contrast=40)
    found = text_findings(_image(dark, (("range", full),)), engine)
    assert [(f.text, f.view) for f in found] == [("DOE JOHN", "range")]
    assert engine.calls == 1  # the display frame was not read


def test_a_whole_line_read_in_a_later_view_is_kept_when_the_display_read_only_half_of_it():
    from ufmclean.ocr.base import TextRegion

    class _Reads:
        """The display shows the left half of a line (the rest is on bone the window clips)."""

        def read(self, image):
            if int(image[20, 60]) == 255:  # the clipped-values view: the whole line
                return [TextRegion(BBox(4, 16, 90, 26), "DOE JANE 1961-07-04", 0.9)]
            return [TextRegion(BBox(4, 16, 50, 26), "DOE JANE 19", 0.9)]

    display = np.zeros((1, 48, 96), np.uint8)
    view = np.zeros_like(display)
    view[0, 20, 4:90] = 255
    found = text_findings(_image(display, (("range", view),)), _Reads())
    assert [(f.text, f.view) for f in found] == [("DOE JANE 19", "display"), ("DOE JANE 1961-07-04", "range")]
