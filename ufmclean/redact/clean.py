"""One image, start to finish: redact its decided findings, check, escalate, decide to write or hold.

No file I/O here: the pipeline loads the image, calls :func:`clean_image` and writes what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ufmclean.ocr.base import OcrEngine
from ufmclean.policy import Policy, is_removal
from ufmclean.records import Finding, LoadedImage
from ufmclean.redact.apply import RedactionRegion, redact_image, regions_for_image
from ufmclean.redact.residual import ResidualResult, check_residual, display_like


@dataclass(frozen=True, slots=True, eq=False)
class CleanOutcome:
    """What to do with one image after redaction (PHI-free apart from the pixels).

    ``new_raw`` is ``None`` when no pixel changed (copy the file as it is unless ``remove_overlays``).
    ``held`` images must not be written to ``clean/``; ``note`` says why, and ``attempt`` holds the
    redacted pixels that failed the check (for the review report only).
    """

    new_raw: np.ndarray | None
    findings: tuple[Finding, ...]
    remove_overlays: bool = False
    held: bool = False
    note: str = ""
    n_redacted: int = 0
    n_regions: int = 0
    n_escalated: int = 0
    attempt: np.ndarray | None = None


def _view_after(loaded: LoadedImage, view: np.ndarray, new_raw: np.ndarray, frames: set[int]) -> np.ndarray:
    """``view`` (one of the loader's uint8 views) of ``new_raw`` for ``frames``; others copied from it."""
    after = view.copy()
    for g in frames:
        after[g] = display_like(new_raw[g], loaded.raw[g], view[g])
    return after


def _worst(per_view: list[list[ResidualResult]]) -> list[ResidualResult]:
    """Per region, the first failing view's result (else the most similar read): clean in one view and
    legible in another is not clean."""
    out = []
    for results in zip(*per_view):
        failed = [r for r in results if not r.ok]
        out.append(failed[0] if failed else max(results, key=lambda r: (r.similarity, r.n_read)))
    return out


def _redact_and_check(
    loaded: LoadedImage, todo: Sequence[Finding], policy: Policy, engine: OcrEngine | None, override: dict[str, str]
) -> tuple[np.ndarray, list[RedactionRegion], list[ResidualResult]]:
    regions = regions_for_image(
        todo, loaded.display, margin=policy.box_margin, dilate_px=policy.dilate_px, mode_override=override  # type: ignore[arg-type]
    )
    new_raw, _ = redact_image(
        loaded.raw, loaded.display, regions,
        margin=policy.box_margin, dilate_px=policy.dilate_px, inpaint_radius=policy.inpaint_radius,
        extra_views=[v for _, v in loaded.views],
    )
    results: list[ResidualResult] = []
    if policy.residual_check and regions:
        frames = {r.frame for r in regions}
        per_view = [
            check_residual(
                {f.finding_id: f for f in todo}, regions, view, _view_after(loaded, view, new_raw, frames),
                engine=engine, margin=policy.residual_margin, similarity=policy.residual_similarity,
            )
            for _, view in loaded.ocr_views()
        ]
        results = _worst(per_view)
    return new_raw, regions, results


def clean_image(
    loaded: LoadedImage, findings: Sequence[Finding], *, policy: Policy, engine: OcrEngine | None = None
) -> CleanOutcome:
    """Redact, re-read and escalate one image's decided findings.

    Parameters
    ----------
    loaded : LoadedImage
        ``raw`` ``(F, H, W[, S])`` and ``display`` ``uint8`` ``(F, H, W[, 3])`` of the image (not changed).
    findings : sequence of Finding
        This image's findings after :func:`ufmclean.policy.decide`.
    policy : Policy
        Redaction and residual-check settings.
    engine : OCR engine, optional
        Object with ``read(uint8 image) -> list[TextRegion]`` for the residual check; ``None`` leaves
        text findings' ``residual_ok`` at ``None`` (not checked).

    Returns
    -------
    CleanOutcome
        New pixels (or ``None``), findings with ``residual_ok`` (and ``action="mask"`` plus reason
        ``residual-escalated`` where inpainting left text legible), and whether to hold the image.
    """
    ids = [f.image_id for f in findings]
    if any(i != loaded.record.image_id for i in ids):
        raise ValueError("clean_image() got findings of another image")
    pixel = [f for f in findings if is_removal(f.action) and f.kind in ("text", "marker")]
    overlays = [f for f in findings if is_removal(f.action) and f.kind == "overlay"]
    updated = {f.finding_id: f for f in findings}
    for f in overlays:
        updated[f.finding_id] = f.with_(residual_ok=True)
    if not pixel:
        return CleanOutcome(None, tuple(updated[f.finding_id] for f in findings),
                            remove_overlays=bool(overlays), n_redacted=len(overlays))

    override: dict[str, str] = {}
    new_raw, regions, results = _redact_and_check(loaded, pixel, policy, engine, override)
    failed = {r.finding_id for r in results if not r.ok}
    escalate = {fid for fid in failed if updated[fid].action == "inpaint"}
    if escalate:
        override = {fid: "mask" for fid in escalate}
        new_raw, regions, results = _redact_and_check(loaded, pixel, policy, engine, override)
        failed = {r.finding_id for r in results if not r.ok}
    checked = {r.finding_id for r in results if r.n_read >= 0}
    for f in pixel:
        ok: bool | None = None
        if f.finding_id in failed:
            ok = False
        elif f.finding_id in checked:
            ok = True
        changes: dict[str, Any] = {"residual_ok": ok}
        if f.finding_id in escalate:
            changes.update(action="mask", reasons=(*f.reasons, "residual-escalated"))
        updated[f.finding_id] = f.with_(**changes)
    held = bool(failed)
    note = (f"held for review: {len(failed)} redacted item(s) still legible after masking; "
            "inspect in report.html and redact by hand or widen the policy's box_margin") if held else ""
    return CleanOutcome(
        None if held else new_raw,
        tuple(updated[f.finding_id] for f in findings),
        remove_overlays=bool(overlays),
        held=held,
        note=note,
        n_redacted=len(pixel) + len(overlays),
        n_regions=len(regions),
        n_escalated=len(escalate),
        attempt=new_raw if held else None,
    )
