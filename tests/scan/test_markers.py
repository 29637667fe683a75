"""Marker detector: rendered marks are found with tight boxes; anatomy-like structure is not."""

import json

import cv2
import numpy as np
import pytest

from ufmclean.detect.marker_shape import DESCRIPTOR_SIZE
from ufmclean.detect.markers import MarkerOptions, frame_marks, marker_findings
from ufmclean.rarity import RarityOptions, cluster_descriptors
from ufmclean.records import BBox, Finding, ImageRecord, LoadedImage

DIST = RarityOptions().marker_distance


def anatomy(seed: int = 0, size: int = 256) -> np.ndarray:
    """Noisy smooth gradient with a soft bright blob: nothing here is a rendered mark."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = 60 + 80 * xx / size + 30 * np.sin(yy / 23.0)
    img += 70 * np.exp(-(((xx - 0.6 * size) ** 2 + (yy - 0.4 * size) ** 2) / (2 * (0.08 * size) ** 2)))
    img += cv2.GaussianBlur(rng.normal(0, 6, (size, size)).astype(np.float32), (0, 0), 1.0)
    img += rng.normal(0, 2, (size, size))
    return np.clip(img, 0, 255).astype(np.uint8)


def sticker(img: np.ndarray, x: int, y: int, w: int = 24, h: int = 18, value: int = 245) -> BBox:
    img[y : y + h, x : x + w] = value
    return BBox(x, y, x + w, y + h)


def letter_r(img: np.ndarray, x: int, y: int, scale: float = 0.6) -> BBox:
    mask = np.zeros(img.shape, np.uint8)
    cv2.putText(mask, "R", (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2, cv2.LINE_AA)
    a = mask.astype(np.float32) / 255.0
    img[:] = np.clip(np.rint(img * (1 - a) + 240 * a), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    return BBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def loaded(display: np.ndarray, image_id: str = "img0") -> LoadedImage:
    frames = display.shape[0]
    record = ImageRecord(image_id, f"{image_id}.png", f"/x/{image_id}.png", "0" * 64, 1, "png", frames=frames)
    return LoadedImage(record, display.copy(), display)


def test_flat_bright_sticker_found_with_tight_box():
    img = anatomy()
    truth = sticker(img, 40, 180)
    marks = frame_marks(img)
    assert len(marks) == 1
    assert marks[0].bbox.iou(truth) >= 0.8
    assert 0.0 < marks[0].confidence <= 1.0
    assert len(marks[0].descriptor) == DESCRIPTOR_SIZE


def test_smooth_anatomy_gradients_and_black_borders_give_nothing():
    img = anatomy(1)
    assert frame_marks(img) == []
    bordered = img.copy()
    bordered[:, :30] = 0  # black border / collimator
    bordered[:20, :] = 0
    bordered[200:, 120:] = 0  # black corner touching two edges
    assert frame_marks(bordered) == []
    big = anatomy(2)
    cv2.circle(big, (128, 128), 70, 250, -1)  # a large bright implant-sized disc, over 2 % of the frame
    big = cv2.GaussianBlur(big, (0, 0), 2.0)
    assert frame_marks(big) == []


def test_same_mark_in_two_images_is_close_and_different_marks_are_far():
    a, b = anatomy(3), anatomy(4)
    ra = letter_r(a, 30, 50)
    rb = letter_r(b, 180, 200)
    c = anatomy(5)
    sc = sticker(c, 100, 100, 30, 22, value=200)
    da = [m for m in frame_marks(a) if m.bbox.iou(ra) > 0.5]
    db = [m for m in frame_marks(b) if m.bbox.iou(rb) > 0.5]
    dc = [m for m in frame_marks(c) if m.bbox.iou(sc) > 0.5]
    assert len(da) == len(db) == len(dc) == 1
    va, vb, vc = (np.array(d[0].descriptor) for d in (da, db, dc))
    assert np.linalg.norm(va - vb) <= DIST
    assert np.linalg.norm(va - vc) > DIST
    labels = cluster_descriptors(np.stack([va, vb, vc]), max_distance=DIST)
    assert labels[0] == labels[1] != labels[2]


def test_exclude_suppresses_candidates_in_same_frame_only():
    img = anatomy(6)
    truth = sticker(img, 60, 60)
    display = np.stack([img, img])
    image = loaded(display)
    text = Finding("t", "img0", "img0.png", 0, "text", BBox(58, 58, 86, 80), text="X")
    found = marker_findings(image, exclude=[text])
    assert [f.frame for f in found] == [1]
    assert found[0].bbox.iou(truth) >= 0.8


def test_multi_frame_and_finding_fields():
    a, b = anatomy(7), anatomy(7)
    ta = sticker(a, 30, 40)
    tb = sticker(b, 150, 170, value=30)  # dark sticker on the second frame
    image = loaded(np.stack([a, b, a]))
    found = marker_findings(image)
    assert sorted(f.frame for f in found) == [0, 1, 2]
    by_frame = {f.frame: f for f in found}
    assert by_frame[0].bbox == by_frame[2].bbox and by_frame[0].bbox.iou(ta) >= 0.8
    assert by_frame[1].bbox.iou(tb) >= 0.8
    assert by_frame[0].descriptor == by_frame[2].descriptor
    assert len({f.finding_id for f in found}) == 3
    for f in found:
        assert f.kind == "marker" and f.text == "" and f.image_id == "img0" and f.relpath == "img0.png"
        assert len(f.finding_id) == 16 and 0.0 <= f.confidence <= 1.0
    assert [f.finding_id for f in marker_findings(image)] == [f.finding_id for f in found]


def test_rgb_colour_pen_mark_found():
    grey = anatomy(8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    cv2.line(rgb, (80, 90), (110, 120), (200, 40, 40), 2)  # red pen stroke, same brightness as tissue
    found = marker_findings(loaded(rgb[None]))
    assert len(found) == 1
    assert found[0].bbox.iou(BBox(79, 89, 112, 122)) >= 0.6


def test_inputs_not_mutated():
    img = anatomy(9)
    sticker(img, 40, 40)
    display = np.stack([img, img])
    before = display.copy()
    image = loaded(display)
    marker_findings(image)
    frame_marks(img)
    assert np.array_equal(display, before) and np.array_equal(img, before[0])


def test_large_frame_is_shrunk_and_boxes_map_back():
    img = cv2.resize(anatomy(10), (1600, 1600), interpolation=cv2.INTER_LINEAR)
    truth = sticker(img, 400, 900, 120, 90)
    marks = frame_marks(img)
    assert len(marks) == 1 and marks[0].bbox.iou(truth) >= 0.8


@pytest.mark.parametrize(
    "bad",
    [
        {"min_contrast": 0},
        {"bright_level": 300},
        {"dark_level": 250, "bright_level": 240},
        {"min_sharpness": 1.5},
        {"min_area": 0},
        {"max_area_fraction": 0},
        {"exclude_overlap": 2.0},
        {"merge_gap": -1},
        {"max_work_side": 0},
        {"min_side_ratio": -0.1},
        {"grow_fraction": 1.5},
        {"max_growth": -1},
        {"min_confidence": 1.2},
    ],
)
def test_options_validation(bad):
    with pytest.raises(ValueError):
        MarkerOptions(**bad)


def test_bad_display_rejected():
    with pytest.raises(ValueError):
        marker_findings(loaded(np.zeros((1, 16, 16), np.float32)))
    with pytest.raises(ValueError):
        frame_marks(np.zeros((16, 16, 4), np.uint8))


def test_sample_data_sticker_found(sample_data_dir):
    from ufmclean.io import discover, load_image

    truth = json.loads((sample_data_dir / "ground_truth.json").read_text())
    item = next(i for i in truth["items"] if i["kind"] == "marker")
    record = next(r for r in discover(sample_data_dir / "images") if r.relpath == item["relpath"])
    image = load_image(record)
    text = [
        Finding(f"t{k}", record.image_id, record.relpath, 0, "text", BBox(*i["box"]), text=i["text"])
        for k, i in enumerate(truth["items"])
        if i["relpath"] == item["relpath"] and i["kind"] == "text"
    ]
    found = marker_findings(image, exclude=text)
    best = max(f.bbox.iou(BBox(*item["box"])) for f in found)
    assert best >= 0.5
    assert len(found) == 1  # with the text owned by OCR, nothing else in this image is a marker


@pytest.mark.slow
def test_kermany_r_markers_found_and_cluster(shared_data):
    folder = shared_data / "kermany_cxr_224" / "train" / "NORMAL"
    files = sorted(folder.glob("*.jpeg"))[:60]
    if len(files) < 60:
        pytest.skip("Kermany images not present")
    marks = []
    for path in files:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        marks.append(frame_marks(grey))
    with_mark = sum(bool(m) for m in marks)
    assert with_mark >= 30  # most of these carry an "R" laterality marker
    desc = np.array([m.descriptor for ms in marks for m in ms])
    labels = cluster_descriptors(desc, max_distance=DIST)
    image_of = np.array([k for k, ms in enumerate(marks) for _ in ms])
    largest = max(len(set(image_of[labels == lab])) for lab in set(labels.tolist()))
    assert largest >= 10  # the common "R" forms a common key, not one rare key per image


def rib(img: np.ndarray, *, cx: float, cy: float, radius: float, gain: float, width: float, period: float) -> None:
    """Add a bright arc in place: flat-topped with 1-px edges (as sharp as a 224 px rib gets), its
    brightness varying along its length so that only pieces of it pass a contrast threshold."""
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(np.float32)
    dist = np.abs(np.hypot(xx - cx, yy - cy) - radius)
    band = np.clip(width / 2 + 0.5 - dist, 0, 1) * (yy < cy)
    band *= gain * (0.6 + 0.4 * np.sin(np.arctan2(yy - cy, xx - cx) * period))
    img[:] = np.clip(img + band, 0, 255).astype(np.uint8)


def ribcage(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = (anatomy(seed).astype(np.float32) * 0.6).astype(np.uint8)  # dark lung field
    for k in range(4):
        rib(img, cx=128 + rng.uniform(-30, 30), cy=200 + 25 * k, radius=rng.uniform(90, 140),
            gain=rng.uniform(110, 160), width=rng.uniform(3, 6), period=rng.uniform(8, 16))  # fmt: skip
    return cv2.GaussianBlur(img, (0, 0), 0.7)


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15, 16])
def test_rib_like_bright_arcs_give_nothing(seed):
    # The detector before the side and growth tests found 2-5 marks in each of these.
    assert frame_marks(ribcage(seed)) == []


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_thin_wire_gives_nothing(seed):
    rng = np.random.default_rng(seed)
    img = (anatomy(seed).astype(np.float32) * 0.7).astype(np.uint8)
    pts = np.cumsum(rng.uniform(-1, 1, (12, 2)) * 8 + [20, 6], axis=0).astype(np.int32) + [10, 60]
    layer = np.zeros_like(img)
    cv2.polylines(layer, [pts], False, 255, 1, cv2.LINE_AA)  # a monitoring lead crossing the chest
    a = layer.astype(np.float32) / 255 * (0.55 + 0.45 * np.sin(np.arange(img.shape[1]) / 6.0))[None, :]
    img = np.clip(img * (1 - a) + 220 * a, 0, 255).astype(np.uint8)
    assert frame_marks(img) == []  # the detector before the side and growth tests found 5-6 pieces


def test_marks_on_ribbed_background_still_found():
    img = ribcage(13)
    r = letter_r(img, 30, 40)
    s = sticker(img, 170, 200, 26, 18, value=235)
    cv2.line(img, (200, 30), (200, 60), 230, 2)  # a ruler-like tick
    cv2.arrowedLine(img, (60, 200), (90, 170), 225, 2, tipLength=0.4)
    marks = frame_marks(img)
    for truth in (r, s, BBox(199, 29, 202, 62), BBox(58, 168, 93, 203)):
        assert any(m.bbox.iou(truth) >= 0.5 for m in marks), truth
    assert len(marks) == 4
