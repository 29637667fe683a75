"""Build ``RUN/report.html``: dataset summary and per-image before/after review cards.

Everything is in one file: thumbnails as base64 JPEG, boxes as inline SVG, a few lines of inline JS
for sorting and filtering (no CDN). Recognised text is masked (``"J*** D**"`` or
``"[name, 8 chars]"``) unless ``show_text`` is set. The file is written atomically with mode 0600
because its thumbnails and text are PHI.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ufmclean.io.atomic import atomic_write_bytes
from ufmclean.path_phi import mask_relpath
from ufmclean.phi import phi_type_parts
from ufmclean.records import Finding, ImageRow
from ufmclean.report.thumbs import Thumbnail, load_thumbnails

REPORT_MODE = 0o600
ACTION_COLOURS = {"keep": "#2e7d32", "flag": "#f9a825", "inpaint": "#c62828", "mask": "#6a1b9a"}
DOC_FREQ_BINS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 100), (101, None))


def mask_text(text: str, phi_type: str = "") -> str:
    """Mask recognised text for display: PHI-typed text as ``[type, N chars]``, other text as ``J*** D**``.

    Words keep their first character only when they have four or more characters, so short IDs and
    initials are fully hidden.
    """
    text = " ".join(str(text or "").split())
    if not text:
        return ""
    kinds = phi_type_parts(phi_type or "")
    if kinds:
        return f"[{'/'.join(dict.fromkeys(kinds))}, {len(text)} chars]"
    return " ".join(w[0] + "*" * (len(w) - 1) if len(w) >= 4 else "*" * len(w) for w in text.split(" "))


def _histogram(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    counts: Counter[tuple[int, int | None]] = Counter()
    for f in findings:
        d = f.doc_freq
        for lo, hi in DOC_FREQ_BINS:
            if d >= lo and (hi is None or d <= hi):
                counts[(lo, hi)] += 1
                break
    top = max(counts.values(), default=1)
    return [
        {"label": str(lo) if lo == hi else (f"{lo}-{hi}" if hi else f">{lo - 1}"), "count": counts[(lo, hi)],
         "frac": counts[(lo, hi)] / top}
        for lo, hi in DOC_FREQ_BINS
    ]


def is_error(img: ImageRow) -> bool:
    """True when the image failed in the scan or in sanitize (no clean copy was written for it)."""
    return img.status == "error" or img.clean_status == "error"


def _review_level(img: ImageRow, fs: Sequence[Finding]) -> int:
    """3 held back, 2 residual failure or error (of the scan or of sanitize), 1 rare/removed items, 0 nothing."""
    if img.clean_status == "held":
        return 3
    if is_error(img) or any(f.residual_ok is False for f in fs):
        return 2
    if any(f.is_rare or f.action in ("flag", "inpaint", "mask") for f in fs):
        return 1
    return 0


def render_report(
    images: Sequence[ImageRow],
    findings: Sequence[Finding],
    *,
    thumbs: Mapping[str, tuple[Thumbnail | None, Thumbnail | None]] | None = None,
    summary: Mapping[str, Any] | None = None,
    show_text: bool = False,
    max_thumbnails: int = 1000,
) -> str:
    """Render the report HTML from the image rows and the findings.

    Parameters
    ----------
    images : sequence of ImageRow
        Rows of ``images.parquet`` (:func:`ufmclean.tables.read_images_table`); the sanitize columns
        are ``None`` on a run that was only scanned.
    findings : sequence of Finding
        ``findings.parquet`` (:func:`ufmclean.tables.read_findings_table`).
    thumbs : mapping, optional
        ``image_id -> (before, after)`` thumbnails; images without one are listed without pictures.
    summary : mapping, optional
        ``summary.json`` content (counts and settings only).
    show_text : bool
        Show recognised text instead of masked text.
    max_thumbnails : int
        Pictures are embedded for at most this many images, those needing review first (keeps the
        file small on big datasets; every image is still listed).

    Returns
    -------
    str
        The complete HTML document.
    """
    import jinja2

    thumbs = thumbs or {}
    by_image: dict[str, list[Finding]] = {}
    for f in findings:
        by_image.setdefault(f.image_id, []).append(f)
    cards: list[dict[str, Any]] = []
    for img in images:
        # Relpaths are shown masked ([name]/[id]_chest.png): the run tables already are, rows given
        # directly may not be (masking a masked relpath changes nothing).
        img = img.with_(relpath=mask_relpath(img.relpath))
        iid = img.image_id
        fs = sorted(by_image.get(iid, []), key=lambda f: (f.frame, f.finding_id))
        before, after = thumbs.get(iid, (None, None))
        shown_frame = before.frame if before else 0
        rows: list[dict[str, Any]] = []
        for f in fs:
            rows.append({
                "id": f.finding_id, "frame": f.frame, "kind": f.kind, "action": f.action, "reasons": list(f.reasons),
                "text": f.text if show_text else mask_text(f.text, f.phi_type),
                "doc_freq": f.doc_freq, "confidence": f.confidence,
                "view": f.view or ("display" if f.kind == "text" else ""),  # tables from before views: display
                "residual_ok": f.residual_ok, "colour": ACTION_COLOURS.get(f.action, "#555"),
                "box": [f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1],
            })
        boxes = []
        if before is not None:
            s = before.scale
            for r in rows:
                if r["frame"] == shown_frame and r["kind"] != "overlay":
                    x0, y0, x1, y1 = r["box"]
                    boxes.append({**r, "x": x0 * s, "y": y0 * s, "w": max(1.0, (x1 - x0) * s), "h": max(1.0, (y1 - y0) * s)})
        cards.append({
            "image": img, "id": iid, "findings": rows, "boxes": boxes, "review": _review_level(img, fs),
            "error": is_error(img),
            "n_rare": sum(f.is_rare for f in fs),
            "before": before.data_uri() if before else None, "after": after.data_uri() if after else None,
            "tw": before.width if before else 0, "th": before.height if before else 0, "frame": shown_frame,
        })
    cards.sort(key=lambda c: (-c["review"], c["image"].relpath))
    for c in cards[max_thumbnails:]:
        c.update(before=None, after=None, boxes=[])
    counts = {
        "images": len(images),
        "by_status": dict(Counter(i.status for i in images)),
        "by_clean_status": dict(Counter(i.clean_status or "-" for i in images)),  # "-": not sanitized
        "by_kind": dict(Counter(f.kind for f in findings)),
        "by_action": dict(Counter(f.action for f in findings)),
        "by_reason": dict(Counter(r for f in findings for r in f.reasons)),
        "needs_review": sum(c["review"] >= 2 for c in cards),
        "phi_paths": sum(bool(i.path_phi) for i in images),
        # clean/ DICOM written with --header keep whose header still identifies someone
        "header_identifying": sum(i.header == "kept-identifying" for i in images),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ufmclean.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2").render(
        cards=cards, counts=counts, histogram=_histogram(findings), colours=ACTION_COLOURS,
        show_text=show_text, settings=json.dumps((summary or {}).get("settings", {}), indent=1, default=str),
    )


def build_report(run_dir: str | Path, *, show_text: bool = False) -> Path:
    """(Re)build ``RUN/report.html`` from the run tables and stored thumbnails; returns its path.

    Raises :class:`~ufmclean.errors.UsageError` when ``run_dir`` holds no ``images.parquet``.
    """
    from ufmclean.errors import UsageError
    from ufmclean.run_dir import RunDir
    from ufmclean.tables import read_findings_table, read_images_table

    run = RunDir.of(run_dir)
    if not run.images_table.is_file():
        raise UsageError(f"{run.root} has no images.parquet; run `ufmclean scan` or `ufmclean sanitize` first")
    try:
        images = read_images_table(run.images_table)
        findings = read_findings_table(run.findings_table)
        summary = json.loads(run.summary.read_text()) if run.summary.is_file() else {}
    except Exception as exc:  # noqa: BLE001 - a damaged table: say so in one line, no traceback
        raise UsageError(f"the run tables in {run.root} are damaged ({type(exc).__name__}); "
                         "run `ufmclean scan` or `ufmclean sanitize` again to rewrite them") from None
    thumbs = {i.image_id: load_thumbnails(run.thumbs, i.image_id) for i in images}
    html = render_report(images, findings, thumbs=thumbs, summary=summary, show_text=show_text)
    return atomic_write_bytes(run.report, html.encode("utf-8"), mode=REPORT_MODE)
