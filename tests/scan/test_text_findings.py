"""Text findings: every frame, identical frames read once, PHI typed from the header."""

import numpy as np
import pytest

from ufmclean.detect.text import text_findings
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.records import BBox, HeaderSeeds, ImageRecord, LoadedImage

NAME_BOX, WORD_BOX = BBox(2, 2, 20, 8), BBox(2, 20, 20, 26)


def make_image(frames):
    record = ImageRecord("id1", "a.dcm", "/x/a.dcm", "0" * 64, 1, "dicom", frames=len(frames))
    display = np.stack(frames).astype(np.uint8)
    return LoadedImage(record, display.copy(), display, header=HeaderSeeds(names=("DOE^JOHN",)))


def inked(boxes):
    img = np.zeros((32, 32), np.uint8)
    for box in boxes:
        img[box.y0 + 1, box.x0 + 1 : box.x1 - 1] = 255
    return img


def test_identical_frames_are_read_once_and_reported_on_each():
    engine = FakeOcrEngine([(NAME_BOX, "John Doe"), (WORD_BOX, "PORTABLE")])
    frame = inked([NAME_BOX, WORD_BOX])
    found = text_findings(make_image([frame, frame, frame]), engine)
    assert engine.calls == 1
    assert sorted({f.frame for f in found}) == [0, 1, 2]
    assert len({f.finding_id for f in found}) == len(found) == 6
    by_text = {f.text: f.phi_type for f in found}
    assert by_text == {"John Doe": "header:name", "PORTABLE": ""}


def test_different_frames_are_read_separately():
    engine = FakeOcrEngine([(NAME_BOX, "John Doe"), (WORD_BOX, "PORTABLE")])
    found = text_findings(make_image([inked([NAME_BOX]), inked([WORD_BOX])]), engine)
    assert engine.calls == 2
    assert [(f.frame, f.text) for f in found] == [(0, "John Doe"), (1, "PORTABLE")]


def test_low_confidence_is_dropped_and_inputs_validated():
    engine = FakeOcrEngine([(NAME_BOX, "John Doe")], confidence=0.2)
    assert text_findings(make_image([inked([NAME_BOX])]), engine, min_confidence=0.5) == []
    with pytest.raises(ValueError):
        text_findings(make_image([inked([NAME_BOX])]), engine, min_confidence=2)
