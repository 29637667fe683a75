"""Typed records passed between ufmclean's stages.

The pipeline is ``ImageRecord -> LoadedImage -> Finding -> (rarity) -> Decision -> CleanResult``
(:class:`Decision` and :class:`CleanResult` are what the sanitize stage stores per finding and per image).
:class:`ImageRow` is a row of ``RUN/images.parquet`` as the later stages and the report read it.
Records are frozen dataclasses without I/O; stages return new records (``dataclasses.replace``)
instead of mutating the ones they were given.

Coordinates: every box is in *original pixel coordinates of its frame*, ``x`` = column,
``y`` = row, ``x1``/``y1`` exclusive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

ImageFormat = Literal["dicom", "png", "jpeg", "tiff", "unknown"]
ImageStatus = Literal["ok", "error", "skipped"]
FindingKind = Literal["text", "marker", "overlay"]
Action = Literal["keep", "flag", "inpaint", "mask"]


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box ``[x0, x1) x [y0, y1)`` in pixel coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"BBox has negative extent: {self!r}")

    @property
    def width(self) -> int:
        """Number of columns covered."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Number of rows covered."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Number of pixels covered."""
        return self.width * self.height

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices for indexing an ``(H, W, ...)`` array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def clip(self, height: int, width: int) -> BBox:
        """Clip to an image of ``height`` x ``width`` (may become empty)."""
        x0 = min(max(self.x0, 0), width)
        y0 = min(max(self.y0, 0), height)
        return BBox(x0, y0, max(x0, min(self.x1, width)), max(y0, min(self.y1, height)))

    def pad(self, margin: int, *, height: int | None = None, width: int | None = None) -> BBox:
        """Grow by ``margin`` pixels on every side, clipped when the image size is given."""
        box = BBox(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)
        if height is not None and width is not None:
            return box.clip(height, width)
        return box

    def scale(self, sx: float, sy: float) -> BBox:
        """Map through a scaling (e.g. from a resized image back to the original), rounding outwards."""
        return BBox(
            int(np.floor(self.x0 * sx)),
            int(np.floor(self.y0 * sy)),
            int(np.ceil(self.x1 * sx)),
            int(np.ceil(self.y1 * sy)),
        )

    def translate(self, dx: int, dy: int) -> BBox:
        """Shift by ``(dx, dy)`` pixels."""
        return BBox(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def intersection(self, other: BBox) -> int:
        """Area of overlap with ``other``."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0) * max(h, 0)

    def iou(self, other: BBox) -> float:
        """Intersection over union with ``other`` (0 when both are empty)."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def union(self, other: BBox) -> BBox:
        """Smallest box holding both."""
        return BBox(
            min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1), max(self.y1, other.y1)
        )

    @classmethod
    def from_points(cls, points: Any) -> BBox:
        """Bounding box of a polygon given as ``[(x, y), ...]`` (e.g. an easyocr quad)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return cls(
            int(np.floor(pts[:, 0].min())),
            int(np.floor(pts[:, 1].min())),
            int(np.ceil(pts[:, 0].max())),
            int(np.ceil(pts[:, 1].max())),
        )


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One input file found by discovery; ``image_id`` is the row key of every run table.

    ``image_id`` is derived from ``relpath`` only (stable across runs and content edits);
    ``sha256`` identifies the content (used for resume and cache keys).
    """

    image_id: str
    relpath: str
    path: str
    sha256: str
    size_bytes: int
    format: ImageFormat
    label: str | None = None
    status: ImageStatus = "ok"
    error: str | None = None
    modality: str | None = None
    rows: int | None = None
    cols: int | None = None
    frames: int | None = None

    def with_(self, **changes: Any) -> ImageRecord:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class OverlayPlane:
    """One DICOM overlay plane (group ``0x6000 + 2k``) for one frame, as a boolean mask.

    ``mask`` has shape ``(rows, cols)`` of the *image* (the overlay's origin is already applied).
    """

    group: int
    frame: int
    mask: np.ndarray
    overlay_type: str = "G"
    description: str = ""


@dataclass(frozen=True, slots=True)
class HeaderSeeds:
    """PHI-bearing header values of a DICOM file, used to type text found in its pixels.

    Values are raw strings as stored (e.g. ``"DOE^JOHN"``, ``"19710304"``); normalisation is the
    PHI typer's job. Empty for raster images.
    """

    names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class LoadedImage:
    """Pixels of one input file, in two views.

    Attributes
    ----------
    record : ImageRecord
        The discovery record (with rows/cols/frames/modality filled in).
    raw : np.ndarray
        Stored values for write-back, shape ``(F, H, W)`` for grey or ``(F, H, W, S)`` for colour,
        in the file's own dtype (e.g. uint16, int16; colour as RGB after decoding).
    display : np.ndarray
        Clinical ``uint8`` view, shape ``(F, H, W)`` (grey, MONOCHROME1 already inverted, LUTs
        applied) or ``(F, H, W, 3)`` RGB.
    views : tuple of (str, np.ndarray)
        Further ``uint8`` views of the stored values, shaped like ``display`` (``range``: each frame's
        min-max; ``robust``: percentile stretch; ``above-window`` / ``below-window``: the values a
        linear window clips, see :func:`ufmclean.io.display.grey_views`), present where they differ
        from ``display``. OCR, redaction and the residual check look at all of them (:meth:`ocr_views`).
    photometric : str
        Photometric interpretation of ``raw`` (``MONOCHROME1``, ``MONOCHROME2``, ``RGB``, ...).
    overlays : tuple[OverlayPlane, ...]
        Non-empty overlay planes, one entry per (group, frame).
    header : HeaderSeeds
        PHI seeds from the DICOM header.
    notes : tuple[str, ...]
        Human-readable notes on decisions the loader took (e.g. "VOI window ignored: ...").
    """

    record: ImageRecord
    raw: np.ndarray
    display: np.ndarray
    views: tuple[tuple[str, np.ndarray], ...] = ()
    photometric: str = "MONOCHROME2"
    overlays: tuple[OverlayPlane, ...] = ()
    header: HeaderSeeds = field(default_factory=HeaderSeeds)
    notes: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.raw.shape[0])

    def ocr_views(self) -> tuple[tuple[str, np.ndarray], ...]:
        """``(("display", display), *views)``: every uint8 view text may be read in."""
        return (("display", self.display), *self.views)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found in one frame of one image.

    ``key``/``doc_freq``/``is_rare`` are filled by the rarity stage; ``phi_type`` by PHI typing;
    ``action``/``reasons``/``residual_ok`` by the policy and redaction stages. ``descriptor`` is a
    compact appearance vector for markers (empty for text); it is not written to the tables.
    ``view`` names the :meth:`LoadedImage.ocr_views` view text was read in (empty for other kinds).
    """

    finding_id: str
    image_id: str
    relpath: str
    frame: int
    kind: FindingKind
    bbox: BBox
    text: str = ""
    confidence: float = 1.0
    key: str = ""
    doc_freq: int = 0
    is_rare: bool = False
    phi_type: str = ""
    action: Action = "keep"
    reasons: tuple[str, ...] = ()
    residual_ok: bool | None = None
    descriptor: tuple[float, ...] = ()
    view: str = ""

    def with_(self, **changes: Any) -> Finding:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of writing one sanitised image."""

    dest: str
    transfer_syntax_in: str | None = None
    transfer_syntax_out: str | None = None
    sop_instance_uid_old: str | None = None
    sop_instance_uid_new: str | None = None
    notes: tuple[str, ...] = ()


CleanStatus = Literal["written", "copied", "held", "flagged", "error", "skipped"]
HeaderStatus = Literal["deidentified", "kept-identifying", "kept"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the sanitize stage did with one finding: the policy's action (escalated by the residual
    check), its reasons, and whether the removed item is still legible (``residual_ok``; ``None``
    when it was not checked). Holds no text."""

    finding_id: str
    image_id: str
    action: Action
    reasons: tuple[str, ...] = ()
    residual_ok: bool | None = None

    @classmethod
    def of(cls, finding: Finding) -> Decision:
        """The decision a decided (and redacted) finding carries."""
        return cls(finding.finding_id, finding.image_id, finding.action, finding.reasons, finding.residual_ok)

    def applied_to(self, finding: Finding) -> Finding:
        """``finding`` with this decision's action, reasons and residual result."""
        return finding.with_(action=self.action, reasons=self.reasons, residual_ok=self.residual_ok)


@dataclass(frozen=True, slots=True)
class CleanResult:
    """Outcome of sanitising one image (no text: statuses, counts and PHI-free notes).

    ``clean_status``: ``written`` (pixels or overlays changed), ``copied`` (nothing to remove),
    ``held`` (a removed item is still legible: not written), ``flagged`` (policy action ``flag``
    found something: not written), ``error`` (load or write failed), ``skipped`` (the scan did not
    read it). ``header`` is set for DICOM in ``clean/`` only.
    """

    image_id: str
    clean_status: CleanStatus = "error"
    clean_note: str = ""
    n_redacted: int = 0
    n_escalated: int = 0
    transfer_syntax_out: str | None = None
    header: HeaderStatus | None = None

    def with_(self, **changes: Any) -> CleanResult:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One row of ``RUN/images.parquet`` (the columns of ``ufmclean.tables.IMAGES_SCHEMA`` plus those the
    later stages add), read once at the table boundary (``tables.read_images_table``,
    ``run_paths.read_images``) and passed as is through sanitize and the report.

    ``image_id``, ``relpath``, ``status`` and ``format`` are never null, nor is ``sha256`` as ufmclean
    writes it (``""`` for a file it could not read); the other discovery columns are null where
    discovery could not tell (``rows`` of a skipped file ...);
    ``uniqueness`` is null for images the scan did not read. ``path_phi`` (``""`` when the relpath looks
    harmless) is ``None`` in tables written before relpaths were typed; ``clean_status``, ``clean_note``
    and ``header`` are ``None`` until sanitize has run (``header`` stays ``None`` for non-DICOM).
    ``clean_relpath`` is not a column of ``images.parquet``: where the sanitised copy goes, from the
    private ``RUN/paths.parquet``; ``run_paths.read_images`` sets it (and the real ``relpath``), rows read
    from ``images.parquet`` alone leave it ``None`` (their ``relpath`` may be masked).
    """

    image_id: str
    relpath: str
    sha256: str
    status: ImageStatus
    format: ImageFormat
    error: str | None = None
    modality: str | None = None
    rows: int | None = None
    cols: int | None = None
    frames: int | None = None
    label: str | None = None
    uniqueness: float | None = None
    n_findings: int = 0
    n_redacted: int = 0
    path_phi: str | None = None
    clean_status: CleanStatus | None = None
    clean_note: str | None = None
    header: HeaderStatus | None = None
    clean_relpath: str | None = None

    @classmethod
    def of(cls, record: ImageRecord, *, uniqueness: float | None = None, n_findings: int = 0,
           n_redacted: int = 0) -> ImageRow:
        """The row of a discovery record plus the scan's counts (``path_phi`` is set when written)."""
        return cls(image_id=record.image_id, relpath=record.relpath, status=record.status, format=record.format,
                   sha256=record.sha256, error=record.error, modality=record.modality, rows=record.rows,
                   cols=record.cols, frames=record.frames, label=record.label, uniqueness=uniqueness,
                   n_findings=int(n_findings), n_redacted=int(n_redacted))

    def with_(self, **changes: Any) -> ImageRow:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
