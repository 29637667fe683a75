"""Where the fast scan's time goes, and the floor a perfect text/non-text filter would reach (CPU).

    nice -n 10 .venv/bin/python bench/scan_floor.py [--size 1024] [--n 4] [--threads 1]

On bench/scan_synth.py images (a real chest X-ray, four burned-in lines), per image:
- ``fast``: ``EasyOcrEngine.read`` (fast strategy) with its stages timed: candidate pass (lines,
  label patches, fragment bars), mosaic packing, CRAFT, recognition.
- ``oracle``: the same call with every candidate source keeping only boxes that overlap a
  ground-truth line, as a perfect (and impossible) text/non-text filter on the candidates would.
  Its CRAFT + recognition time is the floor of any candidate filter with this detector and recogniser.
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

    def wrap(self, stage: str, fn, *, keep=None):
        """``fn`` timed under ``stage``; with ``keep``, only the boxes it returns that ``keep`` accepts."""

        def timed(*args, **kwargs):
            c = time.process_time()
            out = fn(*args, **kwargs)
            self.spent[stage] = self.spent.get(stage, 0.0) + time.process_time() - c
            return [b for b in out if keep(b)] if keep is not None and out is not None else out

        return timed


def instrumented_read(engine, grey, clock: Clock, *, keep=None):
    """``engine.read(grey)`` with each stage timed; ``keep(box) -> bool`` filters every candidate source.

    The engine's own code runs: its module-level candidate functions and its detector/recogniser
    methods are wrapped for the call and restored after it.
    """
    from ufmclean.ocr import easyocr_engine as mod

    stages = {"text_lines": "candidates", "label_patches": "candidates", "fragment_letters": "candidates",
              "pack_mosaic": "packing"}
    saved = {name: getattr(mod, name) for name in stages}
    try:
        for name, stage in stages.items():
            setattr(mod, name, clock.wrap(stage, saved[name], keep=keep if stage == "candidates" else None))
        engine._detect = clock.wrap("craft", type(engine)._detect.__get__(engine))
        engine._recognize = clock.wrap("recognition", type(engine)._recognize.__get__(engine))
        return engine.read(grey)
    finally:
        for name, fn in saved.items():
            setattr(mod, name, fn)
        del engine._detect, engine._recognize


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
        clock, found, total = Clock(), 0, 0
        for i in range(args.n):
            img, items = make_items(args.size, args.seed + i)
            truth = [BBox(*it["box"]) for it in items]
            keep = (lambda ln, truth=truth: any(ln.intersection(t) > 0 for t in truth)) if name == "oracle" else None
            regions = instrumented_read(engine, img, clock, keep=keep)
            found += sum(is_found(t, [r.bbox for r in regions]) for t in truth)
            total += len(truth)
        per = {k: v / args.n for k, v in clock.spent.items()}
        stages = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
        print(f"{name:<7} {args.size}², {args.n} images, {args.threads} thread(s): {sum(per.values()):.2f} CPU s/img "
              f"({stages}); recall {found}/{total}", flush=True)


if __name__ == "__main__":
    main()
