"""The stage drivers (discover, scan, sanitize, verify): the CLI and the Prefect flows call only these."""
