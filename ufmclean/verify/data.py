"""Dataset -> probe arrays: list files with labels, read them grey at a fixed size, split by seed.

Files are read through the ufmclean loader (``ufmclean.io.load_image``), so any DICOM transfer syntax
works as well as PNG/JPEG/TIFF. Labels come from a CSV
(``path``/``relpath`` column plus ``label``, optional ``split`` with ``train``/``test``) or, without
one, from each file's parent folder name.

The split is a pure function of ``(relpath, label, seed)``: each class's files are ordered by a hash
of seed and relpath and the first ``eval_fraction`` of them are held out. The same function chooses
canary images and the verify split, and a file keeps its side of the split whatever other files are
present (files held back by the sanitiser drop out without moving the others).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ufmclean.errors import LoadError, UfmError, UsageError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom")
TRAIN, EVAL = "train", "eval"


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled file of a dataset: ``relpath`` (POSIX, relative to the root), ``label`` string,
    ``split`` given by the CSV (``"train"``/``"eval"``) or ``None`` to let :func:`split_items` decide."""

    relpath: str
    label: str
    split: str | None = None


@dataclass(frozen=True)
class ProbeData:
    """A dataset read for the probe.

    ``images`` ``(N, S, S)`` float32 in [0, 1]; ``labels`` ``(N,)`` int64 indices into ``classes``;
    ``shapes`` ``(N, 2)`` original (rows, cols); ``errors`` maps relpath -> PHI-free message for
    files that could not be read (left out of the arrays).
    """

    relpaths: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    shapes: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)

    def index(self) -> dict[str, int]:
        """``relpath -> row`` lookup."""
        return {r: i for i, r in enumerate(self.relpaths)}


def read_labels_csv(path: str | Path, *, label_column: str = "label") -> dict[str, tuple[str, str | None]]:
    """Read ``relpath -> (label, split)`` from a CSV with a ``path`` (or ``relpath``) column.

    ``split`` is ``"train"`` for values ``train``/``training``, ``"eval"`` for ``test``/``val``/
    ``eval``/``holdout``, else ``None``.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"labels CSV not found: {p}; pass an existing file to --labels")
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        key = "path" if "path" in cols else "relpath" if "relpath" in cols else None
        if key is None or label_column not in cols:
            raise UsageError(
                f"labels CSV {p.name} needs a 'path' (or 'relpath') column and a {label_column!r} column"
            )
        out: dict[str, tuple[str, str | None]] = {}
        for row in reader:
            split = (row.get("split") or "").strip().lower()
            mapped = TRAIN if split in ("train", "training") else EVAL if split in ("test", "val", "eval", "holdout") else None
            out[row[key].strip().replace("\\", "/")] = (row[label_column].strip(), mapped)
    return out


def list_items(root: str | Path, *, labels_csv: str | Path | None = None, label_column: str = "label") -> list[Item]:
    """Labelled image files under ``root``, sorted by relpath.

    With ``labels_csv`` only files listed there (and present) are returned; without it every image
    file is labelled by its parent folder name (files directly in ``root`` are skipped).
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"dataset folder not found: {root}")
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or p.suffix == "")
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if labels_csv is not None:
        table = read_labels_csv(labels_csv, label_column=label_column)
        return [Item(r, *table[r]) for r in files if r in table]
    return [Item(r, r.split("/")[-2]) for r in files if "/" in r and Path(r).suffix.lower() in IMAGE_SUFFIXES]


def hash_rank(seed: int, relpath: str) -> str:
    """A sort key of ``relpath`` that depends on ``seed`` only (the split's and the validation set's order)."""
    return hashlib.sha1(f"{seed}:{relpath}".encode()).hexdigest()


def split_items(items: list[Item], *, seed: int = 0, eval_fraction: float = 0.2) -> dict[str, str]:
    """Assign each item to ``"train"`` or ``"eval"``: the CSV's split if given, else stratified by label.

    Returns ``relpath -> side``. Deterministic in ``(seed, relpath, label)`` only.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise UsageError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    out = {it.relpath: it.split for it in items if it.split is not None}
    by_class: dict[str, list[str]] = {}
    for it in items:
        if it.split is None:
            by_class.setdefault(it.label, []).append(it.relpath)
    for rels in by_class.values():
        ranked = sorted(rels, key=lambda r: hash_rank(seed, r))
        n_eval = int(round(eval_fraction * len(ranked)))
        for i, r in enumerate(ranked):
            out[r] = EVAL if i < n_eval else TRAIN
    return out


def read_gray(path: str | Path, *, frame: int = 0, relpath: str | None = None) -> np.ndarray:
    """Read one file as a display-ready grey ``(H, W)`` uint8 array (frame ``frame`` of multi-frame files).

    Goes through ``ufmclean.io.load_image`` (DICOM of any transfer syntax, PNG/JPEG/TIFF; LUTs applied,
    MONOCHROME1 inverted); colour is converted to grey (ITU-R 601 weights). Raises :class:`LoadError`
    with a PHI-free message.
    """
    from ufmclean.io import image_id_for, load_image, sniff_format
    from ufmclean.records import ImageRecord

    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise LoadError(f"file could not be read ({exc.strerror or type(exc).__name__})") from None
    rel = relpath or p.name
    record = ImageRecord(image_id=image_id_for(rel), relpath=rel, path=str(p), sha256="",
                         size_bytes=p.stat().st_size, format=sniff_format(str(p), head))
    disp = load_image(record).display
    img = disp[min(max(frame, 0), disp.shape[0] - 1)]
    if img.ndim == 3:  # RGB display view -> grey
        img = (img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    return np.asarray(img)


def to_probe(img: np.ndarray, size: int) -> np.ndarray:
    """Resize a grey ``(H, W)`` uint8 image to ``(size, size)`` float32 in [0, 1] (area interpolation)."""
    import cv2

    if img.ndim != 2:
        raise ValueError(f"expected a grey (H, W) image, got shape {img.shape}")
    out = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return out.astype(np.float32) / 255.0


def load_probe_data(
    root: str | Path, items: list[Item], *, size: int, classes: tuple[str, ...] | None = None
) -> ProbeData:
    """Read ``items`` under ``root`` at ``size`` x ``size``; unreadable files are recorded in ``errors``.

    ``classes`` fixes the label order (pass the original dataset's classes for the sanitised one).
    """
    if size < 8:
        raise UsageError(f"probe size must be >= 8 pixels, got {size}")
    classes = classes or tuple(sorted({it.label for it in items}))
    cindex = {c: i for i, c in enumerate(classes)}
    imgs, labels, shapes, rels, errors = [], [], [], [], {}
    root = Path(root)
    for it in items:
        if it.label not in cindex:
            errors[it.relpath] = "label not among the original dataset's classes"
            continue
        try:
            g = read_gray(root / it.relpath, relpath=it.relpath)
        except UfmError as exc:
            errors[it.relpath] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a decoder's own error; keep the run going
            errors[it.relpath] = f"could not decode ({type(exc).__name__}); check the file"
            continue
        imgs.append(to_probe(g, size))
        shapes.append(g.shape[:2])
        labels.append(cindex[it.label])
        rels.append(it.relpath)
    if errors:
        log.warning("%d file(s) could not be read for the probe", len(errors))
    return ProbeData(
        relpaths=tuple(rels),
        images=np.stack(imgs) if imgs else np.zeros((0, size, size), np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        classes=classes,
        shapes=np.asarray(shapes, dtype=np.int64).reshape(-1, 2),
        errors=errors,
    )
