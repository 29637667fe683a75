"""Text that a stored window, polarity or bit depth hides: recall per generated case, old view vs all views.

    .venv/bin/python bench/views.py [--n 4] [--engines ppocr easyocr]

Each case is a DICOM whose pixel *values* carry two burned-in lines (a name + date, an ID) while its
tags make the clinical display hide them (issue 17's failure class):

- ``stale_above``: 8-bit data in a 12-bit word, window centre 1059 / width 2359 (the issue's reproduction)
- ``stale_below``: data at 2000-2255 in 16 bits, window 500 / 400 (everything renders white)
- ``8bit_in_16``: 8-bit data, BitsStored 16, window over the full 16-bit range
- ``monochrome1``: MONOCHROME1, text at the stored maximum (renders dark), a bone window
- ``signed_rescale``: int16 with intercept -1024, text in air at -600 HU, soft-tissue window
- ``text_at_min``: text at the stored minimum on a brighter field, 12-bit window above the data

Backgrounds are real chest X-rays (Kermany, ../shared/data) at 512², else smooth noise. For each
case and engine: recall when only the clinical ``display`` is read (what the scan did before) and
when every view is read (``LoadedImage.ocr_views``), and the OCR CPU seconds per image of each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
LINES = ("DOE, JANE  1961-07-04", "MRN 00482913")


def _background(seed: int) -> np.ndarray:
    import cv2

    files = sorted((SHARED / "kermany_cxr_224" / "test").glob("*/*")) if SHARED.is_dir() else []
    if files:
        return cv2.resize(cv2.imread(str(files[seed % len(files)]), cv2.IMREAD_GRAYSCALE), (512, 512))
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(cv2.resize(rng.integers(40, 200, (8, 8)).astype(np.uint8), (512, 512)), (0, 0), 8)


def _stamp(img: np.ndarray, value: int, seed: int) -> tuple[np.ndarray, list[list[int]]]:
    """Draw LINES at ``value`` on a float copy of ``img``; return it and the line boxes."""
    import cv2

    out = img.astype(np.float64).copy()
    boxes = []
    for i, text in enumerate(LINES):
        scale = 0.8 if i == 0 else 0.6
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        x, y = 20 + 7 * (seed % 5), 40 + 420 * i
        mask = np.zeros(img.shape, np.uint8)
        cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2)
        out[mask > 0] = value
        boxes.append([x, y - th, x + tw, y + base])
    return out, boxes


def make_case(case: str, seed: int, path: Path) -> list[list[int]]:
    """Write one case's DICOM to ``path``; return its ground-truth line boxes."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    g = _background(seed)
    tags: dict = {}
    bits, signed, photometric = 12, 0, "MONOCHROME2"
    if case == "stale_above":
        arr, boxes = _stamp(g, 255, seed)
        tags = {"WindowCenter": 1059, "WindowWidth": 2359}
    elif case == "stale_below":
        arr, boxes = _stamp(g, 255, seed)
        arr, bits, tags = arr + 2000, 16, {"WindowCenter": 500, "WindowWidth": 400}
    elif case == "8bit_in_16":
        arr, boxes = _stamp(g, 255, seed)
        bits, tags = 16, {"WindowCenter": 32768, "WindowWidth": 65536}
    elif case == "monochrome1":
        arr, boxes = _stamp(g.astype(np.float64) * 8, 4095, seed)
        photometric, tags = "MONOCHROME1", {"WindowCenter": 600, "WindowWidth": 800}
    elif case == "signed_rescale":
        base = g.astype(np.float64) * 4 - 1000  # HU of the modality output
        base[:, :256] = np.minimum(base[:, :256], -900)
        arr, boxes = _stamp(base, -600, seed)
        arr = arr + 1024  # stored value = HU - intercept
        signed, tags = 1, {"RescaleIntercept": -1024, "RescaleSlope": 1, "WindowCenter": 40, "WindowWidth": 400}
    elif case == "text_at_min":
        arr, boxes = _stamp(g.astype(np.float64) * 0.5 + 100, 0, seed)
        tags = {"WindowCenter": 3000, "WindowWidth": 1000}
    else:
        raise ValueError(case)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID, "MR"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, signed
    for k, v in tags.items():
        setattr(ds, k, v)
    dtype = np.int16 if signed else np.uint16
    ds.PixelData = np.rint(arr).astype(dtype).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return boxes


CASES = ("stale_above", "stale_below", "8bit_in_16", "monochrome1", "signed_rescale", "text_at_min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4, help="images per case")
    ap.add_argument("--engines", nargs="+", default=["ppocr"])
    args = ap.parse_args()
    from dataclasses import replace

    from ufmclean.detect.text import text_findings
    from ufmclean.io import discover, load_image
    from ufmclean.ocr import get_engine
    from ufmclean.ocr.recall import is_found
    from ufmclean.records import BBox

    print(f"{'case':<16}{'engine':<9}{'display only':>14}{'all views':>11}{'cpu s/img (1 view / all)':>27}")
    with tempfile.TemporaryDirectory(prefix="ufm-bench-views-") as tmp:
        truth = {}
        for case in CASES:
            for k in range(args.n):
                p = Path(tmp) / case / f"{case}_{k}.dcm"
                p.parent.mkdir(parents=True, exist_ok=True)
                truth[(case, p.name)] = make_case(case, k, p)
        for name in args.engines:
            engine = get_engine("cpu", engine=name)
            for case in CASES:
                found = {"one": 0, "all": 0}
                cpu = {"one": 0.0, "all": 0.0}
                total = 0
                for rec in discover(Path(tmp) / case):
                    loaded = load_image(rec)
                    for mode, image in (("one", replace(loaded, views=())), ("all", loaded)):
                        t = time.process_time()
                        boxes = [f.bbox for f in text_findings(image, engine)]
                        cpu[mode] += time.process_time() - t
                        found[mode] += sum(is_found(BBox(*b), boxes) for b in truth[(case, rec.relpath)])
                    total += len(truth[(case, rec.relpath)])
                n = args.n
                print(f"{case:<16}{name:<9}{found['one']:>8}/{total:<5}{found['all']:>5}/{total:<5}"
                      f"{cpu['one'] / n:>13.2f} / {cpu['all'] / n:.2f}")


if __name__ == "__main__":
    main()
