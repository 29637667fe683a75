"""Peak memory of ``ufmclean sanitize`` per worker process at 512², 1024² and 2048² (CPU, default engine).

    .venv/bin/python bench/rss.py [--n 2 6] [--sizes 512 1024 2048] [--workers 1 2] [--json OUT.json]

Each configuration is one CLI run (``ufmclean sanitize DIR --out RUN --device cpu --workers W``) on
``n`` synthetic chest X-rays with burned-in text (bench/scan_synth.py). Its peak RSS comes from
``os.wait4`` on the CLI process: on Linux that is the largest of the process and its waited-for
children, i.e. the largest worker when ``--workers`` > 1. Several ``--n`` counts show whether the
peak is flat in dataset size (issue 18's goal: under 2.5 GB per worker at 2048², flat in N). Prints
figures and a closing sentence; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def measure(inp: Path, run: Path, workers: int) -> dict:
    """Run the CLI once; return exit code, wall seconds and peak RSS (MB)."""
    cli = Path(sys.executable).with_name("ufmclean")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(cli), "sanitize", str(inp), "--out", str(run), "--device", "cpu",
                             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(REPO)})  # this checkout's code
    _, status, usage = os.wait4(proc.pid, 0)
    return {"rc": os.waitstatus_to_exitcode(status), "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    """Write the images, run each (size, workers) configuration, print one line each."""
    import cv2
    from scan_synth import make_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[2], help="images per size (several counts: is the peak flat?)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ufm-bench-rss-"))
    rows = []
    try:
        for size in args.sizes:
            for n in sorted(args.n):
                inp = tmp / f"in_{size}_{n}"
                for i in range(n):
                    folder = inp / ("a" if i % 2 else "b")
                    folder.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(folder / f"img_{i:03d}.png"), make_image(size, seed=200 + i)[0])
                for w in args.workers:
                    row = {"size": size, "images": n, "workers": w, **measure(inp, tmp / f"run_{size}_{n}_{w}", w)}
                    rows.append(row)
                    print(f"{size}² x{n}, {w} worker(s): peak RSS {row['peak_rss_mb']} MB per process, "
                          f"wall {row['wall_s']} s, exit {row['rc']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}))
    top = max(rows, key=lambda r: (r["size"], r["peak_rss_mb"]))
    same = [r["peak_rss_mb"] for r in rows if r["size"] == top["size"] and r["workers"] == top["workers"]]
    print(f"Largest peak at {top['size']}²: {top['peak_rss_mb'] / 1024:.2f} GB per process "
          f"({'under' if top['peak_rss_mb'] < 2560 else 'OVER'} the 2.5 GB goal); across "
          f"{', '.join(str(r['images']) for r in rows if r['size'] == top['size'] and r['workers'] == top['workers'])} "
          f"images it spans {min(same):.0f}-{max(same):.0f} MB"
          f"{' (flat)' if max(same) - min(same) < 150 else ' (grows with the dataset: look for a leak)'}.")


if __name__ == "__main__":
    main()
