"""Synthetic scan-benchmark images: a real chest X-ray background with burned-in text of known boxes.

Used by bench/scan.py. Texts mix sizes (8-72 px), contrasts (bright, low-contrast grey, dark text on
a light label) and places (corners, edges), like real burned-in annotations. Ground truth is one
box per text line, with its style and whether the string is PHI. :func:`write_set` writes a set as
PNG (for ufmclean and easyocr) and DICOM (for Presidio, with the burned-in name in PatientName so
its metadata deny-list can work) plus ``ground_truth.json``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# string -> is it PHI (a name, ID, date, time or age; not a clinical word or institution)
WORDS = {"DOE JOHN": True, "SMITH, ANNA": True, "MRN 00482913": True, "DOB 1971-03-04": True,
         "04/03/2001": True, "PORTABLE": False, "AP": False, "ST MARY HOSP": False, "12:41:07": True,
         "45Y M": True, "ACC 7731920": True, "SEMI-UPRIGHT": False, "KAUFMAN SCOTT": True}  # fmt: skip
STYLES = ("bright", "low_contrast", "dark_on_light")
NAMES = ("DOE JOHN", "SMITH, ANNA", "KAUFMAN SCOTT")


def background(size: int, seed: int) -> np.ndarray:
    """A (size, size) uint8 chest X-ray (real when ../shared/data is present, else smooth noise)."""
    import cv2

    files = real_backgrounds()
    if files:
        img = jitter(cv2.imread(str(files[seed % len(files)]), cv2.IMREAD_GRAYSCALE), seed)
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (8, 8)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC), (0, 0), size / 64)


def make_image(size: int, seed: int, n_text: int = 4) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[str]]:
    """Return ``(image (size, size) uint8, boxes [(x0, y0, x1, y1)], texts)`` with ``n_text`` lines."""
    img, items = make_items(size, seed, n_text)
    return img, [tuple(it["box"]) for it in items], [it["text"] for it in items]


def make_items(size: int, seed: int, n_text: int = 4) -> tuple[np.ndarray, list[dict]]:
    """Return ``(image (size, size) uint8, items)`` with ``n_text`` lines of burned-in text.

    Each item: ``box`` [x0, y0, x1, y1] (exclusive ends), ``text``, ``style`` (one of ``STYLES``), ``phi``.
    """
    import cv2

    rng = random.Random(seed)
    img = background(size, seed)
    items = []
    slots = [(0.03, 0.04), (0.6, 0.04), (0.03, 0.9), (0.6, 0.92), (0.03, 0.12), (0.6, 0.12)]
    words = sorted(WORDS)
    for i in range(n_text):
        text = rng.choice(words)
        px_height = rng.choice([9, 12, 16, 24, 36]) * size / 1024 if i % 2 else rng.choice([10, 14, 20])
        scale = max(px_height, 8) / 22.0
        thick = max(1, int(round(scale * 1.6)))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        fx, fy = slots[i % len(slots)]
        x, y = int(fx * size), int(fy * size) + th
        x = min(x, size - tw - 2)
        style = STYLES[(i + seed) % 3]
        if style == "dark_on_light":
            cv2.rectangle(img, (x - 4, y - th - 4), (x + tw + 4, y + base + 4), 235, -1)
            colour = 20
        elif style == "low_contrast":
            colour = int(np.clip(np.median(img[y - th : y, x : x + tw]) + 60, 0, 255))
        else:
            colour = 255
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, int(colour), thick, cv2.LINE_AA)
        items.append({"box": [x, y - th, x + tw, y + base], "text": text, "style": style, "phi": WORDS[text]})
    return img, items


def _write_dicom(path: Path, img: np.ndarray, patient_name: str, *, windowed: bool = False) -> None:
    """Write ``img`` (uint8 (H, W)) as an 8-bit MONOCHROME2 Secondary Capture DICOM.

    ``windowed``: as a 12-bit CR instead (values x 16, BitsStored 12) with a clinical VOI window over
    the 2nd-98th percentile of the frame, like a real chest X-ray: its display clips the extremes, so
    the scan also reads the full-range view (issue 17), and both tools read the same stored values."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
    from pydicom import Dataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "OT", patient_name.replace(", ", "^").replace(" ", "^"), "00482913"
    ds.Rows, ds.Columns = img.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    if windowed:
        stored = img.astype(np.uint16) * 16
        lo, hi = (float(v) for v in np.percentile(stored, (2, 98)))
        ds.Modality = "CR"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.WindowCenter, ds.WindowWidth = round((lo + hi) / 2), max(16, round(hi - lo))
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = np.ascontiguousarray(img).tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_set(root: Path, *, size: int, n: int, seed: int = 0) -> dict:
    """Write ``n`` images of ``size``² under ``root/png`` and ``root/dicom``; return the ground truth.

    Ground truth (also written to ``root/ground_truth.json``): ``{"size", "images": {stem: items}}``.
    """
    import cv2

    (root / "png").mkdir(parents=True, exist_ok=True)
    (root / "dicom").mkdir(parents=True, exist_ok=True)
    truth: dict = {"size": size, "images": {}}
    for k in range(n):
        stem = f"synth_{size}_{k:03d}"
        img, items = make_items(size, seed + k)
        cv2.imwrite(str(root / "png" / f"{stem}.png"), img)
        names = [it["text"] for it in items if it["text"] in NAMES]
        _write_dicom(root / "dicom" / f"{stem}.dcm", img, names[0] if names else "ANON")
        truth["images"][stem] = items
    (root / "ground_truth.json").write_text(json.dumps(truth, indent=1))
    return truth


#: TrueType faces for the real-X-ray set: matplotlib's bundled DejaVu family (matplotlib is a dependency).
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
              "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf")
POLARITIES = ("white", "black", "label")


def jitter(img: np.ndarray, seed: int) -> np.ndarray:
    """A random 90-100% crop of ``img`` (uint8 ``(H, W)``) with a gamma of 0.9-1.1: the few real
    backgrounds no longer give two images the same pixels anywhere (an engine that remembers crops it
    has read would otherwise be timed on repeats a real dataset does not have)."""
    rng = np.random.default_rng([seed, 7])
    h, w = img.shape
    ch, cw = int(h * rng.uniform(0.9, 1.0)), int(w * rng.uniform(0.9, 1.0))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    lut = (255.0 * (np.arange(256) / 255.0) ** rng.uniform(0.9, 1.1)).round().astype(np.uint8)
    return np.ascontiguousarray(lut[img[y : y + ch, x : x + cw]])


def real_backgrounds() -> list[Path]:
    """The full-resolution real chest X-rays of ../shared/data (empty when it is absent)."""
    folder = SHARED / "cxr_fullres_samples"
    return sorted(p for p in folder.glob("*/*") if p.suffix.lower() in (".png", ".jpeg", ".jpg")) if folder.is_dir() else []


def make_truetype_items(img: np.ndarray, seed: int, n_text: int = 4) -> tuple[np.ndarray, list[dict]]:
    """Stamp ``n_text`` lines on a copy of ``img`` (uint8 ``(H, W)``) in TrueType fonts; return ``(image, items)``.

    Each line: a random face of ``FONT_FILES``, a height of 1-4% of the image height (at least 10 px),
    a corner or edge slot, a polarity (white, black, dark on a light label). Items as in
    :func:`make_items`, with ``font`` and ``style`` = polarity.
    """
    from matplotlib import get_data_path
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    h, w = img.shape
    pil = Image.fromarray(img.copy())
    draw = ImageDraw.Draw(pil)
    slots = [(0.02, 0.02), (0.55, 0.02), (0.02, 0.93), (0.55, 0.93), (0.02, 0.10), (0.55, 0.86)]
    words = sorted(WORDS)
    items = []
    for i in range(n_text):
        text = rng.choice(words)
        face = rng.choice(FONT_FILES)
        px = max(10, int(h * rng.choice([0.01, 0.015, 0.02, 0.03, 0.04])))
        font = ImageFont.truetype(str(Path(get_data_path()) / "fonts" / "ttf" / face), px)
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        fx, fy = slots[i % len(slots)]
        x = min(int(fx * w), w - (x1 - x0) - 4)
        y = min(int(fy * h), h - (y1 - y0) - 4)
        polarity = POLARITIES[(i + seed) % len(POLARITIES)]
        box = [x + x0, y + y0, x + x1, y + y1]
        under = float(np.median(img[box[1] : box[3], box[0] : box[2]]))
        if (polarity == "black" and under < 90) or (polarity == "white" and under > 165):
            polarity = "label"  # no text a reader could see: black on a black corner, white on bone
        if polarity == "label":
            draw.rectangle([box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4], fill=230)
        draw.text((x, y), text, font=font, fill=255 if polarity == "white" else 15)
        items.append({"box": box, "text": text, "style": polarity, "phi": WORDS[text], "font": face})
    return np.asarray(pil), items


def write_truetype_set(root: Path, *, n: int, seed: int = 0, windowed: bool = False) -> dict:
    """``n`` real chest X-rays (cycling through :func:`real_backgrounds`, each :func:`jitter`-ed) with TrueType text, under
    ``root/png`` and ``root/dicom``; returns the ground truth (also ``root/ground_truth.json``).
    Empty when ../shared/data is absent. ``windowed``: the DICOM copies are 12-bit with a clinical
    window (:func:`_write_dicom`)."""
    import cv2

    files = real_backgrounds()
    (root / "png").mkdir(parents=True, exist_ok=True)
    (root / "dicom").mkdir(parents=True, exist_ok=True)
    truth: dict = {"size": "real12" if windowed else "real", "images": {}}
    for k in range(n if files else 0):
        bg = jitter(cv2.imread(str(files[k % len(files)]), cv2.IMREAD_GRAYSCALE), seed + k)
        img, items = make_truetype_items(bg, seed + k)
        stem = f"real_{k:03d}"
        cv2.imwrite(str(root / "png" / f"{stem}.png"), img)
        names = [it["text"] for it in items if it["text"] in NAMES]
        _write_dicom(root / "dicom" / f"{stem}.dcm", img, names[0] if names else "ANON", windowed=windowed)
        truth["images"][stem] = items
    (root / "ground_truth.json").write_text(json.dumps(truth, indent=1))
    return truth
