"""The one-run audit end to end on tiny synthetic images: canary --audit N, verify, the verdict in verify.json."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import typer
from typer.testing import CliRunner

from ufmclean.cli import canary as cli_canary
from ufmclean.cli import verify as cli_verify
from ufmclean.verify import audit, data
from ufmclean.verify.canary import read_canary_doc
from ufmclean.verify.controls import control_features, white_m
from ufmclean.verify.mscore import family_a
from ufmclean.verify.verdict import STATUSES

from .conftest import make_dataset


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_canary.register(app)
    cli_verify.register(app)
    return app


def _canaried(tmp_path: Path, n_audit: int = 6) -> tuple[Path, Path]:
    src = make_dataset(tmp_path / "data", n_per_class=20, size=96)
    out = tmp_path / "canaried"
    res = CliRunner().invoke(_app(), ["canary", str(src), "--text", "XQ", "--k", "1", "--audit", str(n_audit),
                                      "--height", "0.06", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return src, out


def test_canary_audit_stamps_one_image_per_inserted_canary_and_records_the_controls(tmp_path):
    src, out = _canaried(tmp_path)
    doc = read_canary_doc(out)
    rows = doc["audit"]["canaries"]
    ins = [r for r in rows if r["inserted"]]
    assert len(rows) == 12 and len(ins) == 6 and doc["audit"]["n"] == 6
    assert len({r["text"] for r in rows}) == 12 and "XQ" not in {r["text"] for r in rows}
    carriers = [r["relpath"] for r in ins]
    named = [f["relpath"] for f in doc["files"]]
    assert len(set(carriers)) == 6 and not set(carriers) & set(named)
    assert all(r["relpath"] is None for r in rows if not r["inserted"])
    for cls in ("bright", "dark"):  # balanced: as many inserted as never-inserted in every class
        assert sum(r["inserted"] for r in rows if r["class"] == cls) == sum(not r["inserted"] for r in rows if r["class"] == cls) == 3
    side = data.split_items(data.list_items(src), seed=0)
    assert all(side[r] == "train" for r in carriers + named)
    changed = {p.relative_to(out).as_posix() for p in out.rglob("*.png")
               if not np.array_equal(cv2.imread(str(p), 0), cv2.imread(str(src / p.relative_to(out)), 0))}
    assert changed == set(carriers) | set(named)  # never-inserted canaries touch no image
    for r in rows:  # the same placement rule for both groups: inside the central 90%
        x0, y0, x1, y1 = r["box_frac"]
        assert audit.MARGIN - 1e-9 <= x0 < x1 <= 1 - audit.MARGIN + 1e-9 and audit.MARGIN - 1e-9 <= y0 < y1


def test_white_m_matches_family_a(tmp_path):
    _, out = _canaried(tmp_path, n_audit=3)
    cs = control_features(out, size=32, classes=("bright", "dark"))
    assert len(cs.audit) == 6 and cs.inserted.sum() == 3 and len(cs.named_controls) == 3
    rng = np.random.default_rng(0)
    images = rng.random((10, 32, 32)).astype(np.float32)
    labels = np.arange(10) % 2

    def predict(x):  # a fixed "model": brightness of the top half -> class 1
        s = x[:, :16].mean((1, 2))
        return np.stack([1 - s, s], 1)

    p = predict(images)
    from ufmclean.verify.mscore import paste

    got = white_m(predict, images, labels, p, cs.audit)
    want = [family_a(p, predict(paste(images, f.patch, f.mask, f.probe_box)), labels, y_star=f.y_star).m for f in cs.audit]
    assert np.allclose(got, want)


def test_verify_with_audit_end_to_end_writes_the_verdict(tmp_path):
    src, orig = _canaried(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(src, run / "clean")  # a "sanitiser" that removed every canary
    out = tmp_path / "verify"
    res = CliRunner().invoke(_app(), ["verify", "--original", str(orig), "--sanitized", str(run), "--out", str(out),
                                      "--seeds", "2", "--size", "32", "--epochs", "2", "--device", "cpu",
                                      "--gradcam-images", "0", "--width", "4"])
    assert res.exit_code == 0, res.output
    raw = (out / "verify.json").read_text()
    doc = json.loads(raw)
    v = doc["verdict"]
    assert list(doc)[0] == "verdict" and v["status"] in STATUSES and v["reason"].endswith(".")
    assert isinstance(v["canary_detected_before"], bool) and isinstance(v["canary_detected_after"], bool)
    assert {t["name"] for t in v["figures"]["tests"]} == {"audit", "named"}
    assert all(t["calibrated"] for t in v["figures"]["tests"])
    rt = doc["audit"]["rank_test"]
    assert rt["before"]["n_inserted"] == rt["before"]["n_controls"] == 6 and rt["after"]["n_guesses"] == 6
    assert len(doc["audit"]["canaries"]) == 12 and len(doc["audit"]["canaries"][0]["m_before_per_seed"]) == 2
    assert doc["audit"]["named_test"]["before"]["method"] == "calibrated"
    out_lines = res.output.strip().splitlines()
    assert out_lines[-1] == f"verdict: {v['status']} — {v['reason']}"
    html = (out / "verify.html").read_text()
    assert html.index('id="verdict"') < html.index("<h1>") and v["status"].replace("_", " ") in html
    texts = [r["text"] for r in read_canary_doc(orig)["audit"]["canaries"]] + ["XQ"]
    for t in texts:  # canary strings are PHI-like: never in verify outputs
        assert t not in raw and t not in html and t not in res.output
    assert (out / "audit.png").is_file()


def test_verify_without_canary_is_inconclusive_with_null_flags(tmp_path):
    src = make_dataset(tmp_path / "data", n_per_class=12, size=32)
    run = tmp_path / "run"
    shutil.copytree(src, run / "clean")
    out = tmp_path / "verify"
    res = CliRunner().invoke(_app(), ["verify", "--original", str(src), "--sanitized", str(run), "--out", str(out),
                                      "--seeds", "1", "--size", "16", "--epochs", "1", "--device", "cpu",
                                      "--gradcam-images", "0", "--width", "4"])
    assert res.exit_code == 0, res.output
    v = json.loads((out / "verify.json").read_text())["verdict"]
    assert v["status"] == "inconclusive" and v["canary_detected_before"] is None and v["canary_detected_after"] is None
    assert res.output.strip().splitlines()[-1].startswith("verdict: inconclusive — ")


def test_named_canary_controls_sit_at_its_window_cropped_to_the_image(tmp_path):
    src = make_dataset(tmp_path / "data", n_per_class=20, size=96)
    out = tmp_path / "c"
    from ufmclean.verify.canary import make_canary

    make_canary(src, out, text="XQ", k=1, audit=4, height_frac=0.06, box_frac=(0.8, 0.5))
    cs = control_features(out, size=96, classes=("bright", "dark"))
    assert len(cs.named_controls) == 4
    for f in cs.named_controls:
        assert (f.probe_box.x0, f.probe_box.y0) == (cs.named.probe_box.x0, cs.named.probe_box.y0)
        assert f.probe_box.x1 <= 96 and f.y_star == cs.named.y_star
        assert f.patch.shape == f.mask.shape == (f.probe_box.height, f.probe_box.width)


def test_patch_audit_canaries_are_distinct_opaque_grids_on_the_same_carriers(tmp_path):
    from ufmclean.verify.canary import make_canary

    src = make_dataset(tmp_path / "data", n_per_class=20, size=96)
    kw = dict(text="XQ", k=1, audit=4, height_frac=0.06, audit_height_frac=0.12, wrap=True, seed=1)
    make_canary(src, tmp_path / "t", **kw)
    make_canary(src, tmp_path / "p", audit_kind="patch", **kw)
    t, p = read_canary_doc(tmp_path / "t"), read_canary_doc(tmp_path / "p")
    assert [(r["relpath"], r["inserted"]) for r in t["audit"]["canaries"]] == \
        [(r["relpath"], r["inserted"]) for r in p["audit"]["canaries"]]
    cs = audit.read_audit(p)
    assert all(r["text"] is None for r in p["audit"]["canaries"])
    grids = {c.spec.patch.tobytes() for c in cs}
    assert len(grids) == 8 and all(c.spec.mask.all() and set(np.unique(c.spec.patch)) == {0, 255} for c in cs)
    c = next(c for c in cs if c.inserted)  # drawn opaque: black cells too
    img = cv2.imread(str(tmp_path / "p" / c.relpath), cv2.IMREAD_GRAYSCALE)
    box = c.spec.box_for(*img.shape)
    expected, _ = c.spec.patch_for(box)
    assert np.abs(img[box.slices].astype(float) - expected * 255).mean() < 40
    assert audit.random_grid(3, np.random.default_rng(0))[0].shape == (12, 18)


def test_bare_audit_texts_are_the_labelled_ones_without_their_label_word():
    import itertools

    labelled = list(itertools.islice(audit.text_stream(seed=3), 40))
    bare = list(itertools.islice(audit.text_stream(seed=3, labelled=False), 40))
    assert any(t.startswith(("MRN ", "ID ")) for t in labelled)
    assert bare == [t.split(" ", 1)[1] if t.startswith(("MRN ", "ID ")) else t for t in labelled]
    assert all(t.isdigit() or any(c.isalpha() for c in t) for t in bare)


def test_canary_cli_defaults_to_large_wrapped_bare_audit_text(tmp_path):
    src = make_dataset(tmp_path / "data", n_per_class=20, size=96)
    out = tmp_path / "c"
    res = CliRunner().invoke(_app(), ["canary", str(src), "--text", "JANE DOE", "--k", "1", "--audit", "4",
                                      "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = read_canary_doc(out)
    x0, y0, x1, y1 = doc["box_frac"]
    assert y1 - y0 > 2 * 0.14 and x1 <= 1  # 'JANE' over 'DOE', each 0.14 of the height
    rows = doc["audit"]["canaries"]
    assert not any(r["text"].startswith(("MRN ", "ID ")) for r in rows)
    assert all(r["box_frac"][3] - r["box_frac"][1] > 0.14 for r in rows)
    bad = CliRunner().invoke(_app(), ["canary", str(src), "--text", "XQ", "--audit", "2", "--audit-kind", "nope",
                                      "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2
