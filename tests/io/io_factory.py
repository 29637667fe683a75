"""Builders for small DICOM / raster test files (written into pytest tmp dirs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ufmclean.io.discover import _record_for_file
from ufmclean.records import ImageRecord

FAKE_NAME = "ZZTESTNAME^QWERTY"
FAKE_ID = "QX-778899"
FAKE_DOB = "19710304"


def make_ds(arr: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int | None = None,
            frames: bool = False, **tags: object) -> Dataset:  # fmt: skip
    """A minimal CR/SC image dataset holding ``arr`` (H, W), (F, H, W), (H, W, 3) or (F, H, W, 3)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = FAKE_NAME, FAKE_ID, FAKE_DOB
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240102", "101010", "ACC55"
    ds.InstitutionName, ds.OperatorsName = "TEST HOSPITAL", "OPERATOR^ONE"
    ds.StationName = "ST1"
    bits = bits_stored or arr.dtype.itemsize * 8
    ds.set_pixel_data(arr, photometric, bits, generate_instance_uid=False)
    if frames and "NumberOfFrames" not in ds:
        ds.NumberOfFrames = 1
    for k, v in tags.items():
        setattr(ds, k, v)
    return ds


def save(ds: Dataset, path: Path) -> Path:
    """Save ``ds`` as a DICOM Part 10 file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def record(path: Path, relpath: str | None = None) -> ImageRecord:
    """Discovery record for one file (as :func:`ufmclean.io.discover` would build it)."""
    return _record_for_file(str(path), relpath or path.name)


def gradient(h: int = 32, w: int = 48, dtype: type = np.uint8, hi: int = 255) -> np.ndarray:
    """Deterministic (h, w) ramp with structure in both axes."""
    y, x = np.mgrid[0:h, 0:w]
    a = (x * 7 + y * 13) % (hi + 1)
    return a.astype(dtype)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` keyed by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def ramp(h: int, w: int, hi: int, dtype: type = np.uint16) -> np.ndarray:
    """(h, w) array rising linearly from 0 to ``hi`` in raster order."""
    return np.rint(np.linspace(0, hi, h * w)).reshape(h, w).astype(dtype)
