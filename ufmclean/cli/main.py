"""``ufmclean`` entry point: builds the typer app from one module per subcommand.

Exit codes: 0 all files processed, 2 usage error, 3 some files failed (listed in images.parquet),
4 ``--fail-on`` matched findings.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

# Each module defines ``register(app: typer.Typer) -> None`` and nothing but wiring.
SUBCOMMAND_MODULES = ("discover", "scan", "sanitize", "report", "canary", "verify", "audit")

EXIT_OK, EXIT_USAGE, EXIT_PARTIAL, EXIT_FAIL_ON = 0, 2, 3, 4


def build_app() -> typer.Typer:
    """Return the typer application with every available subcommand registered."""
    app = typer.Typer(
        name="ufmclean",
        help="Find, remove and verify removal of unique features (burned-in PHI, rare markers) in medical images.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"ufmclean.cli.{name}")
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # pydicom logs a traceback each time one decoder plug-in fails before another succeeds; the
    # loader reports real failures per file, so keep that noise (and any values in it) off stderr.
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    app = build_app()
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:  # typer/click exits through SystemExit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        if argv is None:
            raise SystemExit(code) from None
        return code
    return EXIT_OK


if __name__ == "__main__":
    main()
