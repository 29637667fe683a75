"""Run-directory Parquet tables: ``images.parquet`` and ``findings.parquet`` (schemas, writers, readers).

Both are written atomically; findings hold recognised text (PHI) and default to mode 0600. Rows are
read into typed records here, once: :class:`~ufmclean.records.ImageRow` (:func:`row_to_image`,
:func:`read_images_table`) and :class:`~ufmclean.records.Finding` (:func:`row_to_finding`,
:func:`read_findings_table`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ufmclean.io.atomic import atomic_output
from ufmclean.records import BBox, Finding, ImageRecord, ImageRow

__all__ = [
    "FINDINGS_SCHEMA",
    "IMAGES_LATER_COLUMNS",
    "IMAGES_SCHEMA",
    "SANITIZE_IMAGE_COLUMNS",
    "check_image_rows",
    "finding_row",
    "image_row",
    "image_to_row",
    "read_findings_table",
    "read_images_table",
    "read_rows",
    "row_to_finding",
    "row_to_image",
    "write_findings_table",
    "write_images_table",
    "write_rows",
]


def _schemas() -> tuple[Any, Any]:
    import pyarrow as pa

    images = pa.schema(
        [
            ("image_id", pa.string()), ("relpath", pa.string()), ("sha256", pa.string()), ("status", pa.string()),
            ("error", pa.string()), ("format", pa.string()), ("modality", pa.string()), ("rows", pa.int32()),
            ("cols", pa.int32()), ("frames", pa.int32()), ("label", pa.string()), ("uniqueness", pa.float64()),
            ("n_findings", pa.int32()), ("n_redacted", pa.int32()),
        ]
    )  # fmt: skip
    findings = pa.schema(
        [
            ("finding_id", pa.string()), ("image_id", pa.string()), ("relpath", pa.string()), ("frame", pa.int32()),
            ("kind", pa.string()), ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32()),
            ("text", pa.string()), ("confidence", pa.float64()), ("key", pa.string()), ("doc_freq", pa.int32()),
            ("is_rare", pa.bool_()), ("phi_type", pa.string()), ("action", pa.string()),
            ("reasons", pa.list_(pa.string())), ("residual_ok", pa.bool_()), ("view", pa.string()),
        ]
    )  # fmt: skip
    return images, findings


IMAGES_SCHEMA, FINDINGS_SCHEMA = _schemas()
_NOT_NULL_IMAGES = ("image_id", "relpath", "status", "format")
#: Columns the sanitize stage adds to ``images.parquet`` (strings; readers of the base schema ignore them).
#: ``header``: ``deidentified`` | ``kept-identifying`` | ``kept`` for DICOM in clean/, else null.
SANITIZE_IMAGE_COLUMNS = ("clean_status", "clean_note", "header")
#: ``images.parquet`` columns after ``IMAGES_SCHEMA``'s, which older tables lack: ``path_phi``
#: (``run_paths.write_images`` adds it on every write) and the sanitize columns. :class:`ImageRow`
#: reads them as ``None`` when absent.
IMAGES_LATER_COLUMNS = ("path_phi", *SANITIZE_IMAGE_COLUMNS)
_IMAGE_ROW_FIELDS = frozenset(f.name for f in dataclasses.fields(ImageRow))


def image_row(
    record: ImageRecord, *, uniqueness: float | None = None, n_findings: int = 0, n_redacted: int = 0
) -> dict[str, Any]:
    """Row dict for ``images.parquet`` (``IMAGES_SCHEMA``) from a discovery record plus scan/sanitize counts."""
    img = ImageRow.of(record, uniqueness=uniqueness, n_findings=n_findings, n_redacted=n_redacted)
    return image_to_row(img, IMAGES_SCHEMA.names)


def image_to_row(img: ImageRow, columns: Iterable[str]) -> dict[str, Any]:
    """Row dict of ``img`` with ``columns`` (names of :class:`ImageRow` fields), in that order."""
    return {name: getattr(img, name) for name in columns}


def row_to_image(row: Mapping[str, Any]) -> ImageRow:
    """An ``images.parquet`` row as an :class:`ImageRow` (inverse of :func:`image_to_row`).

    ``IMAGES_SCHEMA``'s columns are required; :data:`IMAGES_LATER_COLUMNS` and ``clean_relpath`` may
    be absent (``None``); other keys are ignored.
    """
    missing = [name for name in IMAGES_SCHEMA.names if name not in row]
    if missing:
        raise ValueError(f"an images row lacks columns {missing}; was it written by ufmclean?")
    return ImageRow(**{k: v for k, v in row.items() if k in _IMAGE_ROW_FIELDS})


def finding_row(f: Finding) -> dict[str, Any]:
    """Row dict for ``findings.parquet`` (the marker ``descriptor`` is not stored)."""
    return {
        "finding_id": f.finding_id, "image_id": f.image_id, "relpath": f.relpath, "frame": int(f.frame),
        "kind": f.kind, "x0": f.bbox.x0, "y0": f.bbox.y0, "x1": f.bbox.x1, "y1": f.bbox.y1, "text": f.text,
        "confidence": float(f.confidence), "key": f.key, "doc_freq": int(f.doc_freq), "is_rare": bool(f.is_rare),
        "phi_type": f.phi_type, "action": f.action, "reasons": list(f.reasons), "residual_ok": f.residual_ok,
        "view": f.view,
    }  # fmt: skip


def row_to_finding(row: dict[str, Any]) -> Finding:
    """Inverse of :func:`finding_row`."""
    return Finding(
        finding_id=row["finding_id"], image_id=row["image_id"], relpath=row["relpath"], frame=int(row["frame"]),
        kind=row["kind"], bbox=BBox(int(row["x0"]), int(row["y0"]), int(row["x1"]), int(row["y1"])),
        text=row["text"] or "", confidence=float(row["confidence"]), key=row["key"] or "",
        doc_freq=int(row["doc_freq"]), is_rare=bool(row["is_rare"]), phi_type=row["phi_type"] or "",
        action=row["action"], reasons=tuple(row["reasons"] or ()), residual_ok=row["residual_ok"],
        view=row.get("view") or "",
    )  # fmt: skip


def _check_rows(rows: list[dict[str, Any]], schema: Any, not_null: tuple[str, ...]) -> None:
    names = set(schema.names)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"row {i} must be a dict, not {type(row).__name__}")
        missing, extra = names - row.keys(), row.keys() - names
        if missing or extra:
            raise ValueError(f"row {i} does not match the schema: missing {sorted(missing)}, unknown {sorted(extra)}")
        nulls = [k for k in not_null if row[k] is None]
        if nulls:
            raise ValueError(f"row {i} has empty required columns {nulls}")


def _write(path: str | os.PathLike[str], rows: list[dict[str, Any]], schema: Any, mode: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema)
    with atomic_output(path, mode=mode) as tmp:
        pq.write_table(table, tmp)


def check_image_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Raise ``ValueError``/``TypeError`` unless every row matches ``IMAGES_SCHEMA`` (see :func:`image_row`)."""
    _check_rows(list(rows), IMAGES_SCHEMA, _NOT_NULL_IMAGES)


def write_images_table(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], *, mode: int = 0o644) -> int:
    """Write ``images.parquet`` atomically from row dicts (see :func:`image_row`); returns the row count."""
    rows = list(rows)
    _check_rows(rows, IMAGES_SCHEMA, _NOT_NULL_IMAGES)
    _write(path, rows, IMAGES_SCHEMA, mode)
    return len(rows)


def write_findings_table(path: str | os.PathLike[str], findings: Iterable[Finding], *, mode: int = 0o600) -> int:
    """Write ``findings.parquet`` atomically (mode 0600: it holds recognised text); returns the row count."""
    rows = []
    for f in findings:
        if not isinstance(f, Finding):
            raise TypeError(f"findings must be Finding records, not {type(f).__name__}")
        rows.append(finding_row(f))
    _write(path, rows, FINDINGS_SCHEMA, mode)
    return len(rows)


def _read(path: str | os.PathLike[str], names: Sequence[str], *, optional: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows with the columns ``names``, in that order; ``optional`` columns an older table lacks read as null."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    missing = set(names) - set(table.column_names)
    if missing - set(optional):
        raise ValueError(f"{os.fspath(path)} lacks columns {sorted(missing)}; was it written by ufmclean?")
    rows = table.select([n for n in names if n not in missing]).to_pylist()
    for row in rows if missing else ():
        row.update(dict.fromkeys(missing))
    return rows


def read_images_table(path: str | os.PathLike[str]) -> list[ImageRow]:
    """Rows of ``images.parquet`` as :class:`ImageRow` records (relpaths as stored: masked where they look
    like PHI; ``run_paths.read_images`` joins the real ones)."""
    names = [*IMAGES_SCHEMA.names, *IMAGES_LATER_COLUMNS]
    return [row_to_image(r) for r in _read(path, names, optional=IMAGES_LATER_COLUMNS)]


def read_findings_table(path: str | os.PathLike[str]) -> list[Finding]:
    """Rows of ``findings.parquet`` as :class:`Finding` records (``descriptor`` empty)."""
    return [row_to_finding(r) for r in _read(path, FINDINGS_SCHEMA.names, optional=("view",))]  # view: since issue 17


def read_rows(path: str | os.PathLike[str], *, image_ids: Iterable[str] | None = None,
              columns: Iterable[str] | None = None, schema: Any = None, missing_ok: bool = True) -> list[dict[str, Any]]:
    """Rows of any run-folder Parquet file as dicts (``[]`` when it does not exist and ``missing_ok``).

    ``image_ids`` keeps only those rows (a read filter on ``image_id``); ``columns`` reads only those;
    ``schema`` reads the file as that pyarrow schema (a scan part's). A damaged file raises the
    reader's error: callers that can recompute it use :func:`ufmclean.run_dir.read_part_rows`.
    """
    import pyarrow.parquet as pq

    if missing_ok and not os.path.isfile(path):
        return []
    filters = [("image_id", "in", list(image_ids))] if image_ids is not None else None
    cols = list(columns) if columns is not None else None
    return pq.read_table(path, filters=filters, columns=cols, schema=schema).to_pylist()


def iter_rows(paths: Sequence[str | os.PathLike[str]], *, schema: Any) -> Iterator[list[dict[str, Any]]]:
    """Rows of many Parquet files of one ``schema``, read as one dataset, a record batch at a time."""
    import pyarrow.dataset as ds

    if not paths:
        return
    for batch in ds.dataset([os.fspath(p) for p in paths], format="parquet", schema=schema).to_batches():
        yield batch.to_pylist()


def read_metadata(path: str | os.PathLike[str]) -> dict[bytes, bytes]:
    """The key-value metadata of a Parquet file's schema (``{}`` when it has none)."""
    import pyarrow.parquet as pq

    return dict(pq.read_schema(path).metadata or {})


def write_rows(path: str | os.PathLike[str], rows: list[dict[str, Any]], *, mode: int, schema: Any = None) -> int:
    """Write row dicts as a Parquet file atomically (fsync'ed, then renamed; ``mode`` bits); returns the count."""
    _write(path, rows, schema, mode)
    return len(rows)
