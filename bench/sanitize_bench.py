"""Sanitize benchmarks: redaction speed (no OCR) and, with ``--input``, a whole sanitize run.

    .venv/bin/python bench/sanitize_bench.py                 # redaction only, synthetic frames
    .venv/bin/python bench/sanitize_bench.py --input DIR --out RUN [--device cpu]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ufmclean.records import BBox
from ufmclean.redact.apply import redact_image, regions_for_image


def _frame(size: int, n_text: int, seed: int) -> tuple[np.ndarray, list[BBox]]:
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(30, 200, (size, size)).astype(np.uint8), (0, 0), size / 50)
    boxes = []
    for i in range(n_text):
        x, y = int(rng.integers(0, size - 160)), int(rng.integers(30, size - 10))
        cv2.putText(img, f"TXT {i:04d}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        boxes.append(BBox(x - 2, y - 22, x + 130, y + 6))
    return img, boxes


def bench_redaction() -> None:
    print("redaction only (no OCR), median of 5 runs")
    for size, frames, dtype in ((512, 1, np.uint8), (2048, 1, np.uint16), (800, 27, np.uint8)):
        disp, boxes = _frame(size, 10, 0)
        display = np.repeat(disp[None], frames, axis=0)
        raw = display.astype(dtype) * (16 if dtype == np.uint16 else 1)
        for mode in ("inpaint", "mask"):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                from ufmclean.records import Finding

                fs = [Finding(f"f{i}", "b", "b", 0, "text", b, text="x", action=mode) for i, b in enumerate(boxes)]
                regions = regions_for_image(fs, display)
                redact_image(raw, display, regions)
                times.append(time.perf_counter() - t)
            print(f"  {size}x{size} x{frames} {np.dtype(dtype).name:6s} {mode:7s}: {1000 * np.median(times):7.1f} ms "
                  f"({len(regions)} regions)")


def bench_run(inp: Path, out: Path, device: str) -> None:
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import load_policy

    t = time.perf_counter()
    res = run_sanitize(inp, out, policy=load_policy(), options=SanitizeOptions(device=device))
    dt = time.perf_counter() - t
    s = res["sanitize"]
    print(f"sanitize {inp}: {s['n_images']} images in {dt:.1f} s ({s['n_images'] / dt:.2f} img/s, scan included)")
    print(f"  clean status: {s['by_clean_status']}")
    print(f"  actions: {s['decisions']['by_action']}  reasons: {s['decisions']['by_reason']}")
    print(f"  residual failures: {s['n_residual_failures']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    bench_redaction()
    if args.input:
        if not args.out:
            ap.error("--out is needed with --input")
        bench_run(args.input, args.out, args.device)


if __name__ == "__main__":
    main()
