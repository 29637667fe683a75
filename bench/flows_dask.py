"""Sanitize flow on >= 500 synthetic images: 1 vs 2 local Dask workers (real easyocr, CPU).

    nice -n 10 .venv/bin/python bench/flows_dask.py [--n 500] [--size 256] [--workers 1 2]

Images come from bench/scan_synth.py (a chest X-ray background when ../shared/data is present,
burned-in text of known boxes). Each configuration runs the whole flow into a fresh run folder under
a temporary Prefect API (the test harness: nothing touches .prefect/), so no batch is cached. Prints
wall seconds per configuration and the speed-up; the figure depends on the cores the machine has free.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_images(dest: Path, *, n: int, size: int) -> None:
    """``n`` PNGs of ``size``^2 with 2-4 burned-in text lines, in two class folders."""
    import cv2
    from scan_synth import make_image

    for i in range(n):
        img, _, _ = make_image(size, seed=i, n_text=2 + i % 3)
        folder = dest / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"img_{i:05d}.png"), img)


def run_all(tmp: Path, args: argparse.Namespace, walls: dict[int, float]) -> None:
    """Generate the images, then one flow run per worker count (wall seconds into ``walls``)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    from flows.options import SanitizeSettings
    from flows.sanitize import sanitize

    t0 = time.perf_counter()
    make_images(tmp / "in", n=args.n, size=args.size)
    print(f"{args.n} images of {args.size}px generated in {time.perf_counter() - t0:.1f} s ({os.cpu_count()} CPUs)")
    with prefect_test_harness(server_startup_timeout=120), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for w in args.workers:
            t = time.perf_counter()
            summary = sanitize(str(tmp / "in"), str(tmp / f"run_w{w}"), runner="dask", workers=w,
                               options=SanitizeSettings(device="cpu", batch_size=args.batch_size))
            walls[w] = time.perf_counter() - t
            tm = summary["timings"]
            print(f"dask workers={w}: wall {walls[w]:.1f} s (scan {tm['scan']:.1f}, rarity {tm['rarity']:.1f}, "
                  f"sanitize {tm['sanitize']:.1f}, report {tm['report']:.1f}); {summary['by_clean_status']}; "
                  f"batches {summary['batches']['scan']['computed']}+{summary['batches']['sanitize']['computed']} computed",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", type=Path, help="also write the figures here (bench/run_all.py reads it)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ufm-bench-flows-"))
    os.environ.update(PREFECT_HOME=str(tmp / "prefect"), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    os.environ.pop("PREFECT_API_URL", None)
    walls: dict[int, float] = {}
    try:
        run_all(tmp, args, walls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = walls[args.workers[0]]
    for w, s in walls.items():
        print(f"speed-up {args.workers[0]} -> {w} workers: {base / s:.2f}x ({args.n / s:.2f} images/s)")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "size": args.size, "wall_s": {str(w): round(s, 1) for w, s in walls.items()},
                                         "speedup": round(base / walls[args.workers[-1]], 2)}))


if __name__ == "__main__":
    main()
