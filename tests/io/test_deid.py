"""DICOM header de-identification (ufmclean.io.deid): run secret, consistency across processes, removals."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from io_factory import FAKE_DOB, FAKE_ID, FAKE_NAME, gradient, make_ds, save

from ufmclean.errors import WriteError
from ufmclean.io.deid import HeaderDeidentifier, deidentify_copy, keeps_identifying, run_secret

PROBE = """
import sys, pydicom
from ufmclean.io.deid import HeaderDeidentifier, run_secret
ds = pydicom.dcmread(sys.argv[2])
HeaderDeidentifier(run_secret(sys.argv[1])).apply(ds)
print(ds.PatientName, ds.PatientID, ds.StudyInstanceUID, ds.PatientBirthDate)
"""


def test_secret_is_private_stable_and_checked(tmp_path) -> None:
    key = tmp_path / "pseudonym.key"
    first = run_secret(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and run_secret(key) == first and len(first) == 64
    assert os.listdir(tmp_path) == ["pseudonym.key"]  # no temporary left behind
    key.write_text("garbage")
    with pytest.raises(WriteError, match="damaged"):
        run_secret(key)


def test_same_patient_same_pseudonyms_in_another_process(tmp_path) -> None:
    study = pydicom.uid.generate_uid()
    a = save(make_ds(gradient(), StudyInstanceUID=study), tmp_path / "a.dcm")
    b = save(make_ds(gradient()[::-1].copy(), StudyInstanceUID=study), tmp_path / "b.dcm")
    key = tmp_path / "pseudonym.key"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    outs = [subprocess.run([sys.executable, "-c", PROBE, str(key), str(p)], capture_output=True, text=True,
                           env=env, check=True).stdout.split() for p in (a, b)]
    assert outs[0] == outs[1]  # two processes, two files of one patient and study: one pseudonym set
    name, pid, uid, dob = outs[0]
    assert FAKE_NAME not in name and pid != FAKE_ID and uid != study and dob != FAKE_DOB
    other = tmp_path / "other.key"  # another run folder: other pseudonyms
    again = subprocess.run([sys.executable, "-c", PROBE, str(other), str(a)], capture_output=True, text=True,
                           env=env, check=True).stdout.split()
    assert again[0] != name and again[2] != uid


def test_copy_keeps_pixel_bytes_and_drops_free_text(tmp_path) -> None:
    src = make_ds(gradient(), ImageComments=f"{FAKE_NAME} {FAKE_ID}", StudyDescription="for " + FAKE_NAME)
    src.add_new(0x00290010, "LO", "VENDOR")
    src.add_new(0x00291001, "LO", FAKE_ID)
    p = save(src, tmp_path / "in.dcm")
    assert keeps_identifying(pydicom.dcmread(p))
    deid = HeaderDeidentifier(run_secret(tmp_path / "k"))
    assert deidentify_copy(p, tmp_path / "out.dcm", deid)
    raw = (tmp_path / "out.dcm").read_bytes()
    assert not any(s.encode() in raw for s in (FAKE_NAME, FAKE_NAME.split("^")[0], FAKE_ID, FAKE_DOB))
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.PixelData == pydicom.dcmread(p).PixelData
    assert out.PatientIdentityRemoved == "YES" and "BurnedInAnnotation" not in out
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    assert not any(el.tag.is_private for el in out.iterall())
    deidentify_copy(p, tmp_path / "again.dcm", deid)
    assert (tmp_path / "again.dcm").read_bytes() == raw  # deterministic
    assert np.array_equal(out.pixel_array, pydicom.dcmread(p).pixel_array)
