"""Command-line interface: one thin module per subcommand, each calling library functions only."""
