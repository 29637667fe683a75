"""A generated corpus of bad and odd inputs (never committed as data files).

``build_corpus(root)`` writes every case under ``root`` and returns ``{relpath: expected}`` where
``expected`` is the set of acceptable ``images.parquet`` statuses (``ok``: a correct result,
``error``: one clear per-file error, ``skipped``: not an image). Header values are fake PHI so tests
can check that no error message or log repeats them.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from tests.io.io_factory import FAKE_ID, FAKE_NAME, gradient, make_ds

OK, ERROR, SKIPPED = frozenset({"ok"}), frozenset({"error"}), frozenset({"skipped"})
OK_OR_ERROR = OK | ERROR
FAKE_PHI = (FAKE_NAME, FAKE_ID, "QWERTY", "ZZTESTNAME", "778899", "4417721")


def _dicom_bytes(ds: Dataset, *, little: bool = True, implicit: bool = False) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, little_endian=little, implicit_vr=implicit)
    return buf.getvalue()


def _good(arr: np.ndarray | None = None, **tags: object) -> Dataset:
    return make_ds(gradient(32, 48) if arr is None else arr, **tags)


def _with_pixels(ds: Dataset, data: bytes, **tags: object) -> Dataset:
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.PixelData = data
    return ds


def _png(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def _jpeg(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", arr)
    assert ok
    return buf.tobytes()


def _cmyk_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("CMYK", (40, 30), (10, 200, 30, 0)).save(out, format="JPEG")
    return out.getvalue()


def _png_bad_crc() -> bytes:
    data = bytearray(_png(gradient(20, 20)))
    data[29] ^= 0xFF  # inside IHDR's CRC
    return bytes(data)


def _png_huge_header() -> bytes:
    """A valid-looking PNG whose IHDR claims 100000 x 100000 pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def tiff_pages(pages: list[tuple[int, int, bytes]]) -> bytes:
    """An uncompressed 8-bit grey TIFF whose pages declare ``(rows, cols)`` and hold ``data`` (may be short)."""
    out = bytearray(b"II*\x00\0\0\0\0")
    next_ptr = 4
    for rows, cols, data in pages:
        offset = len(out)
        out += data + b"\0" * (len(data) % 2)
        struct.pack_into("<I", out, next_ptr, len(out))
        entries = [(256, 4, cols), (257, 4, rows), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, offset),
                   (277, 3, 1), (278, 4, rows), (279, 4, len(data))]
        out += struct.pack("<H", len(entries))
        for tag, typ, val in entries:
            out += struct.pack("<HHI", tag, typ, 1) + (struct.pack("<HH", val, 0) if typ == 3 else struct.pack("<I", val))
        next_ptr = len(out)
        out += b"\0\0\0\0"
    return bytes(out)


def tiff_small_then_huge() -> bytes:
    """Page 1 is 8x8; page 2 declares 30000x30000 (900M values) in 64 bytes on disk."""
    return tiff_pages([(8, 8, bytes(range(64))), (30000, 30000, bytes(64))])


def png_declaring(rows: int, cols: int) -> bytes:
    """A PNG whose IHDR declares ``rows`` x ``cols`` 8-bit grey pixels, with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", cols, rows, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_declaring(rows: int, cols: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to declare ``rows`` x ``cols``."""
    data = bytearray(_jpeg(gradient(16, 16)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, rows, cols)
    return bytes(data)


def non_image_dicom(kind: str) -> bytes:
    """A DICOMDIR, Basic Text SR or RT Structure Set object (no pixel data), with fake PHI in its header."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sop = {"dicomdir": "1.2.840.10008.1.3.10", "sr": "1.2.840.10008.5.1.4.1.1.88.11",
           "rtstruct": "1.2.840.10008.5.1.4.1.1.481.3"}[kind]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    if kind == "dicomdir":
        ds.FileSetID = "ZZTESTNAME"
        ds.DirectoryRecordSequence = []
    else:
        ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
        ds.Modality = "SR" if kind == "sr" else "RTSTRUCT"
        ds.PatientName, ds.PatientID = FAKE_NAME, FAKE_ID
    return _dicom_bytes(ds)


def _tiff_multipage() -> bytes:
    import tifffile

    out = io.BytesIO()
    tifffile.imwrite(out, np.stack([gradient(24, 24)] * 3))
    return out.getvalue()


def _dicom_cases() -> dict[str, tuple[Callable[[], bytes], frozenset[str]]]:
    good = lambda: _dicom_bytes(_good())  # noqa: E731
    pixel_len = len(_good().PixelData)
    return {
        "dicom/zero_byte.dcm": (lambda: b"", OK_OR_ERROR | SKIPPED),
        "dicom/truncated_10.dcm": (lambda: good()[:10], ERROR | SKIPPED),
        "dicom/truncated_after_magic.dcm": (lambda: good()[:132], ERROR),
        "dicom/truncated_in_header.dcm": (lambda: good()[:300], ERROR),
        "dicom/truncated_in_pixels.dcm": (lambda: good()[: len(good()) - pixel_len // 2], ERROR),
        "dicom/random_bytes.dcm": (lambda: np.random.default_rng(1).bytes(4096), ERROR | SKIPPED),
        "dicom/preamble_only.dcm": (lambda: b"\0" * 128 + b"DICM", ERROR),
        "dicom/no_pixel_data.dcm": (lambda: _dicom_bytes(_strip_pixels(_good())), ERROR | SKIPPED),
        "dicom/pixels_shorter_than_declared.dcm": (
            lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData[: pixel_len // 3])), ERROR),
        "dicom/wrong_bits_allocated.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                              BitsAllocated=7)), ERROR),
        "dicom/bits_stored_gt_allocated.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                                 BitsStored=12)), OK_OR_ERROR),
        "dicom/unknown_transfer_syntax.dcm": (lambda: _unknown_ts(), ERROR),
        "dicom/bad_deflate.dcm": (lambda: _bad_deflate(), ERROR),
        "dicom/one_by_one.dcm": (lambda: _dicom_bytes(_good(np.array([[7]], np.uint8))), OK),
        "dicom/one_by_65535.dcm": (lambda: _dicom_bytes(_good(np.zeros((1, 65535), np.uint8))), OK),
        "dicom/bomb_dimensions.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), b"\0" * 16, Rows=65535,
                                                                        Columns=65535, NumberOfFrames=1000)), ERROR),
        "dicom/rows_zero.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), b"", Rows=0)), ERROR),
        "dicom/signed_negative.dcm": (lambda: _dicom_bytes(_good((gradient(32, 48, np.int16, 2000) - 1000)
                                                                 .astype(np.int16))), OK),
        "dicom/float_pixels.dcm": (lambda: _float_pixels(), OK_OR_ERROR),
        "dicom/hundred_frames.dcm": (lambda: _dicom_bytes(_good(np.stack([gradient(16, 16)] * 100), frames=True)), OK),
        "dicom/palette_without_lut.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                            PhotometricInterpretation="PALETTE COLOR")),
                                          ERROR),
        "dicom/ybr_full_422.dcm": (lambda: _ybr_422(), OK_OR_ERROR),
        "dicom/big_endian.dcm": (lambda: _big_endian(), OK),
        "dicom/implicit_vr.dcm": (lambda: _dicom_bytes(_implicit(_good()), implicit=True), OK),
        "dicom/corrupt_jpeg_stream.dcm": (lambda: _corrupt_jpeg_dicom(), OK_OR_ERROR),  # lenient decoders may return noise
        "dicom/rgb_declared_mono.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                          SamplesPerPixel=3)), ERROR),
        "dicom/nonsense_window.dcm": (lambda: _dicom_bytes(_good(WindowCenter=-99999, WindowWidth=0)), OK),
        "dicom/missing_rows.dcm": (lambda: _dicom_bytes(_del(_good(), "Rows")), ERROR),
        "dicom/no_preamble_no_meta.dcm": (lambda: _dicom_bytes(_good())[132:], OK_OR_ERROR),
        # issue 16, 12-13: non-image objects are skipped; bad geometry gets its own message
        "dicom/DICOMDIR": (lambda: non_image_dicom("dicomdir"), SKIPPED),
        "dicom/basic_text_sr.dcm": (lambda: non_image_dicom("sr"), SKIPPED),
        "dicom/rtstruct.dcm": (lambda: non_image_dicom("rtstruct"), SKIPPED),
        "dicom/negative_frames.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                        NumberOfFrames=-1)), ERROR),
        "dicom/rows_columns_too_big_for_pixels.dcm": (lambda: _dicom_bytes(_with_pixels(_good(), _good().PixelData,
                                                                                        Rows=64, Columns=96)), ERROR),
        # issue 16 item 8: header values that must not reach the error column or the table
        "dicom/odd_sop_class_no_pixels.dcm": (lambda: _dicom_bytes(_strip_pixels(_good(SOPClassUID=ODD_UID))),
                                              ERROR | SKIPPED),
        "dicom/odd_transfer_syntax.dcm": (lambda: _odd_ts(), ERROR),
        "dicom/free_text_modality.dcm": (lambda: _dicom_bytes(_good(Modality="QWERTY")), OK),
    }


def _strip_pixels(ds: Dataset) -> Dataset:
    del ds.PixelData
    return ds


def _del(ds: Dataset, keyword: str) -> Dataset:
    delattr(ds, keyword)
    return ds


def _implicit(ds: Dataset) -> Dataset:
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds


def _big_endian() -> bytes:
    ds = _good(gradient(32, 48, np.uint16, 4000), bits_stored=12)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    return _dicom_bytes(ds, little=False)


#: A made-up UID carrying the fake ID's digits (an odd SOPClassUID/TransferSyntaxUID is file content).
ODD_UID = "1.2.778899.4417721"


def _odd_ts() -> bytes:
    ds = _good()
    ds.file_meta.TransferSyntaxUID = ODD_UID
    return _dicom_bytes(ds)


def _unknown_ts() -> bytes:
    ds = _good()
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7.8"
    return _dicom_bytes(ds)


def _bad_deflate() -> bytes:
    good = _dicom_bytes(_good())
    ds = _good()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta_end = good.index(b"\x08\x00", 132 + 12)  # first group-0008 tag after the file meta
    return _dicom_bytes_meta_only(ds) + np.random.default_rng(2).bytes(len(good) - meta_end)


def _dicom_bytes_meta_only(ds: Dataset) -> bytes:
    from pydicom.filewriter import write_file_meta_info

    buf = io.BytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buf, ds.file_meta, enforce_standard=True)
    return buf.getvalue()


def _float_pixels() -> bytes:
    ds = _good()
    del ds.PixelData
    arr = np.linspace(-1, 1, 32 * 48, dtype=np.float32).reshape(32, 48)
    ds.BitsAllocated, ds.FloatPixelData = 32, arr.tobytes()
    for k in ("BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, k)
    return _dicom_bytes(ds)


def _ybr_422() -> bytes:
    ds = _good(np.zeros((16, 16, 3), np.uint8), photometric="RGB")
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = bytes(16 * 16 * 2)  # 4:2:2 subsampled: 2 bytes per pixel
    return _dicom_bytes(ds)


def _corrupt_jpeg_dicom() -> bytes:
    from pydicom.encaps import encapsulate

    ds = _good()
    jpeg = bytearray(_jpeg(gradient(32, 48)))
    jpeg[len(jpeg) // 2 :] = np.random.default_rng(3).bytes(len(jpeg) - len(jpeg) // 2)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([bytes(jpeg)])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    return _dicom_bytes(ds)


def _raster_cases() -> dict[str, tuple[Callable[[], bytes], frozenset[str]]]:
    return {
        "raster/bad_crc.png": (_png_bad_crc, OK_OR_ERROR),
        "raster/truncated.png": (lambda: _png(gradient(64, 64))[:60], ERROR),
        "raster/sixteen_bit.png": (lambda: _png(gradient(40, 40, np.uint16, 60000)), OK),
        "raster/rgba.png": (lambda: _png(np.dstack([gradient(20, 20)] * 4)), OK),
        "raster/one_by_one.png": (lambda: _png(np.array([[9]], np.uint8)), OK),
        "raster/bomb_header.png": (_png_huge_header, ERROR),
        "raster/multipage.tiff": (_tiff_multipage, OK),
        "raster/tiff_small_then_huge.tiff": (tiff_small_then_huge, ERROR),
        "raster/tiff_pages_differ.tiff": (lambda: tiff_pages([(8, 8, bytes(64)), (16, 16, bytes(256))]), ERROR),
        "raster/over_default_max_pixels.png": (lambda: png_declaring(9000, 9000), ERROR),
        "raster/bomb_header.jpg": (lambda: jpeg_declaring(60000, 60000), ERROR),
        "raster/cmyk.jpg": (_cmyk_jpeg, OK_OR_ERROR),
        "raster/corrupt.jpg": (lambda: _jpeg(gradient(64, 64))[:20] + b"\0" * 200, ERROR),
        "raster/truncated.jpg": (lambda: _jpeg(gradient(64, 64))[:-200], OK_OR_ERROR),
        "raster/jpeg_named.png": (lambda: _jpeg(gradient(30, 30)), OK),
        "raster/text_named.jpg": (lambda: b"this is not an image\n", SKIPPED | ERROR),
        "raster/zero_byte.png": (lambda: b"", SKIPPED | ERROR),
        "names/with spaces.png": (lambda: _png(gradient(20, 20)), OK),
        "names/-leading-dash.png": (lambda: _png(gradient(20, 20)), OK),
        "names/copy_a.png": (lambda: _png(gradient(22, 22)), OK),
        "names/copy_b.png": (lambda: _png(gradient(22, 22)), OK),  # duplicate content under another name
        "names/ünïcode.png": (lambda: _png(gradient(21, 21)), OK),
    }


def build_corpus(root: Path) -> dict[str, frozenset[str]]:
    """Write every case under ``root``; return ``{relpath: acceptable statuses}``."""
    expected: dict[str, frozenset[str]] = {}
    for rel, (make, ok) in {**_dicom_cases(), **_raster_cases()}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        expected[rel] = ok
    bad_name = os.fsencode(root / "names") + b"/bad_\xff\xfe.png"  # not valid UTF-8
    with open(bad_name, "wb") as fh:
        fh.write(_png(gradient(23, 23)))
    expected["names/bad_\\xff\\xfe.png"] = ERROR  # listed with its bytes escaped, asking for a rename
    (root / "fs" / "folder.dcm").mkdir(parents=True)  # a directory named like a file
    (root / "fs" / "folder.dcm" / "inner.png").write_bytes(_png(gradient(25, 25)))
    expected["fs/folder.dcm/inner.png"] = OK
    (root / "fs" / "loop").symlink_to(root / "fs", target_is_directory=True)  # a symlink loop
    (root / "fs" / "dangling.png").symlink_to(root / "nowhere.png")
    expected["fs/dangling.png"] = ERROR | SKIPPED
    (root / "fs" / "empty_dir").mkdir()
    return expected


N_KINDS = 59  # cases above (plus the loop and the empty folder), for the ">= 40 kinds"
