"""Redaction on synthetic arrays: every dtype, colour, MONOCHROME1, every frame, pixels elsewhere untouched."""

from __future__ import annotations

import numpy as np
import pytest

from ufmclean.records import BBox
from ufmclean.redact.apply import RedactionRegion, redact_image, regions_for_image
from ufmclean.redact.masks import stroke_mask

from .helpers import draw_text, finding, textured

BOX = BBox(10, 10, 114, 38)  # holds 'AB 1234' at (12, 34), scale 0.8


def _grey_case(dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """raw (1, H, W) of ``dtype`` with bright text in BOX, its uint8 display, and the text-free raw."""
    bg = textured()
    base = draw_text(bg, "AB 1234", (12, 34), 1.0, scale=0.8)
    convert = {
        "uint8": lambda a: np.rint(a * 255).astype(np.uint8),
        "uint16": lambda a: np.rint(a * 4095).astype(np.uint16),  # 12 bits stored
        "int16": lambda a: np.rint(a * 3000 - 1024).astype(np.int16),  # CT-like, negative values
        "float32": lambda a: (a * 7.5 - 2.0).astype(np.float32),
    }[dtype]
    return convert(base)[None], np.rint(base * 255).astype(np.uint8)[None], convert(bg)


def _ink_left(img: np.ndarray, clean: np.ndarray, scale: float) -> int:
    """Pixels in BOX that still differ from the text-free background by more than a quarter of the range."""
    d = np.abs(img.astype(np.float64) - clean.astype(np.float64))[BOX.slices]
    return int((d > 0.25 * scale).sum())


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_inpaint_removes_text_and_keeps_dtype_and_other_pixels(dtype: str) -> None:
    raw, disp, clean = _grey_case(dtype)
    raw_before = raw.copy()
    regions = [RedactionRegion("f1", 0, BOX, "inpaint")]
    out, pixels = redact_image(raw, disp, regions, margin=2, dilate_px=2)
    assert out.dtype == raw.dtype and out.shape == raw.shape
    np.testing.assert_array_equal(raw, raw_before)  # input not mutated
    allowed = np.zeros(raw.shape[1:], bool)
    allowed[BOX.pad(2).slices] = True
    changed = out[0] != raw[0]
    assert changed.any() and not (changed & ~allowed).any(), "pixels outside the region changed"
    assert pixels[("f1", 0)] > 0
    scale = float(raw.max() - raw.min())
    assert _ink_left(raw[0], clean, scale) > 300
    assert _ink_left(out[0], clean, scale) == 0
    assert out.min() >= raw.min() and out.max() <= raw.max()


def test_mask_fills_box_with_background_value() -> None:
    raw, disp, _ = _grey_case("uint16")
    out, _ = redact_image(raw, disp, [RedactionRegion("f1", 0, BOX, "mask")], margin=2)
    region = out[0][BOX.pad(2).slices]
    assert np.unique(region).size == 1
    ring = raw[0][BOX.pad(3).slices]
    assert abs(int(region[0, 0]) - int(np.median(np.concatenate([ring[0], ring[-1], ring[:, 0], ring[:, -1]])))) <= 1
    outside = np.ones(raw.shape[1:], bool)
    outside[BOX.pad(2).slices] = False
    np.testing.assert_array_equal(out[0][outside], raw[0][outside])


def test_monochrome1_strokes_found_in_display_polarity() -> None:
    base = draw_text(textured(), "AB 1234", (12, 34), 1.0, scale=0.8)
    disp = np.rint(base * 255).astype(np.uint8)[None]
    raw = np.rint((1.0 - base) * 1023).astype(np.uint16)[None]  # stored inverted, 10-bit
    out, _ = redact_image(raw, disp, [RedactionRegion("f1", 0, BOX, "inpaint")])
    # Text is dark in the stored values; after redaction the box is as bright as its surroundings.
    assert raw[0][BOX.slices].min() < 100
    assert out[0][BOX.slices].min() > 400
    assert out.max() <= 1023


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_colour_inpaint(dtype: str) -> None:
    base = textured()
    rgb = draw_text(np.stack([base, base * 0.8, base * 0.6], axis=-1), "AB 1234", (12, 34), (1.0, 1.0, 0.0), scale=0.8)
    scale = 255 if dtype == "uint8" else 65535
    raw = np.rint(rgb * scale).astype(dtype)[None]
    disp = np.rint(rgb * 255).astype(np.uint8)[None]
    out, _ = redact_image(raw, disp, [RedactionRegion("f1", 0, BOX, "inpaint")])
    assert out.shape == raw.shape and out.dtype == raw.dtype
    assert _ink_left(out[0, ..., 0], np.rint(base * scale), scale) == 0
    assert _ink_left(out[0, ..., 2], np.rint(base * 0.6 * scale), scale) == 0
    outside = np.ones(raw.shape[1:3], bool)
    outside[BOX.pad(4).slices] = False
    np.testing.assert_array_equal(out[0][outside], raw[0][outside])


def test_stroke_mask_is_strokes_not_box() -> None:
    disp = np.full((64, 128), 40, np.uint8)
    disp = draw_text(disp.astype(np.float64), "HI", (12, 34), 220).astype(np.uint8)
    m = stroke_mask(disp, BOX, margin=2, dilate_px=0)
    assert 0 < m.sum() < 0.5 * BOX.area
    assert (disp[m] > 100).all()
    flat = np.full((64, 128), 40, np.uint8)
    assert stroke_mask(flat, BOX).sum() == BOX.area  # nothing to find: the whole box


def test_light_text_with_a_dark_outline_on_bright_tissue_is_inpainted_whole() -> None:
    """The canary's style (white strokes in a one-pixel black rim, JPEG-compressed) on bright tissue: the
    rim sets the threshold, the fill (~55 above the tissue) stays below it, and inpainting spread the
    enclosed fill into white blobs where the letters were."""
    import cv2

    from ufmclean.verify.canary import CanarySpec, render_text, stamp_canary

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:160]
    tissue = np.clip(195 + 8 * np.sin(xx / 11.0) + rng.normal(0, 3, (64, 160)), 0, 255).astype(np.uint8)
    patch, strokes = render_text("JANE DOE", height=16)
    h, w = patch.shape
    spec = CanarySpec(patch, strokes, (10 / 160, 20 / 64, (10 + w) / 160, (20 + h) / 64), (), "1", 1)
    img, stamped = stamp_canary(tissue, spec)
    img = cv2.imdecode(cv2.imencode(".jpeg", img)[1], cv2.IMREAD_GRAYSCALE)
    box = stamped.pad(2, height=64, width=160)
    new, _ = redact_image(img[None], img[None], [RedactionRegion("f", 0, box, "inpaint")])
    left = new[0].astype(int)[box.slices] - tissue.astype(int)[box.slices]
    assert left.max() <= 30, f"{int((left > 30).sum())} bright pixels of the text remain"


def test_every_frame_that_carries_the_text_is_redacted() -> None:
    frames = []
    for i in range(4):
        bg = textured(seed=i)
        frames.append(draw_text(bg, "AB 1234", (12, 34), 1.0, scale=0.8) if i != 2 else bg)
    disp = np.rint(np.stack(frames) * 255).astype(np.uint8)
    raw = disp.astype(np.uint16) * 16
    f = finding("f1", text="AB 1234", bbox=BOX, frame=0, action="inpaint")
    regions = regions_for_image([f], disp)
    assert sorted(r.frame for r in regions) == [0, 1, 3]
    assert [r.propagated for r in regions if r.frame == 0] == [False]
    out, _ = redact_image(raw, disp, regions)
    for i in (0, 1, 3):
        clean = np.rint(textured(seed=i) * 255).astype(np.uint16) * 16
        assert _ink_left(raw[i], clean, 4080) > 300 and _ink_left(out[i], clean, 4080) == 0
    np.testing.assert_array_equal(out[2], raw[2])


def test_regions_skip_keep_and_flag_and_overlays() -> None:
    disp = np.zeros((1, 64, 128), np.uint8)
    fs = [finding("a", action="keep"), finding("b", action="flag"), finding("c", kind="overlay", action="inpaint"),
          finding("d", kind="marker", action="mask")]
    assert [(r.finding_id, r.mode) for r in regions_for_image(fs, disp)] == [("d", "mask")]
    with pytest.raises(ValueError, match="frame"):
        regions_for_image([finding("e", frame=3, action="mask")], disp)


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        redact_image(np.zeros((1, 4, 4), np.uint8), np.zeros((1, 5, 4), np.uint8), [])
    with pytest.raises(ValueError):
        redact_image(np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), np.uint8), [])
