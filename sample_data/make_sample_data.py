#!/usr/bin/env python
"""Generate ufmclean's synthetic sample dataset (deterministic: seeded numpy + OpenCV drawing, no external data).

Output (under ``--out``, default this folder):
  images/<label>/<name>.png|.dcm   200 chest-X-ray-like 256x256 grey images, classes ``normal`` / ``pneumonia``
                                   (pneumonia = diffuse opacities in the lung fields)
  labels.csv                       relpath,label (relpath relative to images/)
  ground_truth.json                every burned-in item: relpath (relative to images/), frame (int or "all"),
                                   box [x0, y0, x1, y1] (tight, x1/y1 exclusive), kind text|marker|overlay,
                                   text, rare, phi (name|id|date|none), style (bright|dark_on_light|low_contrast)
  pydicom_files/                   a few of pydicom's bundled codec test files (MIT, see NOTICE)

Run: ``python sample_data/make_sample_data.py [--out DIR]``. Same output bytes on every run.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

SIZE = 256
N_IMAGES = 200
SEED = 20231121
FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_PLAIN]  # fmt: skip
# Rare strings: (text, phi type, header value in DICOM format or None). Each goes into 1-2 images.
RARE = [
    ("JANE DOE", "name", "DOE^JANE"), ("SMITH, JOHN", "name", "SMITH^JOHN"), ("MARIA GARCIA", "name", "GARCIA^MARIA"),
    ("CHEN WEI", "name", "CHEN^WEI"), ("MRN 4827361", "id", "4827361"), ("ID 99-1234-5", "id", "9912345"),
    ("ACC 2019031107", "id", None), ("PID 5550123", "id", "5550123"), ("1971-03-04", "date", "19710304"),
    ("03/04/1968", "date", "19680304"), ("12 MAR 2019", "date", None), ("2019.03.12", "date", None),
    ("04-Jul-1985", "date", "19850704"), ("DOB 11/22/1953", "date", "19531122"),
]  # fmt: skip
# Slots (anchor x, anchor y as fractions) for burned-in items; one item per slot per image.
SLOTS = {"tl": (0.03, 0.08), "tr": (0.97, 0.08), "bl": (0.03, 0.95), "br": (0.97, 0.95), "tc": (0.5, 0.08),
         "bc": (0.5, 0.95), "ml": (0.03, 0.5), "mr": (0.97, 0.5)}  # fmt: skip


def anatomy(rng: np.random.Generator, pneumonia: bool) -> np.ndarray:
    """Chest-X-ray-like grey image, uint8 (SIZE, SIZE): body, dark lungs, spine, heart, ribs; opacities if pneumonia."""
    img = np.full((SIZE, SIZE), 12, np.float32)
    dx, dy = rng.integers(-8, 9, size=2)
    s = rng.uniform(0.94, 1.06)
    c = (128 + int(dx), 140 + int(dy))
    cv2.ellipse(img, c, (int(112 * s), int(128 * s)), 0, 0, 360, 150 + float(rng.integers(-15, 16)), -1)
    lungs = np.zeros_like(img)
    for side in (-1, 1):
        cv2.ellipse(lungs, (c[0] + side * int(48 * s), c[1] - int(22 * s)), (int(40 * s), int(74 * s)), side * 6,
                    0, 360, 1.0, -1)  # fmt: skip
    lungs = cv2.GaussianBlur(lungs, (0, 0), 5)
    img = img * (1 - 0.6 * lungs)
    ribs = np.zeros_like(img)
    for k in range(7):
        y = c[1] - int(85 * s) + k * int(20 * s)
        for side in (-1, 1):
            cv2.ellipse(ribs, (c[0] + side * int(45 * s), y), (int(45 * s), 14), 0, 180, 360, 1.0, 3)
    img += 22 * cv2.GaussianBlur(ribs, (0, 0), 1.5) * lungs
    cv2.rectangle(img, (c[0] - 10, 0), (c[0] + 10, SIZE), 185, -1)
    cv2.ellipse(img, (c[0] + 14, c[1] + 28), (40, 32), 0, 0, 360, 170, -1)
    if pneumonia:
        for _ in range(int(rng.integers(3, 6))):
            side = rng.choice([-1, 1])
            cx = c[0] + side * int(rng.integers(30, 62))
            cy = c[1] + int(rng.integers(-60, 45))
            blob = np.zeros_like(img)
            cv2.circle(blob, (cx, cy), int(rng.integers(12, 24)), 1.0, -1)
            img += float(rng.uniform(70, 105)) * cv2.GaussianBlur(blob, (0, 0), 9) * lungs
    field = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 6)
    img += 60 * field * (0.4 + lungs)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def draw_text(img: np.ndarray, text: str, slot: str, rng: np.random.Generator, style: str) -> list[int]:
    """Burn ``text`` into ``img`` (in place) at ``slot``; returns the tight box [x0, y0, x1, y1] of changed pixels."""
    font = FONTS[int(rng.integers(len(FONTS)))]
    scale = float(rng.uniform(0.42, 0.62)) * (1.6 if font == cv2.FONT_HERSHEY_PLAIN else 1.0)
    thick = 1 if scale < 0.55 or style == "low_contrast" else 2
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    ax, ay = SLOTS[slot]
    x = int(ax * SIZE) - (w if ax > 0.9 else w // 2 if 0.4 < ax < 0.6 else 0)
    y = int(ay * SIZE) + (h if ay < 0.2 else h // 2 if 0.4 < ay < 0.6 else -base)
    x += int(rng.integers(-3, 4))
    x, y = int(np.clip(x, 2, SIZE - w - 2)), int(np.clip(y, h + 2, SIZE - base - 2))
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.putText(mask, text, (x, y), font, scale, 255, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(mask)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    if style == "dark_on_light":
        pad = 3
        box = [max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, SIZE), min(box[3] + pad, SIZE)]
        img[box[1] : box[3], box[0] : box[2]] = 225
        value = 25.0
    elif style == "low_contrast":
        value = float(np.median(img[box[1] : box[3], box[0] : box[2]])) + 40.0
    else:
        value = 245.0
    a = mask.astype(np.float32) / 255.0
    img[:] = np.clip(np.rint(img * (1 - a) + value * a), 0, 255).astype(np.uint8)
    return box


def draw_marker(img: np.ndarray) -> list[int]:
    """A sticker-like non-text marker: filled rounded rectangle with a bright ring. Returns its box."""
    x0, y0, x1, y1 = 178, 150, 214, 178
    cv2.rectangle(img, (x0 + 6, y0), (x1 - 6, y1), 95, -1)
    cv2.rectangle(img, (x0, y0 + 6), (x1, y1 - 6), 95, -1)
    for cx, cy in ((x0 + 6, y0 + 6), (x1 - 6, y0 + 6), (x0 + 6, y1 - 6), (x1 - 6, y1 - 6)):
        cv2.circle(img, (cx, cy), 6, 95, -1)
    cv2.circle(img, ((x0 + x1) // 2, (y0 + y1) // 2), 9, 250, 2)
    return [x0, y0, x1 + 1, y1 + 1]


def plan(rng: np.random.Generator) -> list[dict]:
    """Per-image plan: label, format/codec, burned-in items (text, phi, rare, slot, style)."""
    labels = ["normal", "pneumonia"] * (N_IMAGES // 2)
    rng.shuffle(labels)
    dicom_idx = sorted(rng.choice(N_IMAGES, size=40, replace=False).tolist())
    codecs = ["uncompressed"] * 6 + ["rle"] * 15 + ["j2k"] * 15 + ["uncompressed16"] * 2 + ["stale_window", "mono1"]
    plans = []
    for i in range(N_IMAGES):
        p = {"i": i, "label": labels[i], "items": [], "codec": None, "frames": 1, "overlay": False, "marker": False}
        if i in dicom_idx:
            p["codec"] = codecs[dicom_idx.index(i)]
        slots = list(SLOTS)
        rng.shuffle(slots)
        common = []
        if rng.random() < 0.62:
            common.append("PORTABLE")
        if rng.random() < 0.6:
            common.append("AP")
        if rng.random() < 0.85:
            common.append(str(rng.choice(["L", "R"])))
        for text in common:
            slot = slots.pop() if text not in ("L", "R") else ("mr" if "mr" in slots else slots[-1])
            if slot in slots:
                slots.remove(slot)
            style = "low_contrast" if rng.random() < 0.1 else "dark_on_light" if rng.random() < 0.08 else "bright"
            p["items"].append({"text": text, "phi": "none", "rare": False, "slot": slot, "style": style})
        p["free_slots"] = slots
        plans.append(p)
    # Rare strings: prefer DICOM carriers for the ones with a header form (header seeding is testable).
    carriers = [i for i in range(N_IMAGES)]
    rng.shuffle(carriers)
    dicom_first = [i for i in carriers if plans[i]["codec"] in ("uncompressed", "rle", "j2k")] + \
                  [i for i in carriers if plans[i]["codec"] is None]  # fmt: skip
    used: set[int] = set()
    for k, (text, phi, header) in enumerate(RARE):
        n = 2 if k % 3 == 0 else 1
        pool = dicom_first if header else [i for i in carriers if plans[i]["codec"] is None]
        chosen = [i for i in pool if i not in used][:n]
        for i in chosen:
            used.add(i)
            style = "low_contrast" if k % 5 == 4 else "dark_on_light" if k % 7 == 3 else "bright"
            plans[i]["items"].append({"text": text, "phi": phi, "rare": True, "slot": plans[i]["free_slots"].pop(),
                                      "style": style, "header": header})  # fmt: skip
    free = [i for i in carriers if i not in used and plans[i]["codec"] is None]
    plans[free[0]]["marker"] = True
    multi = next(i for i in carriers if plans[i]["codec"] == "rle" and i not in used)
    plans[multi]["frames"] = 4
    plans[multi]["items"].append({"text": "SERIES 4 OF 4", "phi": "none", "rare": True,
                                  "slot": plans[multi]["free_slots"].pop(), "style": "bright"})  # fmt: skip
    overlay = next(i for i in carriers if plans[i]["codec"] == "uncompressed" and i not in used)
    plans[overlay]["overlay"] = True
    return plans


def render(p: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Frames uint8 (F, SIZE, SIZE) and ground-truth items for plan ``p``."""
    base = [anatomy(rng, p["label"] == "pneumonia") for _ in range(p["frames"])]
    truth = []
    for item in p["items"]:
        boxes = [draw_text(f, item["text"], item["slot"], np.random.default_rng([SEED, p["i"], hash_text(item["text"])]), item["style"])
                 for f in base]  # fmt: skip
        truth.append({"frame": "all" if p["frames"] > 1 else 0, "box": boxes[0], "kind": "text", "text": item["text"],
                      "rare": item["rare"], "phi": item["phi"], "style": item["style"]})  # fmt: skip
    if p["marker"]:
        truth.append({"frame": 0, "box": draw_marker(base[0]), "kind": "marker", "text": "", "rare": True,
                      "phi": "none", "style": "bright"})  # fmt: skip
    return np.stack(base), truth


def hash_text(text: str) -> int:
    """Stable small integer from ``text`` (Python's hash() is salted per process)."""
    return int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little")


def overlay_mask() -> tuple[np.ndarray, list[int]]:
    """Overlay plane content: the word REVIEW and an arrow; returns (mask uint8 0/1, box)."""
    m = np.zeros((SIZE, SIZE), np.uint8)
    cv2.putText(m, "REVIEW", (92, 62), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1, 2)
    cv2.arrowedLine(m, (150, 70), (175, 100), 1, 2)
    ys, xs = np.nonzero(m)
    return m, [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def write_dicom(path: Path, frames: np.ndarray, p: dict, rng: np.random.Generator) -> list[dict]:
    """Write ``frames`` (F, H, W) uint8 as DICOM per ``p['codec']``; returns extra ground truth (overlay)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import pack_bits
    from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

    rel = f"{p['label']}/{path.name}"
    multi = frames.shape[0] > 1
    sop_class = "1.2.840.10008.5.1.4.1.1.7.2" if multi else "1.2.840.10008.5.1.4.1.1.1"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["ufmclean-sample", rel])
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    meta.ImplementationVersionName = "UFMCLEAN_SAMPLE"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["ufmclean-sample-study", rel])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["ufmclean-sample-series", rel])
    ds.Modality, ds.ConversionType = "CR", "WSD"
    ds.PatientName = f"SYNTH^PATIENT{p['i']:03d}"
    ds.PatientID = f"SYN{p['i']:05d}"
    ds.PatientBirthDate = f"19{40 + p['i'] % 50:02d}0{1 + p['i'] % 9}1{p['i'] % 10}"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240115", "101500", f"A{p['i']:06d}"
    ds.InstitutionName, ds.ReferringPhysicianName = "SYNTHETIC GENERAL HOSPITAL", "WHO^DR"
    for item in p["items"]:  # header forms of the burned-in rare strings (different format from the pixels)
        if item.get("header"):
            field = {"name": "PatientName", "id": "PatientID", "date": "PatientBirthDate"}[item["phi"]]
            setattr(ds, field, item["header"])
    ds.BurnedInAnnotation = "YES" if p["items"] else "NO"
    ds.PatientOrientation, ds.ImageType = ["L", "F"], ["DERIVED", "SECONDARY"]
    ds.InstanceNumber = p["i"] + 1
    codec = p["codec"]
    data = frames if multi else frames[0]
    if codec in ("uncompressed16", "stale_window"):
        if codec == "uncompressed16":
            arr16 = (frames[0].astype(np.uint16) * 16 + 8).astype(np.uint16)
            ds.WindowCenter, ds.WindowWidth = 2048, 4096
        else:  # 8-bit values in a 16-bit container with a window for 12-bit data: a stale window
            arr16 = frames[0].astype(np.uint16)
            ds.WindowCenter, ds.WindowWidth = 2600, 800
        ds.set_pixel_data(arr16, "MONOCHROME2", 12, generate_instance_uid=False)
    elif codec == "mono1":
        ds.set_pixel_data((255 - data).astype(np.uint8), "MONOCHROME1", 8, generate_instance_uid=False)
    else:
        ds.set_pixel_data(np.ascontiguousarray(data), "MONOCHROME2", 8, generate_instance_uid=False)
    extra = []
    if p["overlay"]:
        m, box = overlay_mask()
        ds.add_new(0x60000010, "US", SIZE)
        ds.add_new(0x60000011, "US", SIZE)
        ds.add_new(0x60000022, "LO", "Reviewer mark")
        ds.add_new(0x60000040, "CS", "G")
        ds.add_new(0x60000050, "SS", [1, 1])
        ds.add_new(0x60000100, "US", 1)
        ds.add_new(0x60000102, "US", 0)
        ds.add_new(0x60003000, "OW", pack_bits(m.ravel()))
        extra.append({"frame": 0, "box": box, "kind": "overlay", "text": "REVIEW", "rare": True, "phi": "none",
                      "style": "overlay"})  # fmt: skip
    if codec == "rle":
        ds.compress(RLELossless, generate_instance_uid=False)
    elif codec == "j2k":
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)
    return extra


def main(out: Path) -> None:
    """Generate everything under ``out`` (images/, labels.csv, ground_truth.json, pydicom_files/)."""
    rng = np.random.default_rng(SEED)
    plans = plan(rng)
    images = out / "images"
    if images.exists():
        shutil.rmtree(images)
    labels, truth = [], []
    for p in plans:
        frames, items = render(p, np.random.default_rng([SEED, p["i"]]))
        ext = ".dcm" if p["codec"] else ".png"
        rel = f"{p['label']}/{p['label']}_{p['i']:03d}{ext}"
        dest = images / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if p["codec"]:
            items += write_dicom(dest, frames, p, rng)
        else:
            ok, buf = cv2.imencode(".png", frames[0], [cv2.IMWRITE_PNG_COMPRESSION, 9])
            assert ok
            dest.write_bytes(buf.tobytes())
        labels.append((rel, p["label"]))
        truth += [{"relpath": rel, **item} for item in items]
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["relpath", "label"])
        w.writerows(labels)
    meta = {"root": "images", "size": SIZE, "n_images": N_IMAGES, "seed": SEED,
            "codecs": {rel: (p["codec"] or "png") for (rel, _), p in zip(labels, plans, strict=True)}, "items": truth}  # fmt: skip
    (out / "ground_truth.json").write_text(json.dumps(meta, indent=1) + "\n")
    copy_pydicom_files(out / "pydicom_files")


PYDICOM_FILES = ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm",
                 "JPGExtended.dcm", "SC_rgb_rle.dcm", "examples_overlay.dcm"]  # fmt: skip


def copy_pydicom_files(dest: Path) -> None:
    """Copy a few of pydicom's bundled test files (codecs, big endian, overlay) with pydicom's MIT licence."""
    from importlib.metadata import distribution

    from pydicom.data import get_testdata_file

    dest.mkdir(parents=True, exist_ok=True)
    for name in PYDICOM_FILES:
        shutil.copyfile(get_testdata_file(name), dest / name)
    dist = distribution("pydicom")
    licence = next(f for f in dist.files or () if f.name == "LICENSE")
    notice = (f"These files are copied unchanged from pydicom {dist.version} (pydicom/data/test_files, "
              "installed from PyPI). pydicom's test_files/README.txt says they were downsized/edited from NEMA, "
              "GDCM and other public samples. pydicom's licence follows.\n\n")  # fmt: skip
    (dest / "NOTICE").write_text(notice + Path(dist.locate_file(licence)).read_text())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--pydicom-files-only", action="store_true",
                    help="only copy pydicom's bundled test files (run by the Makefile's install step; they are "
                         "not committed because identical copies live in ../shared/data)")  # fmt: skip
    args = ap.parse_args()
    if args.pydicom_files_only:
        copy_pydicom_files(args.out / "pydicom_files")
    else:
        main(args.out)
