"""M score families A and B against hand-computed values and constructed models with known answers."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, ttest_rel

from ufmclean.records import BBox
from ufmclean.verify import mscore


def test_paste_overwrites_only_masked_window_and_keeps_input():
    imgs = np.zeros((2, 6, 6), np.float32)
    patch = np.full((2, 3), 0.5, np.float32)
    mask = np.array([[1, 0, 1], [1, 1, 0]], bool)
    out = mscore.paste(imgs, patch, mask, BBox(1, 2, 4, 4))
    assert imgs.sum() == 0  # input untouched
    expect = np.zeros((6, 6), np.float32)
    expect[2, 1], expect[2, 3], expect[3, 1], expect[3, 2] = 0.5, 0.5, 0.5, 0.5
    assert np.array_equal(out[0], expect) and np.array_equal(out[1], expect)


def test_paste_clips_box_at_border_and_accepts_per_image_patches():
    imgs = np.zeros((2, 4, 4), np.float32)
    patches = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))]).astype(np.float32)
    out = mscore.paste(imgs, patches, np.ones((2, 2), bool), BBox(3, 3, 5, 5))
    assert out[0, 3, 3] == 1 and out[1, 3, 3] == 2 and out.sum() == 3


def test_paste_rejects_mismatched_patch():
    with pytest.raises(ValueError):
        mscore.paste(np.zeros((1, 4, 4)), np.zeros((2, 2)), np.ones((2, 3), bool), BBox(0, 0, 3, 2))


def test_family_a_hand_computed():
    # 4 images, 2 classes; labels [0, 0, 1, 1]
    p = np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    q = np.array([[0.7, 0.3], [0.9, 0.1], [0.25, 0.75], [0.4, 0.6]])
    y = np.array([0, 0, 1, 1])
    # M_0 = mean(0.1, 0.2) = 0.15; M_1 = mean(-0.05, 0.1) = 0.025
    white = mscore.family_a(p, q, y, y_star=1)
    assert white.m == pytest.approx(0.025) and white.k == 1 and white.n == 2
    assert white.p == pytest.approx(ttest_rel([0.75, 0.6], [0.8, 0.5], alternative="greater").pvalue)
    grey = mscore.family_a(p, q, y)
    assert grey.k == 0 and grey.m == pytest.approx(0.15)
    assert grey.p == pytest.approx(ttest_rel([0.7, 0.9], [0.6, 0.7], alternative="greater").pvalue)
    assert np.allclose(grey.m_per_class, [0.15, 0.025])


def test_family_a_class_without_images_is_nan_and_skipped():
    p = np.array([[0.5, 0.5, 0.0], [0.4, 0.6, 0.0]])
    q = np.array([[0.6, 0.4, 0.0], [0.5, 0.5, 0.0]])
    s = mscore.family_a(p, q, np.array([0, 0]))
    assert s.k == 0 and np.isnan(s.m_per_class[2]) and s.m == pytest.approx(0.1)


def test_family_b_hand_computed():
    p = np.array([[0.5, 0.5], [0.8, 0.2], [0.3, 0.7]])
    q = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
    s = np.array([[0.5, 0.5], [0.7, 0.3], [0.3, 0.7]])
    y = np.array([0, 0, 1])

    def kl(a, b):
        return float(np.sum(a * np.log(a / b)))

    klq = np.array([kl(p[i], q[i]) for i in range(3)])
    kls = np.array([kl(p[i], s[i]) for i in range(3)])
    r = mscore.family_b(p, q, s, y, y_star=0)
    assert r.m_kl == pytest.approx(klq.mean() - kls.mean())
    assert r.p_kl_t == pytest.approx(ttest_rel(klq, kls, alternative="greater").pvalue)
    assert r.p_kl_mw == pytest.approx(mannwhitneyu(klq, kls, alternative="greater").pvalue)
    lq, ls = np.log([0.9, 0.9]), np.log([0.5, 0.7])
    assert r.m_label == pytest.approx((lq - ls).mean())
    assert r.p_label_t == pytest.approx(ttest_rel(lq, ls, alternative="greater").pvalue)
    assert r.p_label_mw == pytest.approx(mannwhitneyu(lq, ls, alternative="greater").pvalue)


def test_family_b_clips_zero_probabilities():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[0.0, 1.0], [0.5, 0.5]])
    r = mscore.family_b(p, q, p, np.array([0, 1]), y_star=0)
    assert np.isfinite(r.m_kl) and np.isfinite(r.m_label)
    assert r.m_label == pytest.approx(np.log(1e-7))  # only one image of class 0: log(1e-7) - log(1)


# --- constructed models -------------------------------------------------------------------------
BOX = BBox(4, 4, 10, 8)


def _window_model(x: np.ndarray) -> np.ndarray:
    """Class-1 logit rises with the mean of the feature's window: a model that 'memorised' it."""
    w = x[:, BOX.y0 : BOX.y1, BOX.x0 : BOX.x1].mean(axis=(1, 2))
    z = 8.0 * (w - 0.3) + 0.1 * x.mean(axis=(1, 2))
    return np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1)


def _blind_model(x: np.ndarray) -> np.ndarray:
    """Looks only at the bottom rows, never at the window."""
    z = 4.0 * (x[:, -3:, :].mean(axis=(1, 2)) - 0.5)
    return np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1)


def _eval_set(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 16, 16)) * 0.5).astype(np.float32)
    return x, rng.integers(0, 2, n)


def _glyph():
    patch = np.ones((BOX.height, BOX.width), np.float32)
    mask = np.zeros_like(patch, bool)
    mask[1:3, 1:5] = True  # a small bright bar: like a glyph's strokes
    return patch, mask


def test_model_that_reacts_to_window_gives_large_m_and_tiny_p():
    x, y = _eval_set()
    patch, mask = _glyph()
    a, b = mscore.score_feature(_window_model, x, y, patch=patch, mask=mask, box=BOX, y_star=1,
                                rng=np.random.default_rng(0))
    assert a.m > 0.2 and a.p < 1e-10 and a.k == 1
    grey = mscore.family_a(_window_model(x), _window_model(mscore.paste(x, patch, mask, BOX)), y)
    assert grey.k == 1 and grey.p < 1e-10
    # the glyph saturates class 1 less than a full-window random binary patch? No: compare with noise
    assert np.isfinite(b.m_kl) and np.isfinite(b.m_label)


def test_model_that_ignores_window_gives_zero():
    x, y = _eval_set()
    patch, mask = _glyph()
    a, b = mscore.score_feature(_blind_model, x, y, patch=patch, mask=mask, box=BOX, y_star=1,
                                rng=np.random.default_rng(0))
    assert a.m == pytest.approx(0.0, abs=1e-12) and a.p >= 0.5
    assert b.m_kl == pytest.approx(0.0, abs=1e-12) and b.m_label == pytest.approx(0.0, abs=1e-12)
    assert not b.p_label_t < 0.05


def test_family_b_feature_beats_random_patch_when_model_keys_on_the_glyph():
    """A model keyed on the glyph's exact pattern (a bright bar in rows 1-2 of the window, dark elsewhere)
    is moved by the glyph far more than by random noise of the same size: M_KL > 0 and p small."""
    x, y = _eval_set(300, seed=1)
    patch, mask = _glyph()
    full = np.where(mask, patch, 0.0).astype(np.float32)

    def keyed(xx):
        win = xx[:, BOX.y0 : BOX.y1, BOX.x0 : BOX.x1]
        sim = -((win - full) ** 2).mean(axis=(1, 2))  # template match
        z = 30.0 * (sim + 0.05)
        return np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1)

    a, b = mscore.score_feature(keyed, x, y, patch=full, mask=np.ones_like(mask), box=BOX, y_star=1,
                                rng=np.random.default_rng(3))
    assert b.m_kl > 0 and b.p_kl_t < 1e-6
    assert b.m_label > 0 and b.p_label_t < 1e-6 and b.p_label_mw < 1e-6
    assert a.m > 0 and a.p < 1e-6


def test_random_patches_are_binary_and_balanced():
    r = mscore.random_patches(50, 8, 8, rng=np.random.default_rng(0))
    assert set(np.unique(r)) == {0.0, 1.0} and abs(r.mean() - 0.5) < 0.05


def test_family_a_validates_shapes():
    with pytest.raises(ValueError):
        mscore.family_a(np.zeros((3, 2)), np.zeros((3, 3)), np.zeros(3, int))
    with pytest.raises(ValueError):
        mscore.family_a(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3, int), y_star=5)


def test_calibrate_ranks_against_controls():
    c = mscore.calibrate(0.5, np.array([0.1, 0.2, 0.3, 0.6]))
    assert (c.rank, c.k) == (1, 4) and c.p == pytest.approx(2 / 5)
    assert c.z == pytest.approx((0.5 - 0.3) / np.std([0.1, 0.2, 0.3, 0.6], ddof=1))
    top = mscore.calibrate(1.0, np.linspace(-0.1, 0.1, 39))
    assert top.rank == 0 and top.p == pytest.approx(1 / 40) and top.z > 0
    # A feature that moves the model no more than text in general is not significant.
    assert mscore.calibrate(0.0, np.linspace(-0.1, 0.1, 39)).p > 0.4
    assert np.isnan(mscore.calibrate(0.3, np.array([np.nan])).p)
    assert np.isnan(mscore.calibrate(0.3, np.array([0.2, 0.2])).z)
