"""Residual check and the per-image clean-up (redact -> re-read -> escalate -> hold)."""

from __future__ import annotations

import numpy as np
import pytest

from ufmclean.policy import decide, load_policy
from ufmclean.records import BBox
from ufmclean.redact.clean import clean_image
from ufmclean.redact.residual import display_like, text_similarity

from .helpers import ContrastReader, draw_text, finding, loaded_from, textured

BOX = BBox(10, 10, 114, 38)


def _image(value: float = 1.0, frames: int = 1):
    base = draw_text(textured(), "AB 1234", (12, 34), value, scale=0.8)
    disp = np.repeat(np.rint(base * 255).astype(np.uint8)[None], frames, axis=0)
    raw = (disp.astype(np.uint16) * 16)
    return loaded_from(raw, disp)


def test_text_similarity() -> None:
    assert text_similarity("DAVIDSON DOUGLAS", "davidson douglas") == 100
    assert text_similarity("DAVIDSON", "DAVID5ON") >= 80
    assert text_similarity("DAVIDSON", "ON") < 70  # a stray fragment is not the name
    assert text_similarity("L", "L") == 100 and text_similarity("", "x") == 0


def test_display_like_follows_the_loader_mapping() -> None:
    raw = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    disp = (255 - raw // 16).astype(np.uint8)  # MONOCHROME1-like inversion
    new = raw.copy()
    new[0, 0] = 8  # a value that never occurred: interpolated
    out = display_like(new, raw, disp)
    assert out.dtype == np.uint8 and out[1, 1] == disp[1, 1] and out[0, 0] in (254, 255)


def test_inpaint_passes_residual_check() -> None:
    loaded = _image()
    reader = ContrastReader("AB 1234")
    f = decide([finding("f1", text="AB 1234", bbox=BOX)], load_policy())
    out = clean_image(loaded, f, policy=load_policy(), engine=reader)
    assert not out.held and out.new_raw is not None and out.n_escalated == 0
    assert out.findings[0].residual_ok is True and out.findings[0].action == "inpaint"
    assert reader.calls == 1
    assert loaded.raw.max() == 255 * 16  # input untouched


def test_partial_box_is_held_for_review() -> None:
    loaded = _image()
    # The OCR box covers only the left half of the text: the right half stays legible even after masking.
    f = decide([finding("f1", text="AB 1234", bbox=BBox(10, 10, 50, 38))], load_policy())
    out = clean_image(loaded, f, policy=load_policy(), engine=ContrastReader("AB 1234"))
    assert out.held and out.new_raw is None
    assert out.findings[0].residual_ok is False and out.findings[0].action == "mask"
    assert "residual-escalated" in out.findings[0].reasons
    assert "AB" not in out.note and "held for review" in out.note


class _LegibleOnce:
    """Reads the text the first time only (inpainting leaves a ghost; the mask does not)."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: np.ndarray) -> list:
        self.calls += 1
        return [type("R", (), {"text": "AB 1234", "confidence": 0.8})()] if self.calls == 1 else []


def test_failed_inpaint_escalates_to_mask() -> None:
    loaded = _image()
    f = decide([finding("f1", text="AB 1234", bbox=BOX)], load_policy())
    out = clean_image(loaded, f, policy=load_policy(), engine=_LegibleOnce())
    assert not out.held and out.n_escalated == 1
    assert out.findings[0].action == "mask" and out.findings[0].residual_ok is True
    region = out.new_raw[0][BOX.pad(2).slices]
    assert np.unique(region).size == 1  # masked, not inpainted


def test_multi_frame_all_frames_cleaned_and_read_once() -> None:
    loaded = _image(frames=5)
    reader = ContrastReader("AB 1234")
    f = decide([finding("f1", text="AB 1234", bbox=BOX, frame=2)], load_policy())
    out = clean_image(loaded, f, policy=load_policy(), engine=reader)
    assert out.n_regions == 5 and not out.held
    for g in range(5):
        assert (out.new_raw[g] != loaded.raw[g]).any()
    assert reader.calls == 1  # identical crops are read once


def test_flag_and_keep_change_nothing_and_overlays_go_to_writer() -> None:
    loaded = _image()
    fs = decide([finding("f1", text="AB 1234", bbox=BOX), finding("o1", kind="overlay")], load_policy(action="flag"))
    out = clean_image(loaded, fs, policy=load_policy(action="flag"), engine=None)
    assert out.new_raw is None and not out.remove_overlays and out.n_redacted == 0
    fs = decide([finding("o1", kind="overlay")], load_policy())
    out = clean_image(loaded, fs, policy=load_policy(), engine=None)
    assert out.new_raw is None and out.remove_overlays and out.findings[0].residual_ok is True


def test_marker_checked_by_contrast_without_ocr() -> None:
    bg = textured()
    bg[20:30, 40:60] = 1.0  # a bright sticker
    disp = np.rint(bg * 255).astype(np.uint8)[None]
    loaded = loaded_from(disp.copy(), disp)
    fs = decide([finding("m1", kind="marker", bbox=BBox(40, 20, 60, 30))], load_policy())
    out = clean_image(loaded, fs, policy=load_policy(), engine=None)
    assert out.findings[0].residual_ok is True and not out.held
    assert out.new_raw[0, 20:30, 40:60].max() < 200


def test_no_engine_leaves_text_unchecked() -> None:
    out = clean_image(_image(), decide([finding("f1", text="AB 1234", bbox=BOX)], load_policy()),
                      policy=load_policy(), engine=None)
    assert out.findings[0].residual_ok is None and not out.held


def test_findings_of_another_image_rejected() -> None:
    with pytest.raises(ValueError, match="another image"):
        clean_image(_image(), [finding("x", image_id="other")], policy=load_policy())
