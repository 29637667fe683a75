"""Loading PNG / JPEG / TIFF (8/16-bit, grey or colour, multi-page TIFF as frames) into :class:`LoadedImage`."""

from __future__ import annotations

import struct
from typing import Any, cast

import numpy as np

from ufmclean.errors import DecompressionBombError, LoadError
from ufmclean.io.display import grey_views, minmax_uint8, rgb_to_uint8
from ufmclean.records import ImageRecord, LoadedImage

__all__ = ["load_raster", "raster_header_info", "size_refusal"]


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png_header(fh: Any) -> tuple[int, int, int]:
    head = fh.read(26)
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise ValueError("no IHDR chunk")
    width, height = struct.unpack(">II", head[16:24])
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(head[25])
    if samples is None:
        raise ValueError("bad colour type")
    return height, width, samples


def _jpeg_header(fh: Any) -> tuple[int, int, int]:
    if fh.read(2) != b"\xff\xd8":
        raise ValueError("no SOI marker")
    while True:
        byte = fh.read(1)
        if not byte:
            raise ValueError("no frame header before end of file")
        if byte != b"\xff":
            continue
        marker = fh.read(1)
        while marker == b"\xff":
            marker = fh.read(1)
        if not marker:
            raise ValueError("truncated marker")
        m = marker[0]
        if m in (0x01, 0xD8) or 0xD0 <= m <= 0xD7 or m == 0x00:
            continue
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            raise ValueError("truncated segment")
        length = struct.unpack(">H", length_bytes)[0]
        if m in _SOF:
            seg = fh.read(6)
            if len(seg) < 6:
                raise ValueError("truncated frame header")
            _, height, width, comps = struct.unpack(">BHHB", seg)
            return height, width, comps
        if m == 0xDA:
            raise ValueError("scan data before a frame header")
        fh.seek(length - 2, 1)


def _tiff_pages(path: str) -> list[tuple[int, int, int]]:
    """``(rows, cols, samples)`` of every TIFF page from its tags (IFDs only; no pixel data is read)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        out = []
        for item in tif.pages:
            page = cast("tifffile.TiffPage", item)  # pages are TiffPage unless useframes is set (it is not)
            depth = int(getattr(page, "imagedepth", 1) or 1)  # SGI volume pages hold ``depth`` planes
            out.append((int(page.imagelength) * depth, int(page.imagewidth),
                        int(getattr(page, "samplesperpixel", 1) or 1)))
        return out


def raster_header_info(path: str, fmt: str) -> dict[str, Any]:
    """Size from the file header without decoding pixels: ``rows``, ``cols``, ``frames``, ``samples``, ``values``.

    PNG (IHDR) and JPEG (SOF segment) headers are parsed directly; TIFF through tifffile, every
    page's tags: ``values`` is the sum over pages of rows x cols x samples (a small first page does
    not hide a huge later one) and ``page_sizes`` lists the distinct page shapes.
    Raises :class:`LoadError` when the header cannot be parsed.
    """
    try:
        if fmt == "tiff":
            pages = _tiff_pages(path)
            if not pages:
                raise ValueError("no pages")
            rows, cols, samples = pages[0]
            return {"rows": rows, "cols": cols, "frames": len(pages), "samples": samples,
                    "values": sum(r * c * s for r, c, s in pages), "page_sizes": sorted(set(pages))}
        with open(path, "rb") as fh:
            rows, cols, samples = _png_header(fh) if fmt == "png" else _jpeg_header(fh)
        return {"rows": rows, "cols": cols, "frames": 1, "samples": samples, "values": rows * cols * samples}
    except OSError as exc:
        raise LoadError(f"{fmt.upper()} file could not be read ({exc.strerror or type(exc).__name__})") from None
    except Exception as exc:
        raise LoadError(
            f"{fmt.upper()} header could not be read ({type(exc).__name__}); the file is truncated or corrupt"
        ) from None


def size_refusal(values: int, *, max_pixels: int, shape: str) -> DecompressionBombError:
    """The error for an image declaring ``values`` values (``shape`` describes them) over ``max_pixels``."""
    return DecompressionBombError(
        f"declared size {shape} = {values} values exceeds max_pixels={max_pixels} (a decompression-bomb guard: "
        f"scanning needs about 30 bytes of memory per value); if the image is genuine, allow it with "
        f"--max-pixels {values}")


def _guard(info: dict[str, Any], *, max_pixels: int) -> None:
    dims = (info["rows"], info["cols"], info["frames"], info["samples"])
    if min(dims) < 1:
        raise LoadError(f"declared image size is invalid ({info['rows']}x{info['cols']}, {info['frames']} "
                        f"frame(s), {info['samples']} sample(s)); the header is corrupt - re-export the image")
    total = info.get("values", info["rows"] * info["cols"] * info["frames"] * info["samples"])
    if total > max_pixels:
        shape = (f"{len(info['page_sizes'])} page size(s) over {info['frames']} pages"
                 if len(info.get("page_sizes", ())) > 1
                 else f"{info['rows']}x{info['cols']}x{info['frames']} frames x{info['samples']} samples")
        raise size_refusal(total, max_pixels=max_pixels, shape=shape)
    if len(info.get("page_sizes", ())) > 1:
        # Refused before decoding too: the pages could not be stacked into frames anyway.
        raise LoadError("TIFF pages have different sizes; split the pages into separate files")


def _read_cv2(path: str, fmt: str) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise LoadError(f"{fmt.upper()} pixel data could not be decoded by OpenCV; the file is truncated or corrupt")
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img[None, ...]


def _read_tiff(path: str) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            frames = []
            for page in tif.pages:
                a = page.asarray()
                if page.axes.startswith("S") and a.ndim == 3:  # planar-separate samples first
                    a = np.moveaxis(a, 0, -1)
                frames.append(a)
    except Exception as exc:
        raise LoadError(
            f"TIFF pixel data could not be decoded ({type(exc).__name__}); the file is truncated, corrupt or uses an unsupported compression"
        ) from None
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise LoadError("TIFF pages have different sizes; split the pages into separate files")
    return np.stack(frames)


def load_raster(record: ImageRecord, *, max_pixels: int) -> LoadedImage:
    """Decode a PNG/JPEG/TIFF file.

    ``raw``: ``(F, H, W)`` grey or ``(F, H, W, S)`` colour in RGB(A) order, the file's dtype.
    ``display``: uint8 ``(F, H, W)`` (8-bit as stored, deeper grey min-max scaled) or ``(F, H, W, 3)``.
    """
    fmt = record.format
    info = raster_header_info(record.path, fmt)
    _guard(info, max_pixels=max_pixels)
    raw = _read_tiff(record.path) if fmt == "tiff" else _read_cv2(record.path, fmt)
    notes: list[str] = []
    if raw.ndim == 4 and raw.shape[-1] == 1:
        raw = raw[..., 0]
    if raw.ndim == 4 and raw.shape[-1] == 2:  # grey + alpha
        raw = raw[..., 0]
        notes.append("alpha channel dropped")
    if raw.ndim == 3:
        photometric = "MONOCHROME2"
        if raw.dtype == np.uint8:
            display = raw.copy()
        elif raw.dtype == bool:
            display = raw.astype(np.uint8) * 255
        else:
            display = np.stack([minmax_uint8(f) for f in raw])
            notes.append(f"{raw.dtype} grey scaled to 8 bits by per-frame min-max")
    else:
        photometric = "RGB" if raw.shape[-1] == 3 else "RGBA"
        display = rgb_to_uint8(raw)
    rec = record.with_(rows=int(raw.shape[1]), cols=int(raw.shape[2]), frames=int(raw.shape[0]))
    # Deeper grey: the display already is each frame's min-max; a robust view where outliers squeeze it.
    views = grey_views(raw, display) if raw.ndim == 3 and raw.dtype not in (np.uint8, bool) else ()
    return LoadedImage(
        record=rec, raw=raw, display=np.ascontiguousarray(display), views=views, photometric=photometric,
        notes=tuple(notes),
    )
