"""``ufmclean discover INPUT --out RUN``: inventory a dataset (wiring over :func:`ufmclean.pipeline.discover.run_discover`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ufmclean.io.load import DEFAULT_MAX_PIXELS

EXIT_OK, EXIT_USAGE, EXIT_PARTIAL = 0, 2, 3


def register(app: typer.Typer) -> None:
    """Add the ``discover`` subcommand to ``app``."""

    @app.command("discover")
    def discover_cmd(
        input_dir: Annotated[Path, typer.Argument(help="Dataset folder (read-only; never written to).")],
        out: Annotated[str, typer.Option("--out", help="Run folder for images.parquet and summary.json.")],
        labels: Annotated[Path | None, typer.Option("--labels", help="CSV with columns relpath,label.")] = None,
        max_pixels: Annotated[
            int, typer.Option("--max-pixels", help="Refuse images with more values than this.")
        ] = DEFAULT_MAX_PIXELS,
    ) -> None:
        """Find every image under INPUT, decode it once and record status per file in RUN/images.parquet."""
        from rich.console import Console
        from rich.progress import Progress

        from ufmclean.errors import UsageError
        from ufmclean.pipeline.discover import run_discover
        from ufmclean.run_dir import RunDir, check_out_arg

        console = Console(stderr=True)
        try:
            run_dir = check_out_arg(out)
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("loading", total=None)
                summary = run_discover(
                    input_dir, run_dir, labels_csv=labels, max_pixels=max_pixels,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
        except UsageError as exc:
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        console.print(
            f"{summary['n_files']} files: {summary['n_ok']} ok, {summary['n_error']} errors, "
            f"{summary['n_skipped']} skipped -> {RunDir(run_dir).images_table}"
        )
        raise typer.Exit(EXIT_PARTIAL if summary["n_error"] else EXIT_OK)
