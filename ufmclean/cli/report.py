"""``ufmclean report RUN``: rebuild RUN/report.html (wiring over :func:`ufmclean.report.build_report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_USAGE = 0, 2


def register(app: typer.Typer) -> None:
    """Add the ``report`` subcommand to ``app``."""

    @app.command("report")
    def report_cmd(
        run_dir: Annotated[Path, typer.Argument(help="Run folder written by scan or sanitize.")],
        show_text: Annotated[bool, typer.Option("--show-text", help="Show recognised text unmasked (PHI).")] = False,
    ) -> None:
        """Rebuild the review report RUN/report.html from the run tables (one self-contained file, mode 0600)."""
        from rich.console import Console

        from ufmclean.errors import UsageError
        from ufmclean.report import build_report

        console = Console(stderr=True)
        try:
            path = build_report(run_dir, show_text=show_text)
        except UsageError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        console.print(f"report: {path}")
        raise typer.Exit(EXIT_OK)
