"""Sanitize quality on data with known text: recall, precision, residual leak, common items kept.

    .venv/bin/python bench/quality.py [--device auto] [--json OUT.json] [--skip-shared]

Part A, ``sample_data/images`` (synthetic, ground truth in ``sample_data/ground_truth.json``):
- recall: ground-truth text items covered by text findings (``ufmclean.ocr.recall``), per frame;
- precision: findings (text and marker) that touch a ground-truth item;
- residual leak (as the MIDI-B validator scores it): each rare/PHI item is re-read in ``clean/`` with
  the full-frame OCR strategy on a 3x upscaled crop; legible = similarity >= 70 to the true text;
- common kept: common items whose stored pixels are unchanged.
Part B, ``../shared/data`` fake-PHI DICOM/PNG sets: known names/dates legible before vs after.
Prints figures and peak RSS; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KNOWN_PHI = ["DAVIDSON", "DOUGLAS", "01.09.2012", "06.16.1976", "KAUFMAN", "SCOTT", "03.09.2012", "07.22.1943",
             "ZZZDOWNTIME", "MARY", "00047431395", "4/14/2020", "00079241539", "08/29/1951", "03/02/2017"]
SHARED_FILES = {"presidio_pseudo_phi": ["dicom/2_ORIGINAL.dcm", "dicom/0_ORIGINAL_compressed.dcm",
                                        "dicom/RGB_ORIGINAL.dcm", "png/1_ORIGINAL.png", "png/3_ORIGINAL.png"],
                "deid_data_ultrasound": ["GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm"]}


def _sanitize(inp: Path, run: Path, device: str) -> tuple[dict, float]:
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import load_policy

    t0 = time.perf_counter()
    result = run_sanitize(inp, run, policy=load_policy(), options=SanitizeOptions(device=device))
    return result, time.perf_counter() - t0


def _tables(run: Path) -> tuple[dict, list[dict]]:
    import pyarrow.parquet as pq

    images = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    return images, pq.read_table(run / "findings.parquet").to_pylist()


def _legible(engine, image: np.ndarray, texts: list[str]) -> list[str]:
    """Which of ``texts`` the full-frame OCR reads in ``image`` (upscaled 3x when small)."""
    import cv2

    from ufmclean.redact.residual import text_similarity

    scale = 3.0 if max(image.shape[:2]) <= 512 else 1.0
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale != 1 else image
    reads = [r.text for r in engine.read(big)]
    joined = " ".join(reads)
    return [t for t in texts if any(text_similarity(t, r) >= 70 for r in reads) or text_similarity(t, joined) >= 90]


def sample_quality(device: str, work: Path) -> dict:
    """Part A (see module docstring)."""
    from ufmclean.io import discover, load_image
    from ufmclean.ocr import get_engine
    from ufmclean.ocr.recall import is_found
    from ufmclean.records import BBox

    truth = json.loads((ROOT / "sample_data" / "ground_truth.json").read_text())["items"]
    run = work / "sample"
    result, seconds = _sanitize(ROOT / "sample_data" / "images", run, device)
    images, findings = _tables(run)
    box = lambda f: BBox(f["x0"], f["y0"], f["x1"], f["y1"])  # noqa: E731
    by_frame: dict = {}
    for f in findings:
        by_frame.setdefault((f["relpath"], f["frame"]), []).append(f)
    frames_of = lambda item: (range(images[item["relpath"]]["frames"]) if item["frame"] == "all"  # noqa: E731
                              else [int(item["frame"])])
    found = total = 0
    for item in (i for i in truth if i["kind"] == "text"):
        for g in frames_of(item):
            total += 1
            found += is_found(BBox(*item["box"]), [box(f) for f in by_frame.get((item["relpath"], g), [])
                                                   if f["kind"] == "text"])
    gt_boxes: dict = {}
    for item in truth:
        gt_boxes.setdefault(item["relpath"], []).append(BBox(*item["box"]))
    detections = [f for f in findings if f["kind"] in ("text", "marker")]
    true_pos = sum(any(box(f).intersection(b) for b in gt_boxes.get(f["relpath"], [])) for f in detections)
    records = {r.relpath: r for r in discover(ROOT / "sample_data" / "images")}
    engine = get_engine("cpu" if device == "cpu" else device, strategy="full")
    leaks = checked = held = kept = common = 0
    for item in truth:
        rel, row = item["relpath"], images[item["relpath"]]
        if item["kind"] != "text":
            continue
        if row["clean_status"] not in ("written", "copied"):
            held += item["rare"] or item["phi"] != "none"
            continue
        src = load_image(records[rel])
        dst = load_image(records[rel].with_(path=str(run / "clean" / rel)))
        g = 0 if item["frame"] == "all" else int(item["frame"])
        b = BBox(*item["box"])
        if item["rare"] or item["phi"] != "none":
            checked += 1
            crop = dst.display[g][b.pad(6, height=dst.display.shape[1], width=dst.display.shape[2]).slices]
            leaks += bool(_legible(engine, crop, [item["text"]]))
        else:
            common += 1
            kept += bool(np.array_equal(src.raw[g][b.slices], dst.raw[g][b.slices]))
    return {"images": len(images), "seconds": round(seconds, 1), "images_per_s": round(len(images) / seconds, 2),
            "text_recall": round(found / max(1, total), 4), "text_items": total,
            "precision": round(true_pos / max(1, len(detections)), 4), "detections": len(detections),
            "residual_leak": round(leaks / max(1, checked), 4), "rare_or_phi_checked": checked, "held": held,
            "common_kept": round(kept / max(1, common), 4), "by_clean_status": result["sanitize"]["by_clean_status"]}


def shared_quality(device: str, work: Path) -> dict | None:
    """Part B: known fake PHI legible before vs after, on the shared real files (None when absent)."""
    from ufmclean.io import discover, load_image
    from ufmclean.ocr import get_engine

    inp = work / "shared-in"
    for folder, rels in SHARED_FILES.items():
        for rel in rels:
            src = SHARED / folder / rel
            if src.is_file():
                (inp / folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, inp / folder / rel)
    if not inp.is_dir():
        return None
    run = work / "shared-run"
    result, seconds = _sanitize(inp, run, device)
    images, _ = _tables(run)
    engine = get_engine("cpu" if device == "cpu" else device, strategy="full")
    before = after = held = 0
    for rec in discover(inp):
        if rec.status != "ok":
            continue
        present = _legible(engine, load_image(rec).display[0], KNOWN_PHI)
        before += len(present)
        if images[rec.relpath]["clean_status"] != "written":
            held += 1
            continue
        after += len(_legible(engine, load_image(rec.with_(path=str(run / "clean" / rec.relpath))).display[0], present))
    return {"files": len(images), "seconds": round(seconds, 1), "phi_legible_before": before,
            "phi_legible_after": after, "held": held, "by_clean_status": result["sanitize"]["by_clean_status"]}


def main() -> None:
    """Run both parts and print one small table (and JSON with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-shared", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ufm-quality-") as tmp:
        out = {"sample_data": sample_quality(args.device, Path(tmp))}
        if not args.skip_shared:
            out["shared"] = shared_quality(args.device, Path(tmp))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    s = out["sample_data"]
    print(f"sample_data: {s['images']} images in {s['seconds']} s ({s['images_per_s']} img/s); text recall "
          f"{s['text_recall']:.3f} of {s['text_items']}; precision {s['precision']:.3f} of {s['detections']}; "
          f"residual leak {s['residual_leak']:.3f} of {s['rare_or_phi_checked']} rare/PHI items (held {s['held']}); "
          f"common kept {s['common_kept']:.3f}")
    if out.get("shared"):
        b = out["shared"]
        print(f"shared fake-PHI files: {b['files']} in {b['seconds']} s; known PHI legible before "
              f"{b['phi_legible_before']} -> after {b['phi_legible_after']} (held {b['held']})")
    print(f"peak RSS {out['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
