"""Marker detector figures: speed per frame size, marks per image, sample_data ground truth, Kermany R clustering.

Run: ``nice -n 10 .venv/bin/python bench/markers.py [--kermany N]``. Reads ``sample_data/`` and, when present,
``../shared/data`` (Kermany 224 px, NIH ChestX-ray14 64 px, full-resolution CXR samples). Prints figures only.
"""

import argparse
import collections
import json
import time
from pathlib import Path

import cv2
import numpy as np

from ufmclean.detect.markers import frame_marks, marker_findings
from ufmclean.rarity import RarityOptions, cluster_descriptors
from ufmclean.records import BBox, Finding

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DIST = RarityOptions().marker_distance
K = RarityOptions().rare_max_images


def speed() -> None:
    path = SHARED / "cxr_fullres_samples" / "kermany" / "NORMAL2-IM-1427-0001.jpeg"
    if not path.is_file():
        print("speed: full-resolution sample absent")
        return
    src = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    cv2.setNumThreads(1)
    for side in (512, 1024, 2048):
        frame = cv2.resize(src, (side, side), interpolation=cv2.INTER_AREA)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            frame_marks(frame)
            times.append(time.perf_counter() - t0)
        print(f"speed {side}x{side}: {1000 * min(times):.1f} ms/frame (best of 7, 1 thread)")


def sample_data() -> None:
    from ufmclean.io import discover, load_image

    truth = json.loads((ROOT / "sample_data" / "ground_truth.json").read_text())
    items = collections.defaultdict(list)
    for it in truth["items"]:
        items[it["relpath"]].append(it)
    records = [r for r in discover(ROOT / "sample_data" / "images") if r.status == "ok"]
    n_marks = off_truth = on_text_no_exclude = 0
    sticker_iou = 0.0
    for rec in records:
        image = load_image(rec)
        mine = items.get(rec.relpath, [])
        text = [
            Finding("t", rec.image_id, rec.relpath, fr, "text", BBox(*it["box"]))
            for it in mine
            if it["kind"] != "marker"
            for fr in (range(image.n_frames) if it["frame"] == "all" else [it["frame"]])
        ]
        for f in marker_findings(image, exclude=text):
            n_marks += 1
            ious = [BBox(*it["box"]).iou(f.bbox) for it in mine if it["kind"] == "marker"]
            sticker_iou = max([sticker_iou, *ious])
            off_truth += not any(i >= 0.5 for i in ious)
        for f in marker_findings(image):
            on_text_no_exclude += any(
                f.bbox.intersection(BBox(*it["box"])) >= 0.5 * f.bbox.area for it in mine if it["kind"] == "text"
            )
    print(
        f"sample_data: {len(records)} images; text boxes excluded (as OCR would): {n_marks} marks, sticker IoU "
        f"{sticker_iou:.2f}, {off_truth} off ground truth ({off_truth / len(records):.3f}/image); "
        f"without exclusion {on_text_no_exclude} marks sit on ground-truth text"
    )


def folder(name: str, files: list[Path]) -> list[list]:
    marks, t = [], 0.0
    for path in files:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        t0 = time.perf_counter()
        marks.append(frame_marks(grey))
        t += time.perf_counter() - t0
    n = max(len(files), 1)
    counts = [len(m) for m in marks]
    print(
        f"{name}: {len(files)} images, {sum(c > 0 for c in counts)} with a mark, {sum(counts) / n:.2f} marks/image, "
        f"{1000 * t / n:.1f} ms/image"
    )
    return marks


def rare_sheet(path: Path, frames: list[np.ndarray], marks: list[list], rare: np.ndarray, cols: int = 12) -> None:
    """Contact sheet of rare-key marks (crop around each box, 4x, box in red) for hand-checking."""
    flat = [(k, m) for k, ms in enumerate(marks) for m in ms]
    tiles = []
    for (k, m), is_rare in zip(flat, rare):
        if not is_rare:
            continue
        g, b = frames[k], m.bbox
        half = max(16, max(b.width, b.height) // 2 + 6)
        cx, cy = (b.x0 + b.x1) // 2, (b.y0 + b.y1) // 2
        win = BBox(cx - half, cy - half, cx + half, cy + half).clip(*g.shape)
        tile = cv2.cvtColor(cv2.resize(g[win.slices], (128, 128), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
        sx, sy = 128 / win.width, 128 / win.height
        p0 = (int((b.x0 - win.x0) * sx), int((b.y0 - win.y0) * sy))
        p1 = (int((b.x1 - win.x0) * sx) - 1, int((b.y1 - win.y0) * sy) - 1)
        tiles.append(cv2.rectangle(tile, p0, p1, (0, 0, 255), 1))
    if not tiles:
        return
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]))
    print(f"rare marks sheet: {path} ({len(tiles)} tiles)")


def clusters(name: str, marks: list[list], sheet: Path | None = None, frames: list | None = None) -> None:
    desc = [m.descriptor for ms in marks for m in ms]
    if not desc:
        return
    labels = cluster_descriptors(np.array(desc), max_distance=DIST)
    image_of = np.array([k for k, ms in enumerate(marks) for _ in ms])
    doc = {lab: len(set(image_of[labels == lab].tolist())) for lab in set(labels.tolist())}
    top = sorted(doc.values(), reverse=True)
    rare = sum(doc[lab] <= K for lab in labels.tolist())
    if sheet is not None and frames is not None:
        rare_sheet(sheet, frames, marks, np.array([doc[lab] <= K for lab in labels.tolist()]))
    print(
        f"{name}: {len(doc)} marker keys at L2 <= {DIST}; largest doc_freq {top[:8]}; "
        f"{rare} of {len(desc)} marks in rare keys (doc_freq <= {K}), {rare / len(marks):.2f}/image would be flagged"
    )


def sticker_vs_r(kermany: list[list]) -> None:
    from ufmclean.io import discover, load_image

    rec = next(r for r in discover(ROOT / "sample_data" / "images") if r.relpath == "normal/normal_173.png")
    found = [f for f in marker_findings(load_image(rec)) if f.bbox.iou(BBox(178, 150, 215, 179)) >= 0.5]
    desc = np.array([m.descriptor for ms in kermany for m in ms])
    if found and len(desc):
        d = np.linalg.norm(desc - np.array(found[0].descriptor), axis=1)
        print(f"sticker vs Kermany marks: nearest L2 {d.min():.2f}, median {np.median(d):.2f} (merge at {DIST})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kermany", type=int, default=1000, help="Kermany images to scan (random, seeded)")
    ap.add_argument("--sheet", type=Path, help="write a contact sheet of Kermany rare-key mark crops here (PNG; image content: keep it outside the repo)")
    args = ap.parse_args()
    speed()
    sample_data()
    if not SHARED.is_dir():
        print("../shared/data absent: real-data figures skipped")
        return
    files = sorted((SHARED / "kermany_cxr_224").glob("*/*/*.jpeg"))
    rng = np.random.default_rng(0)
    pick = [files[i] for i in sorted(rng.choice(len(files), min(args.kermany, len(files)), replace=False))]
    kermany = folder("kermany_cxr_224", pick)
    frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in pick] if args.sheet else None
    clusters("kermany_cxr_224", kermany, args.sheet, frames)
    sticker_vs_r(kermany)
    nih = sorted((SHARED / "nih_cxr14_1000_64px").glob("*/*/*.png"))
    clusters("nih_cxr14_64px", folder("nih_cxr14_64px", nih))
    full = sorted(p for p in (SHARED / "cxr_fullres_samples").glob("*/*") if p.suffix in (".png", ".jpeg"))
    for p, ms in zip(full, folder("cxr_fullres_samples", full)):
        print(f"  {p.parent.name}/{p.name}: {len(ms)} marks")


if __name__ == "__main__":
    main()
