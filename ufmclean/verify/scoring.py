"""Score every feature on one model: families A and B in the white-, grey- and black-box settings.

Shared by ``verify`` (each trained probe, before and after sanitising) and ``audit`` (one model trained
elsewhere, seen only through its outputs): both pass a ``predict`` function, images in, softmax out.
Only ids, boxes and numbers leave this module.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ufmclean.verify.features import Feature
from ufmclean.verify.mscore import feature_passes, score_passes

SETTINGS = ("white", "grey", "black")
FAMILIES = ("A", "B")
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalSets:
    """What a model is scored on: held-out ``images`` ``(N, S, S)`` with true ``labels`` ``(N,)`` and the
    model's softmax on them ``p_eval`` ``(N, C)`` (white/grey-box); out-of-distribution ``ood_images`` with
    random ``ood_labels`` and ``p_ood`` (black-box)."""

    images: np.ndarray
    labels: np.ndarray
    p_eval: np.ndarray
    ood_images: np.ndarray
    ood_labels: np.ndarray
    p_ood: np.ndarray


#: One score: (statistic name, M, p, Mann–Whitney p (NaN for family A), class index used (-1: none)).
Score = tuple[str, float, float, float, int]


def score_features(predict: Predict, feats: list[Feature], sets: EvalSets, *, seed: int) -> dict[tuple[str, str, str], Score]:
    """Scores keyed ``(feature_id, setting, family)`` of ``feats`` on the model behind ``predict``.

    White-box is skipped for features without a known carrier class. White- and grey-box score the same
    held-out images, so they share one pair of passes (feature pasted, random control): four model
    passes per feature instead of six. The random control patches of family B are drawn from
    ``(seed, feature id, image set)``, so a model scored twice gets the same patches.
    """
    scores: dict[tuple[str, str, str], Score] = {}
    for f in feats:
        passes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for setting in SETTINGS:
            ys = f.y_star if setting == "white" else None
            if setting == "white" and ys is None:
                continue
            held_out = setting != "black"
            x, y, pc = ((sets.images, sets.labels, sets.p_eval) if held_out
                        else (sets.ood_images, sets.ood_labels, sets.p_ood))
            group = "grey" if held_out else "black"  # the image set, named by the setting that always scores it
            if group not in passes:
                rng = np.random.default_rng([seed, zlib.crc32(f.feature_id.encode()), SETTINGS.index(group)])
                passes[group] = feature_passes(predict, x, patch=f.patch, mask=f.mask, box=f.probe_box, rng=rng)
            a, b = score_passes(pc, *passes[group], y, y_star=ys)
            if setting == "white":
                fam_b: Score = ("label-aware", b.m_label, b.p_label_t, b.p_label_mw, ys if ys is not None else -1)
            else:
                fam_b = ("label-free", b.m_kl, b.p_kl_t, b.p_kl_mw, -1)
            scores[(f.feature_id, setting, "A")] = ("confidence-shift", a.m, a.p, float("nan"), a.k)
            scores[(f.feature_id, setting, "B")] = fam_b
    return scores


def feature_row(f: Feature) -> dict:
    """The identifying columns of a feature's table rows (id, source, relpath, box in file pixels)."""
    return {"feature_id": f.feature_id, "source": f.source, "relpath": f.relpath,
            "x0": f.box.x0, "y0": f.box.y0, "x1": f.box.x1, "y1": f.box.y1}
