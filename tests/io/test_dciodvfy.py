"""Written DICOM are valid: dciodvfy (dicom3tools) reports no Error the input did not already have.

Covers both files sanitize writes (the header-de-identified copy and a re-stored, inpainted file) for
sample_data/ DICOM and a few of ../shared/data (skipped when absent); the sanitize run of
tests/sanitize/test_sample_writeback.py is checked the same way. bench/dciodvfy.py runs every file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.dciodvfy import dciodvfy_errors, sanitized_outputs
from ufmclean.io.deid import HeaderDeidentifier, run_secret

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")

SHARED = ["pydicom_test_files/CT_small.dcm", "pydicom_test_files/MR_small_bigendian.dcm",
          "pydicom_test_files/examples_jpeg2k.dcm", "pydicom_test_files/liver_1frame.dcm",
          "pydicom_test_files/SC_rgb_rle.dcm", "presidio_pseudo_phi/dicom/0_ORIGINAL_compressed.dcm",
          "pydicom_data_store/US1_J2KR.dcm", "pydicom_data_store/eCT_Supplemental.dcm"]


def _new_errors(src: Path, out: Path, deid) -> dict[str, set[str]]:
    before = dciodvfy_errors(src)
    outs = sanitized_outputs(src, out, deid)
    assert set(outs) == {"copied", "written"}, f"{src.name}: not written"
    return {kind: dciodvfy_errors(p) - before for kind, p in outs.items()}


@pytest.mark.parametrize("header", ["deidentify", "keep"])
def test_sample_data_dicom_stay_valid(sample_data_dir: Path, tmp_path: Path, header: str) -> None:
    deid = HeaderDeidentifier(run_secret(tmp_path / "k")) if header == "deidentify" else None
    files = sorted((sample_data_dir / "images").rglob("*.dcm"))
    assert files
    for i, src in enumerate(files[:: 4 if header == "keep" else 1]):
        (tmp_path / str(i)).mkdir()
        assert _new_errors(src, tmp_path / str(i), deid) == {"copied": set(), "written": set()}, src.name


@pytest.mark.parametrize("rel", SHARED)
def test_shared_dicom_stay_valid(shared_data: Path, tmp_path: Path, rel: str) -> None:
    src = shared_data / rel
    if not src.is_file():
        pytest.skip(f"{rel} not in shared data")
    new = _new_errors(src, tmp_path, HeaderDeidentifier(run_secret(tmp_path / "k")))
    assert new == {"copied": set(), "written": set()}
