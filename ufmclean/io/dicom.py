"""Loading DICOM files (any transfer syntax with the installed plug-ins) into :class:`LoadedImage`."""

from __future__ import annotations

import logging
import struct
import warnings
import zlib
from typing import Any

import numpy as np

from ufmclean.errors import LoadError, MissingCodecError, NotAnImageError
from ufmclean.io.codecs import codec_info, decode_failure_message, mask_quoted, transfer_syntax_name
from ufmclean.io.display import dicom_display, dicom_views
from ufmclean.io.overlays import extract_overlays
from ufmclean.records import HeaderSeeds, ImageRecord, LoadedImage

__all__ = ["dicom_header_info", "header_seeds", "is_non_image_class", "load_dicom", "not_an_image", "read_dataset", "sop_class_words"]

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: Transfer syntaxes whose PixelData is stored uncompressed (implicit/explicit LE, BE, deflated).
_NATIVE_TS = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")

_NAME_TAGS = (
    "PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "ReferringPhysicianName",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord", "OperatorsName",
    "RequestingPhysician", "ResponsiblePerson", "ScheduledPerformingPhysicianName",
)  # fmt: skip
_ID_TAGS = (
    "PatientID", "OtherPatientIDs", "IssuerOfPatientID", "AccessionNumber", "StudyID", "MedicalRecordLocator",
    "AdmissionID", "RequestedProcedureID", "PerformedProcedureStepID", "DeviceSerialNumber",
)  # fmt: skip
_DATE_TAGS = (
    "PatientBirthDate", "PatientBirthTime", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
    "InstanceCreationDate", "AcquisitionDateTime", "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime",
)  # fmt: skip
_OTHER_TAGS = (
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "PatientAddress",
    "PatientTelephoneNumbers", "PatientAge", "MilitaryRank", "BranchOfService",
)  # fmt: skip


class _MaskQuotedValues(logging.Filter):
    """pydicom logs warnings such as "Invalid value for VR DA: '19710304'": mask quoted values (PHI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_quoted(record.getMessage())
        record.args = ()
        return True


for _name in ("pydicom", "pydicom.pixels.decoders.base", "pydicom.pixels.encoders.base"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _MaskQuotedValues) for f in _logger.filters):
        _logger.addFilter(_MaskQuotedValues())


def read_dataset(path: str, *, stop_before_pixels: bool = False) -> Any:
    """Read ``path`` with pydicom (``force=True`` so preamble-less files work); raise :class:`LoadError` if unreadable."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warnings may quote header values (PHI)
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=stop_before_pixels)
            _infer_transfer_syntax(ds)
            return ds
    except InvalidDicomError as exc:
        raise LoadError(f"not a valid DICOM file ({type(exc).__name__}); check the file is DICOM Part 10") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, IndexError,
            zlib.error, struct.error, MemoryError) as exc:
        raise LoadError(
            f"DICOM header could not be parsed ({type(exc).__name__}); the file is truncated or corrupt - re-export it"
        ) from None


def _infer_transfer_syntax(ds: Any) -> None:
    """Preamble-less files have no file meta: record the encoding pydicom detected as their transfer syntax."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        return
    uid = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = uid


def _int(ds: Any, keyword: str, default: int | None = None) -> int | None:
    value = ds.get(keyword, default)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def dicom_header_info(ds: Any) -> dict[str, Any]:
    """Cheap header facts: ``modality``, ``rows``, ``cols``, ``frames`` (None when absent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _header_info(ds)


def _header_info(ds: Any) -> dict[str, Any]:
    return {
        "modality": modality_term(ds.get("Modality")),
        "rows": _int(ds, "Rows"),
        "cols": _int(ds, "Columns"),
        "frames": _int(ds, "NumberOfFrames", 1 if "Rows" in ds else None) or (1 if "Rows" in ds else None),
    }


#: PS3.3 C.7.3.1.1.1 Modality defined terms (current and retired): anything else is not shown.
MODALITIES = frozenset(["ANN", "AR", "ASMT", "AU", "BDUS", "BI", "BMD", "CFM", "CR", "CT", "CTPROTOCOL", "DG", "DMS", "DOC", "DX", "ECG", "EEG", "EMG", "EOG", "EPS", "ES", "FID", "GM", "HC", "HD", "IO", "IOL", "IVOCT", "IVUS", "KER", "KO", "LEN", "LS", "MG", "MR", "M3D", "NM", "OAM", "OCT", "OP", "OPM", "OPT", "OPTBSV", "OPTENF", "OPV", "OSS", "OT", "PA", "PLAN", "POS", "PR", "PT", "PX", "REG", "RESP", "RF", "RG", "RTDOSE", "RTIMAGE", "RTINTENT", "RTPLAN", "RTRAD", "RTRECORD", "RTSEGANN", "RTSTRUCT", "RWV", "SEG", "SM", "SMR", "SR", "SRF", "STAIN", "TEXTUREMAP", "TG", "US", "VA", "XA", "XAPROTOCOL", "XC", "CD", "CP", "CS", "DD", "DF", "DM", "EC", "FA", "FS", "LP", "MA", "MS", "OPR", "ST", "VF"])
_YBR_NAMES = frozenset({"YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"})


def modality_term(value: Any) -> str | None:
    """``value`` when it is a DICOM Modality defined term, ``"other"`` for any other text, else ``None``.

    The header's own text goes into the run tables only when it is one of the standard's terms:
    a free-text value could hold anything a site typed (a name included).
    """
    if value is None or str(value).strip() == "":
        return None
    term = str(value).strip().upper()
    return term if term in MODALITIES else "other"


def sop_class_description(ds: Any) -> str:
    """PHI-free words for the object's SOP Class: its registered name, else a description, never the value."""
    from pydicom.uid import UID_dictionary

    try:
        uid = str(ds.get("SOPClassUID") or "").strip()
    except Exception:
        uid = "?"
    if not uid:
        return "no SOP class"
    entry = UID_dictionary.get(uid)
    if entry is not None and entry[1] == "SOP Class":
        return str(entry[0])
    return "an unregistered SOP class (not an image storage class)"


def _values(ds: Any, keywords: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for kw in keywords:
        try:
            el = ds.get(kw)
        except Exception:  # undecodable value: nothing to seed from
            continue
        if el is None or el == "":
            continue
        items = list(el) if isinstance(el, (list, tuple)) or type(el).__name__ == "MultiValue" else [el]
        for item in items:
            text = str(item).strip()
            if text and text not in out:
                out.append(text)
    return out


def header_seeds(ds: Any) -> HeaderSeeds:
    """PHI seeds from the header: names, identifiers, dates/times and other identifying strings (raw values)."""
    return HeaderSeeds(
        names=tuple(_values(ds, _NAME_TAGS)),
        ids=tuple(_values(ds, _ID_TAGS)),
        dates=tuple(_values(ds, _DATE_TAGS)),
        other=tuple(_values(ds, _OTHER_TAGS)),
    )


def _check_size(ds: Any, *, max_pixels: int) -> tuple[int, int, int, int]:
    from ufmclean.io.raster import size_refusal

    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not cols or rows < 0 or cols < 0:
        raise LoadError("DICOM image has no valid Rows/Columns; the header is incomplete - re-export the image")
    frames = _int(ds, "NumberOfFrames", 1)
    frames = 1 if frames == 0 else frames  # 0 is a common writer slip for a single frame
    spp = _int(ds, "SamplesPerPixel", 1) or 1
    if frames is None or frames < 1 or spp < 1:
        raise LoadError(f"declared image size is invalid (NumberOfFrames {frames}, SamplesPerPixel {spp}); "
                        "the header is corrupt - re-export the image")
    total = rows * cols * frames * spp
    if total > max_pixels:
        raise size_refusal(total, max_pixels=max_pixels, shape=f"{rows}x{cols}x{frames} frames x{spp} samples")
    return rows, cols, frames, spp


def _check_pixel_length(ds: Any, ts: str | None, dims: tuple[int, int, int, int]) -> None:
    """Refuse, before decoding, native pixel data that the header's geometry does not fit.

    Rows/Columns/frames/samples/BitsAllocated that need more bytes than PixelData holds would
    otherwise read as a codec failure ("could not be decoded by the installed plug-ins").
    """
    if "PixelData" not in ds or (ts and ts not in _NATIVE_TS) or ds["PixelData"].is_undefined_length:
        return  # encapsulated (compressed) or unknown encoding: the decoder (or codec check) speaks
    bits = _int(ds, "BitsAllocated")
    if bits not in (1, 8, 16, 32, 64):
        raise LoadError(f"DICOM header is inconsistent: BitsAllocated {bits} is not 1, 8, 16, 32 or 64; "
                        "the header is corrupt - re-export the image")
    rows, cols, frames, spp = dims
    values = rows * cols * frames * spp
    need = (values + 7) // 8 if bits == 1 else values * bits // 8
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() in ("YBR_FULL_422", "YBR_PARTIAL_422"):
        need = need * 2 // 3  # 4:2:2 subsampled: two bytes per pixel pair of samples
    have = len(ds.PixelData or b"")
    if have < need:
        raise LoadError(
            f"DICOM header does not match its pixel data: Rows x Columns x frames x samples x BitsAllocated "
            f"({rows}x{cols}x{frames}x{spp}x{bits}) need {need} bytes, PixelData holds {have}; the file is truncated or corrupt, "
            "or its header is wrong - re-export it")


def sop_class_words(ds: Any) -> str | None:
    """The object's SOP class in words (``"Basic Text SR"``), ``None`` when it names no registered class
    (an unregistered UID is never returned: it could carry a site's or patient's identifiers)."""
    from pydicom.uid import UID

    meta = getattr(ds, "file_meta", None)
    uid = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else "") or "")
    if uid == "1.2.840.10008.1.3.10" or "DirectoryRecordSequence" in ds:
        return "a DICOMDIR media directory"
    name = UID(uid).name if uid else ""
    if not name or name == uid:
        return None
    for suffix in (" Image Storage", " Storage"):
        name = name.removesuffix(suffix)
    return name


def is_non_image_class(ds: Any) -> bool:
    """True for a DICOMDIR or a registered SOP class that is not an image class (SR, RTSTRUCT, RT Plan...):
    such objects have no pixel data by design. An image class without pixel data is a broken image."""
    from pydicom.uid import UID

    meta = getattr(ds, "file_meta", None)
    uid = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else "") or "")
    return sop_class_words(ds) is not None and not (uid and UID(uid).name.endswith("Image Storage"))


def not_an_image(ds: Any) -> LoadError:
    """The reason a DICOM object without pixel data is not scanned: :class:`NotAnImageError` (skipped)
    for an object of a registered class (DICOMDIR, SR, RTSTRUCT, ...), else a :class:`LoadError`
    (a truncated or foreign file)."""
    if not is_non_image_class(ds):
        return LoadError("DICOM image object has no pixel data (or no registered SOP class); the file is "
                         "truncated or not an image - check or re-export it")
    return NotAnImageError(f"not an image ({sop_class_words(ds)}): a DICOM object with no pixel data; skipped")


def _decode(ds: Any, ts: str | None) -> np.ndarray:
    info = codec_info(ts) if ts else None
    if info is not None and not info.can_decode:
        raise MissingCodecError(decode_failure_message(ts))
    try:
        arr = np.asarray(ds.pixel_array)
    except NotImplementedError as exc:
        raise MissingCodecError(decode_failure_message(ts, exc)) from None
    except RuntimeError as exc:
        if "missing required dependencies" in str(exc).lower():
            raise MissingCodecError(decode_failure_message(ts, exc)) from None
        raise LoadError(decode_failure_message(ts, exc) + "; the compressed data may be corrupt") from None
    except Exception as exc:  # decoders raise many types on corrupt data
        raise LoadError(decode_failure_message(ts, exc) + "; the pixel data may be truncated or corrupt") from None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def load_dicom(record: ImageRecord, *, max_pixels: int) -> LoadedImage:
    """Decode every frame of the DICOM file at ``record.path`` (see :func:`_load_dicom`); pydicom's warnings,
    which can quote header values, are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _load_dicom(record, max_pixels=max_pixels)


def _load_dicom(record: ImageRecord, *, max_pixels: int) -> LoadedImage:
    """Decode every frame of the DICOM file at ``record.path``.

    Returns a :class:`LoadedImage` whose ``raw`` is ``(F, H, W)`` or ``(F, H, W, S)`` stored values (YBR
    already converted to RGB, palette images keep their indices) and ``display`` is uint8 ``(F, H, W)``
    or ``(F, H, W, 3)``. Raises :class:`LoadError` subclasses with PHI-free messages.
    """
    ds = read_dataset(record.path)
    if not any(kw in ds for kw in PIXEL_KEYWORDS):
        raise not_an_image(ds)
    rows, cols, frames, spp = _check_size(ds, max_pixels=max_pixels)
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    _check_pixel_length(ds, ts, (rows, cols, frames, spp))
    arr = _decode(ds, ts)
    notes: list[str] = []
    pi_in = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    photometric = pi_in
    if spp > 1 and pi_in.startswith("YBR"):
        photometric = "RGB"  # pydicom's pixel_array converts YBR to RGB (as_rgb default)
        notes.append(f"{pi_in if pi_in in _YBR_NAMES else 'YBR colour'} converted to RGB")
    if spp == 1:
        arr = arr.reshape((frames, rows, cols))
    else:
        arr = arr.reshape((frames, rows, cols, spp))
    display, disp_notes = dicom_display(ds, arr, photometric)
    notes.extend(disp_notes)
    overlays, ov_notes = extract_overlays(ds, n_frames=frames, rows=rows, cols=cols)
    notes.extend(ov_notes)
    info = dicom_header_info(ds)
    rec = record.with_(format="dicom", modality=info["modality"], rows=rows, cols=cols, frames=frames)
    if ts and ts not in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1"):
        notes.append(f"decoded {transfer_syntax_name(ts)}")
    return LoadedImage(
        record=rec,
        raw=arr,
        display=np.ascontiguousarray(display),
        views=dicom_views(ds, arr, photometric, display),
        photometric=photometric,
        overlays=overlays,
        header=header_seeds(ds),
        notes=tuple(notes),
    )
