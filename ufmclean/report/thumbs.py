"""Before/after thumbnails for the review report (they show PHI: stored 0600, never logged)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ufmclean.io.atomic import atomic_write_bytes

THUMB_MODE = 0o600


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A JPEG thumbnail of one frame; ``scale`` maps original pixel coordinates to thumbnail pixels."""

    jpeg: bytes
    width: int
    height: int
    scale: float
    frame: int = 0

    def data_uri(self) -> str:
        """``data:image/jpeg;base64,...`` for embedding in HTML."""
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def make_thumbnail(frame: np.ndarray, *, max_side: int = 256, frame_index: int = 0, quality: int = 85) -> Thumbnail:
    """Downscale one display frame to at most ``max_side`` pixels and encode it as JPEG.

    Parameters
    ----------
    frame : np.ndarray
        ``uint8`` ``(H, W)`` grey or ``(H, W, 3)`` RGB display frame.
    max_side : int
        Longest side of the thumbnail in pixels (never upscaled).

    Returns
    -------
    Thumbnail
    """
    import cv2

    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"thumbnail needs a uint8 (H, W) or (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    if max_side < 8:
        raise ValueError("max_side must be >= 8")
    h, w = frame.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = frame if scale == 1.0 else cv2.resize(
        frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    if small.ndim == 3:
        small = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 frames
        raise ValueError("could not encode thumbnail")
    return Thumbnail(buf.tobytes(), int(small.shape[1]), int(small.shape[0]), float(scale), frame_index)


def thumbnail_names(image_id: str) -> tuple[str, str, str]:
    """File names :func:`save_thumbnails` may write for one image: before, after, metadata."""
    return f"{image_id}.before.jpg", f"{image_id}.after.jpg", f"{image_id}.json"


def save_thumbnails(folder: Path, image_id: str, before: Thumbnail, after: Thumbnail | None) -> None:
    """Store an image's thumbnails under ``folder`` (``<image_id>.before.jpg`` etc., mode 0600)."""
    meta = {"scale": before.scale, "frame": before.frame, "width": before.width, "height": before.height}
    before_name, after_name, meta_name = thumbnail_names(image_id)
    atomic_write_bytes(folder / before_name, before.jpeg, mode=THUMB_MODE)
    if after is not None:
        atomic_write_bytes(folder / after_name, after.jpeg, mode=THUMB_MODE)
    atomic_write_bytes(folder / meta_name, json.dumps(meta).encode(), mode=THUMB_MODE)


def load_thumbnails(folder: Path, image_id: str) -> tuple[Thumbnail | None, Thumbnail | None]:
    """Read what :func:`save_thumbnails` stored (``(None, None)`` when absent or damaged)."""
    before_name, after_name, meta_name = thumbnail_names(image_id)
    meta_path = folder / meta_name
    if not meta_path.is_file():
        return None, None
    try:
        meta = json.loads(meta_path.read_text())
        out = []
        for name in (before_name, after_name):
            p = folder / name
            out.append(Thumbnail(p.read_bytes(), meta["width"], meta["height"], meta["scale"], meta["frame"])
                       if p.is_file() else None)
    except (OSError, ValueError, KeyError, TypeError):  # a damaged thumbnail: the card shows none
        return None, None
    return out[0], out[1]
