"""OCR views of the stored values (issue 17): text a stale window hides is read in the full range; where
the window is a linear one narrower than the data, only what it clips gets a view."""

import numpy as np
import pytest

from ufmclean.io.display import display_is_redundant, grey_views, linear_window
from ufmclean.io.load import load_image

from io_factory import make_ds, record, save


def _text_frame(value: int, background: int = 40, size: int = 64) -> np.ndarray:
    img = np.full((size, size), background, np.uint16)
    img[10:14, 8:40] = value  # a 'stroke' of text at ``value``
    return img


def test_range_view_shows_8_bit_data_that_a_12_bit_window_darkens(tmp_path):
    arr = _text_frame(255)
    ds = make_ds(arr, bits_stored=12, WindowCenter=1059, WindowWidth=2359)
    loaded = load_image(record(save(ds, tmp_path / "stale.dcm")))
    assert int(loaded.display.max()) < 80  # the clinical window renders the text dark grey
    names = [n for n, _ in loaded.views]
    assert names[0] == "range"
    view = dict(loaded.views)["range"]
    assert view.shape == loaded.display.shape and view.dtype == np.uint8
    assert view[0, 12, 20] == 255 and view[0, 30, 30] == 0  # full contrast in the stored values
    assert dict(loaded.ocr_views())["display"] is loaded.display


def test_no_extra_view_when_it_equals_the_display(tmp_path):
    arr = np.zeros((32, 32), np.uint8)
    arr[4:8, 4:20] = 255
    loaded = load_image(record(save(make_ds(arr), tmp_path / "plain.dcm")))
    assert loaded.views == ()


def test_monochrome1_views_have_the_display_polarity(tmp_path):
    arr = _text_frame(4095, background=1000)
    arr[:, 44:] = 500  # the part of the image the window is for
    ds = make_ds(arr, photometric="MONOCHROME1", bits_stored=12, WindowCenter=500, WindowWidth=200)
    loaded = load_image(record(save(ds, tmp_path / "m1.dcm")))
    assert loaded.display[0, 12, 20] == loaded.display[0, 30, 30]  # text clipped with its background
    view = dict(loaded.views)["range"]
    assert view[0, 12, 20] == 0 and view[0, 30, 30] > 150 and view[0, 30, 50] == 255  # inverted like the display


def test_signed_data_with_rescale_is_viewed_in_its_modality_range(tmp_path):
    arr = np.full((48, 48), 124, np.int16)  # stored; HU = stored - 1024 = -900 (air)
    arr[:, 24:] = 1064  # soft tissue, 40 HU: what the window is for
    arr[10:14, 2:20] = 324  # text in the air, -700 HU: below the soft-tissue window
    ds = make_ds(arr, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    ds.PixelRepresentation = 1
    loaded = load_image(record(save(ds, tmp_path / "ct.dcm")))
    assert loaded.display[0, 12, 10] == loaded.display[0, 30, 10] == 0  # text and air both black
    view = dict(loaded.views)["range"]
    assert view[0, 12, 10] > 40 and view[0, 30, 10] == 0


def test_robust_view_only_where_outliers_squeeze_the_range():
    values = np.full((1, 64, 64), 100.0)
    values[0, 10:14, 5:50] = 200.0  # text
    values[0, 0, 0] = 60000.0  # one hot pixel squeezes everything else to ~0 in the range view
    display = np.zeros((1, 64, 64), np.uint8)
    views = dict(grey_views(values, display))
    assert set(views) == {"range", "robust"}
    assert views["range"][0, 12, 20] < 5
    assert views["robust"][0, 12, 20] == 255 and views["robust"][0, 30, 30] == 0
    plain = np.full((1, 64, 64), 100.0)
    plain[0, 10:14, 5:50] = 200.0
    assert set(dict(grey_views(plain, display))) == {"range"}


def test_grey_views_validate_and_do_not_mutate():
    values = np.arange(32 * 32, dtype=np.float64).reshape(1, 32, 32)
    before = values.copy()
    grey_views(values, np.zeros((1, 32, 32), np.uint8))
    assert np.array_equal(values, before)
    with pytest.raises(ValueError):
        grey_views(values[0], np.zeros((32, 32), np.uint8))


def test_deep_grey_png_gets_a_robust_view_when_outliers_squeeze_it(tmp_path):
    import cv2

    arr = np.full((64, 64), 1000, np.uint16)
    arr[10:14, 5:50] = 2000
    arr[0, 0] = 65535
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), arr)
    loaded = load_image(record(path))
    assert [n for n, _ in loaded.views] == ["robust"]  # the display already is the min-max


def _ramp_with_bone(size: int = 96) -> np.ndarray:
    """A 12-bit ramp 1000..3000 (what the window shows) with a bright 'bone' patch at 3800 and text at
    4095 inside it: text and bone both above a 1000..3000 window."""
    y, x = np.mgrid[0:size, 0:size]
    arr = (1000 + (x + y) * 2000 / (2 * size - 2)).astype(np.uint16)
    arr[50:80, 10:80] = 3800
    arr[60:66, 20:70] = 4095
    return arr


def test_a_narrow_linear_window_gets_views_of_what_it_clips_not_the_range(tmp_path):
    arr = _ramp_with_bone()
    arr[5:20, 5:40] = 200  # a dark label below the window, with darker text in it
    arr[10:14, 10:35] = 0
    ds = make_ds(arr, bits_stored=12, WindowCenter=2000, WindowWidth=2001)
    loaded = load_image(record(save(ds, tmp_path / "cr.dcm")))
    assert loaded.display[0, 62, 30] == loaded.display[0, 55, 30] == 255  # text hidden in the clipped bone
    views = dict(loaded.views)
    assert list(views) == ["above-window", "below-window"]
    above, below = views["above-window"][0], views["below-window"][0]
    # Above the window: at the window's own contrast (255 / 2000 per value), everything else flat.
    assert int(above[62, 30]) - int(above[55, 30]) == pytest.approx((4095 - 3800) * 255 / 2000, abs=2)
    assert above[30, 85] == 0 and above[90, 90] == 0
    assert int(below[16, 30]) - int(below[12, 20]) == pytest.approx(200 * 255 / 2000, abs=2)
    assert below[30, 85] == 255
    assert not display_is_redundant(loaded.display[0], np.zeros_like(loaded.display[0]))


def test_the_clipped_span_wider_than_the_window_is_shown_at_the_min_max_contrast():
    values = np.tile(np.linspace(0, 100, 64), (64, 1))[None].astype(np.float64)
    values[0, 40:50, 10:50] = 5000.0  # far above a 0..100 window
    values[0, 44:46, 20:40] = 9000.0
    display = np.clip(np.rint(values * 2.55), 0, 255).astype(np.uint8)
    views = dict(grey_views(values, display))
    assert "range" not in views
    above = views["above-window"]
    assert above[0, 45, 30] == 255 and above[0, 42, 30] == pytest.approx((5000 - 100) * 255 / 8900, abs=1)


def test_monochrome1_views_of_clipped_values_are_inverted_like_the_display(tmp_path):
    arr = _ramp_with_bone()
    ds = make_ds(arr, photometric="MONOCHROME1", bits_stored=12, WindowCenter=2000, WindowWidth=2001)
    loaded = load_image(record(save(ds, tmp_path / "m1.dcm")))
    (name, view), = loaded.views
    assert name == "above-window"
    assert view[0, 30, 85] == 255 and view[0, 62, 30] < view[0, 55, 30]  # flat white; text darker than bone


def test_a_window_wider_than_the_data_keeps_the_range_view_and_makes_the_display_redundant(tmp_path):
    y, x = np.mgrid[0:64, 0:64]
    arr = ((x + y) * 200 // 126).astype(np.uint16)  # 8-bit values ...
    arr[10:14, 8:40] = 255
    ds = make_ds(arr, bits_stored=12, WindowCenter=1059, WindowWidth=2359)  # ... under a 12-bit window
    loaded = load_image(record(save(ds, tmp_path / "stale.dcm")))
    ranged = dict(loaded.views)["range"]
    assert display_is_redundant(loaded.display[0], ranged[0])
    steeper = np.clip(ranged[0].astype(np.int32) * 2, 0, 255).astype(np.uint8)  # a window half as wide
    assert not display_is_redundant(steeper, ranged[0])


def test_a_sigmoid_window_is_not_taken_for_a_linear_one(tmp_path):
    arr = _ramp_with_bone()
    ds = make_ds(arr, bits_stored=12, WindowCenter=2000, WindowWidth=2001, VOILUTFunction="SIGMOID")
    loaded = load_image(record(save(ds, tmp_path / "sig.dcm")))
    assert [n for n, _ in loaded.views] == ["range"]


def test_linear_window_recovers_the_window_and_refuses_too_few_pixels():
    values = np.tile(np.arange(0, 4000, 4000 / 128), (16, 1))
    display = np.clip(np.rint((values - 1000) * 255 / 2000), 0, 255).astype(np.uint8)
    lo, hi = linear_window(values, display)
    assert lo == pytest.approx(1000, abs=10) and hi == pytest.approx(3000, abs=10)
    assert linear_window(values[:2, :10], display[:2, :10]) is None
