"""The M score, exactly as ../shared/research/mscore.md specifies (Hartley et al. 2022, 2023).

Notation: ``f`` softmax ``(N, C)``; ``x ⊕ u`` = evaluation image with the feature's patch pasted through
its mask at a fixed window.

Family A (confidence shift):  ``M_k = mean_{i: l_i = k} [f_k(x_i ⊕ u) - f_k(x_i)]``, ``p_k`` one-sided
paired t-test (``scipy.stats.ttest_rel(..., alternative="greater")``). White-box: ``M = M_{y*}``;
grey/black-box: ``M = max_k M_k``, ``p = p_{argmax}``.

Family B (KL with a random-patch control): ``s_i = f(x_i ⊕ r_i)``, ``r_i`` a fresh Bernoulli(0.5)
binary patch filling the feature's window. Label-free ``M_KL = mean KL(p‖q) - mean KL(p‖s)`` (nats);
label-aware ``M_KL,y* = mean_{l_i = y*} [log q_i(y*) - log s_i(y*)]``. Probabilities are clipped to
[1e-7, 1] before logs. Both get a one-sided paired t-test and a one-sided Mann–Whitney U on their
per-image terms (for label-free: ``KL(p_i‖q_i)`` against ``KL(p_i‖s_i)``; the spec gives no test for
it, this is ufmclean's choice).

Calibrated (the spec's optional score, :func:`calibrate`): the feature's M against the M of K
never-inserted control features of the same size and place, as a rank / percentile p and a z-score.

Everything here works on whole batches (no per-image Python loops).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ufmclean.records import BBox

EPS = 1e-7
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ScoreA:
    """Family A result: ``m`` and one-sided ``p`` of the chosen class ``k``; ``m_per_class`` ``(C,)``
    (NaN for classes without evaluation images); ``n`` images of class ``k``."""

    m: float
    p: float
    k: int
    m_per_class: np.ndarray
    n: int


@dataclass(frozen=True)
class ScoreB:
    """Family B result: label-free ``m_kl`` with ``p_kl_t``/``p_kl_mw``; label-aware ``m_label`` with
    ``p_label_t``/``p_label_mw`` (NaN without ``y*``)."""

    m_kl: float
    p_kl_t: float
    p_kl_mw: float
    m_label: float
    p_label_t: float
    p_label_mw: float


def paste(images: np.ndarray, patch: np.ndarray, mask: np.ndarray, box: BBox) -> np.ndarray:
    """Return ``images`` ``(N, H, W)`` with ``patch`` ``(h, w)`` pasted where ``mask`` ``(h, w)`` is true,
    at ``box`` (``h = box.height``, ``w = box.width``; clipped to the image). Input is not modified.

    ``patch`` may also be ``(N, h, w)`` (one patch per image, e.g. random controls).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got {images.shape}")
    patch = np.asarray(patch, dtype=images.dtype)
    mask = np.asarray(mask, dtype=bool)
    if patch.shape[-2:] != (box.height, box.width) or mask.shape != (box.height, box.width):
        raise ValueError(f"patch {patch.shape} / mask {mask.shape} do not match box {box.height}x{box.width}")
    out = images.copy()
    H, W = images.shape[1:]
    c = box.clip(H, W)
    if c.area == 0:
        return out
    sub_r = slice(c.y0 - box.y0, c.y1 - box.y0)
    sub_c = slice(c.x0 - box.x0, c.x1 - box.x0)
    m = mask[sub_r, sub_c]
    region = out[:, c.y0 : c.y1, c.x0 : c.x1]
    src = patch[..., sub_r, sub_c]
    out[:, c.y0 : c.y1, c.x0 : c.x1] = np.where(m, src, region)
    return out


def random_patches(n: int, height: int, width: int, *, rng: np.random.Generator) -> np.ndarray:
    """``(n, height, width)`` float32 Bernoulli(0.5) binary patches (values 0.0 / 1.0)."""
    return (rng.random((n, height, width)) < 0.5).astype(np.float32)


def _ttest_greater(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ttest_rel

    if len(a) < 2:
        return float("nan")
    d = a - b
    if np.all(d == d[0]):  # zero variance: t undefined; exactly-equal -> no evidence
        return 0.0 if d[0] > 0 else 1.0
    return float(ttest_rel(a, b, alternative="greater").pvalue)


def _mw_greater(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import mannwhitneyu

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(mannwhitneyu(a, b, alternative="greater").pvalue)


def _check(p: np.ndarray, q: np.ndarray, labels: np.ndarray) -> None:
    if p.ndim != 2 or p.shape != q.shape or labels.shape != (p.shape[0],):
        raise ValueError(f"need probs (N, C) of equal shape and labels (N,), got {p.shape}, {q.shape}, {labels.shape}")


def family_a(p_clean: np.ndarray, p_feat: np.ndarray, labels: np.ndarray, *, y_star: int | None = None) -> ScoreA:
    """Family A from softmax outputs ``p_clean = f(x)`` and ``p_feat = f(x ⊕ u)`` ``(N, C)``, labels ``(N,)``.

    With ``y_star`` (white-box) the score is class ``y_star``'s; without it (grey/black-box) the class
    with the largest ``M_k``.
    """
    p_clean, p_feat, labels = np.asarray(p_clean, float), np.asarray(p_feat, float), np.asarray(labels)
    _check(p_clean, p_feat, labels)
    C = p_clean.shape[1]
    onehot = labels[:, None] == np.arange(C)[None, :]  # (N, C)
    counts = onehot.sum(0)
    diff = p_feat - p_clean
    with np.errstate(invalid="ignore", divide="ignore"):
        m_per = np.where(counts > 0, (diff * onehot).sum(0) / counts, np.nan)
    if y_star is None:
        if np.all(np.isnan(m_per)):
            return ScoreA(float("nan"), float("nan"), -1, m_per, 0)
        k = int(np.nanargmax(m_per))
    else:
        if not 0 <= y_star < C:
            raise ValueError(f"y_star {y_star} out of range for {C} classes")
        k = int(y_star)
    sel = onehot[:, k]
    pval = _ttest_greater(p_feat[sel, k], p_clean[sel, k])
    return ScoreA(float(m_per[k]), pval, k, m_per, int(sel.sum()))


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0)
    q = np.clip(q, EPS, 1.0)
    return (p * (np.log(p) - np.log(q))).sum(1)


def family_b(
    p_clean: np.ndarray, p_feat: np.ndarray, p_ctrl: np.ndarray, labels: np.ndarray, *, y_star: int | None = None
) -> ScoreB:
    """Family B from ``p = f(x)``, ``q = f(x ⊕ u)``, ``s = f(x ⊕ r)`` ``(N, C)`` and labels ``(N,)``."""
    p, q, s = (np.asarray(a, float) for a in (p_clean, p_feat, p_ctrl))
    labels = np.asarray(labels)
    _check(p, q, labels)
    _check(p, s, labels)
    kl_q, kl_s = _kl_rows(p, q), _kl_rows(p, s)
    m_kl = float(kl_q.mean() - kl_s.mean()) if len(p) else float("nan")
    nan = float("nan")
    m_lab = p_lab_t = p_lab_mw = nan
    if y_star is not None:
        sel = labels == y_star
        if sel.any():
            lq = np.log(np.clip(q[sel, y_star], EPS, 1.0))
            ls = np.log(np.clip(s[sel, y_star], EPS, 1.0))
            m_lab = float((lq - ls).mean())
            p_lab_t, p_lab_mw = _ttest_greater(lq, ls), _mw_greater(lq, ls)
    return ScoreB(m_kl, _ttest_greater(kl_q, kl_s), _mw_greater(kl_q, kl_s), m_lab, p_lab_t, p_lab_mw)


def score_feature(
    predict: Predict,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    patch: np.ndarray,
    mask: np.ndarray,
    box: BBox,
    y_star: int | None,
    rng: np.random.Generator,
    p_clean: np.ndarray | None = None,
) -> tuple[ScoreA, ScoreB]:
    """Both families for one feature on one evaluation set.

    ``predict`` maps ``(n, H, W)`` images to softmax ``(n, C)`` (it should batch internally);
    ``images`` ``(N, H, W)``; ``labels`` ``(N,)``; ``patch``/``mask`` ``(box.height, box.width)``;
    ``p_clean`` reuses ``predict(images)`` when already computed. Three passes at most.
    """
    if p_clean is None:
        p_clean = predict(images)
    p_feat, p_ctrl = feature_passes(predict, images, patch=patch, mask=mask, box=box, rng=rng)
    return score_passes(p_clean, p_feat, p_ctrl, labels, y_star=y_star)


def feature_passes(
    predict: Predict, images: np.ndarray, *, patch: np.ndarray, mask: np.ndarray, box: BBox,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's softmax ``(N, C)`` on ``images`` with the feature pasted (``q``) and with a fresh
    random control patch in its window (``s``): the two passes both families need, computed once so
    that settings scoring the same images (white- and grey-box) share them."""
    p_feat = predict(paste(images, patch, mask, box))
    ctrl = random_patches(len(images), box.height, box.width, rng=rng)
    p_ctrl = predict(paste(images, ctrl, np.ones((box.height, box.width), bool), box))
    return p_feat, p_ctrl


def score_passes(
    p_clean: np.ndarray, p_feat: np.ndarray, p_ctrl: np.ndarray, labels: np.ndarray, *, y_star: int | None,
) -> tuple[ScoreA, ScoreB]:
    """Families A and B from the three passes of :func:`score_feature` (all ``(N, C)``)."""
    return family_a(p_clean, p_feat, labels, y_star=y_star), family_b(p_clean, p_feat, p_ctrl, labels, y_star=y_star)


@dataclass(frozen=True)
class Calibrated:
    """A feature's M against the M of K never-inserted control features of the same size and place:
    ``rank`` = controls with M >= the feature's; ``p = (rank + 1) / (K + 1)`` (one-sided permutation-style
    percentile, so the smallest reachable p is ``1 / (K + 1)``); ``z`` = (M - mean) / std of the controls
    (NaN when they are all equal)."""

    m: float
    rank: int
    k: int
    p: float
    z: float


def calibrate(m: float, m_controls: np.ndarray) -> Calibrated:
    """Calibrate ``m`` against ``m_controls`` ``(K,)`` (the spec's optional calibrated score).

    Why: a probe that never saw a feature still reacts to it (on Kermany, any pasted text moves every probe
    by -0.05..+0.3 through the dataset's own marker shortcut), so family A's p is significant for
    never-seen text. Controls rendered and placed like the feature absorb that generic response; what is
    left is the feature's own effect.
    """
    mc = np.asarray(m_controls, dtype=float).ravel()
    mc = mc[np.isfinite(mc)]
    if len(mc) == 0 or not np.isfinite(m):
        return Calibrated(float(m), -1, len(mc), float("nan"), float("nan"))
    rank = int((mc >= m).sum())
    sd = float(mc.std(ddof=1)) if len(mc) > 1 else 0.0
    z = (float(m) - float(mc.mean())) / sd if sd > 0 else float("nan")
    return Calibrated(float(m), rank, len(mc), (rank + 1) / (len(mc) + 1), z)
