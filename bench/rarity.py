"""Time the rarity stage on synthetic findings: N images x a few findings, mostly common text.

Usage: .venv/bin/python bench/rarity.py [--images 100000] [--rare-fraction 0.02]
Prints wall time and peak RSS; no assertions (timing goals live here, not in tests).
"""

import argparse
import random
import resource
import time

from ufmclean.rarity import RarityOptions, apply_rarity
from ufmclean.records import BBox, Finding

COMMON = ["PORTABLE", "AP", "L", "R", "SUPINE", "UPRIGHT", "PA"]


def main() -> None:
    """Build synthetic findings and time :func:`apply_rarity`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--rare-fraction", type=float, default=0.02)
    args = parser.parse_args()
    rng = random.Random(0)
    box = BBox(0, 0, 8, 8)
    findings = []
    for i in range(args.images):
        image = f"{i:08x}"
        for n, word in enumerate(rng.sample(COMMON, 3)):
            findings.append(Finding(f"{image}-{n}", image, image, 0, "text", box, text=word))
        if rng.random() < args.rare_fraction:
            name = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(5, 14)))
            findings.append(Finding(f"{image}-x", image, image, 0, "text", box, text=name))
    start = time.perf_counter()
    out, _ = apply_rarity(findings, n_images=args.images, options=RarityOptions())
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"images={args.images} findings={len(out)} rare={sum(f.is_rare for f in out)} "
          f"seconds={seconds:.2f} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()
