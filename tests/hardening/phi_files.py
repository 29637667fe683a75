"""Input files that carry a made-up patient in every metadata place a hospital export can use.

DICOM headers (name, ID, birth date, address, physician, accession, comments, a request sequence, a
private element), PNG tEXt/zTXt/iTXt and trailing bytes, JPEG EXIF/COM/APP13 and an appended ZIP,
TIFF ImageDescription/Artist and trailing bytes. :func:`leaks` greps bytes for every part of it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.hardening.run_helpers import NAME_BOX
from tests.io.io_factory import make_ds, save

NAME = "ZQXWOMBAT^QUORBELLE"
DOB = "19630217"
PID = "MRN48151623"
#: Every string that must not reach clean/ or the run tables (name, its parts, the date, the ID).
SECRETS = (NAME, "ZQXWOMBAT", "QUORBELLE", DOB, "1963-02-17", "1963:02:17", PID)
STUDY_UID = "1.2.826.0.1.3680043.8.498.4815162342"
TEXT = f"Patient {NAME} born {DOB} ID {PID}"


def _pixels(ink: bool) -> np.ndarray:
    # Flat (one odd pixel in a corner): the OCR double sees no ink whatever the windowing or scaling.
    img = np.full((64, 64), 50, np.uint8)
    img[63, 63] = 53
    if ink:  # the OCR double reads a name here: the image is inpainted and written
        img[NAME_BOX.y0 + 2 : NAME_BOX.y1 - 2, NAME_BOX.x0 + 1 : NAME_BOX.x1 - 1 : 3] = 250
    return img


def phi_dicom(path: Path, *, ink: bool, sop_uid: str) -> Path:
    """A DICOM of the made-up patient (study :data:`STUDY_UID`), pixels with or without planted ink."""
    req = Dataset()
    req.RequestedProcedureDescription = f"CHEST for {NAME}"
    req.RequestedProcedureID = PID
    ds = make_ds(_pixels(ink), PatientName=NAME, PatientID=PID, PatientBirthDate=DOB,
                 PatientAddress="12 ZQXWOMBAT LANE", ReferringPhysicianName="QUORBELLE^REFERRER",
                 AccessionNumber=PID, ImageComments=TEXT, OtherPatientIDs=PID, StudyInstanceUID=STUDY_UID,
                 SOPInstanceUID=sop_uid, RequestAttributesSequence=Sequence([req]))
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.add_new(0x00110010, "LO", "ACME PRIVATE")
    ds.add_new(0x00111001, "LO", TEXT)
    return save(ds, path)


def phi_png(path: Path, *, ink: bool = False) -> Path:
    """A PNG with the patient in tEXt, zTXt and iTXt chunks and after IEND."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", TEXT)
    info.add_text("Author", NAME, zip=True)
    info.add_itxt("Description", TEXT, lang="en", tkey="Description")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_pixels(ink)).save(path, pnginfo=info)
    with open(path, "ab") as fh:
        fh.write(TEXT.encode())
    return path


def phi_jpeg(path: Path) -> Path:
    """A JPEG with EXIF (ImageDescription, Artist, Orientation), a COM segment and a ZIP appended."""
    exif = Image.Exif()
    exif[0x010E], exif[0x013B], exif[0x0112] = TEXT, NAME, 6
    buf = io.BytesIO()
    Image.fromarray(cv2.GaussianBlur(_pixels(False), (5, 5), 0)).save(buf, "JPEG", quality=90, exif=exif,
                                                                      comment=TEXT.encode())
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("record.txt", TEXT)  # stored uncompressed
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue() + zipped.getvalue())
    return path


def phi_tiff(path: Path) -> Path:
    """A 16-bit TIFF with the patient in ImageDescription and Artist, and trailing bytes."""
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, _pixels(False).astype(np.uint16) * 100, description=TEXT,
                     extratags=[(315, "s", 0, NAME, True)])
    with open(path, "ab") as fh:
        fh.write(TEXT.encode())
    return path


def leaks(data: bytes) -> list[str]:
    """The :data:`SECRETS` found in ``data`` (case-insensitive)."""
    low = data.lower()
    return [s for s in SECRETS if s.lower().encode() in low]
