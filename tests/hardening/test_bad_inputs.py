"""The bad-input corpus through scan and sanitize: one clear row per file, the run goes on."""

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.hardening.badinputs import FAKE_PHI, build_corpus
from tests.io.io_factory import tree_digest
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.pipeline.scan import ScanOptions, run_scan


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("corpus") / "in"
    root.mkdir()
    return root, build_corpus(root)


@pytest.fixture(scope="module")
def scanned(corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root, expected = corpus
    before = tree_digest(root)
    run = tmp_path_factory.mktemp("corpus-run") / "run"
    summary = run_scan(root, run, options=ScanOptions(batch_size=4), engine=FakeOcrEngine())
    assert tree_digest(root) == before
    rows = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    return run, rows, summary


def test_corpus_is_big_enough(corpus) -> None:
    assert len(corpus[1]) >= 40


def test_every_case_gets_one_acceptable_row(corpus, scanned) -> None:
    _, expected = corpus
    _, rows, _ = scanned
    wrong = {rel: (rows[rel]["status"], rows[rel]["error"]) for rel in expected
             if rel in rows and rows[rel]["status"] not in expected[rel]}
    missing = sorted(set(expected) - set(rows))
    assert not missing, f"no row for {missing}"
    assert not wrong, wrong


def test_errors_are_clear_and_phi_free(scanned) -> None:
    _, rows, summary = scanned
    errors = {rel: r["error"] for rel, r in rows.items() if r["status"] != "ok"}
    assert summary["n_error"] >= 15 and summary["n_ok"] >= 15
    for rel, msg in errors.items():
        assert msg and len(msg) >= 10, f"{rel}: unclear error {msg!r}"
        assert not any(p in msg for p in FAKE_PHI), f"{rel}: error message repeats header values"
        assert "Traceback" not in msg


def test_no_table_cell_repeats_header_values(scanned) -> None:
    """Issue 16 item 8: an odd SOPClassUID, transfer syntax or free-text Modality is described, never
    copied into images.parquet (0644)."""
    run, rows, _ = scanned
    data = (run / "images.parquet").read_bytes()
    assert not [p for p in FAKE_PHI if p.encode() in data]
    assert rows["dicom/free_text_modality.dcm"]["modality"] == "other"
    assert "no registered SOP class" in rows["dicom/odd_sop_class_no_pixels.dcm"]["error"]
    assert "unrecognised transfer syntax" in rows["dicom/odd_transfer_syntax.dcm"]["error"]


def test_loop_and_duplicates(scanned) -> None:
    _, rows, _ = scanned
    assert rows["names/copy_a.png"]["sha256"] == rows["names/copy_b.png"]["sha256"]
    assert not [r for r in rows if r.count("loop/") > 1], "the symlink loop was followed"


def test_cli_says_partial(corpus, tmp_path: Path, inject_ocr, capfd) -> None:
    from ufmclean.cli.main import main

    inject_ocr(FakeOcrEngine())
    root, _ = corpus
    assert main(["scan", str(root), "--out", str(tmp_path / "run"), "--no-markers"]) == 3
    out = capfd.readouterr()
    assert not any(p in out.out + out.err for p in FAKE_PHI)


def test_sanitize_goes_on(corpus, tmp_path: Path) -> None:
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import load_policy

    root, expected = corpus
    before = tree_digest(root)
    run = tmp_path / "run"
    res = run_sanitize(root, run, policy=load_policy(), options=SanitizeOptions(device="cpu"),
                       scan_options=ScanOptions(device="cpu"), engine=FakeOcrEngine())
    assert tree_digest(root) == before
    rows = {r["relpath"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    ok = [rel for rel, r in rows.items() if r["status"] == "ok"]
    assert ok and all(rows[rel]["clean_status"] in ("copied", "written") for rel in ok), \
        {rel: rows[rel]["clean_status"] for rel in ok}
    for rel in ok:
        assert (run / "clean" / rel).is_file()
    assert res["sanitize"]["by_clean_status"].get("error", 0) + res["sanitize"]["by_clean_status"].get("skipped", 0) \
        == sum(r["status"] != "ok" for r in rows.values())
    # outputs never escape the run folder
    for dirpath, _, files in os.walk(run):
        for f in files:
            assert Path(dirpath, f).resolve().is_relative_to(run.resolve())
