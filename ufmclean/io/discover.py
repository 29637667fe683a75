"""Dataset discovery: one :class:`ImageRecord` per file under a root folder.

Formats are sniffed from magic bytes, never from extensions. Symlinked folders are followed once
(loops are recorded as skipped rows); broken links and unreadable files become error rows.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any, TypedDict

from ufmclean.errors import LoadError, NotAnImageError, UsageError
from ufmclean.records import ImageFormat, ImageRecord

__all__ = ["discover", "image_id_for", "read_labels_csv", "sniff_format"]

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def image_id_for(relpath: str) -> str:
    """Stable row key: first 16 hex digits of sha1 of the posix ``relpath``."""
    return hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:16]


def _looks_like_bare_dicom(path: str, head: bytes) -> bool:
    """Preamble-less DICOM: starts with a group 0002/0008 tag and pydicom finds image-level tags."""
    if len(head) < 8:
        return False
    group_le = int.from_bytes(head[:2], "little")
    group_be = int.from_bytes(head[:2], "big")
    if group_le not in (0x0002, 0x0008) and group_be != 0x0008:
        return False
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=True,
                                 specific_tags=["SOPClassUID", "Modality", "Rows", "StudyInstanceUID"])  # fmt: skip
        return any(kw in ds for kw in ("SOPClassUID", "Modality", "Rows", "StudyInstanceUID"))
    except Exception:
        return False


def sniff_format(path: str, head: bytes) -> ImageFormat:
    """Format from the first 132+ bytes ``head`` of the file at ``path`` (``"unknown"`` when not an image)."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if _looks_like_bare_dicom(path, head):
        return "dicom"
    return "unknown"


def _hash_and_head(path: str) -> tuple[str, bytes, int]:
    h = hashlib.sha256()
    head = b""
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            if len(head) < 132:
                head += chunk[: 132 - len(head)]
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), head, size


def _header_fields(path: str, fmt: str) -> dict[str, Any]:
    if fmt == "dicom":
        from ufmclean.io.dicom import PIXEL_KEYWORDS, dicom_header_info, is_non_image_class, not_an_image, read_dataset

        ds = read_dataset(path, stop_before_pixels=True)
        if "Rows" not in ds and is_non_image_class(ds) and not any(kw in read_dataset(path) for kw in PIXEL_KEYWORDS):
            # DICOMDIR, SR, RTSTRUCT, RT plans...: part of every study export, not a failure.
            raise not_an_image(ds)
        return dicom_header_info(ds)
    from ufmclean.io.raster import raster_header_info

    info = raster_header_info(path, fmt)
    return {"modality": None, "rows": info["rows"], "cols": info["cols"], "frames": info["frames"]}


class _Where(TypedDict):
    """The fields of an :class:`ImageRecord` known before the file is read."""

    image_id: str
    relpath: str
    path: str


class _Unread(_Where):
    """:class:`_Where` plus the content fields of an entry that is not read (error or skipped)."""

    sha256: str
    size_bytes: int
    format: ImageFormat


def _record_for_file(path: str, relpath: str) -> ImageRecord:
    base = _Where(image_id=image_id_for(relpath), relpath=relpath, path=path)
    try:
        sha, head, size = _hash_and_head(path)
    except PermissionError:
        return ImageRecord(**base, sha256="", size_bytes=0, format="unknown", status="error",
                           error="file is not readable (permission denied); grant read access")  # fmt: skip
    except OSError as exc:
        return ImageRecord(**base, sha256="", size_bytes=0, format="unknown", status="error",
                           error=f"file could not be read ({exc.strerror or type(exc).__name__})")  # fmt: skip
    if size == 0:
        return ImageRecord(**base, sha256=sha, size_bytes=0, format="unknown", status="skipped",
                           error="empty file (0 bytes); not an image")  # fmt: skip
    fmt = sniff_format(path, head)
    if fmt == "unknown" and head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf")):
        return ImageRecord(**base, sha256=sha, size_bytes=size, format="unknown", status="skipped",
                           error="archive (zip/gzip/7z): archives are not opened; extract it into the input folder")  # fmt: skip
    if fmt == "unknown":
        return ImageRecord(**base, sha256=sha, size_bytes=size, format="unknown", status="skipped",
                           error="not an image: no DICOM, PNG, JPEG or TIFF signature")  # fmt: skip
    rec = ImageRecord(**base, sha256=sha, size_bytes=size, format=fmt)
    try:
        return rec.with_(**_header_fields(path, fmt))
    except NotAnImageError as exc:
        return rec.with_(status="skipped", error=str(exc))
    except LoadError as exc:
        return rec.with_(status="error", error=str(exc))
    except Exception as exc:
        return rec.with_(status="error", error=f"file header could not be read ({type(exc).__name__}); "
                                               "the file is corrupt or of an unsupported kind")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates (surrogateescape)
        return False
    return True


def _walk(root: Path) -> list[ImageRecord]:
    out: list[ImageRecord] = []
    seen_dirs: set[tuple[int, int]] = set()
    st = os.stat(root)
    seen_dirs.add((st.st_dev, st.st_ino))
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            rel = rel_dir or "."
            out.append(ImageRecord(image_id=image_id_for(rel), relpath=rel, path=dir_path, sha256="", size_bytes=0,
                                   format="unknown", status="error",
                                   error=f"folder could not be listed ({exc.strerror or type(exc).__name__})"))  # fmt: skip
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not _is_utf8(rel):
                # Run tables (Parquet) hold UTF-8 only; show the bytes escaped and ask for a rename.
                shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
                out.append(ImageRecord(image_id=image_id_for(shown), relpath=shown, path=entry.path, sha256="",
                                       size_bytes=0, format="unknown", status="error",
                                       error="file name is not valid UTF-8; rename it (bytes shown escaped)"))
                continue
            row = _Unread(
                image_id=image_id_for(rel), relpath=rel, path=entry.path, sha256="", size_bytes=0, format="unknown"
            )
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
                is_file = entry.is_file(follow_symlinks=True)
            except OSError as exc:
                reason = (
                    "symlink loop; fix or remove the link"
                    if exc.errno == errno.ELOOP
                    else f"entry could not be inspected ({exc.strerror})"
                )
                out.append(ImageRecord(**row, status="error", error=reason))
                continue
            if is_link and not is_dir and not is_file:
                try:
                    os.stat(entry.path)
                    reason = "special file behind a symlink; not an image"
                except OSError as exc:
                    reason = (
                        "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
                    ) + "; fix or remove the link"
                out.append(ImageRecord(**row, status="error", error=reason))
                continue
            if is_dir:
                try:
                    dst = os.stat(entry.path)
                except OSError as exc:
                    out.append(ImageRecord(**row, status="error", error=f"folder could not be read ({exc.strerror})"))
                    continue
                key = (dst.st_dev, dst.st_ino)
                if key in seen_dirs:
                    out.append(ImageRecord(**row, status="skipped",
                                           error="symlink loop: folder already walked; not followed"))  # fmt: skip
                    continue
                seen_dirs.add(key)
                stack.append((entry.path, rel))
            elif is_file:
                out.append(_record_for_file(entry.path, rel))
            else:
                out.append(ImageRecord(**row, status="skipped", error="not a regular file (device, fifo or socket)"))
    return out


def read_labels_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a labels CSV (header row required) into ``{relpath: label}``.

    The file column may be named ``relpath`` or ``path`` (as verify's reader accepts); paths are
    relative to the input folder, with ``/`` or ``\\`` separators.
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or ())
            column = "relpath" if "relpath" in fields else "path"
            if not {column, "label"} <= fields:
                raise UsageError(f"labels CSV {Path(path).name} needs a header with columns 'relpath,label' (or 'path,label')")
            return {
                row[column].strip().replace("\\", "/"): row["label"].strip() for row in reader if row.get(column)
            }
    except OSError as exc:
        raise UsageError(f"labels CSV {Path(path).name} could not be read ({exc.strerror})") from None


def _imagefolder_labels(records: list[ImageRecord]) -> dict[str, str]:
    images = [r for r in records if r.format != "unknown"]
    if not images or any("/" not in r.relpath for r in images):
        return {}
    return {r.relpath: r.relpath.split("/", 1)[0] for r in images}


def discover(root: str | os.PathLike[str], *, labels_csv: str | os.PathLike[str] | None = None) -> list[ImageRecord]:
    """Walk ``root`` recursively and return one :class:`ImageRecord` per file, sorted by ``relpath``.

    Labels come from ``labels_csv`` (``relpath,label``) when given, otherwise from an ImageFolder
    layout (first folder under ``root``) when every image sits in a folder. Header fields
    (modality, rows, cols, frames) are filled from the header without decoding pixels.
    Raises :class:`UsageError` when ``root`` is not a folder.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise UsageError(f"input {str(root)!r} is not a folder; pass the dataset's top folder")
    records = sorted(_walk(root_path.resolve()), key=lambda r: r.relpath)
    labels = read_labels_csv(labels_csv) if labels_csv is not None else _imagefolder_labels(records)
    if labels:
        records = [r.with_(label=labels.get(r.relpath)) if r.format != "unknown" else r for r in records]
    n_err = sum(r.status == "error" for r in records)
    n_skip = sum(r.status == "skipped" for r in records)
    log.info("discovered %d files (%d errors, %d skipped)", len(records), n_err, n_skip)
    return records
