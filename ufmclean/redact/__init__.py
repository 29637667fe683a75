"""Redaction: stroke masks, inpaint/mask on every frame, and the residual re-OCR check."""

from ufmclean.redact.apply import RedactionRegion, redact_image, regions_for_image
from ufmclean.redact.clean import CleanOutcome, clean_image
from ufmclean.redact.masks import stroke_mask
from ufmclean.redact.residual import ResidualResult, check_residual
from ufmclean.redact.writeback import sanitize_image

__all__ = [
    "CleanOutcome",
    "clean_image",
    "RedactionRegion",
    "ResidualResult",
    "check_residual",
    "redact_image",
    "regions_for_image",
    "sanitize_image",
    "stroke_mask",
]
