"""Unit tests of the OCR seam, the fake engine, the recall definition and the fast strategy (synthetic arrays)."""

import numpy as np
import pytest

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.ocr.direct import fragment_letters, label_patches
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.ocr.fast import (
    CandidateSettings,
    cut_short,
    drop_duplicates,
    ink_masks,
    plan_crops,
    text_lines,
    uncovered,
)
from ufmclean.ocr.mosaic import Crop, Placement, boxes_from_mosaic, boxes_with_crops, cut_extensions, pack_mosaic
from ufmclean.ocr.recall import covered_fraction, is_found, recall
from ufmclean.records import BBox

TEXT_BOX = BBox(40, 49, 127, 61)  # cv2.getTextSize("DOE JOHN 1971", SIMPLEX, 0.4, 1) at (40, 60)


def _image_with_text(size=1024, *, colour=255, background=90, label=False):
    import cv2

    img = np.full((size, size), background, np.uint8)
    if label:
        cv2.rectangle(img, (34, 44), (160, 68), 235, -1)
    cv2.putText(img, "DOE JOHN 1971", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return img


def test_check_image_rejects_bad_input():
    with pytest.raises(ValueError):
        check_image(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError):
        check_image(np.zeros((2, 4, 4), np.uint8))
    assert check_image(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5)


def test_fake_engine_reports_only_inked_boxes():
    img = np.zeros((50, 50), np.uint8)
    img[6:9, 6:18] = 255  # strokes inside the planted box
    eng = FakeOcrEngine([(BBox(5, 5, 20, 10), "A"), (BBox(30, 30, 40, 40), "B")])
    out = eng.read(img)
    assert out == [TextRegion(BBox(5, 5, 20, 10), "A", 0.9)]


def test_covered_fraction_counts_union_once():
    truth = BBox(0, 0, 10, 10)
    assert covered_fraction(truth, []) == 0.0
    assert covered_fraction(truth, [BBox(0, 0, 5, 10), BBox(0, 0, 5, 10)]) == 0.5
    assert covered_fraction(truth, [BBox(0, 0, 5, 10), BBox(5, 0, 10, 4)]) == pytest.approx(0.7)
    assert covered_fraction(truth, [BBox(-100, -100, 100, 100)]) == 1.0
    assert not is_found(truth, [BBox(0, 0, 4, 10)]) and is_found(truth, [BBox(0, 0, 5, 10)])
    with pytest.raises(ValueError):
        is_found(truth, [], min_cover=0)
    assert recall([(truth, [truth]), (BBox(20, 20, 30, 30), [truth])]) == (1, 2)


def test_crop_maps_back_to_original():
    crop = Crop(BBox(100, 50, 200, 90), 2.0)
    assert crop.out_shape == (80, 200)
    assert crop.to_original(BBox(0, 0, 20, 10)) == BBox(100, 50, 110, 55)


def test_dedup():
    assert drop_duplicates([BBox(0, 0, 100, 20), BBox(10, 2, 40, 18)]) == [BBox(0, 0, 100, 20)]
    # a frame-sized detector box over anatomy does not swallow the small label inside it
    big, label = BBox(0, 0, 256, 180), BBox(230, 120, 250, 138)
    assert drop_duplicates([big, label]) == [big, label]


def test_uncovered_ignores_much_taller_boxes():
    line = BBox(236, 124, 245, 136)
    assert uncovered([line], [BBox(0, 0, 256, 180)]) == [line]  # a frame-sized box reads no label
    assert uncovered([line], [BBox(233, 121, 248, 139)]) == []


def test_settings_validate():
    with pytest.raises(ValueError):
        CandidateSettings(min_contrast=0)
    with pytest.raises(ValueError):
        CandidateSettings(kernels=())
    with pytest.raises(ValueError):
        CandidateSettings(min_scale=2.0)


@pytest.mark.parametrize(
    "kwargs", [{}, {"colour": 130, "background": 90}, {"colour": 20, "background": 120, "label": True}]
)
def test_text_line_found_in_every_polarity(kwargs):
    """Bright, low-contrast (+40 grey levels) and dark-on-light text each give one line over the text."""
    img = _image_with_text(**kwargs)
    lines = text_lines(img)
    assert lines is not None
    assert covered_fraction(TEXT_BOX, lines) > 0.6  # lines are tight on the ink, TEXT_BOX is not
    assert covered_fraction(TEXT_BOX, [c.box for c in plan_crops(img)]) == 1.0  # padded crops hold it all
    hits = [b for b in lines if b.intersection(TEXT_BOX) > 0]
    assert len(hits) == 1 and hits[0].height <= 16  # one line, not a blob with the label patch


def test_ink_masks_ignore_smooth_background():
    yy, xx = np.mgrid[0:256, 0:256]
    smooth = (60 + 120 * np.exp(-((xx - 128) ** 2 + (yy - 128) ** 2) / 4000.0)).astype(np.uint8)
    assert all(m.sum() == 0 for _, m in ink_masks(smooth))
    assert text_lines(smooth) == []
    assert plan_crops(np.full((512, 512), 90, np.uint8)) == []


def test_lone_tall_edge_is_not_a_candidate_but_a_letter_is():
    import cv2

    img = np.full((512, 512), 40, np.uint8)
    cv2.line(img, (100, 100), (110, 300), 220, 2)  # a thin anatomical edge, 200 px tall
    cv2.putText(img, "L", (400, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1, cv2.LINE_AA)
    lines = text_lines(img)
    assert lines is not None and len(lines) == 1
    assert lines[0].x0 >= 398 and lines[0].y1 <= 62


def test_small_text_is_upscaled_and_mapped_back_through_the_mosaic():
    img = _image_with_text()
    crops = plan_crops(img)
    assert crops and len(crops) == 1
    crop = crops[0]
    assert crop.box.intersection(TEXT_BOX) == TEXT_BOX.area and crop.scale > 2.0
    canvas, placements = pack_mosaic(img, crops)
    assert canvas.size < img.size / 4  # far less for CRAFT to read than the frame
    (p,) = placements
    assert isinstance(p, Placement) and canvas[p.rect.slices].max() == 255  # stretched to full contrast
    # a box over the whole placed crop maps back onto the crop's box in the original frame
    assert boxes_from_mosaic([p.rect], placements, height=1024, width=1024) == [crop.box]
    # a box in the gap between crops maps to nothing
    assert boxes_from_mosaic([BBox(0, 0, 2, 2)], placements, height=1024, width=1024) == []


def test_mosaic_packs_several_crops_without_overlap():
    img = np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)
    crops = [Crop(BBox(0, 0, 100, 20), 2.0), Crop(BBox(50, 100, 250, 130), 1.0), Crop(BBox(0, 200, 30, 240), 0.5)]
    canvas, placements = pack_mosaic(img, crops, canvas_width=256)
    rects = [p.rect for p in placements]
    assert all(r.x1 <= canvas.shape[1] and r.y1 <= canvas.shape[0] for r in rects)
    assert all(a.intersection(b) == 0 for i, a in enumerate(rects) for b in rects[i + 1 :])
    # the 200-px-wide crop at scale 2 would not fit a 256-px canvas: it was shrunk
    assert all(p.crop.out_shape[1] <= 256 - 2 * 12 for p in placements)


def test_label_patch_found_next_to_bright_tissue_and_plain_blobs_ignored():
    """A near-white patch with a dark letter, touching a bright tissue edge, is one patch box."""
    import cv2

    img = np.full((256, 256), 12, np.uint8)
    img[:, :240] = 150  # tissue up to the patch, dark background right of it
    img[60:100, 100:130] = 230  # a plain bright blob: no ink, not a label
    cv2.rectangle(img, (236, 120), (252, 138), 225, -1)
    cv2.putText(img, "R", (239, 135), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 25, 1, cv2.LINE_AA)
    patches = label_patches(img)
    assert len(patches) == 1
    assert covered_fraction(BBox(236, 120, 253, 139), patches) > 0.9
    assert label_patches(np.full((64, 64), 90, np.uint8)) == []
    with pytest.raises(ValueError):
        label_patches(np.zeros((4, 4), np.float32))


def test_fragment_letters_box_a_lone_bar_and_ignore_glyphs_and_noise():
    """A faint L on a tissue ramp leaves only its foot bar: boxes with the bar at the foot and on top."""
    img = np.full((64, 64), 12, np.uint8)
    img[:, :30] = 150
    img[:, 30:34] = (112, 62, 49, 32)  # the ramp at the tissue edge; the L's upright is lost in it
    img[40:42, 32:38] = 52  # the L's foot: 2 px thick, 6 long, +40 over the background
    boxes = fragment_letters(img)
    assert len(boxes) == 2
    assert all(b.intersection(BBox(32, 40, 38, 42)) == 12 for b in boxes)  # both hold the whole bar
    assert min(b.y0 for b in boxes) <= 31 and max(b.y1 for b in boxes) >= 51  # ~11 px letters
    # whole glyphs (taller components) and faint bars are not fragments
    assert fragment_letters(_image_with_text()) == []
    faint = np.full((64, 64), 12, np.uint8)
    faint[40:42, 32:38] = 40
    assert fragment_letters(faint) == []


class _ScriptedReader:
    """Stands in for easyocr's Reader: fixed detector boxes, and records what it is asked to read."""

    def __init__(self, boxes):
        self.boxes, self.asked = boxes, []

    def detect(self, img, **_):
        return [[[b.x0, b.x1, b.y0, b.y1] for b in self.boxes]], [[]]

    def recognize(self, grey, *, horizontal_list, free_list, batch_size):
        self.asked += horizontal_list
        return [([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "X", 0.9) for x0, x1, y0, y1 in horizontal_list]


def test_engine_drops_frame_sized_detector_boxes_before_recognition():
    from ufmclean.ocr.easyocr_engine import EasyOcrEngine

    engine = object.__new__(EasyOcrEngine)  # no model load: the reader is scripted
    engine.strategy, engine.min_confidence, engine.direct_min_confidence = "fast", 0.1, 0.3
    engine.text_threshold, engine.low_text, engine.min_size = 0.6, 0.3, 6
    engine.max_region_fraction, engine.min_dropped_height, engine.candidates = 0.25, 64, CandidateSettings()
    label, anatomy = BBox(230, 120, 250, 138), BBox(0, 0, 256, 180)
    engine._reader = _ScriptedReader([anatomy, label])
    engine.detect_boxes = lambda grey: ([anatomy, label], [])  # what CRAFT returned on a whole frame
    regions = engine.read(np.zeros((256, 256), np.uint8))
    assert [r.bbox for r in regions] == [label]  # the label survives, the anatomy box is never read
    assert engine._reader.asked == [[230, 250, 120, 138]]


def test_full_strategy_keeps_tall_boxes_for_crops():
    """The residual check reads upscaled crops the text fills: the tall-box filter must not apply."""
    from ufmclean.ocr.easyocr_engine import EasyOcrEngine

    engine = object.__new__(EasyOcrEngine)
    engine.strategy, engine.min_confidence, engine.direct_min_confidence = "full", 0.1, 0.3
    engine.text_threshold, engine.low_text, engine.min_size = 0.6, 0.3, 6
    engine.max_region_fraction, engine.min_dropped_height, engine.candidates = 0.25, 64, CandidateSettings()
    filling = BBox(4, 10, 250, 110)
    engine._reader = _ScriptedReader([filling])
    regions = engine.read(np.zeros((120, 256), np.uint8))
    assert [r.bbox for r in regions] == [filling]


def test_boxes_with_crops_pairs_each_mapped_box_with_its_crop():
    img = np.full((300, 300), 90, np.uint8)
    crops = [Crop(BBox(10, 10, 60, 30), 2.0), Crop(BBox(100, 200, 200, 220), 1.0)]
    _, placements = pack_mosaic(img, crops)
    found = boxes_with_crops([p.rect for p in placements], placements, height=300, width=300)
    assert [(b, c) for b, c in found] == [(c.box, c) for c in crops]


def test_cut_extensions_grow_boxes_that_run_into_an_inner_crop_side():
    crop = Crop(BBox(100, 50, 140, 65), 2.0)
    h, w = 200, 400
    # the box runs into the crop's right side: it grows right by 4 heights (+ half a height of context)
    (grown,) = cut_extensions([(BBox(104, 52, 140, 62), crop)], height=h, width=w)
    assert grown.box == BBox(104 - 5, 52 - 5, 140 + 40 + 5, 62 + 5) and grown.scale == pytest.approx(2.8)
    # glyphs taller than the crop (top and bottom touched): grown both ways, and up and down
    (grown,) = cut_extensions([(BBox(110, 50, 130, 65), crop)], height=h, width=w)
    assert grown.box == BBox(110 - 60 - 7, 50 - 15 - 7, 130 + 60 + 7, 65 + 15 + 7)
    # inside the crop, at the frame's edge, a sliver, anatomy-tall: nothing to finish
    assert cut_extensions([(BBox(104, 52, 136, 62), crop)], height=h, width=w) == []
    edge = Crop(BBox(0, 50, 40, 65), 2.0)
    assert cut_extensions([(BBox(0, 52, 30, 62), edge)], height=h, width=w) == []
    assert cut_extensions([(BBox(104, 52, 140, 55), crop)], height=h, width=w) == []
    tall = Crop(BBox(100, 0, 140, 200), 1.0)
    assert cut_extensions([(BBox(104, 10, 140, 190), tall)], height=h, width=w) == []


def test_cut_extensions_skip_a_letter_whose_line_was_found_whole():
    letter_crop = Crop(BBox(120, 50, 132, 62), 3.0)
    line_crop = Crop(BBox(80, 40, 220, 72), 1.5)
    letter = (BBox(120, 50, 132, 62), letter_crop)
    assert len(cut_extensions([letter], height=200, width=400)) == 1
    assert cut_extensions([letter, (BBox(90, 48, 210, 64), line_crop)], height=200, width=400) == []
    # a line box seen under 8 px in its (shrunk) crop is too loose to vouch for the letter
    shrunk = Crop(BBox(0, 0, 400, 200), 0.3)
    assert len(cut_extensions([letter, (BBox(90, 48, 160, 64), shrunk)], height=200, width=400)) == 1


def test_collinear_runs_join_pieces_of_one_text_line_only() -> None:
    from ufmclean.ocr.direct import collinear_runs

    por, able = BBox(90, 23, 114, 35), BBox(134, 23, 166, 35)  # 'POR' + 'ABLE', 'T' lost in a bright band
    assert collinear_runs([able, por]) == [BBox(90, 23, 166, 35)]
    # a piece on another baseline, of another height, too far away or too tall is not joined
    assert collinear_runs([por, BBox(134, 31, 166, 43)]) == []
    assert collinear_runs([por, BBox(134, 23, 166, 55)]) == []
    assert collinear_runs([por, BBox(150, 23, 170, 35)]) == []
    assert collinear_runs([BBox(0, 0, 40, 40), BBox(50, 0, 90, 40)], max_height=32) == []
    # a run of three
    assert collinear_runs([por, able, BBox(180, 24, 200, 36)]) == [BBox(90, 23, 200, 36)]


def test_components_8_match_opencv_default_labelling():
    import cv2

    from ufmclean.ocr.fast import components_8

    rng = np.random.default_rng(3)
    for density in (0.001, 0.05, 0.4):
        mask = (rng.random((97, 131)) < density).astype(np.uint8)
        mask[10:20, 10:40] = 1  # one big component beside the speckle
        n, labels, stats, centroids = components_8(mask)
        n0, labels0, stats0, centroids0 = cv2.connectedComponentsWithStats(mask, connectivity=8)
        assert n == n0 and np.array_equal(labels, labels0) and np.array_equal(stats, stats0)
        assert np.allclose(centroids, centroids0)


def test_component_labels_match_scipy():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from ufmclean.ocr.fast import component_labels

    rng = np.random.default_rng(5)
    for n, m in ((1, 0), (5, 0), (40, 30), (300, 200), (300, 900)):
        rows, cols = rng.integers(0, n, m), rng.integers(0, n, m)
        ours = component_labels(n, rows, cols)
        graph = coo_matrix((np.ones(m, np.int8), (rows, cols)), shape=(n, n))
        assert np.array_equal(ours, connected_components(graph, directed=False)[1])
    # A long chain given in reverse order settles too.
    chain = np.arange(199, 0, -1)
    assert np.array_equal(component_labels(200, chain, chain - 1), np.zeros(200, int))


def test_cut_short_bands_a_box_whose_line_runs_on_past_it_sideways():
    box = BBox(337, 23, 365, 36)  # the detector boxed '1:07' of a low-contrast '12:41:07'
    line = BBox(321, 10, 374, 55)  # the candidate line merged with a dark blob: too tall to set a scale
    assert cut_short([line], [box]) == [BBox(321, 23, 374, 36)]
    assert cut_short([BBox(340, 20, 366, 38)], [box]) == []  # within half a box height of its ends
    assert cut_short([BBox(200, 20, 300, 38)], [box]) == []  # does not touch the box
    assert cut_short([BBox(300, 0, 400, 200)], [box]) == []  # anatomy: over 4 box heights tall
