"""K (``rare_max_images``) is applied once, by the scan's rarity stage; the policy reads ``is_rare``.

Before, the policy could carry its own K and re-decide rarity from ``doc_freq``, so a run could write
``is_rare`` from one K and act on another. These tests would fail if a second K came back.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ufmclean.errors import UsageError
from ufmclean.ocr.fake import FakeOcrEngine
from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
from ufmclean.policy import Policy, decide, load_policy
from ufmclean.records import BBox
from ufmclean.tables import read_findings_table

from .helpers import finding

COMMON, RARE = (BBox(4, 4, 60, 24), "XQZW"), (BBox(4, 36, 60, 56), "KVJY")


def _tree(root: Path) -> None:
    """Three PNGs: COMMON drawn in all three, RARE in the first only (the fake engine reads ink)."""
    for i in range(3):
        img = np.full((64, 96), 90, np.uint8)
        cv2.rectangle(img, (8, 8), (50, 20), 250, -1)
        if i == 0:
            cv2.rectangle(img, (8, 40), (50, 52), 250, -1)
        (root / f"im{i}.png").parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f"im{i}.png"), img)


@pytest.mark.parametrize("k", [1, 3])
def test_is_rare_and_the_rare_reason_come_from_one_k(tmp_path: Path, k: int) -> None:
    inp, run = tmp_path / "in", tmp_path / "run"
    _tree(inp)
    run_sanitize(inp, run, policy=load_policy(action="mask", residual_check=False),
                 options=SanitizeOptions(device="cpu", thumbnails=False, report=False),
                 scan_options={"rare_max_images": k, "markers": False}, engine=FakeOcrEngine([COMMON, RARE]))
    findings = read_findings_table(run / "findings.parquet")
    assert sorted(f.doc_freq for f in findings) == [1, 3, 3, 3]
    assert all(f.is_rare == (f.doc_freq <= k) for f in findings)
    # The policy removed exactly what the table calls rare: one K for both.
    assert all(("rare" in f.reasons) == f.is_rare for f in findings)
    assert sum(f.is_rare for f in findings) == (1 if k == 1 else 4)


def test_the_policy_reads_is_rare_not_doc_freq() -> None:
    out = decide([finding("a", text="XQZW", doc_freq=1, is_rare=False),
                  finding("b", text="KVJY", doc_freq=500, is_rare=True),
                  finding("m", kind="marker", doc_freq=1, is_rare=False)], Policy())
    assert [(f.action, f.reasons) for f in out] == [("keep", ("common",)), ("inpaint", ("rare",)),
                                                      ("keep", ("common",))]


def test_k_has_no_door_in_the_policy(tmp_path: Path) -> None:
    assert "rare_max_images" not in Policy().to_dict()
    path = tmp_path / "p.toml"
    path.write_text("[policy]\nrare_max_images = 2\n")
    with pytest.raises(UsageError, match="--rare-max-images"):
        load_policy(path)
    with pytest.raises(TypeError):
        load_policy(rare_max_images=2)
