"""PNG / JPEG / TIFF loading: bit depths, colour order, multi-page TIFF, guards, corrupt files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from io_factory import gradient, ramp, record

from ufmclean.errors import DecompressionBombError, LoadError
from ufmclean.io import load_image


def _png(path, arr):
    path.write_bytes(cv2.imencode(".png", arr)[1].tobytes())
    return path


def test_png_8bit_grey(tmp_path):
    arr = gradient()
    li = load_image(record(_png(tmp_path / "g.png", arr)))
    assert li.raw.shape == (1, 32, 48) and li.raw.dtype == np.uint8
    assert np.array_equal(li.raw[0], arr) and np.array_equal(li.display[0], arr)
    assert li.header.names == () and li.overlays == ()


def test_png_16bit_grey_scaled_for_display(tmp_path):
    arr = ramp(20, 20, 4000)
    li = load_image(record(_png(tmp_path / "g16.png", arr)))
    assert li.raw.dtype == np.uint16 and np.array_equal(li.raw[0], arr)
    assert li.display.dtype == np.uint8 and li.display.min() == 0 and li.display.max() == 255
    assert any("min-max" in n for n in li.notes)


def test_colour_png_is_rgb_order(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 250  # red
    _png(tmp_path / "c.png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    li = load_image(record(tmp_path / "c.png"))
    assert li.photometric == "RGB" and li.raw.shape == (1, 10, 12, 3)
    assert li.raw[0, 0, 0].tolist() == [250, 0, 0] and li.display[0, 0, 0].tolist() == [250, 0, 0]


def test_jpeg_grey(tmp_path):
    arr = gradient()
    (tmp_path / "j.jpg").write_bytes(cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    rec = record(tmp_path / "j.jpg")
    assert rec.format == "jpeg"
    li = load_image(rec)
    assert li.raw.shape == (1, 32, 48) and np.abs(li.raw[0].astype(int) - arr).mean() < 8


def test_multipage_tiff_frames_and_rgb_tiff(tmp_path):
    pages = np.stack([ramp(16, 16, 60000) + i for i in range(3)]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "m.tif", pages, photometric="minisblack")
    li = load_image(record(tmp_path / "m.tif"))
    assert li.raw.shape == (3, 16, 16) and np.array_equal(li.raw, pages)
    assert li.record.frames == 3 and li.display.shape == (3, 16, 16)
    rgb = np.zeros((8, 9, 3), np.uint8)
    rgb[..., 2] = 77
    tifffile.imwrite(tmp_path / "c.tiff", rgb, photometric="rgb")
    li = load_image(record(tmp_path / "c.tiff"))
    assert li.raw.shape == (1, 8, 9, 3) and li.raw[0, 0, 0].tolist() == [0, 0, 77]


def test_bomb_guard_before_decoding(tmp_path):
    rec = record(_png(tmp_path / "g.png", gradient()))
    with pytest.raises(DecompressionBombError, match="max_pixels=1000"):
        load_image(rec, max_pixels=1000)
    # A PNG header declaring 100000 x 100000 pixels is refused from the header alone.
    import struct
    import zlib

    png = bytearray(cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes())
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR width, height
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    (tmp_path / "huge.png").write_bytes(bytes(png))
    with pytest.raises(DecompressionBombError, match="exceeds max_pixels"):
        load_image(record(tmp_path / "huge.png"))


def test_truncated_png_is_load_error(tmp_path):
    data = _png(tmp_path / "g.png", ramp(64, 64, 255, np.uint8)).read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="truncated or corrupt"):
        load_image(record(tmp_path / "t.png"))


def test_unknown_format_record_refused(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello world" * 20)
    rec = record(tmp_path / "x.bin")
    assert rec.status == "skipped"
    with pytest.raises(LoadError, match="not an image"):
        load_image(rec)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(rec, max_pixels=0)
