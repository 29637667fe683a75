"""Issue 16 item 7: verify images built from original pixels are 0600 in a 0700 folder, and the report
that links them says it holds PHI and is 0600 too; relpaths in it are masked."""

import json
import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.verify.conftest import make_dataset
from ufmclean.cli.main import main

NAMED = "bright/ZQXWOMBAT_JANINE_1961-07-04.png"
SECRETS = ("ZQXWOMBAT", "JANINE", "1961-07-04")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _run(tmp_path: Path, gradcam: int) -> Path:
    data = make_dataset(tmp_path / "data", n_per_class=8, size=16)
    (data / "bright" / "img003.png").rename(data / NAMED)
    run = tmp_path / "run"
    import shutil

    shutil.copytree(data, run / "clean")
    pq.write_table(pa.table({
        "finding_id": ["f1"], "image_id": ["i1"], "relpath": [NAMED], "frame": [0], "kind": ["text"],
        "x0": [2], "y0": [2], "x1": [12], "y1": [8], "text": ["SECRET NAME"], "action": ["inpaint"]}),
        run / "findings.parquet")
    out = tmp_path / "verify"
    old = os.umask(0o022)
    try:
        rc = main(["verify", "--original", str(data), "--sanitized", str(run), "--out", str(out), "--seeds", "1",
                   "--size", "16", "--epochs", "1", "--device", "cpu", "--gradcam-images", str(gradcam),
                   "--schedule", "constant", "--width", "4"])
    finally:
        os.umask(old)
    assert rc == 0
    return out


def test_gradcam_images_and_the_report_linking_them_are_private(tmp_path: Path, capsys) -> None:
    out = _run(tmp_path, gradcam=2)
    pngs = sorted((out / "gradcam").glob("*.png"))
    assert pngs and all(_mode(p) == 0o600 for p in pngs)
    assert _mode(out / "gradcam") == 0o700
    assert _mode(out / "verify.json") == 0o600 and _mode(out / "verify.html") == 0o600
    doc = json.loads((out / "verify.json").read_text())
    assert doc["holds_phi"] is True and "holds PHI" in doc["phi_note"]
    html = (out / "verify.html").read_text()
    assert 'id="holds-phi"' in html and "holds PHI" in html
    for text in (html, (out / "verify.json").read_text(), capsys.readouterr().out):
        assert not [s for s in SECRETS if s in text], "a PHI-looking relpath is shown unmasked"
    assert any(r["relpath"] == "bright/[name]_[date].png" for r in doc["features"])


def test_without_gradcam_the_report_holds_no_phi(tmp_path: Path) -> None:
    out = _run(tmp_path, gradcam=0)
    doc = json.loads((out / "verify.json").read_text())
    assert doc["holds_phi"] is False and not (out / "gradcam").exists()
    assert _mode(out / "verify.json") == 0o644 and _mode(out / "verify.html") == 0o644
    assert 'id="holds-phi"' not in (out / "verify.html").read_text()
