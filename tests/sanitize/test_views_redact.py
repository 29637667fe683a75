"""Redaction and the residual check look at every view (issue 17): a clean display is not enough."""

from __future__ import annotations

import numpy as np

from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.policy import Policy
from ufmclean.records import BBox, LoadedImage
from ufmclean.redact.apply import RedactionRegion, redact_image
from ufmclean.redact.clean import clean_image
from ufmclean.redact.residual import ResidualResult

from .helpers import draw_text, finding, record, textured

BOX = BBox(8, 14, 100, 34)


def _stale_window_image() -> LoadedImage:
    """12-bit-like stored values with 8-bit text; the clinical display squeezes it into 0-20."""
    base = (textured() * 120).astype(np.uint16)
    raw = draw_text(base, "DOE JOHN", (10, 30), 255).astype(np.uint16)[None]
    display = (raw.astype(np.float32) * 10 / 255).astype(np.uint8)  # text ~10 levels: below stroke contrast
    full = raw.astype(np.uint8)
    return LoadedImage(record(), raw, display, views=(("range", full),))


def test_strokes_come_from_the_view_that_shows_them_not_the_whole_box():
    image = _stale_window_image()
    region = RedactionRegion("f1", 0, BOX, "inpaint")
    _, only_display = redact_image(image.raw, image.display, [region])
    _, with_views = redact_image(image.raw, image.display, [region], extra_views=[v for _, v in image.views])
    assert only_display[("f1", 0)] == BOX.area  # no stroke in the dark view: the whole box
    assert 0 < with_views[("f1", 0)] < 0.8 * BOX.pad(4).area  # strokes found in the range view


def test_text_legible_only_in_the_range_view_is_removed_and_checked_there():
    image = _stale_window_image()
    f = finding("f1", text="DOE JOHN", bbox=BOX, action="inpaint", phi_type="name")
    engine = FakeOcrEngine([(BOX, "DOE JOHN")], min_contrast=40)
    out = clean_image(image, [f], policy=Policy(), engine=engine)
    assert not out.held and out.new_raw is not None
    (done,) = out.findings
    assert done.residual_ok is True
    assert engine.calls >= 2  # the redacted region was re-read in the display and in the range view
    after = out.new_raw[0].astype(np.float32)
    assert np.ptp(after[BOX.slices]) < 60  # the stored values no longer carry the bright strokes


def test_a_view_that_still_shows_text_fails_the_check():
    from ufmclean.redact.clean import _worst

    ok = ResidualResult("f1", 0, True, similarity=10.0, n_read=1)
    bad = ResidualResult("f1", 0, False, similarity=95.0, n_read=1)
    assert _worst([[ok], [bad]]) == [bad]
    assert _worst([[ok], [ResidualResult("f1", 0, True, similarity=30.0, n_read=1)]])[0].similarity == 30.0
