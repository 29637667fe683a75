"""Dataset listing, labels CSV, stratified seeded split, reading to probe arrays."""


import numpy as np
import pytest

from ufmclean.errors import UsageError
from ufmclean.verify import data


def test_list_items_from_folders(tiny_dataset):
    items = data.list_items(tiny_dataset)
    assert len(items) == 24 and {it.label for it in items} == {"dark", "bright"}
    assert [it.relpath for it in items] == sorted(it.relpath for it in items)


def test_labels_csv_with_split(tmp_path, tiny_dataset):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,split,label\ndark/img000.png,train,0\ndark/img001.png,test,0\nbright/img000.png,train,1\n")
    items = data.list_items(tiny_dataset, labels_csv=csv)
    assert [(it.relpath, it.label, it.split) for it in items] == [
        ("bright/img000.png", "1", "train"), ("dark/img000.png", "0", "train"), ("dark/img001.png", "0", "eval")]
    assert data.split_items(items) == {"bright/img000.png": "train", "dark/img000.png": "train", "dark/img001.png": "eval"}


def test_labels_csv_missing_column_is_clear(tmp_path, tiny_dataset):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\na.png,0\n")
    with pytest.raises(UsageError, match="path"):
        data.list_items(tiny_dataset, labels_csv=csv)


def test_split_is_stratified_seeded_and_stable_under_removal():
    items = [data.Item(f"{c}/{i}.png", c) for c in "ab" for i in range(50)]
    s0 = data.split_items(items, seed=0, eval_fraction=0.2)
    assert s0 == data.split_items(items, seed=0, eval_fraction=0.2)
    for c in "ab":
        assert sum(1 for r, v in s0.items() if r.startswith(c) and v == "eval") == 10
    assert s0 != data.split_items(items, seed=1, eval_fraction=0.2)
    # dropping one training file does not move any other file across the split
    dropped = next(r for r, v in s0.items() if v == "train")
    s_less = data.split_items([it for it in items if it.relpath != dropped], seed=0)
    assert all(s_less[r] == s0[r] for r in s_less)


def test_split_rejects_bad_fraction():
    with pytest.raises(UsageError):
        data.split_items([data.Item("a/1.png", "a")], eval_fraction=1.5)


def test_load_probe_data_records_unreadable_files(tiny_dataset):
    (tiny_dataset / "dark" / "broken.png").write_bytes(b"not a png")
    items = data.list_items(tiny_dataset)
    d = data.load_probe_data(tiny_dataset, items, size=16)
    assert d.images.shape == (24, 16, 16) and d.images.dtype == np.float32
    assert d.images.min() >= 0.0 and d.images.max() <= 1.0
    assert list(d.errors) == ["dark/broken.png"] and "not an image" in d.errors["dark/broken.png"]
    assert d.classes == ("bright", "dark") and set(d.labels.tolist()) == {0, 1}
    assert (d.shapes == 32).all()
    # bright class is brighter after resizing
    assert d.images[d.labels == 0].mean() > d.images[d.labels == 1].mean()


def test_to_probe_rejects_colour():
    with pytest.raises(ValueError):
        data.to_probe(np.zeros((4, 4, 3), np.uint8), 8)
