"""The committed synthetic sample dataset: layout, ground truth consistency, loadability, determinism."""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from ufmclean.io import discover, load_image


@pytest.fixture(scope="module")
def gt(sample_data_dir):
    return json.loads((sample_data_dir / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def loaded(sample_data_dir):
    return {r.relpath: load_image(r) for r in discover(sample_data_dir / "images")}


def test_layout_labels_and_size(sample_data_dir, gt):
    with open(sample_data_dir / "labels.csv", newline="") as fh:
        labels = {r["relpath"]: r["label"] for r in csv.DictReader(fh)}
    recs = discover(sample_data_dir / "images")
    assert len(recs) == 200 and all(r.status == "ok" for r in recs)
    assert {r.relpath: r.label for r in recs} == labels  # ImageFolder labels agree with labels.csv
    assert collections.Counter(labels.values()) == {"normal": 100, "pneumonia": 100}
    assert set(gt["codecs"]) == set(labels)
    assert {"png", "rle", "j2k", "uncompressed", "mono1"} <= set(gt["codecs"].values())
    total = sum(p.stat().st_size for p in sample_data_dir.rglob("*") if p.is_file())
    assert total < 8 * 2**20
    notice = (sample_data_dir / "pydicom_files" / "NOTICE").read_text()
    assert "MIT" in notice or "Permission is hereby granted" in notice
    assert len(list((sample_data_dir / "pydicom_files").glob("*.dcm"))) >= 4


def test_ground_truth_counts(gt):
    items = gt["items"]
    per_text = collections.defaultdict(set)
    for it in items:
        per_text[(it["kind"], it["text"])].add(it["relpath"])
        x0, y0, x1, y1 = it["box"]
        assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256
        assert it["phi"] in ("name", "id", "date", "none") and it["kind"] in ("text", "marker", "overlay")
    for text in ("PORTABLE", "AP"):
        assert len(per_text[("text", text)]) > 100 and not any(i["rare"] for i in items if i["text"] == text)
    assert len(per_text[("text", "L")] | per_text[("text", "R")]) > 150
    rare = {k: v for k, v in per_text.items() if any(i["rare"] for i in items if (i["kind"], i["text"]) == k)}
    assert all(1 <= len(v) <= 2 for v in rare.values())
    assert {i["phi"] for i in items if i["rare"]} >= {"name", "id", "date"}
    assert len(per_text[("marker", "")]) == 1 and len(per_text[("overlay", "REVIEW")]) == 1
    assert {i["style"] for i in items} >= {"bright", "dark_on_light", "low_contrast"}


def test_pixels_match_ground_truth(gt, loaded):
    for it in gt["items"]:
        li = loaded[it["relpath"]]
        x0, y0, x1, y1 = it["box"]
        frames = range(li.n_frames) if it["frame"] == "all" else [it["frame"]]
        for f in frames:
            region = li.display[f, y0:y1, x0:x1]
            if it["kind"] == "overlay":
                mask = next(p.mask for p in li.overlays if p.frame == f)
                ys, xs = np.nonzero(mask)
                assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == it["box"]
            elif it["style"] == "bright":
                assert region.max() >= 230, it
            elif it["style"] == "dark_on_light":
                assert region.min() <= 60 and region.max() >= 200, it


def test_special_files_and_header_seeds(gt, loaded):
    codecs = gt["codecs"]
    multi = [li for li in loaded.values() if li.n_frames > 1]
    assert len(multi) == 1 and multi[0].n_frames == 4
    mono1 = [rel for rel, c in codecs.items() if c == "mono1"]
    assert loaded[mono1[0]].photometric == "MONOCHROME1"
    stale = [rel for rel, c in codecs.items() if c == "stale_window"]
    assert any("VOI window ignored" in n for n in loaded[stale[0]].notes)
    # Header values match burned-in strings in a different format.
    pairs = {"1971-03-04": "19710304", "JANE DOE": "DOE^JANE", "MRN 4827361": "4827361"}
    seen = 0
    for it in gt["items"]:
        if it["text"] in pairs and codecs[it["relpath"]] != "png":
            h = loaded[it["relpath"]].header
            assert pairs[it["text"]] in h.names + h.ids + h.dates
            seen += 1
    assert seen >= 2


@pytest.mark.slow
def test_generator_is_deterministic(sample_data_dir, tmp_path):
    script = sample_data_dir / "make_sample_data.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=300)

    def digest(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".py"}  # fmt: skip

    fresh, committed = digest(tmp_path), digest(sample_data_dir)
    assert fresh == {k: committed.get(k) for k in fresh}
    assert {k for k in committed if k.startswith("images/")} == {k for k in fresh if k.startswith("images/")}
