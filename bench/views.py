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
- ``text_dense``: a CT/MR-style overlay of 24 short lines (name, IDs, dates, kV/mA, slice) in the
  four corners at the stored maximum, with the stale window of ``stale_above``

Backgrounds are real chest X-rays (Kermany, ../shared/data) at 512², else smooth noise. For each
case and engine: recall when only the clinical ``display`` is read (what the scan did before) and
when every view is read (``LoadedImage.ocr_views``), the lines every view's boxes cover to 90 %
(``whole``: recall counts a line covered by half, but what is not covered stays legible after
redaction), and the OCR CPU seconds per image of each.

``--shared`` instead reads every DICOM in ``../shared/data`` (the cine zip unpacked) and
``sample_data/``: per file the views the loader builds, findings with the display only and with
every view, the OCR CPU seconds of each (each timed with the recogniser's memory of earlier reads
cleared), and for the files whose SOURCE.md lists
burned-in text, the listed texts read (tests/scan/listed_texts.py) with the display only / all views.
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


DENSE = (("DOE^JANE", "MRN 00482913", "ACC 7781204", "1961-07-04 F", "ST. ELSEWHERE", "CT CHEST W/O"),
         ("2019-03-11", "14:22:07", "SE 3 IM 41", "KVP 120", "MA 240", "SL 1.25 MM"),
         ("W 400 L 40", "FOV 36 CM", "TILT 0.0", "ROT 0.5S", "HE+ 55.0", "Z 1.0"),
         ("DR SMITH", "REF J BROWN", "STN CT04", "PORTABLE", "SUPINE", "P 00123"))


def _stamp_dense(img: np.ndarray, value: int) -> tuple[np.ndarray, list[list[int]]]:
    """24 short overlay lines, six per corner, in a small font (text-dense CT/MR frames)."""
    import cv2

    out = img.astype(np.float64).copy()
    h, w = img.shape
    boxes = []
    for corner, lines in enumerate(DENSE):
        for i, text in enumerate(lines):
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1)
            x = 6 if corner % 2 == 0 else w - tw - 6
            y = 16 + 17 * i if corner < 2 else h - 8 - 17 * (len(lines) - 1 - i)
            mask = np.zeros(img.shape, np.uint8)
            cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, 255, 1)
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
    elif case == "text_dense":
        arr, boxes = _stamp_dense(g, 255)
        tags = {"WindowCenter": 1059, "WindowWidth": 2359}
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


CASES = ("stale_above", "stale_below", "8bit_in_16", "monochrome1", "signed_rescale", "text_at_min", "text_dense")


def _shared_inputs(tmp: Path) -> list[tuple[str, Path]]:
    """``(label, folder)`` of every DICOM source: ../shared/data's folders (zips unpacked) and sample_data."""
    import zipfile

    roots = []
    if SHARED.is_dir():
        for folder in sorted(p for p in SHARED.iterdir() if p.is_dir()):
            if any(folder.rglob("*.dcm")) or any(folder.rglob("*.DCM")) or any(folder.glob("*.zip")):
                roots.append((folder.name, folder))
            for z in sorted(folder.glob("*.zip")):
                dest = tmp / folder.name / z.stem
                with zipfile.ZipFile(z) as zf:
                    zf.extractall(dest)
                roots.append((f"{folder.name}/{z.name}", dest))
    roots.append(("sample_data", REPO / "sample_data"))
    return roots


def _forget(engine: object) -> None:
    """Drop the engine's remembered recogniser reads, so a timed read is not a reuse of the last one."""
    forget = getattr(getattr(engine, "recognizer", None), "forget", None)
    if forget is not None:
        forget()


def shared_bench(engine_name: str) -> None:
    """Every DICOM in ../shared/data and sample_data: findings and cost per view (see the docstring)."""
    from dataclasses import replace

    from ufmclean.detect.text import text_findings
    from ufmclean.io import discover, load_image
    from ufmclean.ocr import get_engine

    sys.path.insert(0, str(REPO / "tests" / "scan"))
    from listed_texts import LISTED, missing_texts

    engine = get_engine("cpu", engine=engine_name)
    print(f"{'file':<58}{'frames':>7} {'views':<36}{'findings 1 view -> all':>24}  "
          f"{'cpu s 1 -> all':<18}{'listed read (1 view / all)'}")
    totals = {"files": 0, "extra": 0, "cpu_one": 0.0, "cpu_all": 0.0, "listed": 0, "one": 0, "all": 0}
    with tempfile.TemporaryDirectory(prefix="ufm-bench-shared-") as tmp:
        for label, root in _shared_inputs(Path(tmp)):
            for rec in discover(root):
                if rec.format != "dicom":
                    continue
                name = f"{label}/{rec.relpath}"[-57:]
                try:
                    loaded = load_image(rec)
                except Exception as exc:  # a file the loader refuses: say why, go on
                    print(f"{name:<58}{'':>7} {'not scanned: ' + type(exc).__name__ + ': ' + str(exc)[:70]}")
                    continue
                cost, found = {}, {}
                for mode, image in (("one", replace(loaded, views=())), ("all", loaded)):
                    _forget(engine)  # each mode timed cold: no reuse of the other's recogniser reads
                    t = time.process_time()
                    found[mode] = text_findings(image, engine)
                    cost[mode] = time.process_time() - t
                totals["files"] += 1
                totals["extra"] += len(loaded.views)
                totals["cpu_one"] += cost["one"]
                totals["cpu_all"] += cost["all"]
                key = next((k for k in LISTED if k.split(":")[-1].endswith(Path(rec.relpath).name)
                            and k.split("/")[0] == label.split("/")[0]), None)  # fmt: skip
                listed = ""
                if key:
                    shape = loaded.display.shape[1:3]
                    want = LISTED[key]
                    read = {m: sum(len(want) - len(missing_texts(found[m], want, shape=shape, frame=fr))
                                   for fr in range(loaded.n_frames)) for m in found}  # fmt: skip
                    n = len(want) * loaded.n_frames
                    totals["listed"] += n
                    totals["one"] += read["one"]
                    totals["all"] += read["all"]
                    listed = f"{read['one']}/{n} / {read['all']}/{n}"
                views = ",".join(v for v, _ in loaded.ocr_views())
                costs = f"{cost['one']:.2f} -> {cost['all']:.2f}"
                print(f"{name:<58}{loaded.n_frames:>7} {views:<36}{len(found['one']):>12} -> {len(found['all']):<8}  "
                      f"{costs:<18}{listed}")
    t = totals
    print(f"\n{t['files']} DICOM read; {t['extra']} extra views; OCR CPU s display only {t['cpu_one']:.1f}, "
          f"all views {t['cpu_all']:.1f} (+{100 * (t['cpu_all'] / max(t['cpu_one'], 1e-9) - 1):.0f} %); "
          f"listed burned-in texts read: display only {t['one']}/{t['listed']}, all views {t['all']}/{t['listed']}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4, help="images per case")
    ap.add_argument("--engines", nargs="+", default=["ppocr"])
    ap.add_argument("--shared", action="store_true", help="every DICOM in ../shared/data and sample_data instead")
    args = ap.parse_args()
    if args.shared:
        for name in args.engines:
            shared_bench(name)
        return
    from dataclasses import replace

    from ufmclean.detect.text import text_findings
    from ufmclean.io import discover, load_image
    from ufmclean.ocr import get_engine
    from ufmclean.ocr.recall import is_found
    from ufmclean.records import BBox

    print(f"{'case':<16}{'engine':<9}{'display only':>14}{'all views':>11}{'whole':>8}{'cpu s/img (1 view / all)':>27}")
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
                whole = 0  # lines covered to 90 % with every view: a half-read line leaves the rest legible
                cpu = {"one": 0.0, "all": 0.0}
                total = 0
                for rec in discover(Path(tmp) / case):
                    loaded = load_image(rec)
                    for mode, image in (("one", replace(loaded, views=())), ("all", loaded)):
                        _forget(engine)
                        t = time.process_time()
                        boxes = [f.bbox for f in text_findings(image, engine)]
                        cpu[mode] += time.process_time() - t
                        found[mode] += sum(is_found(BBox(*b), boxes) for b in truth[(case, rec.relpath)])
                        if mode == "all":
                            whole += sum(is_found(BBox(*b), boxes, min_cover=0.9) for b in truth[(case, rec.relpath)])
                    total += len(truth[(case, rec.relpath)])
                n = args.n
                print(f"{case:<16}{name:<9}{found['one']:>8}/{total:<5}{found['all']:>5}/{total:<5}{whole:>3}/{total:<4}"
                      f"{cpu['one'] / n:>13.2f} / {cpu['all'] / n:.2f}")


if __name__ == "__main__":
    main()
