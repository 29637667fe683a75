"""Prefect artifacts of the flows: markdown summaries, per-reason tables, report links, progress.

Everything published here is built from PHI-free count dicts (action/reason tags, numbers, paths of
run outputs); recognised text never reaches these functions.
"""

from pathlib import Path
from typing import Any, Optional, cast
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)


class Progress:
    """A progress artifact (0-100 %) advanced as batches finish.

    Stages get fixed shares of the bar (``weights``), so the bar moves steadily even though the
    number of sanitize batches is only known after the scan.
    """

    def __init__(self, *, key: str, description: str, weights: dict[str, float]) -> None:
        total = sum(weights.values())
        self._weights = {k: v / total for k, v in weights.items()}
        self._done: dict[str, float] = {k: 0.0 for k in weights}
        # Called from the sync flows: prefect's async_dispatch returns the id itself, not a coroutine.
        self._id = cast(UUID, create_progress_artifact(progress=0.0, key=key, description=description))

    def stage(self, name: str, fraction: float) -> float:
        """Set stage ``name`` to ``fraction`` (0..1) done; returns and publishes the overall percent."""
        self._done[name] = min(max(float(fraction), 0.0), 1.0)
        pct = round(100.0 * sum(self._weights[k] * f for k, f in self._done.items()), 1)
        update_progress_artifact(artifact_id=self._id, progress=pct)
        return pct


def _md_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def sanitize_markdown(summary: dict[str, Any]) -> str:
    """Markdown of a sanitize flow summary: images by outcome, findings by action/reason, batches, timings."""
    lines = [f"# ufmclean sanitize: {summary['n_images']} files", ""]
    lines += ["## Images by outcome", ""]
    lines += _md_table(("outcome", "images"), sorted(summary["by_clean_status"].items()))
    decisions = summary["decisions"]
    lines += ["", "## Findings by action", ""]
    lines += _md_table(("action", "findings"), sorted(decisions.get("by_action", {}).items()))
    lines += ["", "## Findings by kind", ""]
    lines += _md_table(("kind", "findings"), sorted(decisions.get("by_kind", {}).items()))
    lines += ["", f"Residual check failures (held back for review): **{summary['n_residual_failures']}**", ""]
    if summary.get("n_phi_paths"):
        lines += [f"Files whose path looks like PHI: **{summary['n_phi_paths']}** "
                  f"({summary.get('n_renamed_paths', 0)} written under pseudonymous names)", ""]
    lines += ["## Batches", ""]
    lines += _md_table(("stage", "batches", "from Prefect cache", "reused parts", "computed"),
                       [(s, b["n"], b["from_cache"], b["reused_parts"], b["computed"])
                        for s, b in summary["batches"].items()])
    lines += ["", "## Timings (s)", ""]
    lines += _md_table(("step", "seconds"), [(k, f"{v:.1f}") for k, v in summary["timings"].items()])
    lines += ["", f"Runner: `{summary['runner']}` with {summary['workers']} worker(s). "
              "Recognised text is only in `findings.parquet` and `report.html` (mode 0600), never here."]
    return "\n".join(lines)


def reason_rows(decisions: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Table rows ``{"reason", "findings"}`` sorted by count (reason tags such as ``rare``, ``phi:date``)."""
    return [{"reason": r, "findings": n} for r, n in sorted(decisions.get("by_reason", {}).items(), key=lambda x: (-x[1], x[0]))]


def publish_sanitize(summary: dict[str, Any]) -> None:
    """Markdown summary, per-reason table and a link to ``report.html`` for a finished sanitize run."""
    create_markdown_artifact(key="sanitize-summary", markdown=sanitize_markdown(summary),
                             description="Counts by outcome, action and reason; timings")
    create_table_artifact(key="sanitize-reasons", table=reason_rows(summary["decisions"]) or [{"reason": "-", "findings": 0}],
                          description="Findings per decision reason")
    if summary.get("report"):
        create_link_artifact(key="sanitize-report", link=Path(summary["report"]).resolve().as_uri(),
                             link_text="report.html (review report; contains masked text, mode 0600)")


def verify_markdown(summary: dict[str, Any]) -> str:
    """Markdown of a verify flow summary: the verdict first, probe accuracy before/after, the audit test and
    significant seeds per feature."""
    b, a = summary["probe"]["before"], summary["probe"]["after"]
    v = summary["verdict"]
    lines = [f"# Verdict: **{v['status']}**", "", v["reason"], "",
             f"ufmclean verify: {summary['n_features']} features, {summary['n_seeds']} seed(s)", "",
             f"Probe accuracy **{b['accuracy']:.3f} → {a['accuracy']:.3f}** (device {b['device']}); "
             f"wall {summary['wall_seconds']} s.", ""]
    if summary.get("audit"):
        lines += ["## One-run audit: inserted vs never-inserted canaries", ""]
        lines += _md_table(("phase", "inserted", "never inserted", "AUROC", "95% CI", "Mann–Whitney p", "ε lower bound"),
                           [(r["phase"], r["n_inserted"], r["n_controls"], _num(r["auroc"], ".3f"),
                             f"{_num(r['auroc_low'], '.2f')}–{_num(r['auroc_high'], '.2f')}", _num(r["p"], ".3g"),
                             _num(r["eps_lb"], ".2f")) for r in summary["audit"]])
        lines += [""]
    lines += ["## Seeds with p < alpha, before → after", ""]
    lines += _md_table(("feature", "source", *summary["tests"]),
                       [(r["feature_id"], r["source"], *(r.get(t, "–") for t in summary["tests"])) for r in summary["rows"]])
    return "\n".join(lines)


def _num(x: Any, fmt: str) -> str:
    return "–" if x is None or x != x else format(x, fmt)


def publish_verify(summary: dict[str, Any], *, html: Optional[str]) -> None:
    """Markdown summary, per-feature table and a link to ``verify.html``."""
    create_markdown_artifact(key="verify-summary", markdown=verify_markdown(summary),
                             description=f"Verdict: {summary['verdict']['status']}")
    create_table_artifact(key="verify-features", table=summary["rows"] or [{"feature_id": "-"}],
                          description="Seeds significant before → after, per feature and test")
    if html:
        create_link_artifact(key="verify-report", link=Path(html).resolve().as_uri(), link_text="verify.html")
