"""OCR views of the stored values: text a stale window hides is read in the full range (issue 17)."""

import numpy as np
import pytest

from ufmclean.io.display import grey_views
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
