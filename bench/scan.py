"""Scan speed and recall at 512², 1024² and 2048²: ufmclean vs raw easyocr vs Presidio (CPU).

    nice -n 10 .venv/bin/python bench/scan.py [--sizes 512 1024 2048] [--n 4 3 2]
        [--tools ufmclean scan easyocr presidio] [--sample-data 0] [--threads 2]

Images: bench/scan_synth.py (a real chest X-ray background when ../shared/data is present, four
burned-in lines of 8-72 px text per image: bright, low-contrast, dark-on-light). Recall: a
ground-truth line counts as found when the union of a tool's boxes covers >= 50% of it
(:mod:`ufmclean.ocr.recall`, the same definition the tests use).

Tools (models are loaded once, before timing; timings are per image, wall and CPU seconds):
- ``ufmclean``: ``detect.text.text_findings`` with ``EasyOcrEngine(strategy="fast")``.
- ``scan``: the whole ``pipeline.scan.run_scan`` (load, OCR, markers, rarity, tables) with workers=1,
  on the same engine.
- ``easyocr``: raw full-frame ``easyocr.Reader.readtext`` with its default settings.
- ``presidio``: ``DicomImageRedactorEngine.redact_and_return_bbox`` (Tesseract, spaCy blank English
  pipeline, metadata deny-list) in /tmp/presidio-venv via a subprocess, on DICOM copies of the same
  pixels. Two recalls: of all text from its Tesseract words (``recall``), and of PHI lines from the
  boxes it redacts (``phi``). Prints "not installed" without that venv.
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


def score(truth: list[dict], boxes: list[list[int]], *, phi_only: bool = False) -> tuple[int, int]:
    """``(found, total)`` ground-truth lines of one image covered by ``boxes`` ([x0, y0, x1, y1])."""
    from ufmclean.ocr.recall import recall
    from ufmclean.records import BBox

    pred = [BBox(*map(int, b)) for b in boxes if b[2] > b[0] and b[3] > b[1]]
    return recall((BBox(*it["box"]), pred) for it in truth if it["phi"] or not phi_only)


class Tally:
    """Per (tool, size): images, wall and CPU seconds, and recall counts by style."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], dict] = {}

    def add(self, tool: str, size: int, truth: list[dict], boxes: list, wall: float, cpu: float,
            phi_boxes: list | None = None) -> None:
        r = self.rows.setdefault((tool, size), {"n": 0, "wall": 0.0, "cpu": 0.0, "found": 0, "total": 0,
                                                "phi": [0, 0], "styles": {}})
        r["n"] += 1
        r["wall"] += wall
        r["cpu"] += cpu
        for it in truth:
            f, _ = score([it], boxes)
            r["found"] += f
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
        for (tool, size), r in sorted(self.rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            out.append({"tool": tool, "size": size, "n": r["n"], "images_per_s": r["n"] / r["wall"],
                        "cpu_s_per_image": r["cpu"] / r["n"],
                        "recall": r["found"] / r["total"] if r["total"] else None,
                        "phi_recall": r["phi"][0] / r["phi"][1] if r["phi"][1] else None})
        return out

    def print(self) -> None:
        print(f"\n{'tool':<10}{'size':>6}{'n':>4}{'img/s':>8}{'s/img':>8}{'cpu s/img':>10}{'recall':>9}"
              f"{'phi':>7}  by style (found/total)")
        for (tool, size), r in sorted(self.rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            rec = r["found"] / r["total"] if r["total"] else float("nan")
            phi = r["phi"][0] / r["phi"][1] if r["phi"][1] else float("nan")
            styles = " ".join(f"{k}={v[0]}/{v[1]}" for k, v in sorted(r["styles"].items()))
            print(f"{tool:<10}{size:>6}{r['n']:>4}{r['n'] / r['wall']:>8.2f}{r['wall'] / r['n']:>8.2f}"
                  f"{r['cpu'] / r['n']:>10.2f}{rec:>9.3f}{phi:>7.3f}  {styles}")


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
        found, wall, cpu = timed(lambda: text_findings(loaded, engine))
        boxes = [[f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1] for f in found]
        tally.add("ufmclean", size, truth[Path(rec.relpath).stem], boxes, wall, cpu)


def run_whole_scan(engine, root: Path, truth: dict, size: int, tally: Tally) -> None:
    import pyarrow.parquet as pq

    from ufmclean.pipeline.scan import ScanOptions, run_scan

    run = root / "run"
    n = len(truth)
    _, wall, cpu = timed(lambda: run_scan(root / "png", run, options=ScanOptions(device="cpu"), workers=1,
                                          engine=engine))
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
        res, wall, cpu = timed(lambda: reader.readtext(img))
        quads = [BBox.from_points(q) for q, _, _ in res]
        boxes = [[b.x0, b.y0, b.x1, b.y1] for b in quads]
        tally.add("easyocr", size, truth[png.stem], boxes, wall, cpu)


def run_presidio(root: Path, truth: dict, size: int, tally: Tally) -> bool:
    if not (PRESIDIO_PY.exists() and PRESIDIO_MODEL.exists()):
        return False
    files = [str(p) for p in sorted((root / "dicom").glob("*.dcm"))]
    # Warm up (model and Tesseract start) on the first file, outside the timed list.
    proc = subprocess.run([str(PRESIDIO_PY), "-c", PRESIDIO_WORKER, json.dumps(files[:1] + files),
                           str(PRESIDIO_MODEL)], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for f in files:
        r = out[f]
        tally.add("presidio", size, truth[Path(f).stem], r["words"], r["wall"], r["cpu"], phi_boxes=r["redacted"])
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
        found, w, c = timed(lambda: text_findings(load_image(recs[rp]), engine))
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
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--n", type=int, nargs="+", default=[4, 3, 2], help="images per size (one value or one per size)")
    ap.add_argument("--tools", nargs="+", default=["ufmclean", "scan", "easyocr", "presidio"])
    ap.add_argument("--sample-data", type=int, default=0, help="also score the engine on N sample_data images")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--json", type=Path, help="also write the per-tool, per-size figures here")
    args = ap.parse_args()
    ns = args.n if len(args.n) == len(args.sizes) else [args.n[0]] * len(args.sizes)

    import torch

    torch.set_num_threads(args.threads)
    from scan_synth import write_set

    engine = reader = None
    if {"ufmclean", "scan"} & set(args.tools) or args.sample_data:
        from ufmclean.ocr.easyocr_engine import EasyOcrEngine

        engine, load_s, _ = timed(lambda: EasyOcrEngine("cpu", strategy="fast"))
        print(f"ufmclean engine loaded in {load_s:.1f} s")
    if "easyocr" in args.tools:
        import easyocr
        import easyocr_en_models

        reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(),
                                download_enabled=False, verbose=False)
    tally = Tally()
    presidio_ok = None
    with tempfile.TemporaryDirectory(prefix="ufm-bench-scan-") as tmp:
        for size, n in zip(args.sizes, ns):
            root = Path(tmp) / str(size)
            truth = write_set(root, size=size, n=n, seed=args.seed)["images"]
            print(f"{size}²: {n} images, {sum(len(v) for v in truth.values())} text lines", flush=True)
            if "ufmclean" in args.tools:
                run_ufmclean(engine, root, truth, size, tally)
            if "scan" in args.tools:
                run_whole_scan(engine, root, truth, size, tally)
            if "easyocr" in args.tools:
                run_easyocr(reader, root, truth, size, tally)
            if "presidio" in args.tools:
                presidio_ok = run_presidio(root, truth, size, tally)
    tally.print()
    if args.json:
        args.json.write_text(json.dumps({"rows": tally.as_rows(), "presidio_installed": presidio_ok is not False}))
    if presidio_ok is False:
        print("presidio: not installed (/tmp/presidio-venv with en_blank; see ../shared/research/anchors.md §4)")
    if args.sample_data:
        sample_data_recall(engine, args.sample_data)


if __name__ == "__main__":
    main()
