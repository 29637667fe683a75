"""Overlay planes become findings with tight boxes; empty planes are ignored."""

import numpy as np

from ufmclean.detect.overlays import overlay_findings
from ufmclean.records import BBox, ImageRecord, LoadedImage, OverlayPlane


def make_image(planes):
    record = ImageRecord("abc", "a.dcm", "/x/a.dcm", "0" * 64, 10, "dicom", rows=16, cols=16, frames=2)
    raw = np.zeros((2, 16, 16), np.uint16)
    return LoadedImage(record, raw, raw.astype(np.uint8), overlays=tuple(planes))


def test_non_empty_planes_become_findings():
    mask = np.zeros((16, 16), bool)
    mask[3:6, 4:10] = True
    empty = np.zeros((16, 16), bool)
    image = make_image([OverlayPlane(0x6000, 1, mask), OverlayPlane(0x6002, 0, empty)])
    found = overlay_findings(image)
    assert len(found) == 1
    assert found[0].kind == "overlay" and found[0].frame == 1
    assert found[0].bbox == BBox(4, 3, 10, 6)
    assert found[0].finding_id != "" and found[0].text == ""


def test_finding_ids_are_stable_and_distinct():
    mask = np.ones((16, 16), bool)
    image = make_image([OverlayPlane(0x6000, 0, mask), OverlayPlane(0x6000, 1, mask)])
    ids = [f.finding_id for f in overlay_findings(image)]
    assert len(set(ids)) == 2
    assert ids == [f.finding_id for f in overlay_findings(image)]


def test_sample_data_overlay_is_found_where_ground_truth_says(sample_data_dir):
    import json

    from ufmclean.io import discover, load_image

    truth = json.loads((sample_data_dir / "ground_truth.json").read_text())
    items = truth["items"] if isinstance(truth, dict) else truth
    overlay_items = [i for i in items if i["kind"] == "overlay"]
    assert overlay_items
    records = {r.relpath: r for r in discover(sample_data_dir / "images")}
    for item in overlay_items:
        found = overlay_findings(load_image(records[item["relpath"]]))
        assert any(f.bbox.iou(BBox(*item["box"])) > 0.5 for f in found)
