"""Issue 16 items 4-5: no header or metadata PHI reaches clean/ or the run tables (CLI runs, OCR double).

Every byte of every file under RUN (clean/ copies, tables, summary, report) is grepped for a made-up
patient's name, its parts, birth date and ID planted in DICOM headers, PNG text chunks, JPEG
EXIF/COM/appended ZIP, TIFF text tags and trailing bytes.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from tests.hardening.phi_files import STUDY_UID, leaks, phi_dicom, phi_jpeg, phi_png, phi_tiff
from tests.hardening.run_helpers import sanitize_cli
from tests.io.io_factory import tree_digest
from ufmclean.run_dir import RunDir

UID1, UID2 = "1.2.826.0.1.3680043.8.498.1001", "1.2.826.0.1.3680043.8.498.1002"


def _inputs(root: Path) -> Path:
    phi_dicom(root / "d" / "written.dcm", ink=True, sop_uid=UID1)
    phi_dicom(root / "d" / "copied.dcm", ink=False, sop_uid=UID2)
    phi_png(root / "r" / "copied.png")
    phi_png(root / "r" / "written.png", ink=True)
    phi_jpeg(root / "r" / "photo.jpg")
    phi_tiff(root / "r" / "scan.tif")
    return root


def _run_leaks(run: Path) -> dict[str, list[str]]:
    """Secrets per file under ``run`` (raw bytes; parquet tables also as decoded rows)."""
    found = {}
    for p in sorted(run.rglob("*")):
        if not p.is_file() or p.name == "pseudonym.key":
            continue
        data = p.read_bytes()
        if p.suffix == ".parquet":
            data += repr(pq.read_table(p).to_pylist()).encode()
        if hits := leaks(data):
            found[p.relative_to(run).as_posix()] = hits
    return found




@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    inp = _inputs(tmp_path / "in")
    assert all(leaks(p.read_bytes()) for p in inp.rglob("*") if p.is_file())  # the test plants what it greps
    return inp


def test_clean_copy_holds_no_header_or_metadata_phi(inputs: Path, tmp_path: Path, fake_ocr) -> None:
    run = tmp_path / "run"
    assert sanitize_cli(inputs, run) == 0
    status = {r["relpath"]: r["clean_status"] for r in pq.read_table(run / "images.parquet").to_pylist()}
    assert status == {"d/written.dcm": "written", "d/copied.dcm": "copied", "r/copied.png": "copied",
                      "r/written.png": "written", "r/photo.jpg": "copied", "r/scan.tif": "copied"}
    assert _run_leaks(run) == {}
    key = RunDir(run).pseudonym_key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # written and copied DICOM: Basic Profile markers; Clean Pixel Data only where pixels were cleaned
    w, c = (pydicom.dcmread(run / "clean" / "d" / f"{n}.dcm") for n in ("written", "copied"))
    for ds, cleaned in ((w, True), (c, False)):
        codes = [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]
        assert ds.PatientIdentityRemoved == "YES" and "113100" in codes and ("113101" in codes) is cleaned
        assert "ImageComments" not in ds and "RequestAttributesSequence" not in ds
        assert not any(el.tag.is_private for el in ds.iterall())
    # one patient, one study: same pseudonyms and the same new StudyInstanceUID in both files
    assert w.PatientName == c.PatientName and w.PatientID == c.PatientID and w.PatientBirthDate == c.PatientBirthDate
    assert w.StudyInstanceUID == c.StudyInstanceUID != STUDY_UID
    assert w.SOPInstanceUID != c.SOPInstanceUID and UID1 not in (w.SOPInstanceUID, c.SOPInstanceUID)
    # the copied DICOM keeps its pixel data bytes
    assert c.PixelData == pydicom.dcmread(inputs / "d" / "copied.dcm").PixelData
    # a second run (resume after removing the tables' parts and clean/) writes identical bytes
    first = tree_digest(run / "clean")
    import shutil

    shutil.rmtree(run / "clean")
    shutil.rmtree(run / ".work" / "sanitize")
    assert sanitize_cli(inputs, run) == 0
    assert tree_digest(run / "clean") == first


def test_header_keep_sets_no_markers_and_reports_the_count(inputs: Path, tmp_path: Path, fake_ocr, capsys) -> None:
    import json

    from ufmclean.cli.main import main

    run = tmp_path / "run"
    assert sanitize_cli(inputs, run, "--header", "keep") == 0
    last = " ".join(capsys.readouterr().err.strip().splitlines()[-2:])  # rich may wrap the last line
    assert "headers kept (--header keep): 2 clean/ DICOM file(s) keep identifying tags" in last
    for n in ("written", "copied"):
        ds = pydicom.dcmread(run / "clean" / "d" / f"{n}.dcm")
        assert ds.PatientName == "ZQXWOMBAT^QUORBELLE"
        assert not {"BurnedInAnnotation", "PatientIdentityRemoved", "DeidentificationMethod",
                    "DeidentificationMethodCodeSequence"} & set(ds.dir())
    assert json.loads((run / "summary.json").read_text())["sanitize"]["n_header_identifying"] == 2
    assert 'id="n-header-kept">2<' in (run / "report.html").read_text()
    headers = {r["relpath"]: r["header"] for r in pq.read_table(run / "images.parquet").to_pylist()}
    assert headers["d/copied.dcm"] == "kept-identifying" and headers["r/photo.jpg"] is None
    # release check: exit 4 while any clean/ file keeps identifying tags; 0 once they are de-identified
    assert main(["sanitize", str(inputs), "--out", str(run), "--device", "cpu", "--header", "keep",
                 "--fail-on", "header"]) == 4
    assert main(["sanitize", str(inputs), "--out", str(run), "--device", "cpu", "--fail-on", "header"]) == 0


def test_keep_metadata_copies_rasters_byte_for_byte(inputs: Path, tmp_path: Path, fake_ocr) -> None:
    run = tmp_path / "run"
    assert sanitize_cli(inputs, run, "--keep-metadata") == 0
    for rel in ("r/copied.png", "r/photo.jpg", "r/scan.tif"):
        assert (run / "clean" / rel).read_bytes() == (inputs / rel).read_bytes()
    assert not leaks((run / "clean" / "d" / "copied.dcm").read_bytes())  # headers are a separate switch

