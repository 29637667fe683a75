"""No run deletes a file it did not write: overlapping folders are refused, pruning follows the manifest.

Every data-loss case takes a sha256 snapshot of the trees at stake before and after.
"""

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.hardening.run_helpers import NAMED, planted_tree, sanitize_cli
from tests.io.io_factory import tree_digest
from ufmclean.run_dir import RunDir
from ufmclean.run_manifest import manifest_entries

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ overlap
def test_second_pass_over_clean_into_the_same_run_is_refused(tmp_path: Path, fake_ocr, capsys) -> None:
    """Issue 16, 1: ``sanitize RUN/clean --out RUN`` used to delete every input file."""
    run = tmp_path / "run"
    planted_tree(run / "clean")
    before = tree_digest(run)
    assert sanitize_cli(run / "clean", run) == 2
    err = capsys.readouterr().err
    assert "input folder lies inside the run folder" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert tree_digest(run) == before


@pytest.mark.parametrize("layout", ["run-inside-input", "equal", "input-inside-run",
                                    "symlinked-input-inside-run", "symlinked-run-inside-input"])
def test_overlap_is_refused_in_either_direction(tmp_path: Path, fake_ocr, layout: str, capsys) -> None:
    data = planted_tree(tmp_path / "data")
    if layout == "run-inside-input":
        inp, run = data, data / "a" / "run"
    elif layout == "equal":
        inp, run = data, data
    elif layout == "input-inside-run":
        inp, run = data / "a", data
    elif layout == "symlinked-input-inside-run":  # the input is a link to a folder inside RUN
        (tmp_path / "link").symlink_to(data / "b")
        inp, run = tmp_path / "link", data
    else:  # the run folder is a link into the input
        (tmp_path / "runlink").symlink_to(data / "a")
        inp, run = data, tmp_path / "runlink"
    before = tree_digest(data)
    assert sanitize_cli(inp, run) == 2
    assert "must not overlap" in capsys.readouterr().err
    assert tree_digest(data) == before


def test_input_file_linking_into_the_run_folder_is_refused(tmp_path: Path, fake_ocr, capsys) -> None:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 0
    (inp / "a" / "sneaky.png").symlink_to(run / "clean" / "a" / "img_0.png")
    before = tree_digest(run)
    assert sanitize_cli(inp, run) == 2
    err = capsys.readouterr().err
    assert "lie inside the run folder through symlinks" in err and "sneaky" not in err
    assert tree_digest(run) == before


# ----------------------------------------------------------------------------------------- manifest
def _user_files(run: Path) -> dict[Path, bytes]:
    files = {run / "clean" / "README.txt": b"notes of the data steward\n",
             run / "clean" / "b" / "notes.md": b"keep me\n",
             run / ".work" / "scan" / "foreign.parquet": b"not ours\n",
             run / ".work" / "scan" / ("0" * 24 + ".parquet"): b"named like ours, written by someone else\n",
             run / ".work" / "mine.txt": b"scratch\n"}
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_user_files_under_clean_and_work_survive_runs_that_prune(tmp_path: Path, fake_ocr) -> None:
    """Issue 16, 2: only files this tool wrote are pruned; the tool's own stale copy still goes."""
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 0
    assert (run / "clean" / NAMED).is_file()
    user = _user_files(run)
    input_before = tree_digest(inp)
    # flag instead of inpaint: the named image is no longer written, so its old copy is stale
    assert sanitize_cli(inp, run, "--action", "flag") == 3
    for path, data in user.items():
        assert path.read_bytes() == data, f"{path} was changed or deleted"
    assert not (run / "clean" / NAMED).exists(), "the tool's own stale copy was kept"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["sanitize"]["n_stale_removed"] == 1
    # an input removed: its batch's old scan part and its old copy are pruned, the foreign files stay
    (inp / "a" / "img_0.png").unlink()
    assert sanitize_cli(inp, run) == 0
    for path, data in user.items():
        assert path.read_bytes() == data
    ours = [p for p in (run / ".work" / "scan").glob("*.parquet") if p not in user]
    assert len(ours) == 1, "the old scan part was not pruned"
    assert tree_digest(inp) == {k: v for k, v in input_before.items() if k != "a/img_0.png"}
    assert not (run / "clean" / "a" / "img_0.png").exists()


def test_manifest_lists_what_the_run_wrote(tmp_path: Path, fake_ocr) -> None:
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    _user_files(run)
    assert sanitize_cli(inp, run) == 0
    rd = RunDir(run)
    data = json.loads(rd.manifest.read_text())
    files = set(data["files"])
    clean = {p.relative_to(run).as_posix() for p in rd.clean.rglob("*.png")}
    parts = {p.relative_to(run).as_posix() for p in (rd.scan_parts.glob("*.parquet"))} - {
        ".work/scan/foreign.parquet", f".work/scan/{'0' * 24}.parquet"}
    assert clean and clean <= files and parts <= files
    assert not any("README" in f or "foreign" in f or "mine.txt" in f or "0" * 24 in f for f in files)
    assert manifest_entries(run) == files  # the journals were merged and removed
    assert not list(rd.journal.glob("*")) if rd.journal.exists() else True
    assert not list(run.rglob("*.tmp")), "temporary files left behind"


def test_run_folder_from_before_the_manifest_is_adopted(tmp_path: Path, fake_ocr) -> None:
    """A run folder written by an older version: its written/copied copies become the manifest."""
    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 0
    rd = RunDir(run)
    rd.manifest.unlink()
    (run / "clean" / "README.txt").write_text("mine")
    assert sanitize_cli(inp, run, "--action", "flag") == 3
    assert not (run / "clean" / NAMED).exists() and (run / "clean" / "README.txt").read_text() == "mine"


def test_a_killed_batch_still_owns_what_it_wrote(tmp_path: Path, fake_ocr) -> None:
    """Outputs are journalled before they are written: a run killed before finalizing knows them."""
    from ufmclean.pipeline.sanitize import SanitizeOptions, make_id_batches, sanitize_batch
    from ufmclean.policy import load_policy

    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run, "--action", "flag") == 3
    assert not (run / "clean" / NAMED).exists()
    # a later inpaint run writes the named copy in its batch, then "dies" before finalize_sanitize
    for ids in make_id_batches(run, batch_size=16):
        sanitize_batch(ids, input_dir=inp, run_dir=run, policy=load_policy(), options=SanitizeOptions(),
                       engine=fake_ocr)
    assert (run / "clean" / NAMED).is_file()
    assert f"clean/{NAMED}" in manifest_entries(run)
    assert sanitize_cli(inp, run, "--action", "flag") == 3
    assert not (run / "clean" / NAMED).exists()


# ------------------------------------------------------------------------------------ one owner
def test_only_run_dir_spells_the_work_folder() -> None:
    """Issue 15: the run folder has one owner; no other module names ``.work`` or the parts' folders."""
    pattern = re.compile(r"""["']\.work["']|["']/?\.work/""")
    offenders = []
    for folder in ("ufmclean", "flows"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name == "run_dir.py":
                continue
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{i}")
    assert not offenders, offenders


def test_sanitize_outputs_ok_is_the_library_rule(tmp_path: Path, fake_ocr) -> None:
    """The flow asks the library whether a part may be reused; a damaged part is 'no', not a traceback,
    and the flow no longer deletes parts itself."""
    pytest.importorskip("prefect")
    from flows.sanitize import sanitize_outputs_ok
    from ufmclean.io import discover

    inp, run = planted_tree(tmp_path / "in"), tmp_path / "run"
    assert sanitize_cli(inp, run) == 0
    rd = RunDir(run)
    records = {r.image_id: r for r in discover(inp)}
    part = sorted(rd.sanitize_parts.glob("*.parquet"))[0]
    result = {"batch_key": part.stem}
    assert sanitize_outputs_ok(result, run=run, records=records)
    os.truncate(part, 100)
    assert not sanitize_outputs_ok(result, run=run, records=records)
    assert part.exists(), "the flow deleted a part (the library decides and rewrites it)"
    pq_rows = pq.read_table(rd.images_table).to_pylist()
    assert {r["clean_status"] for r in pq_rows} <= {"written", "copied"}


def test_an_image_in_a_symlinked_folder_outside_the_tree_is_written(tmp_path: Path, fake_ocr) -> None:
    """Issue 16, 11: it used to fail with "refusing to write inside the input folder" (the input root
    was guessed by climbing from the link's target, here up to ``tmp_path``, which holds RUN)."""
    outside = planted_tree(tmp_path / "elsewhere")
    inp, run = tmp_path / "in", tmp_path / "run"
    (inp / "sub").mkdir(parents=True)
    (inp / "sub" / "linked").symlink_to(outside / "a")
    before = tree_digest(outside)
    assert sanitize_cli(inp, run) == 0
    rows = {r["relpath"]: r for r in pq.read_table(RunDir(run).images_table).to_pylist()}
    assert rows["sub/linked/img_2.png"]["clean_status"] == "written"
    assert (run / "clean" / "sub" / "linked" / "img_2.png").is_file()
    assert tree_digest(outside) == before
