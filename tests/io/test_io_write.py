"""Write-back: round trips per transfer syntax, tags kept, new UIDs, de-id entries, overlays, safety."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
import tifffile
from io_factory import gradient, make_ds, ramp, record, save, tree_digest
from pydicom.pixels import pack_bits
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

from ufmclean.errors import UsageError
from ufmclean.io import atomic_write_bytes, discover, load_image, safe_join, write_image


def _tags(ds):
    skip = {"PixelData", "SOPInstanceUID", "BurnedInAnnotation", "DeidentificationMethod",
            "DeidentificationMethodCodeSequence", "LossyImageCompression"}  # fmt: skip
    return {el.keyword: el.value for el in ds if el.keyword and el.keyword not in skip and el.tag.group < 0x6000}


@pytest.mark.parametrize("uid", [None, RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_round_trip_keeps_syntax_tags_and_pixels(tmp_path, uid):
    arr = ramp(40, 40, 4000)
    ds = make_ds(arr, bits_stored=12, WindowCenter=2000, WindowWidth=4000)
    if uid is not None:
        ds.compress(uid, generate_instance_uid=False)
    src = save(ds, tmp_path / "in" / "a.dcm")
    before = tree_digest(tmp_path / "in")
    li = load_image(record(src, "a.dcm"))
    new = li.raw.copy()
    new[0, 5:10, 5:20] = 0
    res = write_image(li, new, tmp_path / "out" / "sub" / "a.dcm", method="inpaint")
    out = pydicom.dcmread(res.dest)
    expected_ts = str(uid or "1.2.840.10008.1.2.1")
    assert res.transfer_syntax_in == expected_ts == res.transfer_syntax_out == str(out.file_meta.TransferSyntaxUID)
    assert np.array_equal(out.pixel_array, new[0])
    orig = pydicom.dcmread(src)
    assert _tags(out) == _tags(orig)
    assert res.sop_instance_uid_old == orig.SOPInstanceUID != res.sop_instance_uid_new == out.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.BurnedInAnnotation == "NO"
    assert "ufmclean" in str(out.DeidentificationMethod) and "inpaint" in str(out.DeidentificationMethod)
    assert out.DeidentificationMethodCodeSequence[0].CodeValue == "113101"
    assert tree_digest(tmp_path / "in") == before  # input tree untouched
    assert not [p for p in (tmp_path / "out" / "sub").iterdir() if p.name.endswith(".tmp")]


def test_unchanged_pixels_equal_and_method_none(tmp_path):
    arr = gradient()
    src = save(make_ds(arr, BurnedInAnnotation="YES"), tmp_path / "in" / "b.dcm")
    li = load_image(record(src, "b.dcm"))
    res = write_image(li, li.raw.copy(), tmp_path / "out" / "b.dcm", method="none")
    out = pydicom.dcmread(res.dest)
    assert np.array_equal(out.pixel_array, arr)
    assert out.BurnedInAnnotation == "YES" and "DeidentificationMethod" not in out
    assert res.sop_instance_uid_new == res.sop_instance_uid_old


def test_lossy_syntax_written_uncompressed_with_reason(tmp_path):
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "ybr.dcm"
    pydicom.examples.ybr_color.save_as(src)  # JPEG baseline YBR_FULL_422, 30 frames
    li = load_image(record(src))
    new = li.raw.copy()
    new[:, :4, :4] = 0
    res = write_image(li, new, tmp_path / "out" / "ybr.dcm", method="mask")
    assert res.transfer_syntax_in == str(JPEGBaseline8Bit) and res.transfer_syntax_out == "1.2.840.10008.1.2.1"
    assert any("lossy" in n for n in res.notes)
    out = pydicom.dcmread(res.dest)
    assert out.PhotometricInterpretation == "RGB" and int(out.NumberOfFrames) == 30
    assert np.array_equal(out.pixel_array, new)


def test_remove_overlays_and_big_endian(tmp_path):
    ds = make_ds(gradient())
    for el, vr, val in [(0x10, "US", 32), (0x11, "US", 48), (0x40, "CS", "G"), (0x50, "SS", [1, 1]),
                        (0x100, "US", 1), (0x102, "US", 0)]:  # fmt: skip
        ds.add_new((0x6000, el), vr, val)
    ds.add_new((0x6000, 0x3000), "OW", pack_bits(np.ones(32 * 48, np.uint8)))
    src = save(ds, tmp_path / "in" / "ov.dcm")
    li = load_image(record(src))
    assert li.overlays
    res = write_image(li, li.raw.copy(), tmp_path / "out" / "ov.dcm", method="mask", remove_overlays=True)
    out = pydicom.dcmread(res.dest)
    assert not [el for el in out if el.tag.group == 0x6000]
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == ["113101", "113103"]
    assert res.sop_instance_uid_new != res.sop_instance_uid_old
    from pydicom.data import get_testdata_file

    li = load_image(record(Path(get_testdata_file("MR_small_bigendian.dcm"))))
    new = li.raw.copy()
    new[0, :3, :3] = 0
    res = write_image(li, new, tmp_path / "out" / "be.dcm", method="mask")
    assert res.transfer_syntax_out == "1.2.840.10008.1.2.1" and any("Big Endian" in n for n in res.notes)
    assert np.array_equal(pydicom.dcmread(res.dest).pixel_array, new[0])


def test_shape_dtype_and_destination_checked(tmp_path):
    src = save(make_ds(gradient()), tmp_path / "in" / "c.dcm")
    li = load_image(record(src, "c.dcm"))
    with pytest.raises(ValueError, match="must match"):
        write_image(li, li.raw.astype(np.uint16), tmp_path / "o.dcm", method="mask")
    with pytest.raises(UsageError, match="input folder"):
        write_image(li, li.raw.copy(), tmp_path / "in" / "copy.dcm", method="mask")
    with pytest.raises(ValueError, match="method"):
        write_image(li, li.raw.copy(), tmp_path / "o.dcm", method=" ")


@pytest.mark.parametrize(
    "ext,dtype", [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint16), (".jpg", np.uint8)]
)
def test_raster_round_trip(tmp_path, ext, dtype):
    arr = ramp(24, 24, 60000 if dtype == np.uint16 else 255, dtype)
    src = tmp_path / "in" / f"r{ext}"
    src.parent.mkdir()
    if ext == ".tif":
        tifffile.imwrite(src, np.stack([arr, arr[::-1]]), photometric="minisblack")
    else:
        src.write_bytes(cv2.imencode(ext, arr)[1].tobytes())
    before = tree_digest(tmp_path / "in")
    li = load_image(discover(tmp_path / "in")[0])
    new = li.raw.copy()
    new[..., :4, :4] = 0
    res = write_image(li, new, tmp_path / "out" / f"r{ext}", method="mask")
    back = load_image(discover(tmp_path / "out")[0])
    assert back.record.format == li.record.format and back.raw.shape == new.shape
    if ext == ".jpg":
        assert any("quality 98" in n for n in res.notes) and np.abs(back.raw.astype(int) - new).mean() < 3
    else:
        assert np.array_equal(back.raw, new)
    assert tree_digest(tmp_path / "in") == before


def test_safe_join_and_atomic_write(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    assert safe_join(root, "a/b.png") == root.resolve() / "a" / "b.png"
    for bad in ["../x", "/etc/passwd", "a/../../x", ""]:
        with pytest.raises(UsageError):
            safe_join(root, bad)
    os.symlink(tmp_path, root / "escape")
    with pytest.raises(UsageError, match="outside"):
        safe_join(root, "escape/x.png")
    p = atomic_write_bytes(root / "d" / "f.bin", b"abc", mode=0o600)
    assert p.read_bytes() == b"abc" and (p.stat().st_mode & 0o777) == 0o600
    assert [q.name for q in (root / "d").iterdir()] == ["f.bin"]


def test_failed_verification_leaves_no_file(tmp_path, monkeypatch):
    import importlib

    from ufmclean.errors import WriteError

    w = importlib.import_module("ufmclean.io.write")
    src = save(make_ds(gradient()), tmp_path / "in" / "d.dcm")
    li = load_image(record(src, "d.dcm"))

    def fail(*a, **k):
        raise WriteError("simulated")

    monkeypatch.setattr(w, "_verify_dicom", fail)
    with pytest.raises(WriteError, match="simulated"):
        write_image(li, li.raw.copy(), tmp_path / "out" / "d.dcm", method="mask")
    assert list((tmp_path / "out").iterdir()) == []


def test_new_uid_is_reproducible_and_content_bound(tmp_path):
    src = save(make_ds(gradient(16, 16)), tmp_path / "in" / "a.dcm")
    loaded = load_image(record(src))
    edited = loaded.raw.copy()
    edited[0, :4, :4] = 0
    uids = []
    for name, raw in (("one", edited), ("two", edited), ("three", 255 - loaded.raw)):
        uids.append(write_image(loaded, raw, tmp_path / name / "a.dcm", method="inpaint").sop_instance_uid_new)
    assert uids[0] == uids[1] != uids[2] and uids[0] != loaded.record.path
    assert (tmp_path / "one" / "a.dcm").read_bytes() == (tmp_path / "two" / "a.dcm").read_bytes()
    assert str(pydicom.dcmread(src).SOPInstanceUID) not in uids
