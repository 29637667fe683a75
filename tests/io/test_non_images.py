"""Issue 16, 13: non-image DICOM objects are skipped (not errors); header/pixel mismatches say so."""

from pathlib import Path

import pytest

from tests.hardening.badinputs import FAKE_PHI, non_image_dicom
from tests.io.io_factory import gradient, make_ds
from ufmclean.errors import LoadError, NotAnImageError
from ufmclean.io.discover import discover
from ufmclean.io.load import load_image
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.pipeline.scan import ScanOptions, run_scan


@pytest.mark.parametrize("kind, words", [("dicomdir", "a DICOMDIR media directory"), ("sr", "Basic Text SR"),
                                         ("rtstruct", "RT Structure Set")])
def test_non_image_objects_are_skipped_in_words(tmp_path: Path, kind: str, words: str) -> None:
    (tmp_path / "obj").write_bytes(non_image_dicom(kind))
    [rec] = discover(tmp_path)
    assert rec.status == "skipped" and rec.error.startswith(f"not an image ({words})"), rec.error
    assert not any(p in rec.error for p in FAKE_PHI)


def test_loader_skips_an_object_without_pixels(tmp_path: Path) -> None:
    (tmp_path / "sr.dcm").write_bytes(non_image_dicom("sr"))
    rec = discover(tmp_path)[0].with_(status="ok", error=None)  # as if discovery had let it through
    with pytest.raises(NotAnImageError, match=r"not an image \(Basic Text SR\)"):
        load_image(rec)


def test_unregistered_class_uid_is_not_printed(tmp_path: Path) -> None:
    ds = make_ds(gradient(16, 16))
    del ds.PixelData
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.826.0.1.3680043.99.424242"
    ds.save_as(tmp_path / "odd.dcm", enforce_file_format=True)
    [rec] = discover(tmp_path)
    with pytest.raises(LoadError) as ei:
        load_image(rec)
    assert "424242" not in str(ei.value) and "no pixel data" in str(ei.value)


def test_a_study_export_with_dicomdir_and_sr_is_not_partial(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    make_ds(gradient(32, 32)).save_as(inp / "img.dcm", enforce_file_format=True)
    (inp / "DICOMDIR").write_bytes(non_image_dicom("dicomdir"))
    (inp / "report.dcm").write_bytes(non_image_dicom("sr"))
    summary = run_scan(inp, tmp_path / "run", options=ScanOptions(device="cpu", markers=False),
                       engine=FakeOcrEngine())
    assert (summary["n_ok"], summary["n_error"], summary["n_skipped"]) == (1, 0, 2)


@pytest.mark.parametrize("tags, expected", [({"Rows": 64, "Columns": 96}, "(64x96x1x1x8) need 6144 bytes, PixelData holds 1024"),
                                            ({"SamplesPerPixel": 3}, "(32x32x1x3x8) need 3072 bytes"),
                                            ({"BitsAllocated": 12}, "BitsAllocated 12 is not 1, 8, 16, 32 or 64")])
def test_header_inconsistent_with_pixel_data_has_its_own_message(tmp_path: Path, tags, expected) -> None:
    ds = make_ds(gradient(32, 32))
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.save_as(tmp_path / "bad.dcm", enforce_file_format=True)
    [rec] = discover(tmp_path)
    with pytest.raises(LoadError) as ei:
        load_image(rec)
    msg = str(ei.value)
    assert expected in msg, msg
    assert "plug-ins" not in msg and "could not be decoded" not in msg
