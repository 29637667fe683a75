"""Prefect flow ``verify``: train the same probe on the original and the sanitised data, compare M scores.

Wiring over :func:`ufmclean.pipeline.verify.verify_and_report`, as ``ufmclean verify`` does. Training and Grad-CAM
run in one task (the trained probes stay in that process); the task returns paths and counts only.

No postponed annotations (PEP 563 future import): it breaks pydantic parameters of served deployments.
"""

import logging
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_verify
from flows.options import VerifySettings

TESTS = ("white/A", "grey/A", "black/A", "white/B")


def feature_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per feature: ``"sig_before→sig_after"`` seeds for each test (ids and numbers only, no paths or text)."""
    rows = []
    for s in doc["summary"]:
        row: dict[str, Any] = {"feature_id": s["feature_id"], "source": s["source"]}
        for t in TESTS:
            if t in s["tests"]:
                row[t] = f"{s['tests'][t]['sig_before']}→{s['tests'][t]['sig_after']}"
        rows.append(row)
    return rows


def audit_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit rank test before/after as table rows (counts and numbers only)."""
    rt = (doc.get("audit") or {}).get("rank_test") or {}
    return [{"phase": ph, **{k: rt[ph].get(k) for k in ("n_inserted", "n_controls", "auroc", "auroc_low", "auroc_high",
                                                        "p", "eps_lb")}} for ph in ("before", "after") if ph in rt]


@task(name="probe-before-after", cache_policy=NO_CACHE, persist_result=False)
def verify_task(original: str, sanitized: str, out_dir: str, settings: VerifySettings) -> dict[str, Any]:
    """Train, score, draw Grad-CAM strips and write ``verify.json``/``verify.html``; returns a PHI-free summary."""
    from ufmclean.pipeline.verify import verify_and_report
    from ufmclean.verify.recipes import apply_recipe
    from ufmclean.verify.run import VerifyOptions

    logger = get_run_logger()
    given = settings.model_dump()
    opts = apply_recipe(VerifyOptions(**{k: v for k, v in given.items() if k != "recipe"}), given["recipe"])
    done = verify_and_report(original, sanitized, out_dir, options=opts, progress=lambda msg: logger.info("%s", msg))
    doc, paths = done.doc, done.paths
    probe = {ph: {k: doc["probe"][ph][k] for k in ("accuracy", "auroc", "device")} for ph in ("before", "after")}
    verdict = {k: doc["verdict"][k] for k in ("status", "reason", "canary_detected_before", "canary_detected_after")}
    return {"verdict": verdict, "audit": audit_rows(doc),
            "html": paths["html"], "json": paths["json"], "holds_phi": done.holds_phi, "probe": probe, "n_seeds": opts.seeds,
            "n_features": len(doc["summary"]), "wall_seconds": doc["wall_seconds"], "tests": list(TESTS),
            "rows": feature_rows(doc)}


@flow(name="verify", description="Probe before/after sanitising: M scores per removed feature and the canary.")
def verify(
    original: str,
    sanitized: str,
    out_dir: Optional[str] = None,
    settings: VerifySettings = VerifySettings(),
) -> dict[str, Any]:
    """Compare memorisation of removed features before and after sanitising.

    Parameters
    ----------
    original : str
        The original dataset folder (may hold ``canary.json`` from ``ufmclean canary``).
    sanitized : str
        The sanitize run folder (its ``clean/`` and ``findings.parquet`` are used).
    out_dir : str, optional
        Where ``verify.json``, plots, Grad-CAM strips and ``verify.html`` go (default ``SANITIZED/verify``).
    settings : VerifySettings
        Seeds, probe size/model/epochs, device, alpha, labels.

    Returns
    -------
    dict
        The verdict (status, reason, canary detected before/after), paths of the outputs, probe accuracy
        before/after, the audit rank test, significant seeds per feature (no text).
    """
    logger = get_run_logger()
    logging.getLogger("ufmclean").setLevel(logging.INFO)
    for name, value in (("original", original), ("sanitized", sanitized)):
        if not Path(value).is_dir():
            raise ValueError(f"{name} {value} does not exist or is not a folder")
    out = out_dir or str(Path(sanitized) / "verify")
    summary = verify_task(original, sanitized, out, settings)
    publish_verify(summary, html=summary["html"])
    b, a = summary["probe"]["before"], summary["probe"]["after"]
    logger.info("probe accuracy %.3f -> %.3f; %d features scored; report at %s", b["accuracy"], a["accuracy"],
                summary["n_features"], summary["html"])
    logger.info("verdict: %s: %s", summary["verdict"]["status"], summary["verdict"]["reason"])
    return summary
