"""Every DICOM in ../shared/data/pydicom_test_files and pydicom_data_store loads or fails with a precise reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ufmclean.errors import LoadError, MissingCodecError
from ufmclean.io import discover, load_image, write_image

FOLDERS = ("pydicom_test_files", "pydicom_data_store")
# Known hard cases and the words their error must contain.
EXPECTED_FAILURES = {
    "liver_deflate.dcm": (
        MissingCodecError,
        ("1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression", "no decoder"),
    ),
}


_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # REPO/../shared/data
_FILES = sorted(
    f"{folder}/{p.name}" for folder in FOLDERS if (_SHARED / folder).is_dir()
    for p in (_SHARED / folder).iterdir() if p.suffix == ".dcm"
)  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.parametrize("relpath", _FILES or ["<absent>"])
def test_shared_dicom_loads_or_fails_precisely(shared_data, relpath):
    if relpath == "<absent>":
        pytest.skip("no pydicom test files in ../shared/data")
    folder, name = relpath.split("/")
    rec = next(r for r in discover(shared_data / folder) if r.relpath == name)
    assert rec.format == "dicom" and rec.status == "ok", rec.error
    try:
        li = load_image(rec)
    except LoadError as exc:
        msg = str(exc)
        assert name in EXPECTED_FAILURES, f"{name} failed: {msg}"
        cls, words = EXPECTED_FAILURES[name]
        assert isinstance(exc, cls) and all(w in msg for w in words), msg
        return
    assert name not in EXPECTED_FAILURES, f"{name} now decodes: update EXPECTED_FAILURES"
    assert li.display.dtype == np.uint8 and li.display.shape[:3] == li.raw.shape[:3]
    assert li.raw.shape[0] == li.record.frames and li.display.ndim in (3, 4)


@pytest.mark.shared_data
def test_overlay_and_monochrome1_files(shared_data):
    store = shared_data / "pydicom_data_store"
    if not (store / "MR-SIEMENS-DICOM-WithOverlays.dcm").is_file():
        pytest.skip("pydicom_data_store not present")
    recs = {r.relpath: r for r in discover(store)}
    ov = load_image(recs["MR-SIEMENS-DICOM-WithOverlays.dcm"])
    assert len(ov.overlays) == 1 and 100 < ov.overlays[0].mask.sum() < ov.overlays[0].mask.size // 4
    m1 = load_image(recs["RG3_J2KR.dcm"])
    assert m1.photometric == "MONOCHROME1"
    # MONOCHROME1: high stored values display dark, so raw and display are anti-correlated.
    raw, disp = m1.raw[0, ::8, ::8].ravel(), m1.display[0, ::8, ::8].ravel()
    assert np.corrcoef(raw.astype(float), disp.astype(float))[0, 1] < -0.5


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "image_dfl.dcm"]
)
def test_shared_write_back_keeps_lossless_syntax(shared_data, tmp_path, name):
    folder = shared_data / "pydicom_test_files"
    if not (folder / name).is_file():
        pytest.skip(f"{name} not present")
    rec = next(r for r in discover(folder) if r.relpath == name)
    li = load_image(rec)
    new = li.raw.copy()
    new[0, :6, :6] = new.max()
    res = write_image(li, new, tmp_path / name, method="mask")
    assert res.transfer_syntax_out == res.transfer_syntax_in and not res.notes


PRECISE = ("transfer syntax", "no pixel data", "Rows/Columns", "header could not be parsed", "exceeds max_pixels",
           "does not match its pixel data")


def test_pydicom_bundled_files_load_or_fail_precisely(tmp_path):
    """pydicom's own test files (installed with pydicom): images decode, others fail with a named reason."""
    import os

    from pydicom.data import get_testdata_files

    from ufmclean.io.discover import _record_for_file

    files = [f for f in get_testdata_files() if os.path.isfile(f)]
    assert len(files) > 100
    ok, reasons = 0, {}
    for f in files:
        rec = _record_for_file(f, os.path.basename(f))
        if rec.status != "ok":
            assert rec.error, f
            reasons[os.path.basename(f)] = f"{rec.status}: {rec.error}"
            continue
        try:
            load_image(rec)
            ok += 1
        except LoadError as exc:
            msg = str(exc)
            assert any(p in msg for p in PRECISE), (os.path.basename(f), msg)
            reasons[os.path.basename(f)] = msg
    assert ok >= 80
    # Non-image objects are skipped at discovery, with their class in words (issue 16, 13).
    assert reasons.get("rtplan.dcm", "").startswith("skipped: not an image (RT Plan")
    assert "no pixel data" in reasons["rtplan.dcm"]
