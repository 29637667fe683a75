"""Dataset I/O: discovery, loading (DICOM and raster), display views, write-back, atomic files."""

from ufmclean.io.atomic import atomic_output, atomic_write_bytes, safe_join
from ufmclean.io.discover import discover, image_id_for, read_labels_csv, sniff_format
from ufmclean.io.load import DEFAULT_MAX_PIXELS, load_image
from ufmclean.io.write import write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "atomic_output",
    "atomic_write_bytes",
    "discover",
    "image_id_for",
    "load_image",
    "read_labels_csv",
    "safe_join",
    "sniff_format",
    "write_image",
]
