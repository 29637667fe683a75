"""Scan speed and recall at 512², 1024², 2048² and on real chest X-rays: ufmclean vs raw easyocr vs Presidio (CPU).

    .venv/bin/python bench/scan.py [--sizes 512 1024 2048] [--n 16 16 8] [--real 16]
        [--tools cli cli1 ufmclean scan easyocr presidio] [--engine ppocr] [--workers 2] [--sample-data 0] [--threads 2]
        [--repeat 1]

Run it on a quiet machine: every figure is wall time. Each subprocess tool first runs once on one
image, untimed, so both start from a warm disk cache. On a shared machine one run's ratio moves by
±20 % (512²: 1.56x and 2.34x in two runs a day apart): ``--repeat R`` times the subprocess tools R
times, alternating, reports each tool's median-wall run and prints every run's ratio.

Images: bench/scan_synth.py: synthetic sets (a real chest X-ray background when ../shared/data is
present, else smooth noise; four burned-in lines of 8-72 px Hershey text per image: bright,
low-contrast, dark-on-light) at each ``--sizes``, and ``--real N`` real full-resolution chest X-rays
(../shared/data/cxr_fullres_samples, 512-1776 px) with four lines each stamped in TrueType fonts
(DejaVu Sans/Mono/Serif, regular and bold), 1-4% of the image height, in corners and at edges,
white, black or dark on a light label. Every real background is a random 90-100% crop with its own
gamma (``scan_synth.jitter``): no two images share pixels, since the engine reuses reads of crops it
has seen and the 4 repeated backgrounds would flatter it. Recall: a ground-truth line counts as found when the union
of a tool's boxes covers >= 50% of it (:mod:`ufmclean.ocr.recall`, the same definition the tests use).

Tools:
- ``cli``: ``ufmclean scan PNG_DIR --out RUN --workers W`` as a user runs it, in a subprocess:
  timed from start to exit, so imports and model loading are included (CPU = the subprocess tree's).
- ``cli1``: the same with one worker of one thread (ONNX Runtime and OpenCV); with ``cli`` it gives
  the worker-scaling figure.
- ``presidio``: likewise one subprocess (model loading included) over the DICOM copies; details below.
  These two are the like-for-like pair: the last lines print cli images/s over presidio images/s.
In-process (models loaded once, before timing; timings are per image, wall and CPU seconds):
- ``ufmclean``: ``detect.text.text_findings`` with the ``--engine`` engine (fast strategy).
- ``scan``: the whole ``pipeline.scan.run_scan`` (load, OCR, markers, rarity, tables) with workers=1,
  on the same engine.
- ``easyocr``: raw full-frame ``easyocr.Reader.readtext`` with its default settings.
- ``presidio``: ``DicomImageRedactorEngine.redact_and_return_bbox`` (Tesseract, spaCy blank English
  pipeline, metadata deny-list) in /tmp/presidio-venv via a subprocess, on DICOM copies of the same
  pixels. Two recalls: of all text from its Tesseract words (``recall``), and of PHI lines from the
  boxes it redacts (``phi``). Its per-image figures exclude loading; the ``presidio+load`` row
  times the whole subprocess. Prints "not installed" without that venv.
``--real12 N``: the real set's images again, as 12-bit CR DICOM with a clinical VOI window (2nd-98th
percentile), which ``cli`` scans as DICOM like Presidio: the display clips the extremes, so the scan
reads the full-range view too (issue 17) and the ratio includes that second view's cost.
``--sample-data N`` also scores the ufmclean engine on the first N images of sample_data/ per style.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
PRESIDIO_PY = Path("/tmp/presidio-venv/bin/python")
PRESIDIO_MODEL = Path("/tmp/presidio-venv/en_blank")

PRESIDIO_WORKER = r"""
import json, os, sys, time
import pydicom
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_image_redactor import DicomImageRedactorEngine, ImageAnalyzerEngine
files, model = json.loads(sys.argv[1]), sys.argv[2]
cfg = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
analyzer = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=cfg).create_engine(), supported_languages=["en"])
image_analyzer = ImageAnalyzerEngine(analyzer_engine=analyzer)
engine = DicomImageRedactorEngine(image_analyzer_engine=image_analyzer)
ocr = image_analyzer.ocr
seen = []
original = ocr.perform_ocr
def spy(image, **kw):
    out = original(image, **kw)
    seen.append(out)
    return out
ocr.perform_ocr = spy
PAD = 25  # redact_and_return_bbox's default padding_width: OCR sees the frame with this border
out = {}
for f in files:
    ds = pydicom.dcmread(f)
    seen.clear()
    t, c = time.perf_counter(), os.times()
    _, boxes = engine.redact_and_return_bbox(ds, fill="contrast", use_metadata=True)
    e = os.times()  # Tesseract runs as a child process: count its CPU too
    wall = time.perf_counter() - t
    cpu = (e.user - c.user) + (e.system - c.system) + (e.children_user - c.children_user) + (e.children_system - c.children_system)
    words = []
    for d in seen:
        for i, txt in enumerate(d["text"]):
            if str(txt).strip():
                x, y = d["left"][i] - PAD, d["top"][i] - PAD
                words.append([x, y, x + d["width"][i], y + d["height"][i]])
    red = [[b["left"], b["top"], b["left"] + b["width"], b["top"] + b["height"]] for b in boxes]
    out[f] = {"wall": wall, "cpu": cpu, "words": words, "redacted": red}
print(json.dumps(out))
"""


def score(truth: list[dict], boxes: list[list[int]], *, phi_only: bool = False,
          min_cover: float = 0.5) -> tuple[int, int]:
    """``(found, total)`` ground-truth lines of one image covered to ``min_cover`` by ``boxes`` ([x0, y0, x1, y1])."""
    from ufmclean.ocr.recall import recall
    from ufmclean.records import BBox

    pred = [BBox(*map(int, b)) for b in boxes if b[2] > b[0] and b[3] > b[1]]
    return recall(((BBox(*it["box"]), pred) for it in truth if it["phi"] or not phi_only), min_cover=min_cover)


def _order(kv: tuple) -> tuple:
    (tool, size), _ = kv
    return (int(size) if size.isdigit() else 10**6, size, tool)


class Tally:
    """Per (tool, size): images, wall and CPU seconds, and recall counts by style.

    ``whole``: lines covered to 90 % (recall counts a line covered by half; what a box leaves out
    stays legible after redaction)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], dict] = {}

    def add(self, tool: str, size: int | str, truth: list[dict], boxes: list, wall: float, cpu: float,
            phi_boxes: list | None = None) -> None:
        r = self.rows.setdefault((tool, str(size)), {"n": 0, "wall": 0.0, "cpu": 0.0, "found": 0, "total": 0,
                                                "whole": 0, "phi": [0, 0], "styles": {}})
        r["n"] += 1
        r["wall"] += wall
        r["cpu"] += cpu
        for it in truth:
            f, _ = score([it], boxes)
            r["found"] += f
            r["whole"] += score([it], boxes, min_cover=0.9)[0]
            r["total"] += 1
            st = r["styles"].setdefault(it["style"], [0, 0])
            st[0] += f
            st[1] += 1
        pf, pt = score(truth, phi_boxes if phi_boxes is not None else boxes, phi_only=True)
        r["phi"][0] += pf
        r["phi"][1] += pt

    def as_rows(self) -> list[dict]:
        """Per (tool, size) figures as plain dicts (for ``--json`` / bench/run_all.py)."""
        out = []
        for (tool, size), r in sorted(self.rows.items(), key=_order):
            out.append({"tool": tool, "size": size, "n": r["n"], "images_per_s": r["n"] / r["wall"],
                        "cpu_s_per_image": r["cpu"] / r["n"],
                        "recall": r["found"] / r["total"] if r["total"] else None,
                        "whole": r["whole"] / r["total"] if r["total"] else None,
                        "phi_recall": r["phi"][0] / r["phi"][1] if r["phi"][1] else None})
        return out

    def print(self) -> None:
        print(f"\n{'tool':<14}{'set':>6}{'n':>4}{'img/s':>8}{'s/img':>8}{'cpu s/img':>10}{'recall':>9}{'whole':>7}"
              f"{'phi':>7}  by style (found/total)")
        for (tool, size), r in sorted(self.rows.items(), key=_order):
            rec = r["found"] / r["total"] if r["total"] else float("nan")
            whole = r["whole"] / r["total"] if r["total"] else float("nan")
            phi = r["phi"][0] / r["phi"][1] if r["phi"][1] else float("nan")
            styles = " ".join(f"{k}={v[0]}/{v[1]}" for k, v in sorted(r["styles"].items()))
            print(f"{tool:<14}{size:>6}{r['n']:>4}{r['n'] / r['wall']:>8.2f}{r['wall'] / r['n']:>8.2f}"
                  f"{r['cpu'] / r['n']:>10.2f}{rec:>9.3f}{whole:>7.3f}{phi:>7.3f}  {styles}")

    @classmethod
    def median_of(cls, tallies: list[Tally]) -> Tally:
        """One tally holding, per (tool, size), the row of the run with the median wall time (``--repeat``)."""
        out = cls()
        for key in {k for t in tallies for k in t.rows}:
            rows = sorted((t.rows[key] for t in tallies if key in t.rows), key=lambda r: r["wall"])
            out.rows[key] = rows[(len(rows) - 1) // 2]
        return out

    def ratios(self) -> dict[str, float]:
        """Per set: cli images/s over presidio+load images/s, where both ran."""
        out = {}
        for (tool, size), r in self.rows.items():
            p = self.rows.get(("presidio+load", size))
            if tool == "cli" and p is not None:
                out[size] = (r["n"] / r["wall"]) / (p["n"] / p["wall"])
        return out

    def print_ratio(self) -> None:
        """The like-for-like comparison: ``ufmclean scan`` (CLI) vs Presidio, both with model loading;
        and the worker scaling, ``cli`` over ``cli1`` (one single-threaded worker)."""
        for (tool, size), r in sorted(self.rows.items(), key=_order):
            one = self.rows.get(("cli1", size))
            if tool == "cli" and one is not None:
                print(f"set {size}: workers scaling {one['wall'] / r['wall']:.2f}x "
                      f"({one['n'] / one['wall']:.2f} -> {r['n'] / r['wall']:.2f} img/s)")
            ratio = self.ratios().get(size) if tool == "cli" else None
            if ratio is None:
                continue
            p = self.rows[("presidio+load", size)]
            print(f"set {size}: ufmclean scan {r['n'] / r['wall']:.2f} img/s (recall {r['found']}/{r['total']}) vs "
                  f"Presidio {p['n'] / p['wall']:.2f} img/s (recall {p['found']}/{p['total']}, PHI boxes "
                  f"{p['phi'][0]}/{p['phi'][1]}), both with model loading: {ratio:.2f}x")


def timed(fn):
    """Run ``fn()``; return ``(result, wall seconds, CPU seconds of this process)``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def run_ufmclean(engine, root: Path, truth: dict, size: int, tally: Tally) -> None:
    from ufmclean.detect.text import text_findings
    from ufmclean.io import discover, load_image

    for rec in discover(root / "png"):
        loaded = load_image(rec)
        found, wall, cpu = timed(lambda loaded=loaded: text_findings(loaded, engine))
        boxes = [[f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1] for f in found]
        tally.add("ufmclean", size, truth[Path(rec.relpath).stem], boxes, wall, cpu)


def run_whole_scan(engine, root: Path, truth: dict, size: int, tally: Tally) -> None:
    import pyarrow.parquet as pq

    from ufmclean.pipeline.scan import ScanOptions, run_scan

    run = root / "run"
    n = len(truth)
    options = ScanOptions(device="cpu", engine=getattr(engine, "name", "easyocr"))
    _, wall, cpu = timed(lambda: run_scan(root / "png", run, options=options, workers=1, engine=engine))
    rows = pq.read_table(run / "findings.parquet").to_pylist()
    for stem, items in truth.items():
        boxes = [[r["x0"], r["y0"], r["x1"], r["y1"]] for r in rows
                 if Path(r["relpath"]).stem == stem and r["kind"] == "text"]
        tally.add("scan", size, items, boxes, wall / n, cpu / n)


def run_easyocr(reader, root: Path, truth: dict, size: int, tally: Tally) -> None:
    import cv2

    from ufmclean.records import BBox

    for png in sorted((root / "png").glob("*.png")):
        img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        res, wall, cpu = timed(lambda img=img: reader.readtext(img))
        quads = [BBox.from_points(q) for q, _, _ in res]
        boxes = [[b.x0, b.y0, b.x1, b.y1] for b in quads]
        tally.add("easyocr", size, truth[png.stem], boxes, wall, cpu)


def timed_subprocess(cmd: list[str], *, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``cmd``; return ``(completed, wall seconds, CPU seconds of the child tree)``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3, 4):
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_cli(root: Path, truth: dict, size: str, tally: Tally, *, engine: str, workers: int,
            tool: str = "cli") -> None:
    """``ufmclean scan`` as a user runs it (one subprocess: imports and model loading included).

    ``tool`` ``cli1``: one worker with one thread (``OMP_NUM_THREADS=1``), the baseline of the
    worker-scaling figure.
    """
    import os
    import shutil

    import pyarrow.parquet as pq

    run = root / f"{tool}-{engine}"
    shutil.rmtree(run, ignore_errors=True)  # a second --repeat run must scan again, not resume the first
    # The windowed set is scanned as the 12-bit DICOM Presidio reads (display + full-range views).
    src = root / ("dicom" if size == "real12" else "png")
    cmd = [str(REPO / ".venv" / "bin" / "ufmclean"), "scan", str(src), "--out", str(run),
           "--engine", engine, "--workers", str(1 if tool == "cli1" else workers), "--device", "cpu"]
    # This checkout's code, whatever the venv's editable install points at (another worktree once).
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if tool == "cli1":
        # OpenCV's thread pool ignores OMP_NUM_THREADS: without its own variable "cli1" used 2 cores.
        env.update(OMP_NUM_THREADS="1", OPENCV_FOR_THREADS_NUM="1")
    _, wall, cpu = timed_subprocess(cmd, env=env)
    rows = pq.read_table(run / "findings.parquet").to_pylist()
    n = len(truth)
    for stem, items in truth.items():
        boxes = [[r["x0"], r["y0"], r["x1"], r["y1"]] for r in rows
                 if Path(r["relpath"]).stem == stem and r["kind"] == "text"]
        tally.add(tool, size, items, boxes, wall / n, cpu / n)


def warm_up(root: Path, tools: list[str], *, engine: str) -> None:
    """Run each subprocess tool once on one image, untimed: both then start from a warm disk cache
    (Presidio's first start read its libraries from disk for ~15 s), as on a machine in use."""
    from scan_synth import write_set

    truth = write_set(root, size=256, n=1, seed=0)["images"]
    scratch = Tally()
    if {"cli", "cli1"} & set(tools):
        run_cli(root, truth, "warm", scratch, engine=engine, workers=1)
    if "presidio" in tools:
        run_presidio(root, truth, "warm", scratch)


def run_presidio(root: Path, truth: dict, size: str, tally: Tally) -> bool:
    """Presidio in its venv: one subprocess over all files (loading included in ``presidio+load``)."""
    if not (PRESIDIO_PY.exists() and PRESIDIO_MODEL.exists()):
        return False
    files = [str(p) for p in sorted((root / "dicom").glob("*.dcm"))]
    proc, wall, cpu = timed_subprocess([str(PRESIDIO_PY), "-c", PRESIDIO_WORKER, json.dumps(files),
                                        str(PRESIDIO_MODEL)])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    n = len(files)
    for f in files:
        r = out[f]
        tally.add("presidio", size, truth[Path(f).stem], r["words"], r["wall"], r["cpu"], phi_boxes=r["redacted"])
        tally.add("presidio+load", size, truth[Path(f).stem], r["words"], wall / n, cpu / n, phi_boxes=r["redacted"])
    return True


def sample_data_recall(engine, n: int) -> None:
    """Recall of the ufmclean engine on sample_data/ ground truth, per style and per text length."""
    from ufmclean.detect.text import text_findings
    from ufmclean.io import discover, load_image
    from ufmclean.ocr.recall import is_found
    from ufmclean.records import BBox

    sd = REPO / "sample_data"
    items = [it for it in json.loads((sd / "ground_truth.json").read_text())["items"] if it["kind"] == "text"]
    recs = {r.relpath: r for r in discover(sd / "images")}
    counts: dict[str, list[int]] = {}
    wall = cpu = 0.0
    files = sorted(recs)[:n]
    for rp in files:
        found, w, c = timed(lambda rp=rp: text_findings(load_image(recs[rp]), engine))
        wall, cpu = wall + w, cpu + c
        for it in (i for i in items if i["relpath"] == rp):
            frames = range(len({f.frame for f in found}) or 1) if it["frame"] == "all" else [it["frame"]]
            ok = all(is_found(BBox(*it["box"]), [f.bbox for f in found if f.frame == fr]) for fr in frames)
            for key in (it["style"], "single letter" if len(it["text"]) == 1 else "words", "all"):
                counts.setdefault(key, [0, 0])
                counts[key][0] += ok
                counts[key][1] += 1
    print(f"\nsample_data ({len(files)} images of 256², ufmclean engine): {wall / len(files):.2f} s/img wall, "
          f"{cpu / len(files):.2f} CPU")
    for k, (f, t) in sorted(counts.items()):
        print(f"  {k:<14} {f}/{t} = {f / t:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[512, 1024, 2048])
    ap.add_argument("--n", type=int, nargs="+", default=[16, 16, 8], help="images per size (one value or one per size)")
    ap.add_argument("--real", type=int, default=16, help="real chest X-rays with TrueType text (0: none)")
    ap.add_argument("--real12", type=int, default=0,
                    help="the same as 12-bit DICOM with a clinical window, scanned as DICOM by both tools (0: none)")
    ap.add_argument("--tools", nargs="+", default=["cli", "presidio"],
                    help="cli cli1 ufmclean scan easyocr presidio")
    ap.add_argument("--engine", default="ppocr", help="ufmclean OCR engine: ppocr or easyocr")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the cli tool")
    ap.add_argument("--sample-data", type=int, default=0, help="also score the engine on N sample_data images")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the in-process engines")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the subprocess tools (cli, cli1, presidio) this many times, alternating; report medians")
    ap.add_argument("--json", type=Path, help="also write the per-tool, per-size figures here")
    args = ap.parse_args()
    ns = args.n if len(args.n) == len(args.sizes) else [args.n[0]] * len(args.sizes)

    from scan_synth import write_set, write_truetype_set

    engine = reader = None
    if {"ufmclean", "scan"} & set(args.tools) or args.sample_data:
        from ufmclean.ocr import get_engine, set_thread_budget

        set_thread_budget(args.threads)
        engine, load_s, _ = timed(lambda: get_engine("cpu", engine=args.engine))
        print(f"ufmclean {args.engine} engine loaded in {load_s:.1f} s")
    if "easyocr" in args.tools:
        import easyocr
        import easyocr_en_models
        import torch

        torch.set_num_threads(args.threads)
        reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(),
                                download_enabled=False, verbose=False)
    tally = Tally()
    spread: dict[str, list[float]] = {}
    presidio_ok = None
    with tempfile.TemporaryDirectory(prefix="ufm-bench-scan-") as tmp:
        warm_up(Path(tmp) / "warm", args.tools, engine=args.engine)
        sets = [(str(size), lambda root, size=size, n=n: write_set(root, size=size, n=n, seed=args.seed))
                for size, n in zip(args.sizes, ns)]
        if args.real:
            sets.append(("real", lambda root: write_truetype_set(root, n=args.real, seed=args.seed)))
        if args.real12:
            sets.append(("real12", lambda root: write_truetype_set(root, n=args.real12, seed=args.seed, windowed=True)))
        for name, make in sets:
            root = Path(tmp) / name
            truth = make(root)["images"]
            if not truth:
                print(f"set {name}: no images (../shared/data absent)")
                continue
            print(f"set {name}: {len(truth)} images, {sum(len(v) for v in truth.values())} text lines", flush=True)
            # Subprocess tools alternate, --repeat times, so a burst of load elsewhere hits all of them.
            reps = [Tally() for _ in range(args.repeat)]
            for rep in reps:
                for tool in ("cli", "cli1"):
                    if tool in args.tools:
                        run_cli(root, truth, name, rep, engine=args.engine, workers=args.workers, tool=tool)
                if "presidio" in args.tools:
                    presidio_ok = run_presidio(root, truth, name, rep)
            if args.repeat > 1 and reps[0].ratios():
                spread[name] = [rep.ratios()[name] for rep in reps]
            tally.rows.update(Tally.median_of(reps).rows)
            if "ufmclean" in args.tools:
                run_ufmclean(engine, root, truth, name, tally)
            if "scan" in args.tools:
                run_whole_scan(engine, root, truth, name, tally)
            if "easyocr" in args.tools:
                run_easyocr(reader, root, truth, name, tally)
    tally.print()
    print()
    tally.print_ratio()
    for name, values in spread.items():
        print(f"set {name}: ratio in each of {len(values)} alternating runs: "
              + ", ".join(f"{v:.2f}x" for v in values) + " (the rows above are each tool's median-wall run)")
    if args.json:
        args.json.write_text(json.dumps({"rows": tally.as_rows(), "presidio_installed": presidio_ok is not False}))
    if presidio_ok is False:
        print("presidio: not installed (/tmp/presidio-venv with en_blank; see ../shared/research/anchors.md §4)")
    if args.sample_data:
        sample_data_recall(engine, args.sample_data)
    print("\nA speed ratio counts only beside full recall: where ufmclean's recall on a set is below 0.99, "
          "read its misses by style above before choosing settings for real data.")


if __name__ == "__main__":
    main()
