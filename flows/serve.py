"""Serve the deployments ``sanitize/local`` and ``verify/local`` from this process (``python -m flows.serve``).

Needs a running Prefect server (``PREFECT_API_URL``; ``make serve`` / ``scripts/serve.sh`` start one on
127.0.0.1). Each flow run is a subprocess of this one started in the current folder, so run it from the
repository root. Stop with SIGTERM or Ctrl-C (the deployments stay registered, paused).
"""

import os
from typing import cast


def main() -> None:
    """Register both deployments and poll for their runs until stopped."""
    from prefect import serve
    from prefect.deployments.runner import RunnerDeployment

    from flows.sanitize import sanitize
    from flows.verify import verify

    limit = int(os.environ.get("UFMCLEAN_SERVE_LIMIT", "2"))
    # to_deployment is sync_compatible: called from sync code it returns the deployment, not a coroutine.
    deployments = [
        cast(RunnerDeployment, sanitize.to_deployment(
            name="local", tags=["ufmclean"],
            description="ufmclean sanitize: scan, rarity, redact, check, report (served locally)")),
        cast(RunnerDeployment, verify.to_deployment(
            name="local", tags=["ufmclean"], description="ufmclean verify: probe before/after, M scores (served locally)")),
    ]
    serve(
        *deployments,
        limit=limit,
        query_seconds=2,  # the default 10 s poll doubles the latency of `prefect deployment run --watch`
    )


if __name__ == "__main__":
    main()
