"""Prefect flows (sanitize, verify) — wiring over ufmclean; built in the flows issue."""
