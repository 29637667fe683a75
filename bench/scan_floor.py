"""Where the fast scan's time goes, and the floor a perfect text/non-text filter would reach (CPU).

    nice -n 10 .venv/bin/python bench/scan_floor.py [--size 1024] [--n 4] [--threads 1]

On bench/scan_synth.py images (a real chest X-ray, four burned-in lines), per image:
- ``fast``: the engine's own fast path, split into its stages: candidate pass (ink masks, lines,
  label patches, fragment bars), mosaic packing, CRAFT on the mosaic, recognition.
- ``oracle``: the same path given only the candidate lines that overlap a ground-truth line, as a
  perfect (and impossible) text/non-text filter on the candidates would. Its CRAFT + recognition time
  is the floor of any candidate filter with this detector and recogniser.
Both print recall (>= 50% of a line covered, :mod:`ufmclean.ocr.recall`), CPU s per stage and in all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))


class Clock:
    """CPU seconds per named stage, summed over calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def __call__(self, stage: str, fn):
        c = time.process_time()
        out = fn()
        self.spent[stage] = self.spent.get(stage, 0.0) + time.process_time() - c
        return out


def fast_path(engine, grey, clock: Clock, *, keep=None):
    """The engine's fast path on ``grey``, stage by stage; ``keep(line) -> bool`` filters candidate lines."""
    from ufmclean.ocr.fast import drop_duplicates, fragment_letters, label_patches, plan_crops, text_lines, uncovered
    from ufmclean.ocr.mosaic import boxes_from_mosaic, pack_mosaic

    s = engine.candidates
    h, w = grey.shape
    lines = clock("candidates", lambda: text_lines(grey, settings=s))
    if keep is not None:
        lines = [ln for ln in lines if keep(ln)]
    crops = plan_crops(grey, settings=s, lines=lines)
    canvas, placements = clock("packing", lambda: pack_mosaic(grey, crops, canvas_width=s.canvas_width, gap=s.gap))
    boxes = clock("craft", lambda: boxes_from_mosaic(engine._detect(canvas), placements, height=h, width=w))
    direct = []
    if keep is None:  # the other candidate sources, as the engine adds them
        patches = clock("candidates", lambda: label_patches(grey, settings=s))
        bars = clock("candidates", lambda: fragment_letters(grey, settings=s))
        short = [ln for ln in uncovered(lines, boxes) if ln.width <= 2 * ln.height and ln.height <= engine.direct_max_height]
        direct = [ln.pad(max(4, ln.height // 3), height=h, width=w) for ln in short]
        direct += [p.pad(1, height=h, width=w) for p in uncovered(patches, boxes)] + uncovered(bars, boxes)
    tallest = max(engine.max_region_fraction * min(grey.shape), engine.min_dropped_height)
    boxes = [b for b in boxes if b.height <= tallest]
    regions = clock("recognition", lambda: engine._recognize(grey, drop_duplicates(boxes), direct))
    return regions, canvas.size, len(crops)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from scan_synth import make_items

    from ufmclean.ocr.easyocr_engine import EasyOcrEngine
    from ufmclean.ocr.recall import is_found
    from ufmclean.records import BBox

    engine = EasyOcrEngine("cpu", strategy="fast")
    for name in ("fast", "oracle"):
        clock, found, total, pixels, crops = Clock(), 0, 0, 0, 0
        for i in range(args.n):
            img, items = make_items(args.size, args.seed + i)
            truth = [BBox(*it["box"]) for it in items]
            keep = (lambda ln: any(ln.intersection(t) > 0 for t in truth)) if name == "oracle" else None
            regions, px, nc = fast_path(engine, img, clock, keep=keep)
            found += sum(is_found(t, [r.bbox for r in regions]) for t in truth)
            total += len(truth)
            pixels, crops = pixels + px, crops + nc
        per = {k: v / args.n for k, v in clock.spent.items()}
        stages = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
        print(f"{name:<7} {args.size}², {args.n} images, {args.threads} thread(s): {sum(per.values()):.2f} CPU s/img "
              f"({stages}); {crops / args.n:.1f} crops, mosaic {pixels / args.n / 1e3:.0f} kpx; recall {found}/{total}",
              flush=True)


if __name__ == "__main__":
    main()
