"""The audit statistics against hand-computed values (small arrays)."""

import math

import numpy as np
import pytest

from ufmclean.verify import audit_stats as st


def test_auroc_counts_pairs_and_half_ties():
    assert st.auroc([3, 4, 5], [1, 2]) == 1.0
    assert st.auroc([1, 3], [2, 4]) == pytest.approx(0.25)  # only (3, 2) of 4 pairs ordered
    assert st.auroc([2, 2], [2, 1]) == pytest.approx(0.75)  # pairs: tie, >, tie, > -> (0.5+1+0.5+1)/4
    # vectorised over a leading axis (what scipy.stats.bootstrap calls)
    assert np.allclose(st.auroc(np.array([[3, 4], [1, 3]]), np.array([[1, 2], [2, 4]])), [1.0, 0.25])


def test_rank_test_exact_mann_whitney_values():
    r = st.rank_test(np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0]), n_resamples=200)
    # U = 6 of 6 pairs; exact one-sided p = 1 / C(5, 2) = 0.1
    assert (r.u, r.auroc, r.n_inserted, r.n_controls) == (6.0, 1.0, 3, 2)
    assert r.p == pytest.approx(0.1)
    r = st.rank_test(np.array([1.0, 3.0]), np.array([2.0, 4.0]), n_resamples=200)
    # U = 1; P(U >= 1) = 1 - P(U = 0) = 1 - 1/6
    assert r.u == 1.0 and r.p == pytest.approx(5 / 6)


def test_rank_test_bootstrap_interval_brackets_the_estimate_and_drops_nan():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 40)
    r = st.rank_test(np.append(a, np.nan), b, n_resamples=500, seed=1)
    assert r.n_inserted == 40 and r.auroc_low < r.auroc < r.auroc_high
    assert 0.6 < r.auroc < 0.9 and r.p < 0.05
    assert r == st.rank_test(np.append(a, np.nan), b, n_resamples=500, seed=1)  # seeded
    empty = st.rank_test(np.array([]), b)
    assert math.isnan(empty.p) and empty.eps_lb == 0.0


def test_epsilon_lower_bound_hand_values():
    # all 10 guesses right, beta = 0.05: p* = 0.05 ** (1/10) = 0.74113, eps = log(p* / (1 - p*)) = 1.0518
    p_star = 0.05 ** 0.1
    assert st.epsilon_lower_bound(10, 10) == pytest.approx(math.log(p_star / (1 - p_star)), rel=1e-6)
    assert st.epsilon_lower_bound(10, 10) == pytest.approx(1.0518, abs=1e-4)
    # 1 of 1: p* = 0.05 < 1/2 -> nothing certified
    assert st.epsilon_lower_bound(1, 1) == 0.0
    assert st.epsilon_lower_bound(0, 10) == 0.0 and st.epsilon_lower_bound(5, 0) == 0.0
    # more guesses at the same accuracy -> a larger bound
    assert st.epsilon_lower_bound(90, 100) > st.epsilon_lower_bound(9, 10) > 0


def test_one_run_guesses_top_and_bottom():
    scores = np.array([0.9, 0.1, 0.5, 0.8, 0.0, 0.3])
    ins = np.array([True, False, True, False, False, True])
    # top 2: 0.9 (in, right), 0.8 (out, wrong); bottom 2: 0.0 (out, right), 0.1 (out, right)
    assert st.one_run_guesses(scores, ins, k_pos=2, k_neg=2) == (3, 4)
    assert st.one_run_guesses(scores, ins, k_pos=6, k_neg=6) == (3, 6)  # guesses never overlap


def test_rank_test_eps_uses_a_quarter_of_the_canaries_each_side():
    a, b = np.arange(10.0, 20.0), np.arange(0.0, 10.0)  # perfectly separated, 20 canaries
    r = st.rank_test(a, b, n_resamples=100)
    assert (r.n_guesses, r.n_correct) == (10, 10) and r.eps_lb == pytest.approx(1.0518, abs=1e-4)


def test_named_canary_test_calibrated_rank_and_uncalibrated_t():
    # seed-means: canary 0.3; controls 0.1, 0.5, 0.2 -> 1 control >= it, p = (1 + 1) / (3 + 1)
    t = st.named_canary_test(np.array([0.2, 0.4]), controls_seeds=np.array([[0.0, 0.6, 0.2], [0.2, 0.4, 0.2]]))
    assert (t.method, t.rank, t.n_controls) == ("calibrated", 1, 3)
    assert t.m == pytest.approx(0.3) and t.p == pytest.approx(0.5) and t.min_p == pytest.approx(0.25)
    # uncalibrated: shifts averaged over 2 seeds -> [1, 2, 3], one-sided one-sample t: t = 2 / (1 / sqrt 3) = 3.464, df 2
    d = np.array([[0.0, 2.0, 2.0], [2.0, 2.0, 4.0]])
    u = st.named_canary_test(np.array([1.0, 2.0]), diffs_seeds=d)
    from scipy.stats import t as student_t

    assert u.method == "uncalibrated" and u.p == pytest.approx(student_t.sf(2 / (1 / math.sqrt(3)), 2))
