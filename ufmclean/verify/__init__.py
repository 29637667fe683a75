"""Verification: train a probe on the original and the sanitised dataset and compare M scores.

Modules: ``models`` (probe networks), ``data`` (dataset -> arrays, split), ``train`` (seeded training,
prediction), ``mscore`` (families A and B), ``features`` (what to score), ``canary`` (positive control),
``audit`` (the one-run audit's canaries), ``controls`` (scoring every control on every probe),
``audit_stats`` (rank test, AUROC, ε bound), ``verdict`` (mitigated / not_mitigated / inconclusive),
``gradcam`` (attention maps), ``report`` (verify.json, plots, HTML) and ``run`` (the before/after driver).
Heavy libraries (torch, matplotlib, grad-cam) are imported inside functions.
"""
