"""Scan pipeline on a small PNG tree with a planted-text OCR double: tables, rarity, resume, errors."""

import json
import stat
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.io.io_factory import tree_digest
from ufmclean.errors import UsageError
from ufmclean.io import discover
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.pipeline.scan import ScanOptions, finalize_scan, make_batches, part_path, run_scan, scan_batch
from ufmclean.records import BBox

COMMON_BOX, NAME_BOX = BBox(4, 4, 40, 12), BBox(4, 40, 50, 48)
N_IMAGES = 8


def _ink(img: np.ndarray, box: BBox) -> None:
    img[box.y0 + 2 : box.y1 - 2, box.x0 + 1 : box.x1 - 1 : 3] = 250


def _tree(root: Path) -> Path:
    """8 noisy 64x64 PNGs: all carry 'PORTABLE', image 3 also a name; one broken file, one text file."""
    rng = np.random.default_rng(0)
    inp = root / "in"
    for i in range(N_IMAGES):
        img = rng.integers(40, 80, (64, 64), dtype=np.uint8)
        _ink(img, COMMON_BOX)
        if i == 3:
            _ink(img, NAME_BOX)
        (inp / ("a" if i < 4 else "b")).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(inp / ("a" if i < 4 else "b") / f"img_{i}.png"), img)
    (inp / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (inp / "notes.txt").write_text("not an image")
    return inp


def _engine() -> FakeOcrEngine:
    return FakeOcrEngine([(COMMON_BOX, "PORTABLE"), (NAME_BOX, "DOE, JOHN")])




OPTS = ScanOptions(rare_max_images=2, markers=False, batch_size=3)


@pytest.fixture()
def scanned(tmp_path: Path):
    inp = _tree(tmp_path)
    before = tree_digest(inp)
    engine = _engine()
    summary = run_scan(inp, tmp_path / "run", options=OPTS, engine=engine)
    assert tree_digest(inp) == before, "the input tree was written to"
    return inp, tmp_path / "run", summary, engine


def test_tables_and_rarity(scanned) -> None:
    inp, run, summary, engine = scanned
    images = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    assert len(images) == N_IMAGES + 2
    assert images["b/broken.png"]["status"] == "error" and images["b/broken.png"]["error"]
    assert images["notes.txt"]["status"] == "skipped"
    assert engine.calls == N_IMAGES  # one read per frame, broken/skipped files never reach OCR
    findings = pq.read_table(run / "findings.parquet").to_pylist()
    common = [f for f in findings if f["text"] == "PORTABLE"]
    name = [f for f in findings if f["text"] == "DOE, JOHN"]
    assert len(common) == N_IMAGES and len(name) == 1
    assert {(f["doc_freq"], f["is_rare"], f["action"]) for f in common} == {(N_IMAGES, False, "keep")}
    assert (name[0]["doc_freq"], name[0]["is_rare"], name[0]["action"]) == (1, True, "flag")
    assert "rare" in name[0]["reasons"] and name[0]["phi_type"] == "name"
    assert (name[0]["x0"], name[0]["y0"], name[0]["x1"], name[0]["y1"]) == (NAME_BOX.x0, NAME_BOX.y0, NAME_BOX.x1, NAME_BOX.y1)
    assert images["a/img_3.png"]["uniqueness"] == pytest.approx(1.0)
    assert images["a/img_0.png"]["uniqueness"] == pytest.approx(0.0)
    assert images["a/img_3.png"]["n_findings"] == 2
    assert summary["n_ok"] == N_IMAGES and summary["n_error"] == 1 and summary["n_skipped"] == 1
    assert summary["n_rare"] == 1 and summary["n_phi"] == 1 and summary["n_flagged"] == 1


def test_phi_files_are_private_and_summary_has_no_text(scanned) -> None:
    _, run, _, _ = scanned
    assert stat.S_IMODE((run / "findings.parquet").stat().st_mode) == 0o600
    parts = list((run / ".work" / "scan").glob("*.parquet"))
    assert len(parts) == 3 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in parts)
    text = (run / "summary.json").read_text()
    assert "PORTABLE" not in text and "DOE" not in text
    assert json.loads(text)["stage"] == "scan"


def test_rerun_reuses_every_part_and_gives_identical_tables(scanned) -> None:
    inp, run, _, _ = scanned
    first = pq.read_table(run / "findings.parquet")
    engine = _engine()
    progress = []
    run_scan(inp, run, options=OPTS, engine=engine, progress=progress.append)
    assert engine.calls == 0 and all(p["cached"] for p in progress) and len(progress) == 3
    assert progress[0]["n_total_images"] == N_IMAGES
    assert pq.read_table(run / "findings.parquet").equals(first)


def test_changed_file_recomputes_only_its_batch(scanned) -> None:
    inp, run, _, _ = scanned
    img = cv2.imread(str(inp / "b" / "img_7.png"), cv2.IMREAD_GRAYSCALE)
    img[60:62, 60:62] = 0
    cv2.imwrite(str(inp / "b" / "img_7.png"), img)
    engine = _engine()
    progress = []
    run_scan(inp, run, options=OPTS, engine=engine, progress=progress.append)
    assert sorted(p["cached"] for p in progress) == [False, True, True]
    assert engine.calls == 2  # the last batch only: img_6 and img_7
    assert len(list((run / ".work" / "scan").glob("*.parquet"))) == 3  # the stale part was pruned


def test_rarity_settings_do_not_invalidate_parts(scanned) -> None:
    inp, run, _, _ = scanned
    engine = _engine()
    summary = run_scan(inp, run, options=ScanOptions(rare_max_images=N_IMAGES, markers=False, batch_size=3),
                       engine=engine)
    assert engine.calls == 0 and summary["n_rare"] == N_IMAGES + 1


def test_finalize_needs_every_part(tmp_path: Path) -> None:
    inp = _tree(tmp_path)
    records = discover(inp)
    batches = make_batches(records, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 2] and all(r.status == "ok" for b in batches for r in b)
    scan_batch(batches[0], run_dir=tmp_path / "run", options=OPTS, engine=_engine())
    assert part_path(tmp_path / "run", scan_batch(batches[0], run_dir=tmp_path / "run", options=OPTS)["batch_key"]).is_file()
    with pytest.raises(UsageError, match="2 of 3 scan batches"):
        finalize_scan(tmp_path / "run", records=records, options=OPTS)


def test_a_detection_crash_is_one_error_row(tmp_path: Path) -> None:
    inp = _tree(tmp_path)

    class Exploding(FakeOcrEngine):
        def read(self, image):
            if image[NAME_BOX.slices].max() > 200:
                raise RuntimeError("DOE, JOHN")  # the message must not reach the tables
            return super().read(image)

    run_scan(inp, tmp_path / "run", options=OPTS, engine=Exploding([(COMMON_BOX, "PORTABLE")]))
    images = {r["relpath"]: r for r in pq.read_table(tmp_path / "run" / "images.parquet").to_pylist()}
    assert images["a/img_3.png"]["status"] == "error"
    assert images["a/img_3.png"]["error"] == "detection failed (RuntimeError)"
    assert sum(r["status"] == "ok" for r in images.values()) == N_IMAGES - 1


def test_usage_errors(tmp_path: Path) -> None:
    inp = _tree(tmp_path)
    with pytest.raises(UsageError, match="inside the input"):
        run_scan(inp, inp / "run", options=OPTS, engine=_engine())
    with pytest.raises(UsageError, match="does not exist"):
        run_scan(tmp_path / "nope", tmp_path / "run", options=OPTS, engine=_engine())
    with pytest.raises(UsageError, match="workers"):
        run_scan(inp, tmp_path / "run", options=OPTS, workers=0)
    with pytest.raises(UsageError, match="engine"):
        run_scan(inp, tmp_path / "run", options=OPTS, workers=2, engine=_engine())


@pytest.mark.parametrize("bad", [dict(rare_max_images=0), dict(device="tpu"), dict(strategy="quick"),
                                 dict(batch_size=0), dict(min_confidence=1.5), dict(text_similarity=0),
                                 dict(max_pixels=0)])
def test_options_are_validated(bad: dict) -> None:
    with pytest.raises(UsageError):
        ScanOptions(**bad)
