"""Write-back on real files of sample_data/ with ground-truth boxes standing in for the scan (no OCR).

Covers what needs no OCR model: DICOM tags preserved except the ones we set, every frame of the
multi-frame file cleaned, the overlay removed, the lone sticker gone, common items untouched, pixels
outside the redacted regions unchanged, input tree byte-identical.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.io.io_factory import tree_digest
from ufmclean.io import discover, load_image
from ufmclean.pipeline.sanitize import SanitizeOptions, finalize_sanitize, make_id_batches, sanitize_batch
from ufmclean.policy import load_policy
from ufmclean.records import BBox, Finding
from ufmclean.tables import image_row, write_findings_table, write_images_table

FILES = ["normal/normal_055.dcm", "pneumonia/pneumonia_012.dcm", "normal/normal_029.dcm", "normal/normal_173.png",
         "pneumonia/pneumonia_000.png"]
#: Elements the writer is allowed to change.
SET_BY_US = {"SOPInstanceUID", "BurnedInAnnotation", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
             "PixelData", "PatientIdentityRemoved"}

#: Elements dicognito replaces with pseudonyms (IDs, addresses, institution, station).
DEIDENTIFIED = {"PatientID", "AccessionNumber", "OtherPatientIDs", "StudyID", "StationName", "InstitutionName", "InstitutionAddress",
                "InstitutionalDepartmentName", "PatientAddress", "RegionOfResidence", "CountryOfResidence",
                "LongitudinalTemporalInformationModified", "RequestedProcedureID", "PerformedProcedureStepID",
                "ScheduledProcedureStepID"}


class _Blind:
    """OCR stand-in that reads nothing (the real re-OCR is covered by the slow tests)."""

    def read(self, image: np.ndarray) -> list:
        return []




@pytest.fixture(scope="module")
def run(sample_data_dir: Path, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("writeback")
    inp, run_dir = base / "in", base / "run"
    for rel in FILES:
        (inp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_data_dir / "images" / rel, inp / rel)
    truth = [i for i in json.loads((sample_data_dir / "ground_truth.json").read_text())["items"] if i["relpath"] in FILES]
    records = discover(inp)
    ids = {r.relpath: r.image_id for r in records}
    findings = []
    for n, item in enumerate(truth):
        frames = range(4) if item["frame"] == "all" else [item["frame"]]
        frame = next(iter(frames))  # the scan de-duplicates identical frames: findings on the first one only
        findings.append(Finding(
            finding_id=f"gt{n}", image_id=ids[item["relpath"]], relpath=item["relpath"], frame=frame,
            kind=item["kind"], bbox=BBox(*item["box"]), text=item["text"], key=item["text"].lower() or f"m{n}",
            doc_freq=1 if item["rare"] else 50, is_rare=item["rare"], phi_type="" if item["phi"] == "none" else item["phi"],
        ))
    run_dir.mkdir()
    write_images_table(run_dir / "images.parquet", [image_row(r) for r in records])
    write_findings_table(run_dir / "findings.parquet", findings)
    before = tree_digest(inp)
    policy, options = load_policy(), SanitizeOptions(batch_size=8)
    for batch in make_id_batches(run_dir, batch_size=8):
        sanitize_batch(batch, input_dir=inp, run_dir=run_dir, policy=policy, options=options, engine=_Blind())
    out = finalize_sanitize(run_dir, policy=policy, options=options)
    return {"inp": inp, "run": run_dir, "before": before, "out": out, "truth": truth, "records": {r.relpath: r for r in records}}


def _pair(run: dict, rel: str):
    rec = run["records"][rel]
    return load_image(rec), load_image(rec.with_(path=str(run["run"] / "clean" / rel)))


def _outside(shape, boxes, pad=6) -> np.ndarray:
    keep = np.ones(shape[1:3], bool)
    for b in boxes:
        keep[BBox(*b).pad(pad, height=shape[1], width=shape[2]).slices] = False
    return keep


def test_statuses_and_input_untouched(run: dict) -> None:
    assert run["out"]["by_clean_status"] == {"written": 4, "copied": 1}
    assert tree_digest(run["inp"]) == run["before"]
    # only common items: the same pixels (re-encoded without metadata)
    rel = "pneumonia/pneumonia_000.png"
    src, dst = _pair(run, rel)
    np.testing.assert_array_equal(src.raw, dst.raw)


def test_every_frame_of_multiframe_cleaned(run: dict) -> None:
    rel = "normal/normal_055.dcm"
    src, dst = _pair(run, rel)
    assert src.n_frames == dst.n_frames == 4
    rare = [i["box"] for i in run["truth"] if i["relpath"] == rel and i["rare"]]
    box = BBox(*rare[0])
    keep = _outside(src.raw.shape, rare)
    for g in range(4):
        assert (dst.raw[g][box.slices] != src.raw[g][box.slices]).any(), f"frame {g} not redacted"
        np.testing.assert_array_equal(dst.raw[g][keep], src.raw[g][keep])
    assert pydicom.dcmread(run["run"] / "clean" / rel).file_meta.TransferSyntaxUID == pydicom.dcmread(run["inp"] / rel).file_meta.TransferSyntaxUID


@pytest.mark.parametrize("rel", ["normal/normal_055.dcm", "pneumonia/pneumonia_012.dcm", "normal/normal_029.dcm"])
def test_dicom_tags_preserved(run: dict, rel: str) -> None:
    """Technical and clinical elements kept; identifying ones (names, UIDs, dates, IDs, free text) replaced."""
    from ufmclean.io.deid import REMOVED

    a = pydicom.dcmread(run["inp"] / rel)
    b = pydicom.dcmread(run["run"] / "clean" / rel)
    for elem in a:
        if (elem.keyword in SET_BY_US or elem.keyword in REMOVED or elem.keyword in DEIDENTIFIED
                or elem.VR in ("PN", "UI", "DA", "TM", "DT") or elem.tag.is_private or 0x6000 <= elem.tag.group <= 0x60FF):
            continue
        assert elem.tag in b and b[elem.tag].value == elem.value, f"{elem.keyword or elem.tag} changed"
    assert b.BurnedInAnnotation == "NO" and b.SOPInstanceUID != a.SOPInstanceUID
    assert b.PatientIdentityRemoved == "YES" and (not a.get("PatientName") or b.PatientName != a.PatientName)


def test_overlay_removed(run: dict) -> None:
    b = pydicom.dcmread(run["run"] / "clean" / "normal/normal_029.dcm")
    assert not any(0x6000 <= e.tag.group <= 0x60FF for e in b)
    src, dst = _pair(run, "normal/normal_029.dcm")
    assert src.overlays and not dst.overlays


def test_sticker_gone_and_common_kept(run: dict) -> None:
    rel = "normal/normal_173.png"
    src, dst = _pair(run, rel)
    items = [i for i in run["truth"] if i["relpath"] == rel]
    sticker = BBox(*next(i["box"] for i in items if i["kind"] == "marker"))
    before = src.display[0][sticker.slices].astype(float)
    after = dst.display[0][sticker.slices].astype(float)
    assert np.abs(after - np.median(after)).max() < 0.5 * np.abs(before - np.median(before)).max()
    for i in items:
        if not i["rare"]:
            b = BBox(*i["box"])
            np.testing.assert_array_equal(dst.raw[0][b.slices], src.raw[0][b.slices])
    keep = _outside(src.raw.shape, [i["box"] for i in items if i["rare"]])
    np.testing.assert_array_equal(dst.raw[0][keep], src.raw[0][keep])


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
@pytest.mark.parametrize("rel", ["normal/normal_055.dcm", "pneumonia/pneumonia_012.dcm", "normal/normal_029.dcm"])
def test_written_dicom_has_no_new_dciodvfy_error(run: dict, rel: str) -> None:
    from bench.dciodvfy import dciodvfy_errors

    assert dciodvfy_errors(run["run"] / "clean" / rel) - dciodvfy_errors(run["inp"] / rel) == set()
