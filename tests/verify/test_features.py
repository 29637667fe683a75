"""Features from a sanitise run's findings table (text never read) and the summary counts."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ufmclean.errors import UfmError
from ufmclean.records import BBox
from ufmclean.verify import features
from ufmclean.verify.run import summarise


def _findings(run, rows):
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    pq.write_table(pa.table(cols), run / "findings.parquet")


def test_removed_findings_keeps_inpaint_and_mask_only(tmp_path):
    base = dict(frame=0, x0=1, y0=1, x1=5, y1=5, text="PHI")
    _findings(tmp_path, [dict(base, finding_id=f, relpath=r, action=a)
                         for f, r, a in (("b", "x.png", "mask"), ("a", "x.png", "inpaint"), ("c", "y.png", "keep"),
                                         ("d", "y.png", "flag"))])
    rows = features.removed_findings(tmp_path)
    assert [r["finding_id"] for r in rows] == ["a", "b"]
    assert all("text" not in r and "action" not in r for r in rows)
    assert features.removed_findings(tmp_path / "none") == []


def test_scale_box_maps_outwards_and_never_empty():
    assert features.scale_box(BBox(10, 20, 30, 40), height=100, width=200, size=50) == BBox(2, 10, 8, 20)
    tiny = features.scale_box(BBox(199, 99, 200, 100), height=100, width=200, size=10)
    assert tiny.area >= 1 and tiny.x1 <= 10 and tiny.y1 <= 10


def test_finding_feature_crops_the_original(tiny_dataset):
    import cv2

    img = cv2.imread(str(tiny_dataset / "dark" / "img000.png"), cv2.IMREAD_GRAYSCALE)
    row = {"finding_id": "f", "relpath": "dark/img000.png", "frame": 0, "x0": 0, "y0": 0, "x1": 16, "y1": 16}
    f = features.finding_feature(tiny_dataset, row, size=16, y_star=1)
    assert f.probe_box == BBox(0, 0, 8, 8) and f.mask.all() and f.y_star == 1
    expect = cv2.resize(img[:16, :16], (8, 8), interpolation=cv2.INTER_AREA) / 255.0
    assert np.allclose(f.patch, expect, atol=1e-6)
    with pytest.raises(UfmError):
        features.finding_feature(tiny_dataset, dict(row, x0=40, x1=50), size=16, y_star=None)


def test_summarise_counts_significant_seeds():
    rows = [dict(feature_id="f", source="finding", relpath="a.png", x0=0, y0=0, x1=1, y1=1, setting="white", family="A",
                 seed=s, m_before=0.1, p_before=pb, m_after=0.0, p_after=pa_)
            for s, pb, pa_ in ((0, 0.01, 0.5), (1, 0.2, 0.04), (2, None, 0.9))]
    (s,) = summarise(rows, alpha=0.05, n_seeds=3)
    t = s["tests"]["white/A"]
    assert (t["sig_before"], t["sig_after"]) == (1, 1)
    assert t["mean_m_before"] == pytest.approx(0.1) and t["frac_sig_before"] == pytest.approx(1 / 3)
