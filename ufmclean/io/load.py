"""``load_image``: dispatch on the sniffed format to the DICOM or raster loader."""

from __future__ import annotations

import numbers

from ufmclean.errors import LoadError
from ufmclean.records import ImageRecord, LoadedImage

__all__ = ["DEFAULT_MAX_PIXELS", "load_image"]

#: Refuse to decode images declaring more values (rows*cols*frames*samples) than this (2**26 = 67M):
#: measured peak RSS of scanning one image with PP-OCR on CPU (load, display and OCR views, OCR and
#: markers): 8192x8192 uint8 PNG 2.2 GB, uint16 2.4 GB, 256x512x512 uint16 DICOM 2.5 GB, i.e. about
#: 1.2 GB plus 16-19 bytes per value; so one image keeps a worker under ~2.5 GB. Raise with --max-pixels.
DEFAULT_MAX_PIXELS = 2**26


def load_image(record: ImageRecord, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode the file behind ``record`` into raw and display views (see :class:`LoadedImage`).

    Never writes. Raises :class:`~ufmclean.errors.LoadError` (or a subclass such as
    ``MissingCodecError`` / ``DecompressionBombError``) with a PHI-free message naming the fix.
    """
    if not isinstance(record, ImageRecord):
        raise TypeError(f"record must be an ImageRecord, not {type(record).__name__}")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Integral) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    max_pixels = int(max_pixels)
    if record.format == "unknown":
        raise LoadError(record.error or "not an image: no DICOM, PNG, JPEG or TIFF signature")
    try:
        if record.format == "dicom":
            from ufmclean.io.dicom import load_dicom

            return load_dicom(record, max_pixels=max_pixels)
        from ufmclean.io.raster import load_raster

        return load_raster(record, max_pixels=max_pixels)
    except LoadError:
        raise
    except MemoryError:
        raise LoadError("not enough memory to decode the image; lower the batch size or --max-pixels") from None
    except OSError as exc:
        raise LoadError(f"file could not be read ({exc.strerror or type(exc).__name__})") from None
    except Exception as exc:
        raise LoadError(
            f"image could not be decoded ({type(exc).__name__}); it is corrupt or uses an unsupported encoding "
            "(e.g. PALETTE COLOR without its lookup table)"
        ) from None
