"""Run the benchmarks once and print one table (issue 7): speed, quality, scale-out, verify.

    nice -n 10 .venv/bin/python bench/run_all.py [--quick] [--skip dask verify] [--device auto]

Each part is its own script run as a subprocess (so peak RSS is that part's alone); each writes JSON that
this script reads:
- ``bench/scan.py``: images/s, CPU s/img and recall at 512², 1024², 2048² for ufmclean (text engine and the
  whole scan), raw full-frame easyocr and Presidio (when /tmp/presidio-venv exists);
- ``bench/quality.py``: recall, precision, residual leak (re-OCR of ground-truth boxes after sanitising),
  common items kept on sample_data; known fake PHI legible before/after on ../shared/data;
- ``bench/flows_dask.py``: the sanitize flow on 1 vs 2 Dask workers;
- ``bench/verify_kermany.py``: the canary memorisation experiment at 64² (wall time, seeds significant);
- ``bench/rss.py``: peak RSS of one ``ufmclean sanitize`` worker process at 512², 1024², 2048².
Peak RSS per part is that child process's ``ru_maxrss`` (``os.wait4``: the largest of the process and
its waited-for children); for scan and quality it includes the comparison readers (raw full-frame
easyocr on up to 2048², the 3x-upscaled legibility reader), so the product's own figure is the rss part.
``--quick`` shrinks every part (a smoke run).
Prints figures; asserts nothing.
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
PARTS = ["scan", "quality", "dask", "verify", "rss"]
PY = sys.executable


def _run(name: str, argv: list[str], json_path: Path) -> dict:
    """Run one bench script; return its JSON (or the error), wall seconds and the child's peak RSS (MB)."""
    import os

    log = REPO / "bench" / "out" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([PY, *argv], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS in KiB on Linux)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out: dict = {"wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    if proc.returncode != 0 or not json_path.is_file():
        out["error"] = f"exit {proc.returncode}; see bench/out/{name}.log"
        return out
    out["data"] = json.loads(json_path.read_text())
    return out


def _fmt(v: object, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def table(results: dict) -> list[tuple[str, str, str]]:
    """Rows ``(part, metric, value)`` of the one table."""
    rows: list[tuple[str, str, str]] = []
    for name, res in results.items():
        rows.append((name, "wall s / peak RSS MB", f"{res['wall_s']} / {res['peak_rss_mb']}"))
        if "error" in res:
            rows.append((name, "error", res["error"]))
            continue
        d = res["data"]
        if name == "scan":
            for r in d["rows"]:
                rows.append((name, f"{r['tool']} {r['size']}²",
                             f"{_fmt(r['images_per_s'], '.3f')} img/s, {_fmt(r['cpu_s_per_image'], '.2f')} CPU s/img, "
                             f"recall {_fmt(r['recall'])}, PHI recall {_fmt(r['phi_recall'])}"))
            if not d.get("presidio_installed"):
                rows.append((name, "presidio", "not installed (/tmp/presidio-venv; anchors.md §4)"))
        elif name == "quality":
            s = d["sample_data"]
            rows += [(name, "sample_data text recall", f"{s['text_recall']:.3f} of {s['text_items']}"),
                     (name, "sample_data precision", f"{s['precision']:.3f} of {s['detections']} detections"),
                     (name, "sample_data residual leak", f"{s['residual_leak']:.3f} of {s['rare_or_phi_checked']} "
                                                         f"rare/PHI items (held {s['held']})"),
                     (name, "sample_data common kept", f"{s['common_kept']:.3f}"),
                     (name, "sample_data sanitize speed", f"{s['images_per_s']} img/s ({s['images']} images)")]
            if d.get("shared"):
                b = d["shared"]
                rows.append((name, "shared fake PHI legible", f"{b['phi_legible_before']} before -> "
                                                              f"{b['phi_legible_after']} after ({b['files']} files)"))
        elif name == "dask":
            rows.append((name, f"sanitize flow, {d['n']} images of {d['size']}²",
                         ", ".join(f"{w} worker(s) {s} s" for w, s in d["wall_s"].items())
                         + f"; speed-up {d['speedup']}x"))
        elif name == "verify":
            rows += _verify_rows(d)
        elif name == "rss":
            rows += [(name, f"sanitize {r['size']}², {r['workers']} worker(s)",
                      f"peak RSS {r['peak_rss_mb']} MB per process ({r['images']} images, {r['wall_s']} s, exit {r['rc']})")
                     for r in d["rows"]]
    return rows


def _verify_rows(d: dict) -> list[tuple[str, str, str]]:
    seeds = {p["seed"] for p in d["probes"]}
    train_s = [p["train_s_before"] for p in d["probes"]] + [p["train_s_after"] for p in d["probes"]]
    out = [("verify", "Kermany canary experiment wall",
            f"{d['wall_seconds']:.0f} s for {len(seeds)} seed(s) x k={d['args']['ks']} "
            f"({d['args']['size']}², {d['args']['model']}, {d['args']['epochs']} epochs); "
            f"one probe trains in {min(train_s):.0f}-{max(train_s):.0f} s on {d['probes'][0]['device']}")]
    for k in sorted({r["k"] for r in d["rows"]}):
        sel = [r for r in d["rows"] if r["k"] == k and r["test"] == "white/A"]
        before = sum(r["p_before"] < 0.05 for r in sel)
        after = sum(r["p_after"] < 0.05 for r in sel)
        acc = [p for p in d["probes"] if p["k"] == k]
        accb = sum(p["acc_before"] for p in acc) / len(acc)
        acca = sum(p["acc_after"] for p in acc) / len(acc)
        out.append(("verify", f"k={k} white/A significant", f"{before} -> {after} of {len(seeds)} seeds; "
                                                            f"accuracy {accb:.3f} -> {acca:.3f}"))
    return out


def main() -> None:
    """Run the parts and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes everywhere (a smoke run)")
    ap.add_argument("--skip", nargs="*", default=[], choices=PARTS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--verify-seeds", type=int, default=10,
                    help="seeds of the Kermany experiment (each ~2-4 min on 2 CPU cores for k=1,5,25)")
    ap.add_argument("--dask-n", type=int, default=500, help="images for the 1 vs 2 Dask workers part")
    ap.add_argument("--table-from", type=Path, help="print the table of an earlier run's JSON (runs nothing)")
    ap.add_argument("--add-to-saved", action="store_true",
                    help="start from bench/out/run_all.json and (re)run only the parts not skipped")
    args = ap.parse_args()
    if args.table_from:
        print_table(json.loads(args.table_from.read_text()))
        return
    saved = REPO / "bench" / "out" / "run_all.json"
    q = args.quick
    with tempfile.TemporaryDirectory(prefix="ufm-run-all-") as tmp:
        t = Path(tmp)
        parts = {
            "scan": (["bench/scan.py", "--n", "1" if q else "2", "--threads", "1", "--json", str(t / "scan.json")]
                     + (["--sizes", "512", "1024"] if q else []), t / "scan.json"),
            "quality": (["bench/quality.py", "--device", args.device, "--json", str(t / "quality.json")]
                        + (["--skip-shared"] if q else []), t / "quality.json"),
            "dask": (["bench/flows_dask.py", "--n", "16" if q else str(args.dask_n), "--size", "128" if q else "256",
                      "--json", str(t / "dask.json")], t / "dask.json"),
            "rss": (["bench/rss.py", "--n", "1" if q else "2", "--json", str(t / "rss.json")]
                    + (["--sizes", "512"] if q else []), t / "rss.json"),
            "verify": (["bench/verify_kermany.py", "--ks", "1" if q else "1,5,25", "--seeds", "1" if q else str(args.verify_seeds),
                        "--device", args.device, "--out", str(t / "verify")], t / "verify" / "results.json"),
        }
        results = json.loads(saved.read_text()) if args.add_to_saved and saved.is_file() else {}
        for name, (argv, path) in parts.items():
            if name in args.skip:
                continue
            print(f"running {name} ...", flush=True)
            results[name] = _run(name, argv, path)
            saved.write_text(json.dumps(results, indent=1, default=str))  # after each part: a late failure keeps the rest
    print_table(results)
    print(f"\nfigures saved to {saved.relative_to(REPO)} (re-print with --table-from)")


def print_table(results: dict) -> None:
    """Print the one table of ``results`` (part name -> ``_run`` output)."""
    rows = table(results)
    width = max((len(m) for _, m, _ in rows), default=10)
    print(f"\n{'part':<8} {'metric':<{width}}  value")
    for part, metric, value in rows:
        print(f"{part:<8} {metric:<{width}}  {value}")


if __name__ == "__main__":
    main()
