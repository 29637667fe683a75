"""Issue 16 item 6: file and folder names that carry a patient's name, ID or date.

A made-up patient (``ZQXWOMBAT JANINE``, born 1961-07-04, MRN4417721) names files and folders of the
input. Every byte of every file under the run folder that others may read (tables, summary, report,
lock, clean/ copies), and their names, are searched for the name, its parts, the date and the ID.
"""

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.hardening.run_helpers import cli, sanitize_cli
from ufmclean.path_phi import pseudonym
from ufmclean.run_dir import RunDir
from ufmclean.run_paths import plan_clean_paths, read_images, write_images

SECRETS = (b"ZQXWOMBAT", b"JANINE", b"4417721", b"1961-07-04", b"19610704", b"1961_07_04")
NAMED = "ZQXWOMBAT_JANINE/MRN4417721_chest.png"
DATED = "ZQXWOMBAT JANINE 1961-07-04.png"
#: Files that hold original relpaths by design: owner-only, never shown.
PRIVATE = {"findings.parquet", "paths.parquet", "manifest.json"}


def phi_tree(root: Path) -> Path:
    """Four 64x64 PNGs, two of them named after the patient; the first has ink the OCR double reads."""
    rng = np.random.default_rng(3)
    for i, rel in enumerate((NAMED, DATED, "other/img_0.png", "other/img_1.png")):
        img = rng.integers(40, 60, (64, 64), dtype=np.uint8)
        if i == 0:
            img[42:46, 5:49:3] = 250
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), img)
    return root


def leaks(run: Path, *, names_under_clean: bool) -> list[str]:
    """Files under ``run`` others could read (or report.html) whose bytes or name hold a secret."""
    found = []
    for path in sorted(run.rglob("*")):
        rel = path.relative_to(run).as_posix()
        private = rel in PRIVATE or rel.startswith(".work/")
        if private:
            assert path.is_dir() or not path.stat().st_mode & 0o077, f"{rel} holds original relpaths: 0600"
            continue
        check_name = names_under_clean or not rel.startswith("clean/")
        if check_name and any(s.lower() in rel.lower().encode() for s in SECRETS):
            found.append(f"name: {rel}")
        if path.is_file():
            data = path.read_bytes().lower()
            found += [f"{rel}: {s.decode()}" for s in SECRETS if s.lower() in data]
    return found


def test_phi_paths_are_flagged_masked_and_counted(tmp_path: Path, fake_ocr, capsys) -> None:
    inp, run = phi_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) in (0, 3)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "2 file path(s) look like PHI" in last
    rows = {r["image_id"]: r for r in pq.read_table(run / "images.parquet").to_pylist()}
    shown = {r["relpath"]: r["path_phi"] for r in rows.values()}
    assert shown == {"[name]/[id]_chest.png": "id,name", "[name] [date].png": "date,name",
                     "other/img_0.png": "", "other/img_1.png": ""}
    # internal joins still see the real relpaths (from the private mapping)
    assert sorted(r.relpath for r in read_images(RunDir(run))) == sorted([NAMED, DATED, "other/img_0.png",
                                                                             "other/img_1.png"])
    assert (run / "clean" / NAMED).is_file()  # written (it had a burned-in name), under its own path: flagged only
    import json

    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_phi_paths"] == 2 and summary["sanitize"]["n_phi_paths"] == 2
    assert summary["by_path_phi_type"] == {"date": 1, "id": 1, "name": 2}
    assert 'id="n-phi-paths">2<' in (run / "report.html").read_text()
    assert leaks(run, names_under_clean=False) == []


def test_fail_on_phi_trips_on_paths_for_scan_and_sanitize(tmp_path: Path, fake_ocr) -> None:
    inp = tmp_path / "in"
    (inp / "ZQXWOMBAT_JANINE").mkdir(parents=True)
    cv2.imwrite(str(inp / "ZQXWOMBAT_JANINE" / "x.png"), np.full((64, 64), 50, np.uint8))  # no text at all
    assert cli("scan", inp, "--out", tmp_path / "r1", "--device", "cpu") == 0
    assert cli("scan", inp, "--out", tmp_path / "r2", "--device", "cpu", "--fail-on", "phi") == 4
    assert sanitize_cli(inp, tmp_path / "r3") == 0
    assert sanitize_cli(inp, tmp_path / "r4", "--fail-on", "phi") == 4


def test_rename_phi_paths_writes_pseudonymous_copies(tmp_path: Path, fake_ocr) -> None:
    inp, run = phi_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run, "--rename-phi-paths") in (0, 3)
    mapping = {r["relpath"]: r["clean_relpath"] for r in pq.read_table(run / "paths.parquet").to_pylist()}
    assert stat.S_IMODE(os.stat(run / "paths.parquet").st_mode) == 0o600
    renamed = mapping[NAMED]
    assert renamed != NAMED and renamed.startswith("name-") and renamed.endswith("_chest.png")
    assert (run / "clean" / renamed).is_file() and not (run / "clean" / NAMED).exists()
    assert mapping["other/img_0.png"] == "other/img_0.png"
    assert leaks(run, names_under_clean=True) == []
    before = sorted(p.relative_to(run).as_posix() for p in (run / "clean").rglob("*"))
    # a rerun (resume) writes the same names
    assert sanitize_cli(inp, run, "--rename-phi-paths") in (0, 3)
    again = {r["relpath"]: r["clean_relpath"] for r in pq.read_table(run / "paths.parquet").to_pylist()}
    assert again == mapping
    assert sorted(p.relative_to(run).as_posix() for p in (run / "clean").rglob("*")) == before


def test_renamed_paths_never_collide(tmp_path: Path) -> None:
    """A pseudonymous name that an ordinary file already has gets a ``-2`` suffix."""
    from ufmclean.records import ImageRecord, ImageRow
    from ufmclean.io.discover import image_id_for

    rd = RunDir(tmp_path / "run")
    rd.root.mkdir()

    def rows(rels: list[str]) -> list[ImageRow]:
        return [ImageRow.of(ImageRecord(image_id=image_id_for(r), relpath=r, path=str(tmp_path / r), sha256="",
                                        size_bytes=1, format="png")) for r in rels]

    write_images(rd, rows([NAMED]))
    key = bytes.fromhex(pq.read_schema(rd.paths).metadata[b"ufmclean.path_key"].decode())
    clash = f"{pseudonym('name', 'ZQXWOMBAT_JANINE', key=key)}/{pseudonym('id', 'MRN4417721', key=key)}_chest.png"
    write_images(rd, rows([NAMED, clash]))
    assert plan_clean_paths(rd, rename=True) == 1
    clean = {r.relpath: r.clean_relpath for r in read_images(rd)}
    assert clean[clash] == clash
    assert clean[NAMED] == clash.replace("_chest.png", "_chest-2.png")
    assert plan_clean_paths(rd, rename=False) == 0
    assert {r.relpath: r.clean_relpath for r in read_images(rd)}[NAMED] == NAMED


@pytest.mark.parametrize("bad", ["../ZQXWOMBAT_JANINE/x.png"])
def test_refused_relpath_is_masked_in_the_error(bad: str, tmp_path: Path) -> None:
    from ufmclean.errors import UsageError
    from ufmclean.io.atomic import safe_join

    with pytest.raises(UsageError) as info:
        safe_join(tmp_path, bad)
    assert "ZQXWOMBAT" not in str(info.value) and "[name]" in str(info.value)
