"""Pixels-only raster copies (ufmclean.io.strip) and metadata-free written rasters (issue 16 item 5)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tifffile
from io_factory import gradient, record
from PIL import Image

from ufmclean.errors import WriteError
from ufmclean.io import load_image, write_image
from ufmclean.io.strip import strip_jpeg, write_pixels_only

SECRET = b"ZQXWOMBAT MRN48151623"


def _jpeg(tmp_path, *, colour: bool = False, **save) -> Path:  # noqa: F821
    arr = cv2.GaussianBlur(gradient(48, 64), (5, 5), 0)
    img = Image.fromarray(np.dstack([arr, arr[::-1], arr[:, ::-1]]) if colour else arr)
    exif = Image.Exif()
    exif[0x010E], exif[0x0112] = SECRET.decode(), 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif, comment=SECRET, **save)
    p = tmp_path / "in" / "a.jpg"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(buf.getvalue() + b"PK\x03\x04" + SECRET)
    return p


@pytest.mark.parametrize("save", [{}, {"progressive": True}, {"restart_marker_blocks": 1}, {"colour": True}])
def test_jpeg_stripped_losslessly(tmp_path, save) -> None:
    colour = save.pop("colour", False)
    src = _jpeg(tmp_path, colour=colour, **save)
    li = load_image(record(src, "a.jpg"))
    res = write_pixels_only(li, tmp_path / "out" / "a.jpg")
    data = (tmp_path / "out" / "a.jpg").read_bytes()
    assert SECRET not in data and b"Exif" not in data and data.endswith(b"\xff\xd9")
    assert b"\xff\xfe" not in data[: data.index(b"\xff\xda")]  # no COM segment before the scan
    np.testing.assert_array_equal(load_image(record(tmp_path / "out" / "a.jpg", "a.jpg")).raw, li.raw)
    assert "not re-encoded" in res.notes[0]


def test_strip_jpeg_refuses_a_truncated_file(tmp_path) -> None:
    data = _jpeg(tmp_path).read_bytes()
    with pytest.raises(WriteError, match="truncated"):
        strip_jpeg(data[: data.index(b"\xff\xda") + 40])
    with pytest.raises(WriteError):
        strip_jpeg(b"GIF89a")


def test_png_and_tiff_copies_carry_no_text(tmp_path) -> None:
    from PIL import PngImagePlugin

    (tmp_path / "in").mkdir()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    arr = gradient(32, 48, np.uint16, 4000)
    Image.fromarray(gradient()).save(tmp_path / "in" / "a.png", pnginfo=info)
    tifffile.imwrite(tmp_path / "in" / "a.tif", arr, description=SECRET.decode())
    for name in ("a.png", "a.tif"):
        src = tmp_path / "in" / name
        src.write_bytes(src.read_bytes() + SECRET)
        li = load_image(record(src, name))
        write_pixels_only(li, tmp_path / "out" / name)
        out = tmp_path / "out" / name
        assert SECRET not in out.read_bytes() and SECRET[:9] not in out.read_bytes()
        np.testing.assert_array_equal(load_image(record(out, name)).raw, li.raw)


def test_written_tiff_has_no_description_or_software(tmp_path) -> None:
    src = tmp_path / "in" / "a.tif"
    src.parent.mkdir()
    tifffile.imwrite(src, gradient(), description=SECRET.decode())
    li = load_image(record(src, "a.tif"))
    new = li.raw.copy()
    new[0, :4, :4] = 0
    write_image(li, new, tmp_path / "out" / "a.tif", method="inpaint")
    with tifffile.TiffFile(tmp_path / "out" / "a.tif") as tif:
        text = [t.name for t in tif.pages[0].tags.values() if t.dtype == 2]
    assert text == []
