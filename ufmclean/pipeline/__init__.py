"""Stage sequencing shared by the CLI and the Prefect flows (scan, sanitize)."""
