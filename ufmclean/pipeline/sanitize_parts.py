"""Sanitize batch parts: ``RUN/.work/sanitize/<batch_key>.parquet`` rows <-> typed records, and the batch key.

A part holds one ``image`` row per member (a :class:`~ufmclean.records.CleanResult`) and one
``finding`` row per decided finding (a :class:`~ufmclean.records.Decision`); both kinds share one
table, with the other kind's columns null. The key hashes the members, their scan findings, the
policy and the options, so any change gives a new part instead of a stale one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from ufmclean.records import CleanResult, Decision, Finding

__all__ = ["PART_VERSION", "SanitizeBatchResult", "batch_key", "findings_digest", "parse_part", "part_rows"]

#: Bump when the pixels written for the same findings and policy change (invalidates cached parts).
#: 2: stroke masks take in what they enclose (outlined light text no longer leaves its fill).
PART_VERSION = 2
_FINDING_KEY_FIELDS = ("finding_id", "frame", "kind", "x0", "y0", "x1", "y1", "text", "confidence", "key",
                       "doc_freq", "is_rare", "phi_type")
_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(CleanResult))
_DECISION_FIELDS = ("finding_id", "action", "reasons", "residual_ok")


class SanitizeBatchResult(TypedDict):
    """What :func:`ufmclean.pipeline.sanitize.sanitize_batch` returns: counts only (Prefect stores it)."""

    batch_key: str
    n_images: int
    n_written: int
    n_copied: int
    n_held: int
    n_flagged: int
    n_errors: int
    cached: bool


def batch_key(members: Sequence[tuple[str, str]], policy_settings: dict[str, Any], options_settings: dict[str, Any],
              findings_digest: str = "") -> str:
    """Hash of the batch members' ``(relpath, sha256)``, their scan findings (``findings_digest``),
    the policy's and the options' settings (24 hex chars)."""
    h = hashlib.sha256()
    h.update(json.dumps([sorted(members), findings_digest, policy_settings, options_settings, PART_VERSION],
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def findings_digest(rows: Sequence[dict[str, Any]]) -> str:
    """Digest of the scan findings of a batch (rows of findings.parquet): a rescan with other settings,
    or rarity that changed because other images changed, gives a new sanitize key."""
    items = sorted(json.dumps([r[k] for k in _FINDING_KEY_FIELDS], default=str) for r in rows)
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def part_rows(done: Iterable[tuple[CleanResult, Sequence[Finding]]]) -> list[dict[str, Any]]:
    """The part's rows for each image's result and its decided findings."""
    rows: list[dict[str, Any]] = []
    for result, findings in done:
        rows.append({"row": "image", **dataclasses.asdict(result), "finding_id": None, "action": None,
                     "reasons": None, "residual_ok": None})
        rows += [{"row": "finding", "image_id": f.image_id, "finding_id": f.finding_id, "action": f.action,
                  "reasons": list(f.reasons), "residual_ok": f.residual_ok} for f in findings]
    return rows


def parse_part(rows: Iterable[dict[str, Any]]) -> tuple[list[CleanResult], list[Decision]]:
    """Typed records of a part's rows (the inverse of :func:`part_rows`)."""
    results: list[CleanResult] = []
    decisions: list[Decision] = []
    for r in rows:
        if r["row"] == "image":  # part_rows writes every CleanResult field of an image row (never null)
            results.append(CleanResult(**{k: r[k] for k in _RESULT_FIELDS}))
        else:
            decisions.append(Decision(r["finding_id"], r["image_id"], r["action"], tuple(r["reasons"] or ()),
                                      r["residual_ok"]))
    return results, decisions
