"""Statistics of the one-run multi-canary audit (Steinke, Nasr & Jagielski 2023) and the named canary's test.

Pure functions over M scores (numbers only; no images, no text):

- :func:`rank_test`: inserted canaries' M against never-inserted ones: one-sided Mann–Whitney U
  (``scipy.stats.mannwhitneyu``, H1: inserted score higher), AUROC = U / (n_in * n_out) with a
  percentile bootstrap interval (``scipy.stats.bootstrap``, each group resampled on its own), and the
  one-run ε lower bound of :func:`epsilon_lower_bound`.
- :func:`epsilon_lower_bound`: the auditor guesses "inserted" for the ``k_pos`` highest scores and "not
  inserted" for the ``k_neg`` lowest (abstaining on the rest; both counts fixed before looking, here a
  fraction of the canaries). Under ε-DP (δ = 0) the number of correct guesses among ``r`` is dominated by
  Binomial(r, e^ε / (1 + e^ε)) (Steinke et al. 2023, Thm. 3.1), so the bound is the largest ε whose
  binomial upper tail at the observed count is still >= β: the one-sided Clopper–Pearson lower limit
  ``p*`` of the guess accuracy (``scipy.stats.binomtest(...).proportion_ci``), ε = log(p* / (1 - p*)),
  floored at 0. The paper includes each canary independently with probability 1/2; ufmclean inserts
  exactly N of 2N chosen at random (exchangeable, the same expected design), so read the bound as the
  paper's estimate for this design, not as a certified guarantee.
- :func:`named_canary_test`: the named canary's seed-averaged M calibrated against never-inserted
  canaries at its window (rank p from :func:`ufmclean.verify.mscore.calibrate`), or, without controls,
  a one-sided t-test of the seed-averaged per-image confidence shift (flagged ``uncalibrated``: it cannot
  tell memorisation from the probe's generic response to pasted text).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass

import numpy as np

from ufmclean.verify.mscore import calibrate


@dataclass(frozen=True)
class RankTest:
    """Inserted vs never-inserted canaries. ``p`` one-sided Mann–Whitney; ``auroc`` with ``auroc_low``/
    ``auroc_high`` (``confidence`` bootstrap interval); ``eps_lb`` the one-run ε lower bound from
    ``n_correct`` of ``n_guesses`` guesses at confidence ``1 - beta``."""

    n_inserted: int
    n_controls: int
    u: float
    auroc: float
    auroc_low: float
    auroc_high: float
    confidence: float
    p: float
    n_guesses: int
    n_correct: int
    eps_lb: float
    beta: float

    def to_dict(self) -> dict:
        """Plain dict (NaN kept; the JSON writer maps it to null)."""
        return asdict(self)


@dataclass(frozen=True)
class NamedTest:
    """The named canary's test: ``method`` (``calibrated`` | ``uncalibrated``), its seed-mean ``m``,
    one-sided ``p``, and for ``calibrated`` the ``rank`` among ``n_controls`` controls (``min_p`` is
    the smallest p reachable with that many controls)."""

    method: str
    m: float
    p: float
    rank: int
    n_controls: int
    min_p: float

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


def auroc(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """P(X > Y) + P(X = Y) / 2 over all pairs of ``x`` ``(..., n)`` and ``y`` ``(..., m)`` along ``axis``
    (vectorised over leading axes; equals U / (n m) of the Mann–Whitney statistic)."""
    x = np.moveaxis(np.asarray(x, float), axis, -1)
    y = np.moveaxis(np.asarray(y, float), axis, -1)
    d = x[..., :, None] - y[..., None, :]
    return ((d > 0).mean((-2, -1)) + 0.5 * (d == 0).mean((-2, -1)))


def epsilon_lower_bound(n_correct: int, n_guesses: int, *, beta: float = 0.05) -> float:
    """One-run ε lower bound (δ = 0) at confidence ``1 - beta`` from ``n_correct`` of ``n_guesses`` guesses.

    E.g. 10 of 10 correct, beta 0.05: p* = 0.05 ** (1/10) = 0.7411, ε = log(p*/(1-p*)) = 1.052.
    0 for no guesses or when p* <= 1/2.
    """
    from scipy.stats import binomtest

    if n_guesses <= 0 or n_correct <= 0:
        return 0.0
    p_star = binomtest(int(n_correct), int(n_guesses), 0.5, alternative="greater").proportion_ci(
        confidence_level=1.0 - beta, method="exact").low
    if p_star <= 0.5:
        return 0.0
    if p_star >= 1.0:
        return float("inf")
    return float(math.log(p_star / (1.0 - p_star)))


def one_run_guesses(scores: np.ndarray, inserted: np.ndarray, *, k_pos: int, k_neg: int) -> tuple[int, int]:
    """Guess "inserted" for the ``k_pos`` highest of ``scores`` ``(n,)`` and "not" for the ``k_neg`` lowest;
    returns ``(n_correct, n_guesses)`` against ``inserted`` ``(n,)`` bool. Ties keep input order (the
    canaries' order is independent of which were inserted)."""
    scores, inserted = np.asarray(scores, float), np.asarray(inserted, bool)
    n = len(scores)
    k_pos, k_neg = max(0, min(k_pos, n)), max(0, min(k_neg, n - min(k_pos, n)))
    order = np.argsort(-scores, kind="stable")
    top, bottom = order[:k_pos], order[n - k_neg:] if k_neg else order[:0]
    return int(inserted[top].sum() + (~inserted[bottom]).sum()), k_pos + k_neg


def _bootstrap_auroc(m_in: np.ndarray, m_out: np.ndarray, *, confidence: float, n_resamples: int,
                     seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap

    if len(m_in) < 2 or len(m_out) < 2:
        return float("nan"), float("nan")
    kw = {"rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state": np.random.default_rng(seed)}
    res = bootstrap((m_in, m_out), auroc, n_resamples=n_resamples, confidence_level=confidence,
                    method="percentile", vectorized=True, **kw)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def rank_test(m_inserted: np.ndarray, m_controls: np.ndarray, *, guess_fraction: float = 0.25, beta: float = 0.05,
              confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> RankTest:
    """Test inserted canaries' scores ``(n_in,)`` against never-inserted ones ``(n_out,)`` (NaN dropped).

    ``guess_fraction`` of all canaries is guessed on each side for the ε bound (at least one each).
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(m_inserted, float)
    b = np.asarray(m_controls, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    nan = float("nan")
    if len(a) == 0 or len(b) == 0:
        return RankTest(len(a), len(b), nan, nan, nan, nan, confidence, nan, 0, 0, 0.0, beta)
    res = mannwhitneyu(a, b, alternative="greater")
    low, high = _bootstrap_auroc(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed)
    k = max(1, int(math.floor(guess_fraction * (len(a) + len(b)))))
    scores = np.concatenate([a, b])
    labels = np.concatenate([np.ones(len(a), bool), np.zeros(len(b), bool)])
    perm = np.random.default_rng(seed).permutation(len(scores))  # ties must not favour either group
    correct, guesses = one_run_guesses(scores[perm], labels[perm], k_pos=k, k_neg=k)
    return RankTest(len(a), len(b), float(res.statistic), float(res.statistic) / (len(a) * len(b)), low, high,
                    confidence, float(res.pvalue), guesses, correct, epsilon_lower_bound(correct, guesses, beta=beta),
                    beta)


def named_canary_test(m_seeds: np.ndarray, *, controls_seeds: np.ndarray | None = None,
                      diffs_seeds: np.ndarray | None = None) -> NamedTest:
    """The named canary's one test over all seeds.

    ``m_seeds`` ``(S,)``: its white-box M per seed. ``controls_seeds`` ``(S, K)``: never-inserted
    canaries' M at the named canary's window and class, per seed; when given (K >= 1) the seed-mean M is
    ranked among the controls' seed-means. Otherwise ``diffs_seeds`` ``(S, n)``, the per-image shifts
    ``f_y*(x ⊕ u) - f_y*(x)`` per seed, are averaged over seeds and tested with a one-sided one-sample
    t-test (``uncalibrated``).
    """
    from scipy.stats import ttest_1samp

    m = float(np.nanmean(m_seeds)) if np.isfinite(np.asarray(m_seeds, float)).any() else float("nan")
    if controls_seeds is not None and np.asarray(controls_seeds).size:
        ctrl = np.nanmean(np.asarray(controls_seeds, float).reshape(len(m_seeds), -1), axis=0)
        cal = calibrate(m, ctrl)
        return NamedTest("calibrated", m, cal.p, cal.rank, cal.k, 1.0 / (cal.k + 1) if cal.k else float("nan"))
    p = float("nan")
    if diffs_seeds is not None:
        d = np.nanmean(np.asarray(diffs_seeds, float).reshape(len(m_seeds), -1), axis=0)
        d = d[np.isfinite(d)]
        if len(d) >= 2 and np.ptp(d) > 0:
            p = float(ttest_1samp(d, 0.0, alternative="greater").pvalue)
        elif len(d) >= 1:
            p = 0.0 if d[0] > 0 else 1.0
    return NamedTest("uncalibrated", m, p, -1, 0, float("nan"))
