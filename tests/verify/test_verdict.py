"""The verdict rules (ufmclean.verify.verdict), one case per rule, on hand-made figures."""

import math

import pytest

from ufmclean.verify.verdict import INCONCLUSIVE, MITIGATED, NOT_MITIGATED, CanaryTest, chance_p, decide

GOOD = {"accuracy_before": 0.80, "accuracy_after": 0.79, "n_eval": 200, "majority_rate": 0.5}


def _audit(pb: float, pa: float) -> list[CanaryTest]:
    return [CanaryTest("audit", pb, pa, True)]


def test_chance_p_is_the_one_sided_binomial_test():
    # 60 of 100 correct against a 0.5 majority rate: P[Bin(100, .5) >= 60] = 0.0284
    assert chance_p(0.60, n=100, majority_rate=0.5) == pytest.approx(0.028444, abs=1e-5)
    # 3 of 3 against 0.5: 1/8
    assert chance_p(1.0, n=3, majority_rate=0.5) == pytest.approx(0.125)
    assert math.isnan(chance_p(0.9, n=0, majority_rate=0.5))


def test_chance_probe_is_inconclusive_even_when_the_control_looks_clean():
    v = decide(**{**GOOD, "accuracy_before": 0.52, "accuracy_after": 0.52}, tests=_audit(1e-6, 0.9))
    assert v["status"] == INCONCLUSIVE and "not above chance" in v["reason"]
    assert v["figures"]["p_above_chance_before"] > 0.05
    # a majority-class predictor on imbalanced data: 0.75 accuracy is chance when 75% are one class
    v = decide(**{**GOOD, "accuracy_before": 0.75, "majority_rate": 0.75}, tests=_audit(1e-6, 0.9))
    assert v["status"] == INCONCLUSIVE


def test_control_not_seen_before_is_inconclusive():
    v = decide(**GOOD, tests=_audit(0.2, 0.6))
    assert v["status"] == INCONCLUSIVE and v["canary_detected_before"] is False
    assert "not detected before" in v["reason"]


def test_seen_before_and_after_is_not_mitigated():
    v = decide(**GOOD, tests=_audit(1e-4, 0.01))
    assert v["status"] == NOT_MITIGATED
    assert v["canary_detected_before"] is True and v["canary_detected_after"] is True


def test_seen_before_not_after_with_utility_kept_is_mitigated():
    v = decide(**GOOD, tests=_audit(1e-4, 0.4))
    assert v["status"] == MITIGATED and v["canary_detected_after"] is False
    assert set(v) >= {"status", "reason", "canary_detected_before", "canary_detected_after", "figures"}
    assert v["figures"]["accuracy_before"] == 0.80 and v["figures"]["tests"][0]["p_before"] == 1e-4


def test_utility_lost_or_after_probe_at_chance_is_inconclusive():
    v = decide(**{**GOOD, "accuracy_after": 0.70}, tests=_audit(1e-4, 0.4))
    assert v["status"] == INCONCLUSIVE and "fell" in v["reason"]
    v = decide(**{**GOOD, "accuracy_after": 0.50}, tests=_audit(1e-4, 0.4))
    assert v["status"] == INCONCLUSIVE and "sanitised data is not above chance" in v["reason"]
    # still memorised although the after-probe is at chance: that is a leak, not a maybe
    assert decide(**{**GOOD, "accuracy_after": 0.50}, tests=_audit(1e-4, 1e-3))["status"] == NOT_MITIGATED


def test_no_canary_gives_null_flags_and_inconclusive():
    v = decide(**GOOD, tests=None)
    assert v["status"] == INCONCLUSIVE
    assert v["canary_detected_before"] is None and v["canary_detected_after"] is None


def test_uncalibrated_named_test_alone_decides_nothing():
    v = decide(**GOOD, tests=[CanaryTest("named", 1e-9, 1e-9, False)])
    assert v["status"] == INCONCLUSIVE and "uncalibrated" in v["reason"]
    assert v["canary_detected_before"] is True


def test_two_tests_bonferroni_before_unadjusted_after():
    both = [CanaryTest("audit", 0.03, 0.5, True), CanaryTest("named", 0.04, 0.5, True)]
    v = decide(**GOOD, tests=both)  # 0.03 >= 0.05 / 2: not seen before
    assert v["status"] == INCONCLUSIVE and v["figures"]["alpha_before"] == 0.025
    both = [CanaryTest("audit", 0.001, 0.5, True), CanaryTest("named", 0.5, 0.04, True)]
    assert decide(**GOOD, tests=both)["status"] == NOT_MITIGATED  # any test < alpha after


def test_after_not_computable_is_inconclusive():
    v = decide(**GOOD, tests=_audit(1e-4, float("nan")))
    assert v["status"] == INCONCLUSIVE and "could not be computed" in v["reason"]


def test_reasons_are_one_sentence_and_carry_no_paths():
    for tests in (None, _audit(0.2, 0.6), _audit(1e-4, 0.01), _audit(1e-4, 0.4)):
        r = decide(**GOOD, tests=tests)["reason"]
        assert r.endswith(".") and "/" not in r.replace("/ ", "") and r.count(". ") == 0


def test_model_verdict_rules():
    from ufmclean.verify.verdict import MEMORISED, NOT_DETECTED, decide_model

    one = {"accuracy": 0.80, "n_eval": 200, "majority_rate": 0.5}
    v = decide_model(**{**one, "accuracy": 0.52}, tests=_audit(1e-6, math.nan))
    assert v["status"] == INCONCLUSIVE and "not above chance" in v["reason"]
    v = decide_model(**one, tests=None)
    assert v["status"] == INCONCLUSIVE and v["canary_detected"] is None
    v = decide_model(**one, tests=[CanaryTest("named", 1e-9, math.nan, False)])
    assert v["status"] == INCONCLUSIVE and "uncalibrated" in v["reason"]
    # two tests: Bonferroni, 0.03 < 0.05 but not < 0.025
    two = [CanaryTest("audit", 0.03, math.nan, True), CanaryTest("named", 0.5, math.nan, True)]
    v = decide_model(**one, tests=two)
    assert v["status"] == NOT_DETECTED and v["canary_detected"] is False and v["figures"]["alpha_adjusted"] == 0.025
    v = decide_model(**one, tests=[CanaryTest("audit", 0.02, math.nan, True), two[1]])
    assert v["status"] == MEMORISED and v["canary_detected"] is True and "p = 0.02" in v["reason"]
