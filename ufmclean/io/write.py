"""Write-back of modified pixels: DICOM (tags kept, codec kept when lossless-encodable) and PNG/JPEG/TIFF."""

from __future__ import annotations

import hashlib

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ufmclean.errors import UsageError, WriteError
from ufmclean.io.atomic import atomic_output
from ufmclean.io.codecs import NATIVE, codec_info, transfer_syntax_name
from ufmclean.io.overlays import OVERLAY_GROUPS
from ufmclean.records import LoadedImage, WriteResult

if TYPE_CHECKING:
    from ufmclean.io.deid import HeaderDeidentifier

__all__ = ["write_image"]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
#: DICOM CID 7050 de-identification method codes (DCM scheme).
CLEAN_PIXEL = ("113101", "Clean Pixel Data Option")
CLEAN_GRAPHICS = ("113103", "Clean Graphics Option")
JPEG_QUALITY = 98


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ufmclean")
    except Exception:
        return "dev"


def _check_dest(loaded: LoadedImage, dest: Path) -> None:
    src = Path(loaded.record.path).resolve()
    # The input root is ``path`` minus ``relpath``, taken lexically: resolving first would climb from
    # the target of a symlinked folder and name the wrong root.
    in_root = Path(loaded.record.path)
    for _ in Path(loaded.record.relpath).parts:
        in_root = in_root.parent
    in_root = in_root.resolve()
    target = dest.resolve()
    if target == src or in_root == target or in_root in target.parents:
        raise UsageError("refusing to write inside the input folder; choose an output folder outside it")


def write_image(
    loaded: LoadedImage,
    new_raw: np.ndarray,
    dest: str | os.PathLike[str],
    *,
    method: str,
    remove_overlays: bool = False,
    burned_in_annotation: str | None = "NO",
    verify: bool = True,
    deid: HeaderDeidentifier | None = None,
    markers: bool = True,
) -> WriteResult:
    """Write ``new_raw`` (same shape and dtype as ``loaded.raw``: ``(F, H, W)`` or ``(F, H, W, S)``) to ``dest``.

    DICOM: every other element is kept (the source is re-read); the transfer syntax is kept when a
    lossless encoder is installed, otherwise Explicit VR Little Endian is written and ``notes`` say
    why; a new SOP Instance UID is generated when pixels or overlays change; ``method`` (e.g.
    ``"inpaint"``, ``"mask"``, or ``"none"`` for an unchanged copy) is recorded in
    DeidentificationMethod(+CodeSequence) and ``burned_in_annotation`` (``None`` keeps the old
    value) set. ``remove_overlays`` deletes overlay groups 60xx. Raster files keep their format
    (JPEG re-encoded at quality 98, noted). ``verify`` re-reads the written file and checks lossless
    outputs decode to ``new_raw``. Atomic; parent folders created; never writes into the input folder.

    ``deid`` (DICOM): de-identify the header with the run's pseudonyms (Basic Profile, see
    :mod:`ufmclean.io.deid`) before the new SOP Instance UID is derived from the (pseudonymised)
    old one, so the result stays deterministic. ``markers=False`` sets no de-identification
    markers at all (no BurnedInAnnotation, DeidentificationMethod or code entries): for a kept
    header, so that no tool treats the file as de-identified.
    """
    if not isinstance(loaded, LoadedImage):
        raise TypeError(f"loaded must be a LoadedImage, not {type(loaded).__name__}")
    if not isinstance(method, str) or not method.strip():
        raise ValueError("method must be a non-empty string such as 'inpaint', 'mask' or 'none'")
    new_raw = np.asarray(new_raw)
    if new_raw.shape != loaded.raw.shape or new_raw.dtype != loaded.raw.dtype:
        raise ValueError(
            f"new_raw must match loaded.raw: got {new_raw.shape} {new_raw.dtype}, expected {loaded.raw.shape} {loaded.raw.dtype}"
        )
    dest_path = Path(dest)
    _check_dest(loaded, dest_path)
    if loaded.record.format == "dicom":
        return _write_dicom(loaded, new_raw, dest_path, method=method.strip(), remove_overlays=remove_overlays,
                            burned_in_annotation=burned_in_annotation, verify=verify, deid=deid,
                            markers=markers)  # fmt: skip
    return _write_raster(loaded, new_raw, dest_path, verify=verify)


# ----------------------------------------------------------------------------------------------- raster
def _write_raster(loaded: LoadedImage, new_raw: np.ndarray, dest: Path, *, verify: bool) -> WriteResult:
    import cv2

    fmt = loaded.record.format
    notes: list[str] = []
    if fmt == "tiff":
        import tifffile

        data = new_raw if new_raw.shape[0] > 1 else new_raw[0]
        photometric = "rgb" if new_raw.ndim == 4 else "minisblack"
        with atomic_output(dest) as tmp:
            # No ImageDescription (tifffile's shape JSON) nor Software tag: the copy carries pixels only.
            tifffile.imwrite(tmp, data, photometric=photometric, compression="zlib", metadata=None, software=False)
            if verify:
                _verify_raster(loaded, new_raw, tmp)
        notes.append("TIFF written losslessly (zlib)")
    else:
        if new_raw.shape[0] != 1:
            raise WriteError(f"{fmt.upper()} holds one frame; got {new_raw.shape[0]}")
        img = new_raw[0]
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR if img.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
        if fmt == "png":
            ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        elif fmt == "jpeg":
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            notes.append(f"JPEG re-encoded at quality {JPEG_QUALITY} (lossy format; pixels differ slightly)")
        else:
            raise WriteError(f"cannot write format {fmt!r}")
        if not ok:
            raise WriteError(f"OpenCV could not encode the {fmt.upper()} image ({img.dtype}, shape {img.shape})")
        with atomic_output(dest) as tmp:
            tmp.write_bytes(buf.tobytes())
            if verify and fmt == "png":
                _verify_raster(loaded, new_raw, tmp)
    return WriteResult(dest=str(dest), notes=tuple(notes))


def _verify_raster(loaded: LoadedImage, new_raw: np.ndarray, path: Path) -> None:
    """The lossless file at ``path`` (not yet renamed into place) must read back to ``new_raw``."""
    from ufmclean.io.load import load_image

    back = load_image(loaded.record.with_(path=str(path)), max_pixels=max(new_raw.size * 2, 1))
    if not np.array_equal(back.raw, new_raw):
        raise WriteError(f"written {loaded.record.format.upper()} does not read back to the same pixels")


# ------------------------------------------------------------------------------------------------ DICOM
def _add_deid_entry(ds: Any, method: str, remove_overlays: bool) -> None:
    from pydicom.dataset import Dataset
    from pydicom.multival import MultiValue
    from pydicom.sequence import Sequence

    text = f"ufmclean {_version()}: burned-in pixel data {method}"[:64]
    old = ds.get("DeidentificationMethod")
    values = list(old) if isinstance(old, (list, MultiValue)) else ([str(old)] if old else [])
    ds.DeidentificationMethod = [*values, text] if values else text
    codes = [CLEAN_PIXEL] + ([CLEAN_GRAPHICS] if remove_overlays else [])
    seq = ds.get("DeidentificationMethodCodeSequence") or Sequence()
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = seq


def _store_pixels(ds: Any, arr: np.ndarray, photometric: str) -> None:
    """Replace PixelData with native ``arr`` (``(F,H,W[,S])``), keeping Bits* and NumberOfFrames semantics."""
    frames = arr.shape[0]
    data = arr if frames > 1 or "NumberOfFrames" in ds else arr[0]
    bits_stored = int(ds.get("BitsStored", arr.dtype.itemsize * 8))
    if int(ds.get("BitsAllocated", 8)) == 1:
        raise WriteError("1-bit (BitsAllocated=1) pixel data cannot be written back; segmentations are not images")
    had_frames = "NumberOfFrames" in ds
    if arr.dtype.itemsize == 4 and int(ds.get("BitsAllocated", 0)) == 32 and np.issubdtype(arr.dtype, np.integer):
        # pydicom's set_pixel_data stops at 16 bits; 32-bit native data (e.g. RT dose) is stored as is.
        if ds.file_meta.TransferSyntaxUID not in NATIVE:
            ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
        ds.PixelData = np.ascontiguousarray(data).astype(arr.dtype.newbyteorder("<")).tobytes()
        ds["PixelData"].VR = "OW"
        return
    try:
        ds.set_pixel_data(np.ascontiguousarray(data), photometric, bits_stored, generate_instance_uid=False)
    except NotImplementedError as exc:
        raise WriteError(
            f"pydicom cannot store these pixels ({type(exc).__name__}); write is not supported for this file"
        ) from None
    except ValueError as exc:
        raise WriteError(
            f"pixel values do not fit the stored bit depth ({bits_stored} bits): {type(exc).__name__}"
        ) from None
    if had_frames and "NumberOfFrames" not in ds:
        ds.NumberOfFrames = frames


def _write_dicom(loaded: LoadedImage, new_raw: np.ndarray, dest: Path, *, method: str, remove_overlays: bool,
                 burned_in_annotation: str | None, verify: bool, deid: HeaderDeidentifier | None,
                 markers: bool) -> WriteResult:  # fmt: skip
    from pydicom.uid import generate_uid

    from ufmclean.io.dicom import read_dataset

    ds = read_dataset(loaded.record.path)
    if deid is not None:
        deid.apply(ds)
    meta = getattr(ds, "file_meta", None)
    ts_in = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    notes: list[str] = []
    changed = not np.array_equal(new_raw, loaded.raw)
    had_overlays = any((g, 0x3000) in ds for g in OVERLAY_GROUPS)
    pi_in = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if remove_overlays:
            for group in OVERLAY_GROUPS:
                for tag in [el.tag for el in ds.group_dataset(group)]:
                    del ds[tag]
        ts_out = ts_in or EXPLICIT_LE
        needs_pixels = changed or loaded.photometric != pi_in or ts_in == "1.2.840.10008.1.2.2"
        if needs_pixels:
            info = codec_info(ts_in) if ts_in else None
            if ts_in == "1.2.840.10008.1.2.2":
                ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
            _store_pixels(ds, new_raw, loaded.photometric)  # leaves an uncompressed dataset
            ts_out = ds.file_meta.TransferSyntaxUID if ts_in in NATIVE else EXPLICIT_LE
            if ts_in == "1.2.840.10008.1.2.2":
                ts_out = EXPLICIT_LE
                notes.append("Explicit VR Big Endian (retired) written as Explicit VR Little Endian")
            elif info is not None and not info.native:
                if info.lossless and info.can_encode:
                    try:
                        if pi_in == "YBR_RCT" and str(ds.PhotometricInterpretation) == "RGB":
                            # Back to the input's form: J2K's reversible colour transform (dciodvfy
                            # refuses RGB in a JPEG 2000 US image); decodes to the same RGB values.
                            ds.PhotometricInterpretation = "YBR_RCT"
                        ds.compress(ts_in, generate_instance_uid=False)
                        ts_out = str(ts_in)  # info is not None: ts_in names a known syntax
                    except Exception as exc:
                        notes.append(
                            f"re-encoding as {info.name} failed ({type(exc).__name__}); written as Explicit VR Little Endian"
                        )
                elif not info.lossless:
                    notes.append(
                        f"{info.name} is lossy; written as Explicit VR Little Endian to avoid a second lossy generation"
                    )
                else:
                    notes.append(f"no encoder installed for {info.name}; written as Explicit VR Little Endian")
            if loaded.photometric != pi_in and not str(ds.PhotometricInterpretation).startswith("YBR"):
                notes.append(f"{pi_in} stored as {ds.PhotometricInterpretation} (pixels were decoded to RGB)")
            ds.file_meta.TransferSyntaxUID = ts_out
        old_uid = str(ds.get("SOPInstanceUID", "")) or None
        new_uid = old_uid
        if changed or (remove_overlays and had_overlays) or method != "none":
            # Derived from the old UID and the new pixels, so a rerun (e.g. after a crash) writes
            # byte-identical files, while different content still gets a different UID.
            digest = hashlib.sha256(np.ascontiguousarray(new_raw).tobytes()).hexdigest()
            new_uid = generate_uid(entropy_srcs=[old_uid or loaded.record.sha256 or "", digest, method,
                                                 str(remove_overlays and had_overlays)])
            ds.SOPInstanceUID = new_uid
            if meta is not None:
                ds.file_meta.MediaStorageSOPInstanceUID = new_uid
        if deid is not None and markers:
            deid.mark(ds)
        if method != "none" and markers:
            if burned_in_annotation is not None:
                ds.BurnedInAnnotation = burned_in_annotation
            _add_deid_entry(ds, method, remove_overlays and had_overlays)
        with atomic_output(dest) as tmp:
            try:
                if ts_in == "1.2.840.10008.1.2.2" and ts_out == EXPLICIT_LE:
                    import pydicom

                    pydicom.dcmwrite(tmp, ds, little_endian=True, implicit_vr=False, force_encoding=True)
                else:
                    ds.save_as(tmp, enforce_file_format=True)
            except Exception as exc:
                raise WriteError(
                    f"DICOM could not be written ({type(exc).__name__}); the source header may be incomplete"
                ) from None
            if verify:  # before the rename: a bad file never lands at dest
                _verify_dicom(loaded, new_raw, tmp, ts_out=str(ts_out))
    return WriteResult(dest=str(dest), transfer_syntax_in=ts_in, transfer_syntax_out=str(ts_out),
                       sop_instance_uid_old=old_uid, sop_instance_uid_new=new_uid, notes=tuple(notes))  # fmt: skip


def _verify_dicom(loaded: LoadedImage, new_raw: np.ndarray, dest: Path, *, ts_out: str) -> None:
    """Re-read ``dest``: it must decode, with ``new_raw``'s shape, and to ``new_raw`` exactly when lossless."""
    from ufmclean.errors import LoadError
    from ufmclean.io.load import load_image

    try:
        back = load_image(loaded.record.with_(path=str(dest)), max_pixels=max(new_raw.size * 2, 1))
    except LoadError as exc:
        raise WriteError(f"written DICOM does not decode again: {exc}") from None
    if back.raw.shape != new_raw.shape:
        raise WriteError(f"written DICOM decodes to shape {back.raw.shape}, expected {new_raw.shape}")
    if codec_info(ts_out).lossless and not np.array_equal(back.raw, new_raw):
        raise WriteError(f"written DICOM ({transfer_syntax_name(ts_out)}) does not decode to the written pixels")
