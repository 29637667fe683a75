"""Discovery: sniffing, skipped/error rows, symlinks, labels, ids."""

from __future__ import annotations

import hashlib
import os
import sys

import cv2
import numpy as np
import pytest
from io_factory import gradient, make_ds, save

from ufmclean.errors import UsageError
from ufmclean.io import discover, image_id_for, load_image


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "in"
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    cv2.imwrite(str(root / "cats" / "a.png"), gradient())
    (root / "cats" / "misnamed.txt").write_bytes(cv2.imencode(".png", gradient())[1].tobytes())  # wrong extension
    save(make_ds(gradient()), root / "dogs" / "b.dcm")
    (root / "dogs" / "notes.dcm").write_bytes(os.urandom(300))  # random bytes named .dcm
    (root / "dogs" / "empty.png").write_bytes(b"")
    (root / "dogs" / "cine.zip").write_bytes(b"PK\x03\x04" + bytes(100))
    return root


def by_rel(records):
    return {r.relpath: r for r in records}


def test_sniffs_magic_bytes_not_extension(tree):
    recs = by_rel(discover(tree))
    assert recs["cats/a.png"].format == "png"
    assert recs["cats/misnamed.txt"].format == "png" and recs["cats/misnamed.txt"].status == "ok"
    assert recs["dogs/b.dcm"].format == "dicom"
    assert recs["dogs/notes.dcm"].status == "skipped" and "not an image" in recs["dogs/notes.dcm"].error
    assert recs["dogs/empty.png"].status == "skipped" and "empty" in recs["dogs/empty.png"].error
    assert recs["dogs/cine.zip"].status == "skipped" and "extract" in recs["dogs/cine.zip"].error


def test_sorted_ids_hashes_and_header_fields(tree):
    recs = discover(tree)
    assert [r.relpath for r in recs] == sorted(r.relpath for r in recs)
    b = by_rel(recs)["dogs/b.dcm"]
    assert b.image_id == hashlib.sha1(b"dogs/b.dcm").hexdigest()[:16] == image_id_for("dogs/b.dcm")
    assert b.sha256 == hashlib.sha256((tree / "dogs" / "b.dcm").read_bytes()).hexdigest()
    assert (b.rows, b.cols, b.frames, b.modality) == (32, 48, 1, "OT")
    a = by_rel(recs)["cats/a.png"]
    assert (a.rows, a.cols, a.frames, a.modality) == (32, 48, 1, None)


def test_imagefolder_labels_and_csv_override(tree, tmp_path):
    recs = by_rel(discover(tree))
    assert recs["cats/a.png"].label == "cats" and recs["dogs/b.dcm"].label == "dogs"
    assert recs["dogs/notes.dcm"].label is None
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("relpath,label\ncats/a.png,pneumonia\n")
    recs = by_rel(discover(tree, labels_csv=csv_path))
    assert recs["cats/a.png"].label == "pneumonia" and recs["dogs/b.dcm"].label is None
    bad = tmp_path / "bad.csv"
    bad.write_text("path,class\n")
    with pytest.raises(UsageError, match="relpath,label"):
        discover(tree, labels_csv=bad)
    # the column --labels' help and verify's reader name, 'path', is accepted too (Windows separators)
    as_path = tmp_path / "as_path.csv"
    as_path.write_text("path,label\ndogs\\b.dcm,pneumonia\n")
    assert by_rel(discover(tree, labels_csv=as_path))["dogs/b.dcm"].label == "pneumonia"


def test_no_labels_when_images_at_top(tmp_path):
    cv2.imwrite(str(tmp_path / "top.png"), gradient())
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "x.png"), gradient())
    assert all(r.label is None for r in discover(tmp_path))


@pytest.mark.skipif(sys.platform == "win32", reason="posix symlinks")
def test_symlink_loop_and_broken_link_do_not_stop_walk(tree):
    os.symlink(tree, tree / "cats" / "loop")
    os.symlink(tree / "nowhere.png", tree / "cats" / "dangling.png")
    os.symlink("self", tree / "cats" / "self")
    recs = by_rel(discover(tree))
    assert recs["cats/loop"].status == "skipped" and "loop" in recs["cats/loop"].error
    assert recs["cats/dangling.png"].status == "error" and "broken symlink" in recs["cats/dangling.png"].error
    assert recs["cats/self"].status == "error" and "symlink loop" in recs["cats/self"].error
    assert recs["dogs/b.dcm"].status == "ok"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_error_row(tree):
    p = tree / "cats" / "a.png"
    p.chmod(0)
    try:
        rec = by_rel(discover(tree))["cats/a.png"]
    finally:
        p.chmod(0o644)
    assert rec.status == "error" and "permission denied" in rec.error


def test_permission_error_is_error_row(tree, monkeypatch):
    import importlib

    d = importlib.import_module("ufmclean.io.discover")

    real = d._hash_and_head

    def deny(path):
        if path.endswith("a.png"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(d, "_hash_and_head", deny)
    recs = by_rel(discover(tree))
    assert recs["cats/a.png"].status == "error" and "permission denied" in recs["cats/a.png"].error
    assert recs["dogs/b.dcm"].status == "ok"


def test_root_must_be_folder(tmp_path):
    with pytest.raises(UsageError, match="not a folder"):
        discover(tmp_path / "missing")


def test_preamble_less_dicom_is_sniffed(tmp_path):
    import pydicom

    ds = make_ds(gradient())
    del ds.file_meta
    pydicom.dcmwrite(tmp_path / "raw_dataset", ds, implicit_vr=True, little_endian=True)
    data = (tmp_path / "raw_dataset").read_bytes()
    assert data[128:132] != b"DICM"
    rec = discover(tmp_path)[0]
    assert rec.format == "dicom" and rec.status == "ok"
    loaded = load_image(rec)
    assert np.array_equal(loaded.raw[0], gradient())
