"""Canary: a known feature stamped into k chosen training images, as the probe's positive control.

``make_canary`` copies a dataset (hard links where possible, never touching the input), stamps a text
(rendered with OpenCV) or a given patch into ``k`` training images chosen with the verify split, and
writes ``canary.json`` at the copy's root:
``{"version", "text", "k", "class", "seed", "box_frac": [x0, y0, x1, y1], "files": [{"relpath", "x0",
"y0", "x1", "y1"}], "patch_png": <base64 PNG>, "mask_png": <base64 PNG>, "audit": {...}}`` (``audit``
only with ``audit`` > 0, see :mod:`ufmclean.verify.audit`). The text is synthetic (it is the user's
canary, not patient data). Verify reads ``canary.json`` to score the canary.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ufmclean.errors import UsageError
from ufmclean.io.atomic import atomic_write_bytes
from ufmclean.records import BBox
from ufmclean.verify.data import TRAIN, Item, list_items, read_gray, split_items

if TYPE_CHECKING:
    from ufmclean.verify.audit import AuditCanary

CANARY_FILE = "canary.json"
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class CanarySpec:
    """A canary as stored: ``patch`` ``(h, w)`` uint8 and ``mask`` ``(h, w)`` bool at reference size, and its
    place ``box_frac`` (fractions of the image's width/height), plus the stamped relpaths and class."""

    patch: np.ndarray
    mask: np.ndarray
    box_frac: tuple[float, float, float, float]
    relpaths: tuple[str, ...]
    label: str
    k: int

    def box_for(self, height: int, width: int) -> BBox:
        """The canary's window in an image of ``height`` x ``width`` (at least 1x1)."""
        fx0, fy0, fx1, fy1 = self.box_frac
        x0, y0 = int(round(fx0 * width)), int(round(fy0 * height))
        return BBox(x0, y0, max(x0 + 1, int(round(fx1 * width))), max(y0 + 1, int(round(fy1 * height))))

    def patch_for(self, box: BBox) -> tuple[np.ndarray, np.ndarray]:
        """Patch ``(h, w)`` float32 in [0, 1] and mask ``(h, w)`` bool resized to ``box``."""
        import cv2

        size = (box.width, box.height)
        p = cv2.resize(self.patch, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        m = cv2.resize(self.mask.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) >= 128
        return p, m


def render_text(text: str, *, height: int, thickness: int | None = None,
                max_width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render ``text`` as white strokes: patch ``(h, w)`` uint8 (255 on strokes) and stroke mask ``(h, w)``.

    ``height`` is the glyph height in pixels; a 2-pixel margin is kept around the strokes. With
    ``max_width`` (pixels), a text wider than that on one line is broken at the space that best balances
    two lines, left-aligned one above the other (as a name over an ID on a burned-in label); the result
    may still be wider when a word alone is (callers check the fit). Without it, always one line.
    """
    import cv2

    if not text.strip():
        raise UsageError("canary text is empty; pass --text with a few characters")
    if height < 5:
        raise UsageError(f"canary height must be >= 5 pixels, got {height}")
    canvas, mask = _render_line(text, height=height, thickness=thickness)
    words = text.split(" ")
    if max_width is None or canvas.shape[1] <= max_width or len(words) < 2:
        return canvas, mask
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    top, bottom = min(splits, key=lambda ab: max(cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, height / 22.0, 1)[0][0]
                                                for s in ab))
    lines = [_render_line(t, height=height, thickness=thickness) for t in (top, bottom)]
    w = max(c.shape[1] for c, _ in lines)
    gap = max(1, height // 4)
    pc = [np.pad(c, ((0, 0), (0, w - c.shape[1]))) for c, _ in lines]
    pm = [np.pad(m, ((0, 0), (0, w - m.shape[1]))) for _, m in lines]
    zc, zm = np.zeros((gap, w), np.uint8), np.zeros((gap, w), bool)
    return np.vstack([pc[0], zc, pc[1]]), np.vstack([pm[0], zm, pm[1]])


def _render_line(text: str, *, height: int, thickness: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One line of :func:`render_text`."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = height / 22.0
    th = thickness or max(1, int(round(height / 8)))
    (tw, tht), base = cv2.getTextSize(text, font, scale, th)
    pad = 2 + th
    canvas = np.zeros((tht + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(canvas, text, (pad, pad + tht), font, scale, 255, th, cv2.LINE_AA)
    mask = canvas >= 96
    # Dilate the stroke mask by one pixel so the dark halo reads as part of the glyph.
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return canvas, mask


def choose_canary_files(items: list[Item], *, k: int, label: str | None, seed: int, split_seed: int = 0,
                        eval_fraction: float = 0.2) -> list[Item]:
    """``k`` training items (by the verify split) of class ``label`` (any class when ``None``), chosen by ``seed``."""
    if k < 1:
        raise UsageError(f"--k must be >= 1, got {k}")
    side = split_items(items, seed=split_seed, eval_fraction=eval_fraction)
    pool = [it for it in items if side[it.relpath] == TRAIN and (label is None or it.label == label)]
    pool = [it for it in pool if Path(it.relpath).suffix.lower() in RASTER_SUFFIXES]
    if len(pool) < k:
        raise UsageError(f"only {len(pool)} raster training image(s) of the requested class; lower --k or pick another --class")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool), size=k, replace=False)
    return [pool[i] for i in sorted(picks)]


def stamp_canary(img: np.ndarray, spec: CanarySpec) -> tuple[np.ndarray, BBox]:
    """A copy of ``img`` (``(H, W)`` or ``(H, W, C)``, integer or float) with ``spec``'s patch stamped in
    its box, white (the dtype's maximum, 1.0 for floats) on the patch's strokes; and that box."""
    box = spec.box_for(img.shape[0], img.shape[1])
    values, strokes = spec.patch_for(box)
    white = np.iinfo(img.dtype).max if img.dtype.kind in "ui" else 1.0
    region = img[box.slices]
    stamp = (values * white).astype(img.dtype)
    if region.ndim == 3:
        stamp, strokes = np.repeat(stamp[..., None], region.shape[2], axis=2), strokes[..., None]
    new = img.copy()
    new[box.slices] = np.where(strokes, stamp, region)
    return new, box


def _write_image_atomic(path: Path, img: np.ndarray) -> None:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(path.suffix.lower(), img, params)
    if not ok:
        raise UsageError(f"could not encode a stamped {path.suffix} image")
    atomic_write_bytes(path, buf.tobytes())


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _b64png(img: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise UsageError("could not encode the canary patch")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def make_canary(
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    text: str | None = None,
    patch_png: str | Path | None = None,
    k: int = 1,
    label: str | None = None,
    seed: int = 0,
    labels_csv: str | Path | None = None,
    box_frac: tuple[float, float] = (0.12, 0.12),
    height_frac: float = 0.07,
    split_seed: int = 0,
    eval_fraction: float = 0.2,
    audit: int = 0,
    audit_pool: set[str] | None = None,
    audit_height_frac: float | None = None,
    audit_kind: str = "text",
    wrap: bool = False,
) -> dict:
    """Copy ``input_dir`` to ``out_dir`` with the canary stamped into ``k`` training images; returns a small
    summary ``{"k", "class", "n_files_copied", "n_audit", "canary_json"}``.

    ``audit`` N > 0 adds the one-run audit (:mod:`ufmclean.verify.audit`): N random fake names / IDs,
    each stamped into one other training image (balanced over all classes, whatever ``label`` is), and
    N more recorded in ``canary.json`` but never inserted; ``audit_pool`` restricts their carriers to those
    relpaths (see :func:`ufmclean.verify.audit.plan_audit`). ``audit_height_frac`` is the audit canaries'
    glyph height as a fraction of the image height (default: ``height_frac``). The named canary's test is
    calibrated by the never-inserted audit canaries pasted at its window, so it is only calibrated when
    both heights are the same. ``audit_kind``: ``"text"`` (names and labelled IDs, ``"MRN 1234567"``),
    ``"bare"`` (the IDs without their label word, which a sanitiser rightly keeps), or ``"patch"``
    (random black-and-white grids instead of text, cells half the audit height; see
    :func:`ufmclean.verify.audit.random_grid`). ``wrap``: a text (named or audit) too wide for one line is
    set on two (:func:`render_text`'s ``max_width``: the rest of the image's width for the named canary,
    the central 90% for audit canaries); at twice the default height few names fit one line.

    ``box_frac`` is the canary's top-left corner as fractions of (width, height); ``height_frac`` its
    height as a fraction of the image height. The canary is drawn white over the image through its
    stroke mask (or the patch's non-zero pixels for ``patch_png``). Only raster files are stamped.
    """
    import cv2

    src, dst = Path(input_dir).resolve(), Path(out_dir).resolve()
    if dst == src or src in dst.parents:
        raise UsageError("--out must not be inside INPUT: the input tree is never written to")
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"--out {dst} exists and is not empty; choose a new folder")
    if (text is None) == (patch_png is None):
        raise UsageError("give exactly one of --text or --patch")
    if audit_kind not in ("text", "bare", "patch"):
        raise UsageError(f"--audit-kind must be text, bare or patch, got {audit_kind!r}")
    items = list_items(src, labels_csv=labels_csv)
    if not items:
        raise UsageError("no labelled images found; pass --labels CSV or use class sub-folders")
    chosen = choose_canary_files(items, k=k, label=label, seed=seed, split_seed=split_seed, eval_fraction=eval_fraction)
    first = read_gray(src / chosen[0].relpath)
    H0, W0 = first.shape
    if patch_png is not None:
        pimg = cv2.imread(str(patch_png), cv2.IMREAD_GRAYSCALE)
        if pimg is None:
            raise UsageError(f"--patch {Path(patch_png).name} is not a readable image")
        patch, mask = pimg, pimg > 0
    else:
        patch, mask = render_text(text or "", height=max(5, int(round(height_frac * H0))),
                                  max_width=int((1 - box_frac[0]) * W0) if wrap else None)
    h, w = patch.shape
    fx0, fy0 = box_frac
    frac = (fx0, fy0, fx0 + w / W0, fy0 + h / H0)
    if frac[2] > 1 or frac[3] > 1:
        raise UsageError("the canary does not fit in the image at that place; shorten --text or move it")
    spec = CanarySpec(patch, mask, frac, (), chosen[0].label, k)
    planned: list[AuditCanary] = []
    texts: list[str | None] = []
    if audit:
        from ufmclean.verify.audit import plan_audit

        ahf = height_frac if audit_height_frac is None else audit_height_frac
        planned, texts = plan_audit(items, n=audit, exclude_relpaths={it.relpath for it in chosen},
                                    seed=seed, height_px=max(5, int(round(ahf * H0))), image_hw=(H0, W0),
                                    exclude_texts=(text,) if text else (), split_seed=split_seed,
                                    eval_fraction=eval_fraction, carrier_pool=audit_pool,
                                    wrap=wrap, kind=audit_kind)
    files = []
    n = 0
    for p in sorted(src.rglob("*")):
        if p.is_file():
            _link_or_copy(p, dst / p.relative_to(src))
            n += 1
    stamps = [(it.relpath, spec, True) for it in chosen] + [(c.relpath, c.spec, False) for c in planned
                                                                     if c.inserted and c.relpath is not None]
    for relpath, sp, named in stamps:
        img = cv2.imread(str(src / relpath), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise UsageError("a chosen canary image could not be read; check the dataset")
        new, box = stamp_canary(img, sp)
        target = dst / relpath
        target.unlink()  # break the hard link before writing: the input file must stay untouched
        _write_image_atomic(target, new)
        if named:
            files.append({"relpath": relpath, "x0": box.x0, "y0": box.y0, "x1": box.x1, "y1": box.y1})
    doc: dict[str, Any] = {
        "version": 1,
        "text": text,
        "k": k,
        "class": chosen[0].label if label is None else label,
        "seed": seed,
        "split_seed": split_seed,
        "eval_fraction": eval_fraction,
        "box_frac": list(frac),
        "files": files,
        "patch_png": _b64png(patch),
        "mask_png": _b64png(mask.astype(np.uint8) * 255),
    }
    if planned:
        from ufmclean.verify.audit import audit_json

        doc["audit"] = audit_json(planned, texts, seed=seed)
    atomic_write_bytes(dst / CANARY_FILE, json.dumps(doc, indent=1).encode())
    return {"k": k, "class": doc["class"], "n_files_copied": n, "n_audit": audit,
            "canary_json": str(dst / CANARY_FILE)}


def read_canary_doc(dataset_dir: str | Path) -> dict | None:
    """The parsed ``canary.json`` of a dataset root; ``None`` when there is none."""
    p = Path(dataset_dir) / CANARY_FILE
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except ValueError:
        raise UsageError(f"{CANARY_FILE} is not JSON; re-create it with `ufmclean canary`") from None


def read_canary(dataset_dir: str | Path) -> CanarySpec | None:
    """Load ``canary.json`` from a dataset root; ``None`` when there is none."""
    import cv2

    p = Path(dataset_dir) / CANARY_FILE
    if not p.is_file():
        return None
    try:
        doc = json.loads(p.read_text())
        patch, mask = (cv2.imdecode(np.frombuffer(base64.b64decode(doc[key]), np.uint8), cv2.IMREAD_GRAYSCALE)
                       for key in ("patch_png", "mask_png"))
        if patch is None or mask is None:  # not a PNG: malformed like any other field
            raise ValueError("not a PNG")
        return CanarySpec(np.asarray(patch), np.asarray(mask) >= 128, tuple(doc["box_frac"]), tuple(f["relpath"] for f in doc["files"]),
                          str(doc["class"]), int(doc["k"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"{CANARY_FILE} is malformed ({type(exc).__name__}); re-create it with `ufmclean canary`") from None
