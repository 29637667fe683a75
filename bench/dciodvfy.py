"""Are the DICOM that sanitize writes valid? dciodvfy (Debian dicom3tools) errors, input vs outputs.

    PYTHONPATH=$PWD .venv/bin/python bench/dciodvfy.py [--header deidentify|keep] [ROOT ...]

For every DICOM under ROOT (default: sample_data/ and ../shared/data/) that loads, the two files
sanitize can write are produced with the same functions sanitize uses: the *copy* (nothing to remove:
``redact.writeback._write_copy``, header de-identified, pixel data bytes kept) and a *written* file
(a corner box inpainted: ``io.write.write_image`` with the run's header de-identifier, so pixels are
re-stored and the SOP Instance UID derived). dciodvfy's ``Error`` lines are compared: the table shows
per file the input's error count and the outputs' counts of errors the input did not have (``new``).
Error lines are normalised (values in brackets dropped); only counts and element names are printed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def dciodvfy_errors(path: str | Path) -> set[str]:
    """dciodvfy's ``Error`` lines for ``path``, values dropped (so a pseudonym does not count as new)."""
    res = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace", timeout=120)
    lines = (res.stdout + res.stderr).splitlines()
    return {re.sub(r"\[[^\]]*\]|\"[^\"]*\"|=\s*<[^>]*>\s*$", "", ln).strip() for ln in lines if ln.startswith("Error")}


def is_dicom(path: Path) -> bool:
    """Part 10 preamble or a ``.dcm`` name."""
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM" or path.suffix.lower() == ".dcm"
    except OSError:
        return False


def sanitized_outputs(src: Path, out_dir: Path, deid) -> dict[str, Path]:
    """Write the copy and a written (inpainted corner) version of ``src`` into ``out_dir``.

    Returns ``{"copied": path, "written": path}`` for those that could be written; raises
    ``LoadError`` when the input does not load (sanitize would give it an error row).
    """

    from ufmclean.errors import UfmError
    from ufmclean.io import load_image
    from ufmclean.io.discover import _record_for_file
    from ufmclean.io.write import write_image
    from ufmclean.redact.writeback import _write_copy

    rec = _record_for_file(str(src), src.name)
    loaded = load_image(rec)
    out: dict[str, Path] = {}
    dest = out_dir / "copied.dcm"
    try:
        _write_copy(rec, loaded, dest, deid=deid, keep_metadata=False)
        out["copied"] = dest
    except UfmError:
        pass
    new = loaded.raw.copy()
    h, w = new.shape[1] // 8 + 1, new.shape[2] // 8 + 1
    new[:, :h, :w] = new.min()
    dest = out_dir / "written.dcm"
    try:
        write_image(loaded, new, dest, method="inpaint", deid=deid, markers=deid is not None)
        out["written"] = dest
    except UfmError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when any output has an error its input did not have."""
    from ufmclean.io.deid import HeaderDeidentifier, run_secret

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", type=Path, default=[REPO / "sample_data", REPO.parent / "shared" / "data"])
    ap.add_argument("--header", choices=("deidentify", "keep"), default="deidentify")
    args = ap.parse_args(argv)
    if shutil.which("dciodvfy") is None:
        print("dciodvfy not found (apt-get install dicom3tools)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ufm-dciodvfy-"))
    deid = HeaderDeidentifier(run_secret(tmp / "pseudonym.key")) if args.header == "deidentify" else None
    files = [p for root in args.roots if root.is_dir() for p in sorted(root.rglob("*")) if p.is_file() and is_dicom(p)]
    print(f"{'file':60s} {'in':>4s} {'copy new':>8s} {'write new':>9s}  new errors (element names)")
    bad = n_ok = 0
    totals = {"in": 0, "copied": 0, "written": 0}
    for i, src in enumerate(files):
        name = str(src.relative_to(REPO.parent) if REPO.parent in src.parents else src)[-60:]
        try:
            outs = sanitized_outputs(src, tmp / str(i), deid) if (tmp / str(i)).mkdir() is None else {}
        except Exception as exc:
            print(f"{name:60s}  not written ({type(exc).__name__})")
            continue
        n_ok += 1
        before = dciodvfy_errors(src)
        cols, notes = [], set()
        for kind in ("copied", "written"):
            if kind not in outs:
                cols.append("-")
                continue
            new = dciodvfy_errors(outs[kind]) - before
            totals[kind] += len(new)
            cols.append(str(len(new)))
            notes |= {m.group(1) for e in new if (m := re.search(r"Element=<([^>]*)>", e))} or ({"?"} if new else set())
        totals["in"] += len(before)
        bad += bool(notes)
        print(f"{name:60s} {len(before):4d} {cols[0]:>8s} {cols[1]:>9s}  {', '.join(sorted(notes))}")
    print(f"\n{n_ok} DICOM written of {len(files)}; input errors {totals['in']}, new errors: copies "
          f"{totals['copied']}, written {totals['written']}; files with a new error: {bad}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
