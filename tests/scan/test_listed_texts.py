"""Every burned-in text that ../shared/data's SOURCE.md lists for presidio_pseudo_phi and
deid_data_ultrasound is read by the default scan engine, in its place (issue 17's must-show).

Skips when ../shared/data is absent. The cine is checked on its first, middle and last frame here;
``bench/views.py --shared`` checks all 27.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest

from tests.scan.listed_texts import LISTED, missing_texts

pytestmark = pytest.mark.slow


def _record_for(path: Path, root: Path):
    from ufmclean.io.discover import discover

    (record,) = [r for r in discover(root) if Path(r.path).name == path.name]
    return record


def _load(shared: Path, key: str, tmp_path: Path):
    from ufmclean.io import load_image

    name, _, member = key.partition(":")
    src = shared / name
    if not src.is_file():
        pytest.skip(f"{name} is not in ../shared/data")
    work = tmp_path / "in"
    work.mkdir()
    if member:
        with zipfile.ZipFile(src) as zf:
            zf.extract(member, work)
        path = work / member
    else:
        path = work / src.name
        path.symlink_to(src)
    return load_image(_record_for(path, work))


def _some_frames(loaded, frames: list[int]):
    """``loaded`` cut to ``frames`` (every view alike), so a cine costs three reads, not 27."""
    return dataclasses.replace(
        loaded, raw=loaded.raw[frames], display=loaded.display[frames],
        views=tuple((n, v[frames]) for n, v in loaded.views),
    )  # fmt: skip


@pytest.mark.parametrize("key", sorted(LISTED))
def test_every_listed_burned_in_text_is_read_in_place(key: str, shared_data: Path, tmp_path: Path) -> None:
    from ufmclean.detect.text import text_findings
    from ufmclean.ocr import get_engine

    loaded = _load(shared_data, key, tmp_path)
    if loaded.n_frames > 3:
        loaded = _some_frames(loaded, [0, loaded.n_frames // 2, loaded.n_frames - 1])
    findings = text_findings(loaded, get_engine("cpu", strategy="fast"))
    shape = loaded.display.shape[1:3]
    for frame in range(loaded.n_frames):
        assert missing_texts(findings, LISTED[key], shape=shape, frame=frame) == [], f"frame {frame}"


def test_the_matcher_is_not_fooled_by_text_elsewhere_or_a_near_miss() -> None:
    from ufmclean.records import BBox, Finding

    def finding(text: str, box: tuple[int, int, int, int]) -> Finding:
        return Finding(finding_id="f", image_id="i", relpath="r", frame=0, kind="text", bbox=BBox(*box),
                       text=text, confidence=1.0)  # fmt: skip

    listed = (("KAUFMAN SCOTT", (0.0, 0.0, 0.5, 0.12)), ("L", (0.5, 0.0, 1.0, 0.2)))
    shape = (400, 500)
    assert missing_texts([finding("KAUFMAN SC0TT [M]", (0, 0, 200, 20)), finding("L", (400, 40, 410, 60))],
                         listed, shape=shape) == []  # fmt: skip
    # the right text in the wrong place, a fragment, and "L" inside a longer word do not count
    assert missing_texts([finding("KAUFMAN SCOTT", (0, 300, 200, 320)), finding("LA", (400, 40, 410, 60))],
                         listed, shape=shape) == ["KAUFMAN SCOTT", "L"]  # fmt: skip
    assert missing_texts([finding("MAN SCOTT", (0, 0, 100, 20))], listed[:1], shape=shape) == ["KAUFMAN SCOTT"]
