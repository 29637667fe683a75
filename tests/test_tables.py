"""Run-directory tables: schemas, round trips, permissions, validation."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from ufmclean.records import BBox, Finding, ImageRecord, ImageRow
from ufmclean.tables import (
    FINDINGS_SCHEMA,
    IMAGES_SCHEMA,
    image_row,
    image_to_row,
    read_findings_table,
    read_images_table,
    row_to_image,
    write_findings_table,
    write_images_table,
)


def _rec(i: int, **kw) -> ImageRecord:
    return ImageRecord(image_id=f"id{i}", relpath=f"a/{i}.png", path=f"/x/a/{i}.png", sha256="ab" * 32,
                       size_bytes=10, format="png", label="a", rows=4, cols=5, frames=1, **kw)  # fmt: skip


def test_images_round_trip_and_schema(tmp_path):
    rows = [image_row(_rec(0)), image_row(_rec(1, status="error", error="bad file"), uniqueness=0.5, n_findings=3)]
    assert write_images_table(tmp_path / "images.parquet", rows) == 2
    assert pq.read_schema(tmp_path / "images.parquet").names == IMAGES_SCHEMA.names
    back = read_images_table(tmp_path / "images.parquet")
    assert back == [row_to_image(r) for r in rows]
    assert [image_to_row(b, IMAGES_SCHEMA.names) for b in back] == rows
    assert back[1].error == "bad file" and back[0].uniqueness is None and back[1].n_findings == 3
    # columns later stages add are None in a table that lacks them (scan only, or written before they existed)
    assert back[0].path_phi is None and back[0].clean_status is None and back[0].clean_relpath is None
    assert back[0] == ImageRow.of(_rec(0))


def test_images_later_columns_are_read(tmp_path):
    import pyarrow as pa

    row = {**image_row(_rec(0)), "clean_status": "written", "clean_note": "", "header": None, "path_phi": "id"}
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "images.parquet")
    (img,) = read_images_table(tmp_path / "images.parquet")
    assert (img.clean_status, img.clean_note, img.header, img.path_phi) == ("written", "", None, "id")
    with pytest.raises(ValueError, match="lacks columns"):
        row_to_image({k: v for k, v in row.items() if k != "sha256"})


def test_findings_round_trip_mode_0600(tmp_path):
    fs = [
        Finding("f1", "id0", "a/0.png", 0, "text", BBox(1, 2, 30, 12), text="JANE DOE", confidence=0.9, key="jane doe",
                doc_freq=1, is_rare=True, phi_type="name", action="inpaint", reasons=("rare", "phi:name"),
                residual_ok=True),
        Finding("f2", "id0", "a/0.png", 2, "marker", BBox(0, 0, 5, 5), descriptor=(0.1, 0.2)),
    ]  # fmt: skip
    path = tmp_path / "findings.parquet"
    assert write_findings_table(path, fs) == 2
    assert (path.stat().st_mode & 0o777) == 0o600
    assert pq.read_schema(path).names == FINDINGS_SCHEMA.names
    back = read_findings_table(path)
    assert back[0] == fs[0]
    assert back[1] == fs[1].with_(descriptor=()) and back[1].residual_ok is None
    assert write_findings_table(tmp_path / "empty.parquet", []) == 0
    assert read_findings_table(tmp_path / "empty.parquet") == []


def test_validation(tmp_path):
    row = image_row(_rec(0))
    with pytest.raises(ValueError, match="unknown"):
        write_images_table(tmp_path / "i.parquet", [{**row, "colour": 1}])
    with pytest.raises(ValueError, match="missing"):
        write_images_table(tmp_path / "i.parquet", [{k: v for k, v in row.items() if k != "sha256"}])
    with pytest.raises(ValueError, match="required"):
        write_images_table(tmp_path / "i.parquet", [{**row, "relpath": None}])
    with pytest.raises(TypeError):
        write_findings_table(tmp_path / "f.parquet", [row])
    assert not (tmp_path / "i.parquet").exists() and not (tmp_path / "f.parquet").exists()
    pq.write_table(__import__("pyarrow").table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="lacks columns"):
        read_images_table(tmp_path / "other.parquet")
