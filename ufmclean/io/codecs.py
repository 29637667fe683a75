"""Which DICOM transfer syntaxes decode / re-encode with the installed plug-ins, and why not.

pydicom 3 routes pixel data through decoder/encoder plug-ins (pylibjpeg-*, pyjpegls, python-gdcm,
pillow). This module turns "no plug-in" into a precise message naming the package to install.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CodecInfo",
    "codec_info",
    "decode_failure_message",
    "mask_quoted",
    "lossless_encoder_available",
    "transfer_syntax_name",
]

#: Uncompressed (native) transfer syntaxes: pixels are stored as plain arrays.
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})

#: Transfer syntaxes whose compression is lossless (re-encoding them keeps pixel values).
LOSSLESS = frozenset(
    {
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless P14
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
    }
)

# What to pip install for each compressed family (decoding).
_DECODE_HINTS = {
    "1.2.840.10008.1.2.5": "pylibjpeg-rle (or pylibjpeg + numpy; pydicom's own RLE decoder needs nothing)",
    "1.2.840.10008.1.2.4.50": "pylibjpeg pylibjpeg-libjpeg (or python-gdcm / pillow)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.57": "pylibjpeg pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.70": "pylibjpeg pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.80": "pyjpegls (or pylibjpeg pylibjpeg-libjpeg / python-gdcm)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or pylibjpeg pylibjpeg-libjpeg / python-gdcm)",
    "1.2.840.10008.1.2.4.90": "pylibjpeg pylibjpeg-openjpeg (or python-gdcm / pillow)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg pylibjpeg-openjpeg (or python-gdcm / pillow)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg pylibjpeg-openjpeg>=2.2",
    "1.2.840.10008.1.2.4.202": "pylibjpeg pylibjpeg-openjpeg>=2.2",
    "1.2.840.10008.1.2.4.203": "pylibjpeg pylibjpeg-openjpeg>=2.2",
}


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """What the installed plug-ins can do with one transfer syntax."""

    uid: str
    name: str
    native: bool
    lossless: bool
    can_decode: bool
    can_encode: bool
    decode_plugins: tuple[str, ...]
    install_hint: str


# Transfer syntaxes newer than the installed pydicom's UID dictionary.
_EXTRA_NAMES = {
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
    "1.2.840.10008.1.2.4.204": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.205": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.206": "JPEG XL",
}


def transfer_syntax_name(uid: str | None) -> str:
    """Human name of a transfer syntax UID (``"unrecognised transfer syntax"`` when nobody knows it)."""
    if not uid:
        return "unknown transfer syntax"
    from pydicom.uid import UID

    u = UID(str(uid))
    if u.name != str(u):
        return str(u.name)
    return _EXTRA_NAMES.get(str(u), "unrecognised transfer syntax")


def codec_info(uid: str) -> CodecInfo:
    """Describe decode/encode support for transfer syntax ``uid`` with the plug-ins installed now."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.pixels.encoders.base import get_encoder

    uid = str(uid)
    native = uid in NATIVE
    plugins: tuple[str, ...] = ()
    can_decode = native
    try:
        decoder = get_decoder(uid)
        can_decode = bool(decoder.is_available)
        plugins = tuple(sorted(getattr(decoder, "_available", {}) or ()))
    except (NotImplementedError, ValueError):
        pass
    can_encode = False
    if not native:
        try:
            can_encode = bool(get_encoder(uid).is_available)
        except (NotImplementedError, ValueError):
            can_encode = False
    return CodecInfo(
        uid=uid,
        name=transfer_syntax_name(uid),
        native=native,
        lossless=native or uid in LOSSLESS,
        can_decode=can_decode,
        can_encode=can_encode,
        decode_plugins=plugins,
        install_hint=_DECODE_HINTS.get(uid, ""),
    )


def lossless_encoder_available(uid: str) -> bool:
    """True when pixels can be re-encoded losslessly in ``uid`` (native syntaxes count as available)."""
    info = codec_info(uid)
    return info.native or (info.lossless and info.can_encode)


def decode_failure_message(uid: str | None, exc: BaseException | None = None) -> str:
    """A PHI-free explanation of why pixel data in ``uid`` did not decode, with the fix when known.

    Only the exception *type* and pydicom's plug-in message are used; pydicom's decoder messages
    name transfer syntaxes and packages, never header values.
    """
    name = transfer_syntax_name(uid)
    # An unknown value is the file's own text (it could hold anything): described, never shown.
    shown = f"{uid} ({name})" if uid and name not in ("unrecognised transfer syntax", "unknown transfer syntax") else name
    head = f"transfer syntax {shown} could not be decoded"
    if uid is None:
        return f"{head}: the file has no transfer syntax; it may not be a DICOM image"
    info = codec_info(str(uid))
    if not info.can_decode:
        if info.install_hint:
            return f"{head}: no installed plug-in supports it; pip install {info.install_hint}"
        return f"{head}: pydicom {_pydicom_version()} has no decoder for it and no plug-in adds one"
    detail = _short(exc) if exc is not None else "unknown error"
    tried = ", ".join(info.decode_plugins) or "none"
    return f"{head} by the installed plug-ins ({tried}): {detail}"


def _pydicom_version() -> str:
    import pydicom

    return str(pydicom.__version__)


_QUOTED = re.compile(r"(\'[^\']*\'|\"[^\"]*\")")


def mask_quoted(text: str) -> str:
    """Replace quoted substrings (pydicom quotes offending header values in messages) by ``'<value>'``."""
    return _QUOTED.sub("'<value>'", text)


def _short(exc: BaseException) -> str:
    """Exception type and message with quoted substrings masked (they may echo header values)."""
    text = mask_quoted(" ".join(str(exc).split()))
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
