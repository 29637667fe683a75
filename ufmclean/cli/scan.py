"""``ufmclean scan INPUT --out RUN``: detect text, markers and overlays and score rarity
(wiring over :func:`ufmclean.pipeline.scan.run_scan`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ufmclean.pipeline.scan import ScanOptions

#: Flag defaults are the library's (declared once, in ScanOptions); tests/test_options_once.py checks it.
_SCAN = ScanOptions()

EXIT_OK, EXIT_USAGE, EXIT_PARTIAL, EXIT_FAIL_ON = 0, 2, 3, 4
FAIL_ON = ("rare", "phi", "any")


def fail_on_matches(summary: dict, fail_on: str | None) -> int:
    """Number of findings that trip ``--fail-on`` (``rare``: rare findings, ``phi``: PHI-typed text
    plus files whose path looks like PHI, ``any``: every finding a default sanitize would remove, i.e.
    flagged ones, plus PHI-looking paths)."""
    if fail_on is None:
        return 0
    if fail_on == "rare":
        return int(summary["n_rare"])
    paths = int(summary.get("n_phi_paths") or 0)
    if fail_on == "phi":
        return int(summary["n_phi"]) + paths
    return int(summary["n_flagged"]) + paths


def phi_paths_note(summary: dict) -> str:
    """``"; N file path(s) look like PHI (masked in the tables and report)"`` or ``""`` (for last lines)."""
    n = int(summary.get("n_phi_paths") or 0)
    return f"; {n} file path(s) look like PHI (masked in the tables and report)" if n else ""


def register(app: typer.Typer) -> None:
    """Add the ``scan`` subcommand to ``app``."""

    @app.command("scan")
    def scan_cmd(
        input_dir: Annotated[Path, typer.Argument(help="Dataset folder (read-only; never written to).")],
        out: Annotated[str, typer.Option("--out", help="Run folder: images.parquet, findings.parquet, summary.json.")],
        workers: Annotated[int | None, typer.Option(
            "--workers", help="Worker processes, one OCR model each (default: $UFMCLEAN_WORKERS, else one per CPU core).")] = None,
        device: Annotated[str, typer.Option("--device", help="OCR device: auto, cpu or cuda.")] = _SCAN.device,
        rare_max_images: Annotated[int, typer.Option(
            "--rare-max-images", help="Rare = carried by at most K distinct images.")] = _SCAN.rare_max_images,
        labels: Annotated[Path | None, typer.Option("--labels", help="CSV with columns relpath,label (or path,label); relpath is relative to INPUT.")] = None,
        engine: Annotated[str, typer.Option("--engine", help="OCR engine: ppocr (default, fast) or easyocr.")] = _SCAN.engine,
        strategy: Annotated[str, typer.Option("--strategy", help="OCR strategy: fast or full (slower).")] = _SCAN.strategy,
        markers: Annotated[bool, typer.Option("--markers/--no-markers", help="Detect non-text burned-in marks.")] = _SCAN.markers,
        batch_size: Annotated[int, typer.Option("--batch-size", help="Images per resumable batch.")] = _SCAN.batch_size,
        max_pixels: Annotated[int, typer.Option(
            "--max-pixels", help="Refuse images declaring more values (rows x cols x frames x samples) than this.")
        ] = _SCAN.max_pixels,
        fail_on: Annotated[str | None, typer.Option(
            "--fail-on", help="Exit 4 when findings exist: rare, phi or any (for release checks).")] = None,
    ) -> None:
        """Find burned-in text, markers and overlays in INPUT, score their rarity, write the run tables.

        Exit codes: 0 all files scanned, 3 some failed (see images.parquet), 2 usage error,
        4 --fail-on matched (takes precedence over 3).
        """
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ufmclean.errors import UsageError
        from ufmclean.pipeline.scan import run_scan
        from ufmclean.run_dir import RunDir, check_out_arg

        console = Console(stderr=True)
        try:
            from ufmclean.pipeline.workers import default_workers

            workers = default_workers() if workers is None else workers
            run_dir = check_out_arg(out)
            if fail_on is not None and fail_on not in FAIL_ON:
                raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
            options = ScanOptions(rare_max_images=rare_max_images, device=device, engine=engine, strategy=strategy,
                                  markers=markers, batch_size=batch_size, max_pixels=max_pixels)
            columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
                       TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("scan", total=None)
                summary = run_scan(input_dir, run_dir, options=options, workers=workers, labels_csv=labels,
                                   progress=lambda r: bar.update(task, total=r["n_total_images"],
                                                                      advance=r["n_images"]))
        except UsageError as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        except ValueError as exc:  # e.g. --device cuda without a GPU (engine construction)
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        console.print(
            f"{summary['n_files']} files: {summary['n_ok']} scanned, {summary['n_error']} errors, "
            f"{summary['n_skipped']} skipped; {summary['n_findings']} findings ({summary['by_kind']}), "
            f"{summary['n_rare']} rare, {summary['n_phi']} PHI-typed{phi_paths_note(summary)} "
            f"-> {RunDir(run_dir).findings_table}"
        )
        matched = fail_on_matches(summary, fail_on)
        if matched:
            console.print(f"--fail-on {fail_on}: {matched} finding(s) or PHI-looking path(s) matched")
            raise typer.Exit(EXIT_FAIL_ON)
        raise typer.Exit(EXIT_PARTIAL if summary["n_error"] else EXIT_OK)
