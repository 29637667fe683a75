"""sanitize_batch / finalize_sanitize on a small PNG tree with a hand-written scan table (no OCR model)."""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.io.io_factory import tree_digest
from ufmclean.io import discover
from ufmclean.policy import load_policy
from ufmclean.records import BBox, Finding
from ufmclean.tables import image_row, read_images_table, write_findings_table, write_images_table
from ufmclean.pipeline.sanitize import SanitizeOptions, finalize_sanitize, make_id_batches, sanitize_batch

from .helpers import ContrastReader, draw_text, textured

TEXT = "AB 1234"
BOX = (10, 10, 114, 38)




@pytest.fixture
def scanned(tmp_path: Path) -> tuple[Path, Path]:
    """An input tree of 3 PNGs and a run folder holding the scan tables a real scan would write."""
    inp, run = tmp_path / "in", tmp_path / "run"
    (inp / "sub").mkdir(parents=True)
    with_text = np.rint(draw_text(textured(), TEXT, (12, 34), 1.0, scale=0.8) * 255).astype(np.uint8)
    cv2.imwrite(str(inp / "a.png"), with_text)
    cv2.imwrite(str(inp / "sub" / "b.png"), np.rint(textured(seed=3) * 255).astype(np.uint8))
    cv2.imwrite(str(inp / "sub" / "c.png"), with_text)
    records = discover(inp)
    run.mkdir()
    img_rows = [image_row(r, uniqueness=0.5, n_findings=1) for r in records]
    ids = {r.relpath: r.image_id for r in records}

    def f(fid, rel, box, phi=""):
        return Finding(finding_id=fid, image_id=ids[rel], relpath=rel, frame=0, kind="text", bbox=BBox(*box),
                       text=TEXT, confidence=0.9, key="ab1234", doc_freq=2, is_rare=True, phi_type=phi)

    fnd_rows = [f("f1", "a.png", BOX, "id"), f("f2", "sub/c.png", (10, 10, 50, 38))]  # c: box covers half the text
    write_images_table(run / "images.parquet", img_rows)
    write_findings_table(run / "findings.parquet", fnd_rows)
    return inp, run


def test_batch_and_finalize(scanned: tuple[Path, Path]) -> None:
    inp, run = scanned
    before = tree_digest(inp)
    policy, options = load_policy(), SanitizeOptions(batch_size=2)
    reader = ContrastReader(TEXT)
    results = [sanitize_batch(ids, input_dir=inp, run_dir=run, policy=policy, options=options, engine=reader)
               for ids in make_id_batches(run, batch_size=2)]
    assert sum(r["n_images"] for r in results) == 3 and not any(r["cached"] for r in results)
    assert TEXT not in repr(results)
    out = finalize_sanitize(run, policy=policy, options=options)
    assert out["by_clean_status"] == {"written": 1, "copied": 1, "held": 1}
    assert tree_digest(inp) == before  # input tree byte-identical

    # unchanged image: same pixels (re-encoded without metadata, see tests/io/test_strip.py); held image not written
    np.testing.assert_array_equal(cv2.imread(str(run / "clean/sub/b.png"), cv2.IMREAD_UNCHANGED),
                                  cv2.imread(str(inp / "sub/b.png"), cv2.IMREAD_UNCHANGED))
    assert not (run / "clean/sub/c.png").exists()
    # redacted image: text gone, pixels outside the padded box identical
    src = cv2.imread(str(inp / "a.png"), cv2.IMREAD_UNCHANGED)
    dst = cv2.imread(str(run / "clean/a.png"), cv2.IMREAD_UNCHANGED)
    outside = np.ones_like(src, bool)
    outside[BOX[1] - 4 : BOX[3] + 4, BOX[0] - 4 : BOX[2] + 4] = False
    np.testing.assert_array_equal(src[outside], dst[outside])
    assert (dst != src).any() and not reader.read(dst[BOX[1]:BOX[3], BOX[0]:BOX[2]])

    imgs = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    assert imgs["sub/c.png"]["clean_status"] == "held" and "held for review" in imgs["sub/c.png"]["clean_note"]
    assert TEXT not in imgs["sub/c.png"]["clean_note"]
    assert imgs["a.png"]["n_redacted"] == 1
    fnd = {r["finding_id"]: r for r in pq.read_table(run / "findings.parquet").to_pylist()}
    assert (fnd["f1"]["action"], fnd["f1"]["reasons"], fnd["f1"]["residual_ok"]) == ("inpaint", ["phi:id", "rare"], True)
    assert fnd["f2"]["residual_ok"] is False and "residual-escalated" in fnd["f2"]["reasons"]
    assert stat.S_IMODE((run / "findings.parquet").stat().st_mode) == 0o600
    assert len(read_images_table(run / "images.parquet")) == 3  # still readable through the base schema
    report = run / "report.html"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600 and TEXT not in report.read_text()

    # resume: parts are reused
    again = [sanitize_batch(ids, input_dir=inp, run_dir=run, policy=policy, options=options, engine=reader)
             for ids in make_id_batches(run, batch_size=2)]
    assert all(r["cached"] for r in again)


def test_flag_policy_writes_nothing_with_findings(scanned: tuple[Path, Path]) -> None:
    inp, run = scanned
    policy, options = load_policy(action="flag"), SanitizeOptions(batch_size=8, report=False)
    for ids in make_id_batches(run, batch_size=8):
        sanitize_batch(ids, input_dir=inp, run_dir=run, policy=policy, options=options, engine=None)
    out = finalize_sanitize(run, policy=policy, options=options)
    assert out["by_clean_status"] == {"flagged": 2, "copied": 1}
    assert sorted(p.name for p in (run / "clean").rglob("*.png")) == ["b.png"]


def test_unexpected_error_is_a_row_not_a_crash(scanned: tuple[Path, Path]) -> None:
    from ufmclean.redact.writeback import sanitize_image

    inp, run = scanned
    rec = next(r for r in discover(inp) if r.relpath == "a.png")
    bad = Finding(finding_id="x", image_id=rec.image_id, relpath=rec.relpath, frame=5, kind="text",
                  bbox=BBox(1, 1, 5, 5), text="SECRET", action="inpaint")
    row, out = sanitize_image(rec, [bad], clean_root=run / "clean", policy=load_policy(), engine=None)
    assert row.clean_status == "error" and "internal error" in row.clean_note and "SECRET" not in row.clean_note
    assert not (run / "clean" / "a.png").exists() and out == [bad]


def test_held_image_gets_attempt_thumbnail(scanned: tuple[Path, Path]) -> None:
    inp, run = scanned
    policy, options = load_policy(), SanitizeOptions(batch_size=8, report=False)
    for ids in make_id_batches(run, batch_size=8):
        sanitize_batch(ids, input_dir=inp, run_dir=run, policy=policy, options=options, engine=ContrastReader(TEXT))
    held = next(r for r in discover(inp) if r.relpath == "sub/c.png")
    assert (run / ".work" / "thumbs" / f"{held.image_id}.after.jpg").is_file()
