"""End-to-end sanitize with the real easyocr model: sample_data/ and the shared real data.

Slow (the scan OCRs every image on CPU): marked ``slow`` and ``ocr``. Each dataset is sanitized once
per module; the tests then check the must-show properties of the issue.
"""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.io.io_factory import tree_digest
from ufmclean.io import discover, load_image
from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
from ufmclean.policy import load_policy
from ufmclean.records import BBox

from tests.shared_files import copy_shared_files

from .independent_ocr import legible, read_words

pytestmark = [pytest.mark.slow, pytest.mark.ocr]


@pytest.fixture(scope="module")
def scan_stage():
    """The scan pipeline (end-to-end tests need it)."""
    return pytest.importorskip("ufmclean.pipeline.scan", reason="the scan stage is not installed")




def _sanitize(inp: Path, run: Path) -> dict:
    before = tree_digest(inp)
    result = run_sanitize(inp, run, policy=load_policy(), options=SanitizeOptions(device="cpu"))
    assert tree_digest(inp) == before, "the input tree changed"
    images = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    findings = pq.read_table(run / "findings.parquet").to_pylist()
    return {"inp": inp, "run": run, "result": result, "images": images, "findings": findings}


def _report_rows(path: Path) -> list[str]:
    class P(HTMLParser):
        rows: list[str] = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "tr" and "data-relpath" in a:
                self.rows.append(a["data-relpath"])

    p = P()
    p.rows = []
    p.feed(path.read_text())
    p.close()
    return p.rows


# ------------------------------------------------------------------------------------------ sample_data
@pytest.fixture(scope="module")
def sample_run(sample_data_dir: Path, tmp_path_factory, scan_stage, sample_scan_run: Path) -> dict:
    run = tmp_path_factory.mktemp("sample") / "run"
    # Reuse the session's scan parts (same content, same detection settings): sanitize resumes from them.
    shutil.copytree(sample_scan_run / ".work" / "scan", run / ".work" / "scan")
    out = _sanitize(sample_data_dir / "images", run)
    out["truth"] = json.loads((sample_data_dir / "ground_truth.json").read_text())["items"]
    return out


def _clean(run: dict, rel: str):
    rec = next(r for r in discover(run["inp"]) if r.relpath == rel)
    return load_image(rec), load_image(rec.with_(path=str(run["run"] / "clean" / rel)))


def test_sample_no_rare_or_phi_item_legible(sample_run: dict) -> None:
    from ufmclean.ocr import get_engine
    from ufmclean.redact.residual import text_similarity

    engine = get_engine("cpu", strategy="full")
    leaks, held = [], 0
    for item in sample_run["truth"]:
        if item["kind"] != "text" or not (item["rare"] or item["phi"] != "none"):
            continue
        status = sample_run["images"][item["relpath"]]["clean_status"]
        if status == "held":
            held += 1
            assert not (sample_run["run"] / "clean" / item["relpath"]).exists()
            continue
        _, dst = _clean(sample_run, item["relpath"])
        frames = range(dst.n_frames) if item["frame"] == "all" else [item["frame"]]
        for g in frames:
            crop = dst.display[g][BBox(*item["box"]).pad(6, height=dst.display.shape[1], width=dst.display.shape[2]).slices]
            import cv2

            crop = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            if any(text_similarity(item["text"], r.text) >= 70 for r in engine.read(crop)):
                leaks.append((item["relpath"], g))
    assert not leaks, f"{len(leaks)} rare/PHI items still legible"
    assert held <= 2


def test_sample_common_items_kept(sample_run: dict) -> None:
    common = [i for i in sample_run["truth"] if i["kind"] == "text" and not i["rare"] and i["phi"] == "none"]
    kept = 0
    for item in common:
        rel = item["relpath"]
        if sample_run["images"][rel]["clean_status"] not in ("written", "copied"):
            continue
        src, dst = _clean(sample_run, rel)
        g = 0 if item["frame"] == "all" else item["frame"]
        kept += bool(np.array_equal(src.raw[g][BBox(*item["box"]).slices], dst.raw[g][BBox(*item["box"]).slices]))
    assert kept >= 0.85 * len(common), f"only {kept}/{len(common)} common items kept"


def test_sample_sticker_gone_and_multiframe_cleaned(sample_run: dict) -> None:
    sticker = next(i for i in sample_run["truth"] if i["kind"] == "marker")
    src, dst = _clean(sample_run, sticker["relpath"])
    box = BBox(*sticker["box"])
    before, after = src.display[0][box.slices].astype(float), dst.display[0][box.slices].astype(float)
    assert np.abs(after - np.median(after)).max() < 0.5 * np.abs(before - np.median(before)).max()
    multi = next(i for i in sample_run["truth"] if i["frame"] == "all" and i["rare"])
    src, dst = _clean(sample_run, multi["relpath"])
    box = BBox(*multi["box"])
    for g in range(src.n_frames):
        assert not np.array_equal(src.raw[g][box.slices], dst.raw[g][box.slices]), f"frame {g} not cleaned"


def test_sample_pixels_outside_redactions_unchanged(sample_run: dict) -> None:
    by_image: dict[str, list[dict]] = {}
    for f in sample_run["findings"]:
        if f["action"] in ("inpaint", "mask") and f["kind"] != "overlay":
            by_image.setdefault(f["relpath"], []).append(f)
    checked = 0
    for rel, fs in by_image.items():
        if sample_run["images"][rel]["clean_status"] != "written" or rel.endswith((".jpg", ".jpeg")):
            continue
        src, dst = _clean(sample_run, rel)
        allowed = np.zeros(src.raw.shape[1:3], bool)
        for f in fs:  # any frame: redactions propagate to frames carrying the same item
            allowed[BBox(f["x0"], f["y0"], f["x1"], f["y1"]).pad(5, height=allowed.shape[0], width=allowed.shape[1]).slices] = True
        for g in range(src.n_frames):
            changed = np.any(src.raw[g] != dst.raw[g], axis=-1) if src.raw.ndim == 4 else src.raw[g] != dst.raw[g]
            assert not (changed & ~allowed).any(), f"{rel} frame {g}: pixels changed outside redacted regions"
        checked += 1
    assert checked >= 10


def test_sample_report(sample_run: dict) -> None:
    path = sample_run["run"] / "report.html"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(_report_rows(path)) == sorted(sample_run["images"])
    html = path.read_text()
    phi = {i["text"] for i in sample_run["truth"] if i["phi"] != "none"}
    assert not [t for t in phi if t in html]


# -------------------------------------------------------------------------------------- shared real data
NAMES_DATES = ["DAVIDSON", "DOUGLAS", "01.09.2012", "06.16.1976", "KAUFMAN", "SCOTT", "03.09.2012", "07.22.1943",
               "ZZZDOWNTIME", "MARY", "00047431395", "4/14/2020", "00079241539", "08/29/1951", "03/02/2017"]
SHARED_FILES = {"presidio_pseudo_phi": ["dicom/2_ORIGINAL.dcm", "dicom/0_ORIGINAL_compressed.dcm"],
                "deid_data_ultrasound": ["GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm"]}


@pytest.fixture(scope="module")
def shared_run(shared_data: Path, tmp_path_factory, scan_stage) -> dict:
    base = tmp_path_factory.mktemp("shared")
    inp = copy_shared_files(shared_data, SHARED_FILES, base / "in")
    return _sanitize(inp, base / "run")


def test_shared_names_and_dates_not_legible(shared_run: dict) -> None:
    for rel, row in shared_run["images"].items():
        if row["clean_status"] == "held":
            assert not (shared_run["run"] / "clean" / rel).exists()
            continue
        assert row["clean_status"] == "written", row
        orig, dst = _clean(shared_run, rel)
        present = legible(NAMES_DATES, read_words(orig.display[0]))
        assert present, f"{rel}: the independent OCR reads none of the fake PHI in the original"
        assert not legible(present, read_words(dst.display[0])), f"{rel}: fake PHI still legible"


def test_cine_every_frame_cleaned(shared_data: Path, tmp_path: Path, scan_stage) -> None:
    zpath = shared_data / "deid_data_ultrasound" / "GREYSCALE_CINE.zip"
    if not zpath.is_file():
        pytest.skip("GREYSCALE_CINE.zip is not present")
    inp = tmp_path / "in"
    inp.mkdir()
    with zipfile.ZipFile(zpath) as z:
        z.extract("GREYSCALE_CINE.dcm", inp)
    run = _sanitize(inp, tmp_path / "run")
    assert run["images"]["GREYSCALE_CINE.dcm"]["clean_status"] == "written"
    orig, dst = _clean(run, "GREYSCALE_CINE.dcm")
    for g in (0, orig.n_frames // 2, orig.n_frames - 1):
        present = legible(NAMES_DATES, read_words(orig.display[g][:40]))
        assert present and not legible(present, read_words(dst.display[g][:40])), f"frame {g}"


def test_real_ocr_findings_redacted_and_rechecked(shared_data: Path, tmp_path: Path) -> None:
    """The sanitize half with the real engine and without the scan stage: easyocr findings (all
    treated as rare) -> sanitize_batch (real residual re-OCR) -> an independent OCR pass finds none
    of the fake names/dates that it read in the originals."""
    from ufmclean.ocr import get_engine
    from ufmclean.pipeline.sanitize import finalize_sanitize, make_id_batches, sanitize_batch
    from ufmclean.records import Finding
    from ufmclean.tables import image_row, write_findings_table, write_images_table

    inp, run = tmp_path / "in", tmp_path / "run"
    for folder, rel in (("presidio_pseudo_phi", "dicom/2_ORIGINAL.dcm"), ("deid_data_ultrasound", "GREYSCALE_IMAGE.dcm")):
        if not (shared_data / folder / rel).is_file():
            pytest.skip(f"{folder}/{rel} is not present")
        (inp / folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / folder / rel, inp / folder / rel)
    engine = get_engine("cpu", strategy="full")
    records = discover(inp)
    findings = []
    for rec in records:
        for i, region in enumerate(engine.read(load_image(rec).display[0])):
            findings.append(Finding(f"{rec.image_id}-{i}", rec.image_id, rec.relpath, 0, "text", region.bbox,
                                    text=region.text, confidence=region.confidence, doc_freq=1, is_rare=True))
    run.mkdir()
    write_images_table(run / "images.parquet", [image_row(r) for r in records])
    write_findings_table(run / "findings.parquet", findings)
    policy, options = load_policy(), SanitizeOptions(device="cpu")
    for ids in make_id_batches(run, batch_size=4):
        sanitize_batch(ids, input_dir=inp, run_dir=run, policy=policy, options=options, engine=engine)
    out = finalize_sanitize(run, policy=policy, options=options)
    assert out["by_clean_status"].get("written", 0) + out["by_clean_status"].get("held", 0) == 2
    rows = pq.read_table(run / "findings.parquet").to_pylist()
    assert rows and all(r["residual_ok"] is not None for r in rows if r["action"] in ("inpaint", "mask"))
    for rec in records:
        if not (run / "clean" / rec.relpath).exists():
            continue
        orig, dst = load_image(rec), load_image(rec.with_(path=str(run / "clean" / rec.relpath)))
        present = legible(NAMES_DATES, read_words(orig.display[0]))
        assert present and not legible(present, read_words(dst.display[0])), rec.relpath
