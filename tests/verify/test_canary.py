"""Canary stamping: copy without touching the input, k training images stamped, canary.json readable."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ufmclean.errors import UsageError
from ufmclean.verify import canary, data
from ufmclean.verify.features import canary_feature


def _digest(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_text_mask_covers_strokes():
    patch, mask = canary.render_text("AB 12", height=12)
    assert patch.dtype == np.uint8 and patch.shape == mask.shape
    assert mask[patch > 128].all() and 0.05 < mask.mean() < 0.9


def test_make_canary_stamps_k_training_images_and_leaves_input(tmp_path, tiny_dataset):
    before = _digest(tiny_dataset)
    out = tmp_path / "canaried"
    info = canary.make_canary(tiny_dataset, out, text="XQ", k=3, label="dark", seed=1, height_frac=0.25)
    assert _digest(tiny_dataset) == before
    doc = json.loads((out / "canary.json").read_text())
    assert doc["k"] == 3 and doc["class"] == "dark" and len(doc["files"]) == 3 and info["k"] == 3
    side = data.split_items(data.list_items(tiny_dataset), seed=0)
    after = _digest(out)
    for f in doc["files"]:
        assert f["relpath"].startswith("dark/") and side[f["relpath"]] == "train"
        assert after[f["relpath"]] != before[f["relpath"]]
        img = cv2.imread(str(out / f["relpath"]), cv2.IMREAD_GRAYSCALE)
        assert img[f["y0"]:f["y1"], f["x0"]:f["x1"]].max() == 255
    unchanged = set(before) - {f["relpath"] for f in doc["files"]}
    assert all(after[r] == before[r] for r in unchanged)
    spec = canary.read_canary(out)
    assert spec.relpaths == tuple(f["relpath"] for f in doc["files"]) and spec.label == "dark"
    feat = canary_feature(spec, size=16, classes=("bright", "dark"))
    assert feat.y_star == 1 and feat.patch.shape == feat.mask.shape == (feat.probe_box.height, feat.probe_box.width)


def test_make_canary_refuses_bad_arguments(tmp_path, tiny_dataset):
    with pytest.raises(UsageError):
        canary.make_canary(tiny_dataset, tiny_dataset / "out", text="A")
    with pytest.raises(UsageError):
        canary.make_canary(tiny_dataset, tmp_path / "o1", text="A", k=100)
    with pytest.raises(UsageError):
        canary.make_canary(tiny_dataset, tmp_path / "o2")
    with pytest.raises(UsageError):
        canary.make_canary(tiny_dataset, tmp_path / "o3", text="A VERY LONG CANARY TEXT INDEED", height_frac=0.3)


def test_choice_is_seeded():
    items = [data.Item(f"a/{i}.png", "a") for i in range(40)]
    a = canary.choose_canary_files(items, k=2, label=None, seed=3)
    assert a == canary.choose_canary_files(items, k=2, label=None, seed=3)
    assert a != canary.choose_canary_files(items, k=2, label=None, seed=4)


def test_read_canary_absent_and_malformed(tmp_path):
    assert canary.read_canary(tmp_path) is None
    (tmp_path / "canary.json").write_text("{}")
    with pytest.raises(UsageError):
        canary.read_canary(tmp_path)


def test_render_text_wraps_onto_two_lines_only_when_too_wide():
    one, _ = canary.render_text("DOE, JANE", height=20)
    assert canary.render_text("DOE, JANE", height=20, max_width=one.shape[1])[0].shape == one.shape
    two, mask = canary.render_text("DOE, JANE", height=20, max_width=one.shape[1] - 1)
    assert two.shape[1] < one.shape[1] and two.shape[0] > 2 * one.shape[0] - 2 and two.shape == mask.shape
    assert mask[two > 128].all()
    rows = np.flatnonzero(two.max(axis=1) > 128)  # two bands of strokes with a gap between them
    assert (np.diff(rows) > 1).sum() == 1
    word, _ = canary.render_text("JANE", height=20, max_width=5)  # one word: no break, wider than asked
    assert word.shape == canary.render_text("JANE", height=20)[0].shape


def test_audit_height_frac_sets_the_audit_canaries_size_not_the_named_ones(tmp_path):
    from .conftest import make_dataset

    src = make_dataset(tmp_path / "data", n_per_class=20, size=96)
    kw = dict(text="XQ", k=1, audit=4, height_frac=0.06, box_frac=(0.1, 0.1), seed=2)
    canary.make_canary(src, tmp_path / "small", **kw)
    canary.make_canary(src, tmp_path / "big", audit_height_frac=0.14, wrap=True, **kw)
    small, big = (canary.read_canary_doc(tmp_path / d) for d in ("small", "big"))
    assert small["patch_png"] == big["patch_png"] and small["box_frac"] == big["box_frac"]
    hs = [r["box_frac"][3] - r["box_frac"][1] for r in small["audit"]["canaries"]]
    hb = [r["box_frac"][3] - r["box_frac"][1] for r in big["audit"]["canaries"]]
    assert len(hb) == 8 and min(hb) > 1.8 * max(hs)  # 0.14 / 0.06 of the glyph height (some on two lines)
    for r in big["audit"]["canaries"]:
        x0, y0, x1, y1 = r["box_frac"]
        assert 0.05 - 1e-9 <= x0 < x1 <= 0.95 + 1e-9 and 0.05 - 1e-9 <= y0 < y1 <= 0.95 + 1e-9
    # same carriers and insertions: only the look and place of the canaries change
    assert [(r["relpath"], r["inserted"]) for r in small["audit"]["canaries"]] == \
        [(r["relpath"], r["inserted"]) for r in big["audit"]["canaries"]]


def test_wrap_sets_a_named_canary_too_wide_for_one_line_on_two(tmp_path):
    from .conftest import make_dataset

    src = make_dataset(tmp_path / "data", n_per_class=12, size=96)
    kw = dict(text="AB CD", k=1, height_frac=0.12, box_frac=(0.5, 0.1))
    with pytest.raises(UsageError):  # one line is wider than the half image right of x = 0.5
        canary.make_canary(src, tmp_path / "one", **kw)
    canary.make_canary(src, tmp_path / "two", wrap=True, **kw)
    x0, y0, x1, y1 = canary.read_canary(tmp_path / "two").box_frac
    assert x0 == 0.5 and x1 <= 1 and y1 <= 1 and (y1 - y0) > (x1 - x0)  # two short lines: taller than wide
