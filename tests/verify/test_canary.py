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
