"""DICOM loading: codecs, display views (LUTs, stale windows, MONOCHROME1, colour), frames, overlays, bad inputs."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from io_factory import FAKE_DOB, FAKE_ID, FAKE_NAME, gradient, make_ds, ramp, record, save
from pydicom.pixels import pack_bits
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from ufmclean.errors import DecompressionBombError, LoadError, MissingCodecError
from ufmclean.io import load_image


@pytest.mark.parametrize("uid", [None, RLELossless, JPEG2000Lossless, JPEGLSLossless])
@pytest.mark.parametrize("dtype,bits", [(np.uint8, 8), (np.uint16, 12)])
def test_codecs_decode_to_stored_values(tmp_path, uid, dtype, bits):
    arr = gradient(40, 56, dtype, hi=2**bits - 1)
    ds = make_ds(arr, bits_stored=bits)
    if uid is not None:
        ds.compress(uid, generate_instance_uid=False)
    li = load_image(record(save(ds, tmp_path / "x.dcm")))
    assert li.raw.shape == (1, 40, 56) and li.raw.dtype == dtype
    assert np.array_equal(li.raw[0], arr)
    assert li.display.dtype == np.uint8 and li.display.shape == (1, 40, 56)
    assert li.display.max() == 255 and li.display.min() == 0
    assert (li.record.rows, li.record.cols, li.record.frames) == (40, 56, 1)


def test_voi_window_applied_and_stale_window_falls_back(tmp_path):
    arr = ramp(32, 32, 4095)
    ds = make_ds(arr, bits_stored=12, WindowCenter=1024, WindowWidth=512)
    li = load_image(record(save(ds, tmp_path / "ok.dcm")))
    assert not li.notes
    # Window [768, 1280): values below map to 0, above to 255.
    assert li.display[0][arr < 700].max() == 0 and li.display[0][arr > 1300].min() == 255
    # 8-bit values in a 16-bit container with a 12-bit window: all pixels fall below the window.
    small = gradient(32, 32, np.uint16, hi=255)
    ds = make_ds(small, bits_stored=12, WindowCenter=2600, WindowWidth=800)
    li = load_image(record(save(ds, tmp_path / "stale.dcm")))
    assert any("VOI window ignored" in n for n in li.notes)
    assert li.display.min() == 0 and li.display.max() == 255
    assert np.array_equal(np.argsort(li.display.ravel(), kind="stable"), np.argsort(small.ravel(), kind="stable"))


def test_window_using_sliver_of_range_falls_back(tmp_path):
    small = gradient(32, 32, np.uint16, hi=255)
    ds = make_ds(small, bits_stored=16, WindowCenter=32768, WindowWidth=65536)
    li = load_image(record(save(ds, tmp_path / "wide.dcm")))
    assert any("output range" in n for n in li.notes) and li.display.max() == 255


def test_modality_lut_rescale_then_window(tmp_path):
    arr = ramp(16, 16, 2000)
    ds = make_ds(arr, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=0, WindowWidth=400)
    li = load_image(record(save(ds, tmp_path / "ct.dcm")))
    assert li.display[0][arr < 750].max() == 0 and li.display[0][arr > 1250].min() == 255
    assert li.raw.min() >= 0  # raw keeps stored values


def test_monochrome1_inverted_in_display_not_raw(tmp_path):
    arr = gradient()
    li = load_image(record(save(make_ds(arr, photometric="MONOCHROME1"), tmp_path / "m1.dcm")))
    assert li.photometric == "MONOCHROME1"
    assert np.array_equal(li.raw[0], arr)
    assert np.array_equal(li.display[0].astype(int), 255 - arr.astype(int))


def test_multiframe_every_frame(tmp_path):
    frames = np.stack([gradient() + i for i in range(4)]).astype(np.uint8)
    ds = make_ds(frames)
    ds.compress(RLELossless, generate_instance_uid=False)
    li = load_image(record(save(ds, tmp_path / "mf.dcm")))
    assert li.raw.shape == (4, 32, 48) and li.display.shape == (4, 32, 48) and li.n_frames == 4
    assert np.array_equal(li.raw, frames)


def test_rgb_ybr_and_palette(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0], rgb[:10, :, 1], rgb[:, :15, 2] = 200, 120, 60
    li = load_image(record(save(make_ds(rgb, photometric="RGB"), tmp_path / "rgb.dcm")))
    assert li.raw.shape == (1, 20, 30, 3) and li.display.shape == (1, 20, 30, 3)
    assert np.array_equal(li.display[0], rgb)
    ybr = pydicom.examples.ybr_color  # JPEG baseline YBR_FULL_422, 30 frames
    ybr.save_as(tmp_path / "ybr.dcm")
    li = load_image(record(tmp_path / "ybr.dcm"))
    assert li.photometric == "RGB" and li.display.shape == (30, 240, 320, 3)
    assert any("converted to RGB" in n for n in li.notes)
    pal = pydicom.examples.palette_color
    pal.save_as(tmp_path / "pal.dcm")
    li = load_image(record(tmp_path / "pal.dcm"))
    assert li.photometric == "PALETTE COLOR" and li.raw.ndim == 3 and li.display.shape[-1] == 3
    assert li.display.dtype == np.uint8 and li.display.std() > 5


def _add_overlay(ds, mask, *, group=0x6000, origin=(1, 1), frames=None, first=None):
    ds.add_new((group, 0x0010), "US", mask.shape[-2])
    ds.add_new((group, 0x0011), "US", mask.shape[-1])
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    if frames:
        ds.add_new((group, 0x0015), "IS", frames)
        ds.add_new((group, 0x0051), "US", first or 1)
    ds.add_new((group, 0x3000), "OW", pack_bits(mask.astype(np.uint8).ravel()))


def test_overlay_origin_applied(tmp_path):
    ds = make_ds(gradient(32, 48))
    ov = np.zeros((8, 8), bool)
    ov[2:4, 1:6] = True
    _add_overlay(ds, ov, origin=(11, 21))  # 1-based row, col
    li = load_image(record(save(ds, tmp_path / "ov.dcm")))
    assert len(li.overlays) == 1
    plane = li.overlays[0]
    assert plane.group == 0x6000 and plane.frame == 0 and plane.mask.shape == (32, 48)
    ys, xs = np.nonzero(plane.mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 13, 21, 25)


def test_single_frame_overlay_on_multiframe_and_multiframe_overlay(tmp_path):
    frames = np.stack([gradient(16, 16)] * 3)
    ds = make_ds(frames)
    ov = np.zeros((16, 16), bool)
    ov[5, 5] = True
    _add_overlay(ds, ov)
    per_frame = np.zeros((2, 16, 16), bool)
    per_frame[0, 1, 1] = per_frame[1, 2, 2] = True
    _add_overlay(ds, per_frame, group=0x6002, frames=2, first=2)
    li = load_image(record(save(ds, tmp_path / "mfo.dcm")))
    g0 = [p for p in li.overlays if p.group == 0x6000]
    g2 = {p.frame: p for p in li.overlays if p.group == 0x6002}
    assert sorted(p.frame for p in g0) == [0, 1, 2]
    assert set(g2) == {1, 2} and g2[1].mask[1, 1] and g2[2].mask[2, 2]


def test_header_seeds(tmp_path):
    li = load_image(record(save(make_ds(gradient()), tmp_path / "h.dcm")))
    assert FAKE_NAME in li.header.names and "OPERATOR^ONE" in li.header.names
    assert FAKE_ID in li.header.ids and "ACC55" in li.header.ids
    assert FAKE_DOB in li.header.dates and "20240102" in li.header.dates and "101010" in li.header.dates
    assert "TEST HOSPITAL" in li.header.other


def _assert_phi_free(msg: str) -> None:
    for value in (FAKE_NAME, "ZZTESTNAME", FAKE_ID, FAKE_DOB):
        assert value not in msg


def test_bad_inputs_give_precise_phi_free_errors(tmp_path):
    good = save(make_ds(gradient(64, 64)), tmp_path / "good.dcm")
    data = good.read_bytes()
    cases = {}
    (tmp_path / "trunc.dcm").write_bytes(data[: len(data) - 500])
    cases["trunc.dcm"] = "truncated or corrupt"
    ds = make_ds(gradient())
    del ds.PixelData
    save(ds, tmp_path / "nopix.dcm")
    cases["nopix.dcm"] = "no pixel data"
    ds = make_ds(gradient(), Rows=60000, Columns=60000, NumberOfFrames=500)
    save(ds, tmp_path / "bomb.dcm")
    cases["bomb.dcm"] = "exceeds max_pixels"
    for name, expected in cases.items():
        with pytest.raises(LoadError) as ei:
            load_image(record(tmp_path / name))
        assert expected in str(ei.value), (name, str(ei.value))
        _assert_phi_free(str(ei.value))
    with pytest.raises(DecompressionBombError):
        load_image(record(tmp_path / "bomb.dcm"))
    with pytest.raises(DecompressionBombError, match="max_pixels=100"):
        load_image(record(good), max_pixels=100)


def test_missing_decoder_names_the_transfer_syntax(tmp_path):
    ds = make_ds(gradient())
    ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    data = save(ds, tmp_path / "j2k.dcm").read_bytes()
    # Same length as the J2K UID: Deflated Image Frame Compression, which pydicom 3.0 cannot decode.
    assert data.count(b"1.2.840.10008.1.2.4.90") == 1
    (tmp_path / "dfl.dcm").write_bytes(data.replace(b"1.2.840.10008.1.2.4.90", b"1.2.840.10008.1.2.8.1\0"))
    with pytest.raises(MissingCodecError) as ei:
        load_image(record(tmp_path / "dfl.dcm"))
    msg = str(ei.value)
    assert "1.2.840.10008.1.2.8.1" in msg and "Deflated Image Frame Compression" in msg and "no decoder" in msg
    _assert_phi_free(msg)


def test_codec_message_suggests_package(monkeypatch):
    from ufmclean.io import codecs

    real = codecs.codec_info

    def no_plugins(uid):
        return real(uid).__class__(**{**{f: getattr(real(uid), f) for f in real(uid).__slots__}, "can_decode": False})

    monkeypatch.setattr(codecs, "codec_info", no_plugins)
    msg = codecs.decode_failure_message(str(JPEG2000Lossless))
    assert "JPEG 2000" in msg and "pip install pylibjpeg pylibjpeg-openjpeg" in msg


def test_error_text_masks_quoted_values():
    from ufmclean.io.codecs import decode_failure_message

    msg = decode_failure_message("1.2.840.10008.1.2.1", ValueError("invalid literal for int(): 'DOE^JOHN'"))
    assert "DOE" not in msg and "<value>" in msg


def test_pydicom_log_messages_have_values_masked(caplog):
    import logging
    import warnings

    from pydicom.misc import warn_and_log

    import ufmclean.io.dicom  # noqa: F401  (installs the filter)

    with caplog.at_level(logging.WARNING, logger="pydicom"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warn_and_log(f"Invalid value for VR PN: '{FAKE_NAME}'")
    assert caplog.records and FAKE_NAME not in caplog.text and "<value>" in caplog.text
