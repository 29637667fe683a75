"""The residual check's cost: seconds per re-read region and per image, by OCR engine, and its verdicts.

    .venv/bin/python bench/residual.py [--size 1024] [--n 8] [--engines ppocr easyocr] [--real 8]

Sanitize re-reads every redacted text region of the written pixels (``redact.residual.check_residual``)
with the run's OCR engine; this times those calls inside a whole in-process ``run_sanitize`` (one
worker, one thread) on the synthetic sets of bench/scan_synth.py (a real chest X-ray background
when ../shared/data is present). Printed per engine: regions re-read, residual seconds per region
and per image, the findings escalated to a mask because inpainting left them legible, those still
legible after that (should be 0), and the whole sanitize's CPU seconds per image. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))


def measure(png_dir: Path, run: Path, engine_name: str) -> dict:
    """One in-process sanitize of ``png_dir`` into ``run`` with ``engine_name``; residual calls timed."""
    import ufmclean.redact.clean as clean
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import Policy

    spent = {"seconds": 0.0, "regions": 0}
    original = clean.check_residual

    def timed_check(findings, regions, before, after, **kw):
        regions = list(regions)
        t = time.process_time()
        out = original(findings, regions, before, after, **kw)
        spent["seconds"] += time.process_time() - t
        spent["regions"] += sum(1 for r in regions if findings[r.finding_id].kind == "text")
        return out

    clean.check_residual = timed_check
    try:
        t = time.process_time()
        run_sanitize(png_dir, run, policy=Policy(), options=SanitizeOptions(device="cpu", engine=engine_name,
                                                                           thumbnails=False, report=False),
                     scan_options={"engine": engine_name}, workers=1)
        spent["total"] = time.process_time() - t
    finally:
        clean.check_residual = original
    import pyarrow.parquet as pq

    rows = pq.read_table(run / "findings.parquet", columns=["residual_ok", "reasons"]).to_pylist()
    spent["left"] = sum(r["residual_ok"] is False for r in rows)  # still legible after escalation
    spent["escalated"] = sum("residual-escalated" in (r["reasons"] or ()) for r in rows)
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--real", type=int, default=8, help="real chest X-rays with TrueType text (0: none)")
    ap.add_argument("--engines", nargs="+", default=["ppocr", "easyocr"])
    args = ap.parse_args()

    from scan_synth import write_set, write_truetype_set

    from ufmclean.ocr import set_thread_budget

    set_thread_budget(1)
    with tempfile.TemporaryDirectory(prefix="ufm-bench-residual-") as tmp:
        sets = [(f"{args.size}²", write_set, {"size": args.size, "n": args.n})]
        if args.real:
            sets.append(("real CXR", write_truetype_set, {"n": args.real}))
        print(f"{'set':<10}{'engine':<9}{'images':>7}{'re-reads':>9}{'s/re-read':>10}{'residual s/img':>15}"
              f"{'masked':>7}{'legible':>8}{'sanitize CPU s/img':>19}")
        for name, make, kw in sets:
            root = Path(tmp) / name.replace("²", "")
            n = len(make(root, seed=100, **kw)["images"])
            if not n:
                print(f"{name}: no images (../shared/data absent)")
                continue
            for engine in args.engines:
                r = measure(root / "png", Path(tmp) / f"run-{root.name}-{engine}", engine)
                per_region = r["seconds"] / r["regions"] if r["regions"] else float("nan")
                print(f"{name:<10}{engine:<9}{n:>7}{r['regions']:>9}{per_region:>10.3f}{r['seconds'] / n:>15.2f}"
                      f"{r['escalated']:>7}{r['left']:>8}{r['total'] / n:>19.2f}", flush=True)
    print("\nre-reads: text regions re-read (an inpainted region that still reads is masked and re-read);"
          " masked: findings escalated from inpaint to mask; legible: findings still read after that."
          "\nA non-zero 'legible' count means those images are held for review, not released.")


if __name__ == "__main__":
    main()
