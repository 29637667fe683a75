"""Is text that a window hides gone after ``ufmclean sanitize``? An independent reader (Tesseract) says.

    .venv/bin/python bench/views_residual.py [--n 4] [--cases stale_above monochrome1 ...]

Issue 17 measured its failure with Tesseract: boxes legible on the original and still legible in
``clean/``. This bench does the same on :mod:`views`'s generated cases (DICOM whose tags hide burned-in
PHI lines): each case's files are sanitised by the CLI (default policy, one run per case), then every
PHI line's box is cut from the stored *values* (modality output) of the original and of the clean copy,
stretched min-max over the crop alone (so any trace at any contrast is at full contrast), upscaled 3x,
and read by Tesseract (``--psm 7``, both polarities). A line is legible when the read matches its
text at rapidfuzz ``partial_ratio`` >= 70 (letters and digits only, at least 3 read). Printed per case:
lines legible on the original, and of those, still legible in ``clean/``. Needs ``tesseract`` on PATH.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from views import CASES, DENSE, LINES, make_case  # noqa: E402

#: PHI lines per case (the text_dense overlay's identity corner; the other cases' two lines).
PHI = {case: LINES for case in CASES if case != "text_dense"} | {"text_dense": DENSE[0]}


def _letters(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _values(path: Path) -> np.ndarray:
    """The (H, W) modality output of a single-frame DICOM."""
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(path)
    return np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=np.float64)


def tesseract_reads(values: np.ndarray, box: list[int], text: str) -> bool:
    """Whether Tesseract reads ``text`` in ``box`` (x0, y0, x1, y1) of ``values``, crop stretched on its own."""
    import cv2
    from rapidfuzz import fuzz

    h, w = values.shape
    x0, y0, x1, y1 = max(0, box[0] - 4), max(0, box[1] - 4), min(w, box[2] + 4), min(h, box[3] + 4)
    crop = values[y0:y1, x0:x1]
    lo, hi = float(crop.min()), float(crop.max())
    if hi <= lo:
        return False
    grey = np.rint((crop - lo) * 255.0 / (hi - lo)).astype(np.uint8)
    grey = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    want = _letters(text)
    for img in (grey, 255 - grey):
        ok, png = cv2.imencode(".png", cv2.copyMakeBorder(img, 12, 12, 12, 12, cv2.BORDER_REPLICATE))
        out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "7"], input=png.tobytes(),
                             capture_output=True, check=False).stdout.decode(errors="replace")
        got = _letters(out)
        if len(got) >= 3 and fuzz.partial_ratio(want, got) >= 70:
            return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4, help="images per case")
    ap.add_argument("--cases", nargs="+", default=list(CASES))
    args = ap.parse_args()
    if shutil.which("tesseract") is None:
        sys.exit("tesseract not found (Debian package tesseract-ocr)")
    print(f"{'case':<16}{'PHI lines':>10}{'legible before':>16}{'still legible in clean/':>25}")
    totals = [0, 0, 0]
    with tempfile.TemporaryDirectory(prefix="ufm-bench-views-residual-") as tmp:
        for case in args.cases:
            src, run = Path(tmp) / case / "in", Path(tmp) / case / "run"
            src.mkdir(parents=True)
            boxes = {}
            for k in range(args.n):
                name = f"{case}_{k}.dcm"
                boxes[name] = make_case(case, k, src / name)
            cmd = [str(REPO / ".venv" / "bin" / "ufmclean"), "sanitize", str(src), "--out", str(run), "--workers", "1"]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode not in (0, 3):
                print(f"{case:<16} sanitize exited {done.returncode}: {done.stderr.strip()[-200:]}")
                continue
            n = before = after = 0
            for name, line_boxes in boxes.items():
                original, clean = _values(src / name), _values(run / "clean" / name)
                texts = LINES if case != "text_dense" else [t for c in DENSE for t in c]
                for text, box in zip(texts, line_boxes):
                    if text not in PHI[case]:
                        continue
                    n += 1
                    if tesseract_reads(original, box, text):
                        before += 1
                        after += tesseract_reads(clean, box, text)
            totals = [totals[0] + n, totals[1] + before, totals[2] + after]
            print(f"{case:<16}{n:>10}{before:>16}{after:>25}", flush=True)
    print(f"{'all':<16}{totals[0]:>10}{totals[1]:>16}{totals[2]:>25}")


if __name__ == "__main__":
    main()
