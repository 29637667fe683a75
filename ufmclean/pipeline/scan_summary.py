"""The scan stage's dataset-wide step: parts → rarity → report-only decisions → run tables + summary."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ufmclean.io.atomic import atomic_write_bytes
from ufmclean.pipeline.discover import package_versions
from ufmclean.pipeline.scan_parts import read_parts
from ufmclean.records import Finding, ImageRecord, ImageRow
from ufmclean.run_dir import RunDir

__all__ = ["flag_findings", "write_scan_outputs"]


def flag_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Report-only decisions for a scan: the default policy with action ``flag`` (reasons included).

    A scan never changes pixels; ``action`` says which findings a sanitize run with the default
    policy would remove (``flag``) and which it keeps, so a pre-release check can read the table.
    Rarity is the findings' ``is_rare`` (set by :func:`ufmclean.rarity.apply_rarity`).
    """
    from ufmclean.policy import decide, default_policy

    return decide(findings, default_policy().with_(action="flag"))


def _updated_records(records: Sequence[ImageRecord], scans: dict[str, Any]) -> list[ImageRecord]:
    out = []
    for rec in sorted(records, key=lambda r: r.relpath):
        scan = scans.get(rec.image_id)
        if rec.status == "ok" and scan is None:
            rec = rec.with_(status="error", error="not scanned (its batch part is missing)")
        elif scan is not None:
            geometry = {k: v for k, v in (("rows", scan.rows), ("cols", scan.cols), ("frames", scan.frames),
                                          ("modality", scan.modality)) if v is not None}
            rec = rec.with_(status=scan.status, error=scan.error, **geometry)
        out.append(rec)
    return out


def write_scan_outputs(
    run: RunDir | Path,
    *,
    records: Sequence[ImageRecord],
    part_paths: Sequence[Path],
    options: Any,
    timings: dict[str, float],
) -> dict[str, Any]:
    """Merge parts into ``images.parquet`` (PHI-looking relpaths masked), ``findings.parquet`` and
    ``paths.parquet`` (0600) and ``summary.json`` (with ``n_phi_paths``).

    Returns the summary (counts, timings, settings, versions; never recognised text).
    """
    from ufmclean.rarity import apply_rarity
    from ufmclean.run_paths import write_images
    from ufmclean.tables import write_findings_table

    from ufmclean.errors import UsageError

    rd = RunDir.of(run)
    t0 = time.perf_counter()
    try:
        scans, raw_findings = read_parts(part_paths)
    except Exception as exc:  # noqa: BLE001 - a part damaged after its batch checked it
        raise UsageError(f"a scan part is damaged ({type(exc).__name__}); run the scan again to recompute it") from None
    updated = _updated_records(records, {s.image_id: s for s in scans})
    ok_ids = {r.image_id for r in updated if r.status == "ok"}
    raw_findings = [f for f in raw_findings if f.image_id in ok_ids]
    if raw_findings:
        keyed, uniqueness = apply_rarity(raw_findings, n_images=max(1, len(ok_ids)), options=options.rarity())
    else:
        keyed, uniqueness = [], {}
    findings = flag_findings(keyed)
    findings.sort(key=lambda f: (f.relpath, f.frame, f.kind, f.bbox.y0, f.bbox.x0, f.finding_id))
    per_image = Counter(f.image_id for f in findings)
    rows = [ImageRow.of(r, uniqueness=uniqueness.get(r.image_id, 0.0) if r.status == "ok" else None,
                        n_findings=per_image.get(r.image_id, 0)) for r in updated]
    path_counts = write_images(rd, rows)  # relpaths masked; the originals in the 0600 mapping
    write_findings_table(rd.findings_table, findings)
    summary = _summary(updated, findings, options=options,
                       timings={**timings, "rarity_and_tables": time.perf_counter() - t0})
    summary.update(path_counts)
    atomic_write_bytes(rd.summary, json.dumps(summary, indent=2, sort_keys=True, default=str).encode())
    return summary


def _summary(records: Sequence[ImageRecord], findings: Sequence[Finding], *, options: Any,
             timings: dict[str, float]) -> dict[str, Any]:
    from ufmclean.policy import summarize_decisions

    status = Counter(r.status for r in records)
    rare = [f for f in findings if f.is_rare]
    phi = [f for f in findings if f.phi_type]
    decisions = summarize_decisions(findings)
    return {
        "stage": "scan",
        "n_files": len(records),
        "n_ok": status.get("ok", 0),
        "n_error": status.get("error", 0),
        "n_skipped": status.get("skipped", 0),
        "n_findings": len(findings),
        "by_kind": decisions["by_kind"],
        "n_rare": len(rare),
        "n_phi": len(phi),
        "by_phi_type": dict(Counter(f.phi_type for f in phi)),  # whole values: "header:name" is its own type
        "n_images_with_rare": len({f.image_id for f in rare}),
        "n_images_with_phi": len({f.image_id for f in phi}),
        "n_keys": len({f.key for f in findings}),
        "n_flagged": decisions["by_action"].get("flag", 0),
        "by_reason": decisions["by_reason"],
        "formats": dict(Counter(r.format for r in records if r.status == "ok")),
        "timings_s": {k: round(float(v), 3) for k, v in timings.items()},
        "settings": options.to_dict(),
        "versions": package_versions(("easyocr", "torch", "rapidfuzz")),
    }
