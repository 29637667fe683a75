"""BBox arithmetic: the one coordinate type every stage shares."""

import pytest

from ufmclean.records import BBox


def test_bbox_basic_geometry():
    box = BBox(2, 3, 12, 8)
    assert (box.width, box.height, box.area) == (10, 5, 50)
    assert box.slices == (slice(3, 8), slice(2, 12))


def test_bbox_rejects_negative_extent():
    with pytest.raises(ValueError):
        BBox(5, 0, 4, 1)


def test_bbox_clip_pad_scale_translate():
    box = BBox(-3, 5, 20, 30)
    assert box.clip(25, 10) == BBox(0, 5, 10, 25)
    assert BBox(1, 1, 3, 3).pad(2, height=4, width=4) == BBox(0, 0, 4, 4)
    # scaling rounds outwards so a mapped-back box never loses pixels
    assert BBox(1, 1, 3, 3).scale(1.5, 2.0) == BBox(1, 2, 5, 6)
    assert BBox(0, 0, 2, 2).translate(3, -1) == BBox(3, -1, 5, 1)


def test_bbox_overlap_measures():
    a, b = BBox(0, 0, 10, 10), BBox(5, 5, 15, 15)
    assert a.intersection(b) == 25
    assert a.iou(b) == pytest.approx(25 / 175)
    assert a.union(b) == BBox(0, 0, 15, 15)
    assert BBox(0, 0, 2, 2).iou(BBox(5, 5, 6, 6)) == 0.0


def test_bbox_from_quad():
    quad = [[3.2, 4.0], [10.0, 4.0], [10.0, 9.5], [3.2, 9.5]]
    assert BBox.from_points(quad) == BBox(3, 4, 10, 10)
