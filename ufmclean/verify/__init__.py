"""Verification: train a probe on the original and the sanitised dataset and compare M scores.

Modules: ``models`` (probe networks), ``data`` (dataset -> arrays, split), ``train`` (seeded training,
prediction), ``mscore`` (families A and B), ``features`` (what to score), ``canary`` (positive control),
``audit`` (the one-run audit's canaries), ``controls`` (scoring every control on every probe),
``audit_stats`` (rank test, AUROC, ε bound), ``verdict`` (mitigated / not_mitigated / inconclusive),
``gradcam`` (attention maps), ``report`` (verify.json, plots, HTML), ``scoring`` (every feature on one model),
``run`` (the before/after driver), ``blackbox`` (a TorchScript/ONNX model seen through its outputs),
``model_audit`` (``ufmclean audit``: the run's features and canaries scored on such a model) and
``recipes`` (named probe presets, ``--recipe paper``).
Heavy libraries (torch, matplotlib, grad-cam) are imported inside functions.
"""
