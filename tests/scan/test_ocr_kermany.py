"""The fast OCR strategy on real chest X-rays (../shared/data/kermany_cxr_224; skipped without it).

A name stamped over bright anatomy links with it into a candidate line too tall to read, and only a
letter's bar is left as a line of its own: the crop around it holds part of a word. These five
images are the ones where the fast strategy read only 'VAV' (the 'AN' of 'JANE') before cut boxes
were detected again in wider crops (``mosaic.cut_extensions``).
"""

from pathlib import Path

import numpy as np
import pytest

from ufmclean.ocr.recall import covered_fraction
from ufmclean.phi import phi_type
from ufmclean.records import BBox
from ufmclean.verify.canary import CanarySpec, render_text, stamp_canary

pytestmark = [pytest.mark.slow, pytest.mark.ocr]

HARD = ["person1351_virus_2330.jpeg", "person1407_virus_2410.jpeg", "person1436_bacteria_3711.jpeg",
        "person467_virus_961.jpeg", "person605_bacteria_2467.jpeg"]


def _stamp(img: np.ndarray, text: str) -> tuple[np.ndarray, BBox]:
    """``img`` with ``text`` stamped where bench/verify_kermany puts its canary, through a JPEG round trip."""
    import cv2

    patch, mask = render_text(text, height=16)
    h, w = img.shape
    spec = CanarySpec(patch, mask, (0.45, 0.85, 0.45 + patch.shape[1] / w, 0.85 + patch.shape[0] / h), (), "1", 1)
    stamped, box = stamp_canary(img, spec)
    ok, jpeg = cv2.imencode(".jpeg", stamped)
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE), box


def test_a_name_over_bright_anatomy_is_read_whole(shared_data: Path) -> None:
    import cv2

    from ufmclean.ocr import get_engine

    engine = get_engine("cpu", strategy="fast")
    for name in HARD:
        path = shared_data / "kermany_cxr_224" / "train" / "PNEUMONIA" / name
        if not path.is_file():
            pytest.skip(f"{name} is not present")
        stamped, box = _stamp(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), "JANE DOE")
        regions = [r for r in engine.read(stamped) if r.bbox.intersection(box) > 0]
        assert covered_fraction(box, [r.bbox for r in regions]) >= 0.8, name
        assert any(phi_type(r.text) == "name" for r in regions), (name, [r.text for r in regions])
