"""Review report: parses, lists every image, masks text unless asked, file mode 0600."""

from __future__ import annotations

import json
import stat
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ufmclean.errors import UsageError
from ufmclean.records import BBox, Finding, ImageRow
from ufmclean.report import build_report, make_thumbnail, mask_text, render_report
from ufmclean.report.thumbs import save_thumbnails
from ufmclean.tables import IMAGES_LATER_COLUMNS, IMAGES_SCHEMA, finding_row, image_to_row

PHI = ["DAVIDSON DOUGLAS", "06.16.1976", "00079241539"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows, self.imgs, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-relpath" in a:
            self.rows.append(a["data-relpath"])
        if tag == "img" and a.get("src", "").startswith("data:image/jpeg;base64,"):
            self.imgs += 1

    def handle_data(self, data):
        self.text.append(data)


def _rows():
    images = [
        ImageRow(image_id="i1", relpath="a/one.dcm", sha256="", status="ok", format="dicom", clean_status="written",
                 n_redacted=2, uniqueness=0.9),
        ImageRow(image_id="i2", relpath="b/two.png", sha256="", status="ok", format="png", clean_status="held",
                 clean_note="held for review: 1", n_redacted=1, uniqueness=0.2),
        ImageRow(image_id="i3", relpath="c/three.png", sha256="", status="error", format="png", error="cannot decode"),
    ]
    findings = [
        {"finding_id": "f1", "image_id": "i1", "frame": 0, "kind": "text", "x0": 2, "y0": 2, "x1": 40, "y1": 10,
         "text": PHI[0], "phi_type": "name", "action": "inpaint", "reasons": ["phi:name", "rare"], "doc_freq": 1,
         "is_rare": True, "residual_ok": True, "confidence": 0.9},
        {"finding_id": "f2", "image_id": "i1", "frame": 0, "kind": "text", "x0": 2, "y0": 12, "x1": 40, "y1": 20,
         "text": "DOB: " + PHI[1], "phi_type": "date", "action": "inpaint", "reasons": ["phi:date"], "doc_freq": 1,
         "is_rare": True, "residual_ok": True, "confidence": 0.8},
        {"finding_id": "f3", "image_id": "i2", "frame": 0, "kind": "text", "x0": 1, "y0": 1, "x1": 9, "y1": 9,
         "text": PHI[2], "phi_type": "", "action": "mask", "reasons": ["rare", "residual-escalated"], "doc_freq": 1,
         "is_rare": True, "residual_ok": False, "confidence": 0.7},
        {"finding_id": "f4", "image_id": "i2", "frame": 0, "kind": "text", "x0": 50, "y0": 1, "x1": 60, "y1": 9,
         "text": "PORTABLE", "phi_type": "", "action": "keep", "reasons": ["common"], "doc_freq": 40,
         "is_rare": False, "residual_ok": None, "confidence": 0.95},
    ]
    return images, [_finding(f) for f in findings]


def _write_images(images: list[ImageRow], path) -> None:
    """``images`` as an images.parquet a sanitize run wrote (base and later columns)."""
    columns = [*IMAGES_SCHEMA.names, *IMAGES_LATER_COLUMNS]
    pq.write_table(pa.Table.from_pylist([image_to_row(i, columns) for i in images]), path)


def _finding(row: dict) -> Finding:
    """A Finding from a findings.parquet-shaped dict (relpath and key are not shown by the report)."""
    return Finding(finding_id=row["finding_id"], image_id=row["image_id"], relpath="", frame=row["frame"],
                   kind=row["kind"], bbox=BBox(row["x0"], row["y0"], row["x1"], row["y1"]), text=row["text"],
                   confidence=row["confidence"], doc_freq=row["doc_freq"], is_rare=row["is_rare"],
                   phi_type=row["phi_type"], action=row["action"], reasons=tuple(row["reasons"]),
                   residual_ok=row["residual_ok"], view=row.get("view", ""))


def test_mask_text() -> None:
    assert mask_text("JOHN DOE") == "J*** ***"
    assert mask_text("DAVIDSON", "name") == "[name, 8 chars]"
    assert mask_text("03/02/2017", "header:date") == "[header/date, 10 chars]"
    assert mask_text("") == ""


def test_report_parses_lists_every_image_and_masks_text() -> None:
    images, findings = _rows()
    thumb = make_thumbnail(np.zeros((100, 300), np.uint8), max_side=64)
    html = render_report(images, findings, thumbs={"i1": (thumb, thumb)})
    p = _Collector()
    p.feed(html)
    p.close()
    assert sorted(p.rows) == sorted(i.relpath for i in images)
    assert p.imgs == 2
    for s in PHI + ["PORTABLE"]:
        assert s not in html
    assert "[name, 16 chars]" in html and "P*******" in html
    # held image first (needs review)
    assert p.rows[0] == "b/two.png"
    shown = render_report(images, findings, show_text=True)
    assert all(s in shown for s in PHI)


def test_build_report_writes_0600(tmp_path) -> None:
    images, findings = _rows()
    with pytest.raises(UsageError):
        build_report(tmp_path)
    _write_images(images, tmp_path / "images.parquet")
    # a findings table from before the view column existed still builds a report
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in finding_row(f).items() if k != "view"} for f in findings]),
                   tmp_path / "findings.parquet")
    (tmp_path / "summary.json").write_text(json.dumps({"settings": {"action": "inpaint"}}))
    t = make_thumbnail(np.full((40, 40, 3), 128, np.uint8))
    save_thumbnails(tmp_path / ".work" / "thumbs", "i1", t, t)
    path = build_report(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    html = path.read_text()
    assert html.count("data:image/jpeg;base64,") == 2 and PHI[0] not in html
    assert stat.S_IMODE((tmp_path / ".work" / "thumbs" / "i1.before.jpg").stat().st_mode) == 0o600


def test_thumbnail_scale() -> None:
    t = make_thumbnail(np.zeros((512, 1024), np.uint8), max_side=256)
    assert (t.width, t.height, t.scale) == (256, 128, 0.25)
    with pytest.raises(ValueError):
        make_thumbnail(np.zeros((4, 4), np.uint16))


def test_thumbnail_cap_keeps_review_images_first() -> None:
    images, findings = _rows()
    thumb = make_thumbnail(np.zeros((20, 20), np.uint8))
    html = render_report(images, findings, thumbs={i.image_id: (thumb, None) for i in images}, max_thumbnails=1)
    p = _Collector()
    p.feed(html)
    assert p.imgs == 1 and len(p.rows) == 3


def test_report_shows_the_view_each_finding_was_read_in() -> None:
    import re

    images, findings = _rows()
    findings[1] = findings[1].with_(view="range")  # read only once the stale window was set aside
    findings[0] = findings[0].with_(view="display")
    html = render_report(images, findings)
    cells = dict(re.findall(r"<td><code>([^<]*)</code></td><td>([a-z]*)</td>", html))
    assert cells["[name, 16 chars]"] == "display"
    assert cells["[date, 15 chars]"] == "range"
    # tables written before views existed carry no column: text read in the display, others blank
    older = _rows()[1]  # view ""
    cells = dict(re.findall(r"<td><code>([^<]*)</code></td><td>([a-z]*)</td>", render_report(images, older)))
    assert cells["[date, 15 chars]"] == "display"
