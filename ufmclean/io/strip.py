"""Pixels-only copies of unchanged raster files: no text chunk, EXIF, COM, TIFF text tag or trailing payload.

PNG and TIFF are re-encoded losslessly from their decoded pixels (:func:`ufmclean.io.write.write_image`
writes no metadata and checks the file reads back to the same values). A JPEG is not re-encoded (that
would be a second lossy generation): :func:`strip_jpeg` rebuilds it at the segment level from the
segments a decoder needs, and :func:`write_pixels_only` checks that the stripped file decodes to the
same pixels before it lands in ``clean/``.

Kept JPEG segments: every table, frame, scan and restart segment (DQT, DHT, DAC, DRI, SOFn, SOS, DNL,
JPG extensions), APP0 ``JFIF`` without its thumbnail and APP14 ``Adobe`` (12 bytes of flags): both
tell a decoder whether three components are YCbCr or RGB, so dropping them could change the decoded
colours. Dropped: COM, every other APPn (EXIF/XMP in APP1, ICC and FlashPix in APP2, IPTC in APP13,
maker notes ...), JFXX thumbnails and everything after EOI (an appended ZIP, a second image). The ICC
profile is dropped too: it does not change the decoded values a model reads (the check proves it), and
its description and copyright tags are free text any writer can fill; ``--keep-metadata`` keeps it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ufmclean.errors import WriteError
from ufmclean.records import LoadedImage, WriteResult

__all__ = ["strip_jpeg", "write_pixels_only"]

_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length
_APP0, _APP14, _COM, _SOS, _EOI = 0xE0, 0xEE, 0xFE, 0xDA, 0xD9


def _keep_segment(marker: int, payload: bytes) -> bytes | None:
    """The payload to write for segment ``marker`` (without marker and length), or ``None`` to drop it."""
    if marker == _APP0:
        # JFIF: identifier, version, units, densities (12 bytes) and a zero-size thumbnail.
        return payload[:12] + b"\x00\x00" if payload[:5] == b"JFIF\x00" and len(payload) >= 14 else None
    if marker == _APP14:
        return payload[:12] if payload[:5] == b"Adobe" and len(payload) >= 12 else None
    if 0xE1 <= marker <= 0xEF or marker == _COM:
        return None
    return payload


def _entropy_end(data: bytes, start: int) -> int:
    """Index of the marker that ends the entropy-coded data starting at ``start``."""
    j = start
    while True:
        k = data.find(b"\xff", j)
        if k < 0 or k + 1 >= len(data):
            raise WriteError("JPEG scan data runs to the end of the file (no EOI marker); the file is truncated")
        nxt = data[k + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:  # stuffed byte, restart marker, fill byte
            j = k + 1 if nxt == 0xFF else k + 2
            continue
        return k


def strip_jpeg(data: bytes) -> bytes:
    """``data`` (a JPEG file) rebuilt from its decoding segments only; entropy-coded data kept byte for byte.

    Raises :class:`WriteError` (no content in the message) for a file that does not parse as JPEG.
    """
    if data[:2] != b"\xff\xd8":
        raise WriteError("JPEG has no start-of-image marker; cannot strip its metadata")
    out, i, n = [b"\xff\xd8"], 2, len(data)
    while True:
        if i >= n or data[i] != 0xFF:
            raise WriteError("JPEG segment structure is corrupt (no marker where one is due); cannot strip its metadata")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            raise WriteError("JPEG ends inside a marker; the file is truncated")
        marker = data[i]
        i += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if i + 2 > n:
            raise WriteError("JPEG ends inside a segment header; the file is truncated")
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2 or i + length > n:
            raise WriteError("JPEG segment length runs past the end of the file; the file is truncated")
        payload = data[i + 2 : i + length]
        i += length
        kept = _keep_segment(marker, payload)
        if kept is not None:
            out.append(bytes((0xFF, marker)) + struct.pack(">H", len(kept) + 2) + kept)
        if marker == _SOS:
            end = _entropy_end(data, i)
            out.append(data[i:end])
            i = end


def write_pixels_only(loaded: LoadedImage, dest: str | os.PathLike[str]) -> WriteResult:
    """Write the unchanged raster file of ``loaded`` to ``dest`` without any metadata.

    PNG/TIFF: re-encoded losslessly (checked to read back to ``loaded.raw``). JPEG: segment-level
    strip of the source bytes (no re-encoding), checked to decode to ``loaded.raw`` exactly; a
    mismatch raises :class:`WriteError` and nothing is written. Atomic.
    """
    from ufmclean.io.atomic import atomic_output
    from ufmclean.io.write import _check_dest, write_image

    fmt = loaded.record.format
    if fmt != "jpeg":
        res = write_image(loaded, loaded.raw, dest, method="none")
        return WriteResult(dest=res.dest, notes=(*res.notes, f"{fmt.upper()} re-encoded losslessly without metadata"))
    dest_path = Path(dest)
    _check_dest(loaded, dest_path)
    try:
        stripped = strip_jpeg(Path(loaded.record.path).read_bytes())
    except OSError as exc:
        raise WriteError(f"JPEG could not be read again ({exc.strerror or type(exc).__name__})") from None
    import cv2

    back = cv2.imdecode(np.frombuffer(stripped, np.uint8), cv2.IMREAD_UNCHANGED)
    if back is not None and back.ndim == 3:
        back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB if back.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    if back is None or not np.array_equal(back, loaded.raw[0]):
        raise WriteError("JPEG without its metadata does not decode to the same pixels; not written "
                         "(use --keep-metadata to copy it unchanged)")
    with atomic_output(dest_path, mode=0o644) as tmp:
        tmp.write_bytes(stripped)
    return WriteResult(dest=str(dest_path), notes=("JPEG metadata segments removed (pixels not re-encoded)",))
