"""``ufmclean sanitize INPUT --out RUN``: scan + decide + redact + check (wiring over
:func:`ufmclean.pipeline.sanitize.run_sanitize`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from ufmclean.devices import Device
from ufmclean.pipeline.sanitize import HeaderMode, SanitizeOptions
from ufmclean.pipeline.scan import ScanOptions

#: Flag defaults are the library's (declared once, in the options dataclasses); tests/test_options_once.py checks it.
_SAN, _SCAN = SanitizeOptions(), ScanOptions()

EXIT_OK, EXIT_USAGE, EXIT_PARTIAL, EXIT_FAIL_ON = 0, 2, 3, 4


def _print_default_policy(value: bool) -> None:
    if value:
        from ufmclean.policy import DEFAULT_POLICY_TOML

        typer.echo(DEFAULT_POLICY_TOML, nl=False)
        raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add the ``sanitize`` subcommand to ``app``."""

    @app.command("sanitize")
    def sanitize_cmd(
        input_dir: Annotated[Path, typer.Argument(help="Dataset folder (read-only; never written to).")],
        out: Annotated[str, typer.Option("--out", help="Run folder: tables, clean/ copies, report.html.")],
        action: Annotated[str | None, typer.Option("--action", help="inpaint | mask | flag (report only).")] = None,
        policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy TOML file (see docs).")] = None,
        rare_max_images: Annotated[int | None, typer.Option("--rare-max-images", help="Rare = carried by at most K images.")] = None,
        workers: Annotated[int | None, typer.Option(
            "--workers", help="Worker processes, one OCR model each (default: $UFMCLEAN_WORKERS, else one per CPU core).")] = None,
        device: Annotated[str, typer.Option("--device", help="OCR device: auto, cpu or cuda.")] = _SAN.device,
        engine: Annotated[str | None, typer.Option("--engine", help="OCR engine: ppocr or easyocr (default: the scan's, else " + _SCAN.engine + ").")] = None,
        strategy: Annotated[str | None, typer.Option("--strategy", help="OCR strategy: fast or full (default: the scan's, else " + _SCAN.strategy + ").")] = None,
        markers: Annotated[bool | None, typer.Option("--markers/--no-markers", help="Detect non-text burned-in marks (default: as the scan did).")] = None,
        batch_size: Annotated[int | None, typer.Option("--batch-size", help="Images per resumable scan batch (default: the scan's, else " + str(_SCAN.batch_size) + ").")] = None,
        max_pixels: Annotated[int | None, typer.Option("--max-pixels", help="Refuse images declaring more values than this (default: the scan's).")] = None,
        labels: Annotated[Path | None, typer.Option("--labels", help="CSV with columns relpath,label (default: the scan's).")] = None,
        rescan: Annotated[bool, typer.Option("--rescan", help="Accept a new scan when a scan setting given here differs from the run's scan.")] = False,
        show_text: Annotated[bool, typer.Option("--show-text", help="Show recognised text unmasked in report.html (PHI).")] = _SAN.show_text,
        rename_phi_paths: Annotated[bool, typer.Option(
            "--rename-phi-paths", help="Write copies whose file/folder names look like PHI under pseudonymous names "
            "(name-3f2a9c01/...); the mapping stays in RUN/paths.parquet (0600).")] = _SAN.rename_phi_paths,
        header: Annotated[str, typer.Option("--header", help="DICOM headers: deidentify (PS3.15 Basic Profile, "
                                            "consistent pseudonyms per run; default) or keep (no de-identification markers set).")] = _SAN.header,
        keep_metadata: Annotated[bool, typer.Option("--keep-metadata", help="Copy unchanged PNG/JPEG/TIFF byte for byte "
                                                    "(default: pixels only, no text chunks, EXIF, comments or trailing bytes).")] = _SAN.keep_metadata,
        fail_on: Annotated[str | None, typer.Option(
            "--fail-on", help="Exit 4 when: rare, phi (text or PHI-looking paths) or any findings exist, or header: a clean/ DICOM keeps identifying tags.")] = None,
        show_policy: Annotated[bool, typer.Option("--show-policy", is_eager=True, callback=_print_default_policy,
                                                  help="Print the default policy TOML (a starting point for --policy) and exit.")] = False,
    ) -> None:
        """Remove rare and PHI text, rare markers and overlays from INPUT into RUN/clean/, check the result, write RUN/report.html.

        On a RUN that `ufmclean scan` wrote, the scan's settings are reused (its findings are the ones
        acted on); a scan option given here that differs from the scan's is refused (exit 2) unless --rescan.

        Exit codes: 0 every file written or copied, 3 some errors, held or flagged, 2 usage error,
        4 --fail-on matched (takes precedence over 3).
        """
        from rich.console import Console

        from ufmclean.errors import UsageError
        from ufmclean.pipeline.sanitize import run_sanitize
        from ufmclean.policy import load_policy
        from ufmclean.cli.scan import FAIL_ON, fail_on_matches, phi_paths_note

        choices = (*FAIL_ON, "header")  # sanitize also checks what clean/ holds
        from ufmclean.run_dir import check_out_arg

        console = Console(stderr=True)
        try:
            from ufmclean.pipeline.workers import default_workers

            workers = default_workers() if workers is None else workers
            run_dir = check_out_arg(out)
            if fail_on is not None and fail_on not in choices:
                raise UsageError(f"--fail-on must be one of {', '.join(choices)}, got {fail_on!r}")
            policy = load_policy(policy_file, action=action)
            options = SanitizeOptions(device=cast(Device, device), engine=engine, show_text=show_text, max_pixels=max_pixels,
                                      rename_phi_paths=rename_phi_paths, header=cast(HeaderMode, header),
                                      keep_metadata=keep_metadata,
                                      batch_size=batch_size if batch_size is not None else _SAN.batch_size)
            given = {"strategy": strategy, "markers": markers, "batch_size": batch_size,
                     "rare_max_images": rare_max_images}
            done = lambda r: console.print(f"batch: {r['n_images']} images{' (cached)' if r['cached'] else ''}")  # noqa: E731
            result = run_sanitize(input_dir, run_dir, policy=policy, options=options, workers=workers, progress=done,
                                  scan_options={k: v for k, v in given.items() if v is not None}, rescan=rescan,
                                  labels_csv=labels)
        except UsageError as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        s = result["sanitize"]
        by = s["by_clean_status"]
        if s.get("report"):
            console.print(f"report: {s['report']}")
        console.print(
            "images: " + ", ".join(f"{v} {k}" for k, v in sorted(by.items()))
            + f"; findings by action: {s['decisions']['by_action']}; residual failures: {s['n_residual_failures']}"
            + phi_paths_note(s) + (f", {s['n_renamed_paths']} written under pseudonymous names" if s.get("n_renamed_paths") else "")
        )
        n_kept = int(s.get("n_header_identifying") or 0)
        matched = n_kept if fail_on == "header" else fail_on_matches(result["scan"], fail_on)
        if matched:
            console.print(f"--fail-on {fail_on}: {matched} {'file(s)' if fail_on == 'header' else 'finding(s) or PHI-looking path(s)'} matched")
        if s.get("header") == "keep":  # last line: the release check a reader must not miss
            console.print(f"headers kept (--header keep): {n_kept} clean/ DICOM file(s) keep identifying tags")
        if matched:
            raise typer.Exit(EXIT_FAIL_ON)
        partial = by.get("error", 0) or by.get("held", 0) or by.get("flagged", 0)
        raise typer.Exit(EXIT_PARTIAL if partial else EXIT_OK)
