"""``ufmclean canary``: wiring over :func:`ufmclean.verify.canary.make_canary`."""

from __future__ import annotations

from pathlib import Path

import typer

from ufmclean.errors import UfmError


def register(app: typer.Typer) -> None:
    """Add the ``canary`` subcommand to ``app``."""

    @app.command("canary")
    def canary_cmd(
        input_dir: Path = typer.Argument(..., help="Dataset folder (never modified)."),
        out: Path = typer.Option(..., "--out", help="New folder for the canaried copy (hard links + stamped files)."),
        text: str | None = typer.Option(None, "--text", help="Canary text to stamp (synthetic, e.g. a fake name)."),
        patch: Path | None = typer.Option(None, "--patch", help="Grey PNG to stamp instead of text (non-zero = drawn)."),
        k: int = typer.Option(1, "--k", help="Number of training images to stamp."),
        label: str | None = typer.Option(None, "--class", help="Stamp only images of this class."),
        seed: int = typer.Option(0, "--seed", help="Seed choosing the images."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV with path,label[,split]; else parent folder names."),
        x: float = typer.Option(0.12, "--x", help="Left edge as a fraction of the width."),
        y: float = typer.Option(0.12, "--y", help="Top edge as a fraction of the height."),
        height: float = typer.Option(0.14, "--height", help="Glyph height of the canary and the audit canaries as a "
                                     "fraction of the image height (0.14: detected single copies on chest X-rays at a "
                                     "64 px probe, bench/verify_carriers.py; 0.07 did not)."),
        wrap: bool = typer.Option(True, "--wrap/--no-wrap", help="Set a text too wide for one line on two."),
        audit: int = typer.Option(0, "--audit", help="One-run audit: N random fake names/IDs each stamped into one "
                                  "more training image, and N more recorded but never inserted (0: none). More gives the test more "
                                  "power; 100 is a start (bench/verify_carriers.py)."),
        audit_kind: str = typer.Option("bare", "--audit-kind", help="Audit canaries: 'bare' (fake names and bare "
                                       "ID numbers), 'text' (IDs with their label word, 'MRN 1234567': a sanitiser "
                                       "rightly keeps the label, which then stays behind) or 'patch' (random "
                                       "black-and-white grids, not text)."),
    ) -> None:
        """Stamp a canary into k training images of a copy of INPUT and write canary.json there."""
        from ufmclean.verify.canary import make_canary

        try:
            info = make_canary(input_dir, out, text=text, patch_png=patch, k=k, label=label, seed=seed,
                               labels_csv=labels, box_frac=(x, y), height_frac=height, audit=audit,
                               audit_kind=audit_kind, wrap=wrap)
        except UfmError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        extra = (f"; {audit} audit canaries stamped into one training image each and {audit} recorded, never inserted"
                 if audit else "")
        typer.echo(f"canary stamped into {info['k']} training image(s) of class {info['class']}{extra}; "
                   f"{info['n_files_copied']} files in the copy; see canary.json")
