"""The verdict of a verify run: ``mitigated``, ``not_mitigated`` or ``inconclusive``, with a one-sentence reason.

Pure: numbers in, a JSON-ready dict out. The reason is built from fixed phrases and figures only (never
paths, canary strings or recognised text), so it may go to logs, the CLI and Prefect artifacts.

Inputs: each probe's seed-mean held-out accuracy, the number of held-out images and the majority-class
rate among them, and the positive-control tests (:class:`CanaryTest`: the audit rank test and the named
canary's own test, each with a one-sided p before and after sanitising, and whether it is calibrated
against never-inserted canaries).

Rules, in order (the first that applies decides):

1. The before-probe is not above chance: a one-sided exact binomial test of its held-out correct count
   (seed-mean accuracy x n) against the majority-class rate (``scipy.stats.binomtest``), p >= alpha
   -> ``inconclusive``: it cannot show memorisation at all.
2. No positive control was inserted -> ``inconclusive``.
3. No calibrated control test (only the named canary's uncalibrated test, which cannot tell memorisation
   from the probe's generic response to pasted text) -> ``inconclusive``.
4. Not detected before: no test has p < alpha / n_tests (Bonferroni over the tests, so "seen" is not
   claimed by looking at several) -> ``inconclusive``.
5. Detected after: a calibrated test has p < alpha (unadjusted: the cautious side for a mitigation
   claim) -> ``not_mitigated``. This holds even when the after-probe is at chance: it still leaks.
6. A test detected before could not be computed after (NaN) -> ``inconclusive``.
7. The after-probe is not above chance (rule 1's test) -> ``inconclusive``.
8. Utility not kept: accuracy fell by more than ``max_accuracy_drop`` -> ``inconclusive`` (the
   canary may be unseen because the probe learned less).
9. Otherwise -> ``mitigated``.

``canary_detected_before`` / ``_after`` are the booleans of rules 4 and 5 over all tests (``None``
without a canary).

:func:`decide_model` judges one model trained elsewhere (``ufmclean audit``): ``memorised``,
``not_detected`` or ``inconclusive``, by rules 1-4 above applied to that model (``not_detected`` where
rule 4 would stop a verify run, ``memorised`` where it would go on).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MITIGATED, NOT_MITIGATED, INCONCLUSIVE = "mitigated", "not_mitigated", "inconclusive"
STATUSES = (MITIGATED, NOT_MITIGATED, INCONCLUSIVE)
MEMORISED, NOT_DETECTED = "memorised", "not_detected"
MODEL_STATUSES = (MEMORISED, NOT_DETECTED, INCONCLUSIVE)


@dataclass(frozen=True)
class CanaryTest:
    """One positive-control test: ``name`` (``audit`` | ``named``), one-sided ``p_before``/``p_after``
    (NaN when it could not be computed), ``calibrated`` (against never-inserted canaries)."""

    name: str
    p_before: float
    p_after: float
    calibrated: bool


def chance_p(accuracy: float, *, n: int, majority_rate: float) -> float:
    """One-sided exact binomial p that ``accuracy`` on ``n`` held-out images beats ``majority_rate``.

    The correct count is ``round(accuracy * n)`` (for several seeds, the seed-mean accuracy). NaN when
    there is nothing to test.
    """
    from scipy.stats import binomtest

    if n <= 0 or not math.isfinite(accuracy) or not 0.0 <= majority_rate <= 1.0:
        return float("nan")
    k = min(n, max(0, int(round(accuracy * n))))
    return float(binomtest(k, n, majority_rate, alternative="greater").pvalue)


def _fmt(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{p:.2g}"


def _label(t: CanaryTest) -> str:
    return "audit rank test" if t.name == "audit" else f"named canary ({'calibrated' if t.calibrated else 'uncalibrated'})"


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def decide(*, accuracy_before: float, accuracy_after: float, n_eval: int, majority_rate: float,
           tests: list[CanaryTest] | None, alpha: float = 0.05, max_accuracy_drop: float = 0.02) -> dict:
    """The verdict dict ``{"status", "reason", "canary_detected_before", "canary_detected_after", "figures"}``.

    ``accuracy_*``: seed-mean held-out accuracy of the before/after probes; ``n_eval`` held-out images;
    ``majority_rate`` the largest class share among them; ``tests``: the control tests (``None`` or empty
    when no canary was inserted). ``figures`` holds every number the rules used.
    """
    p_chance_b = chance_p(accuracy_before, n=n_eval, majority_rate=majority_rate)
    p_chance_a = chance_p(accuracy_after, n=n_eval, majority_rate=majority_rate)
    tests = list(tests or [])
    alpha_before = alpha / max(1, len(tests))
    det_b = det_a = None
    if tests:
        det_b = any(_finite(t.p_before) and t.p_before < alpha_before for t in tests)
        det_a = any(_finite(t.p_after) and t.p_after < alpha for t in tests)
    drop = accuracy_before - accuracy_after
    figures = {
        "alpha": alpha, "alpha_before": alpha_before, "n_eval": n_eval, "majority_rate": majority_rate,
        "accuracy_before": accuracy_before, "accuracy_after": accuracy_after, "accuracy_drop": drop,
        "max_accuracy_drop": max_accuracy_drop, "p_above_chance_before": p_chance_b, "p_above_chance_after": p_chance_a,
        "tests": [asdict(t) for t in tests],
    }
    calibrated = [t for t in tests if t.calibrated]
    seen_b = [t for t in tests if _finite(t.p_before) and t.p_before < alpha_before]
    seen_a = [t for t in calibrated if _finite(t.p_after) and t.p_after < alpha]
    acc = f"accuracy {accuracy_before:.3f} before, {accuracy_after:.3f} after"

    def out(status: str, reason: str) -> dict:
        return {"status": status, "reason": reason, "canary_detected_before": det_b,
                "canary_detected_after": det_a, "figures": figures}

    if not (_finite(p_chance_b) and p_chance_b < alpha):
        return out(INCONCLUSIVE, f"The probe trained on the original data is not above chance on held-out images "
                   f"(accuracy {accuracy_before:.3f} vs majority-class rate {majority_rate:.3f}, binomial p = "
                   f"{_fmt(p_chance_b)}), so it cannot show whether anything was memorised.")
    if not tests:
        return out(INCONCLUSIVE, "No positive control was inserted (no canary.json in the original data), so a clean "
                   "result cannot be told from a probe that sees nothing; add one with `ufmclean canary --audit N`.")
    if not calibrated:
        return out(INCONCLUSIVE, "The only control test is the named canary's uncalibrated one, which cannot tell "
                   "memorisation from the probe's response to any pasted text; add never-inserted controls with "
                   "`ufmclean canary --audit N`.")
    if not seen_b:
        best = min((t.p_before for t in tests if _finite(t.p_before)), default=float("nan"))
        return out(INCONCLUSIVE, f"The positive control was not detected before sanitising (smallest p = {_fmt(best)}, "
                   f"needed < {alpha_before:.2g}), so this probe does not show single-copy memorisation on this "
                   f"data and the clean-up is untested.")
    if seen_a:
        t = min(seen_a, key=lambda t: t.p_after)
        return out(NOT_MITIGATED, f"The positive control is still detected after sanitising ({_label(t)} p = "
                   f"{_fmt(t.p_after)} < {alpha:g}; {acc}): the sanitised data still carry what the probe memorised.")
    if any(not _finite(t.p_after) for t in seen_b):
        return out(INCONCLUSIVE, "A control test that detected the canary before sanitising could not be computed "
                   "after it, so its removal is untested.")
    if not (_finite(p_chance_a) and p_chance_a < alpha):
        return out(INCONCLUSIVE, f"The probe trained on the sanitised data is not above chance (accuracy "
                   f"{accuracy_after:.3f} vs majority-class rate {majority_rate:.3f}, binomial p = {_fmt(p_chance_a)}), "
                   f"so the canary's absence after sanitising proves nothing.")
    if drop > max_accuracy_drop:
        return out(INCONCLUSIVE, f"Held-out accuracy fell from {accuracy_before:.3f} to {accuracy_after:.3f}, more than "
                   f"the {max_accuracy_drop:g} allowed, so the canary may be unseen only because the probe learned less.")
    t = min(seen_b, key=lambda t: t.p_before)
    after = min((x.p_after for x in calibrated), default=float("nan"))
    return out(MITIGATED, f"The positive control was detected before sanitising ({_label(t)} p = {_fmt(t.p_before)}) "
               f"and not after (smallest calibrated p = {_fmt(after)}), with {acc}.")


def decide_model(*, accuracy: float, n_eval: int, majority_rate: float, tests: list[CanaryTest] | None,
                 alpha: float = 0.05) -> dict:
    """The verdict on one model: ``{"status", "reason", "canary_detected", "figures"}``.

    ``accuracy``: the model's held-out accuracy on ``n_eval`` images whose largest class share is
    ``majority_rate``; ``tests``: the control tests (their ``p_before`` is this model's p). ``memorised``
    when a test has p < alpha / n_tests and a calibrated one exists; ``not_detected`` when none does and
    the model is above chance; else ``inconclusive``.
    """
    p_chance = chance_p(accuracy, n=n_eval, majority_rate=majority_rate)
    tests = list(tests or [])
    alpha_adj = alpha / max(1, len(tests))
    seen = [t for t in tests if _finite(t.p_before) and t.p_before < alpha_adj]
    figures = {"alpha": alpha, "alpha_adjusted": alpha_adj, "n_eval": n_eval, "majority_rate": majority_rate,
               "accuracy": accuracy, "p_above_chance": p_chance, "tests": [asdict(t) for t in tests]}

    def out(status: str, reason: str) -> dict:
        return {"status": status, "reason": reason, "canary_detected": bool(seen) if tests else None,
                "figures": figures}

    if not (_finite(p_chance) and p_chance < alpha):
        return out(INCONCLUSIVE, f"The model is not above chance on the held-out images (accuracy {accuracy:.3f} vs "
                   f"majority-class rate {majority_rate:.3f}, binomial p = {_fmt(p_chance)}): check --classes, "
                   f"--size, --channels and --mean/--std, or the model learned nothing, so it cannot show memorisation.")
    if not tests:
        return out(INCONCLUSIVE, "The data the model was trained on carries no positive control (no canary.json in "
                   "--original), so no memorisation test was possible; the findings' scores are shown for reference.")
    if not any(t.calibrated for t in tests):
        return out(INCONCLUSIVE, "The only control test is the named canary's uncalibrated one, which cannot tell "
                   "memorisation from the model's response to any pasted text; add never-inserted controls with "
                   "`ufmclean canary --audit N`.")
    if seen:
        t = min(seen, key=lambda t: t.p_before)
        return out(MEMORISED, f"The model's outputs reveal canaries that were each in a single training image "
                   f"({_label(t)} p = {_fmt(t.p_before)} < {alpha_adj:.2g}; accuracy {accuracy:.3f}): it memorises "
                   f"single-copy features, so rare findings left in its training data can leak through it.")
    best = min((t.p_before for t in tests if _finite(t.p_before)), default=float("nan"))
    return out(NOT_DETECTED, f"No canary was detected in the model's outputs (smallest p = {_fmt(best)}, needed < "
               f"{alpha_adj:.2g}) although it is above chance (accuracy {accuracy:.3f}): this test found no "
               f"single-copy memorisation, which does not prove there is none.")
