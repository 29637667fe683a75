"""Verify stage driver: probes before/after (:func:`ufmclean.verify.run.run_verify`), Grad-CAM strips and
``verify.json``/``verify.html``, in one function that ``ufmclean verify`` and the ``verify`` flow both call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ufmclean.verify.run import VerifyOptions

__all__ = ["VerifyOutcome", "verify_and_report"]


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """What a verify run wrote: the verify document, the report paths and the Grad-CAM strips.

    ``holds_phi`` is true when Grad-CAM strips (original pixels) were written and linked.
    """

    doc: dict[str, Any]
    paths: dict[str, str]
    gradcam_pngs: tuple[str, ...]

    @property
    def holds_phi(self) -> bool:
        """Whether the report links images of original pixels (kept 0600, with the data)."""
        return bool(self.gradcam_pngs)


def verify_and_report(original: str | Path, sanitized: str | Path, out_dir: str | Path, *, options: VerifyOptions,
                      progress: Callable[[str], None] | None = None) -> VerifyOutcome:
    """Train and score the probes, draw ``options.gradcam_images`` Grad-CAM strips (0: none) under
    ``out_dir/gradcam`` and write ``out_dir/verify.json`` and ``verify.html``.

    Raises :class:`~ufmclean.errors.UfmError` subclasses for unusable inputs (as ``run_verify`` does).
    """
    from ufmclean.verify.gradcam import gradcam_for_run
    from ufmclean.verify.report import write_report
    from ufmclean.verify.run import run_verify

    out = Path(out_dir)
    doc, art = run_verify(original, sanitized, options=options, progress=progress)
    pngs = (gradcam_for_run(art, out / "gradcam", model_name=options.model, n_images=options.gradcam_images)
            if options.gradcam_images > 0 else [])
    paths = write_report(doc, out, gradcam_pngs=pngs)
    return VerifyOutcome(doc, paths, tuple(pngs))
