"""HTML review report: one self-contained file (jinja2, base64 thumbnails, inline JS), mode 0600."""

from ufmclean.report.html import build_report, mask_text, render_report
from ufmclean.report.thumbs import Thumbnail, make_thumbnail

__all__ = ["Thumbnail", "build_report", "make_thumbnail", "mask_text", "render_report"]
