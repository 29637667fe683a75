"""Positive controls across probes: the named canary and the audit canaries, scored white-box.

Every control is scored like the named canary always was (:func:`ufmclean.verify.features.canary_feature`:
its stored patch and stroke mask at its fractional window, at the probe's size) with the paper's white-box
family-A M (``M_{y*}`` over held-out images of the carrier's class y*). Per probe (seed x phase)
:class:`ControlScores` records:

- each audit canary's M at its own window (inserted and never-inserted alike);
- the named canary's per-image shifts ``f_y*(x ⊕ u) - f_y*(x)``;
- each never-inserted audit canary's M at the *named* canary's window and class (its calibration set).

:meth:`ControlScores.tests` then runs one test per control over all seeds (seed-mean scores:
seeds share the data and the canaries, so they are not independent tests) and returns
:class:`ufmclean.verify.verdict.CanaryTest` inputs for the verdict. Only ids, classes and numbers leave
this module; the canaries' strings are never read from canary.json here.

The audit rank test runs on seed-mean M centred per carrier class (minus the median over all of that
class's canaries, inserted or not: blind to which were inserted). M_y* of different classes sit at
different levels (each class's baseline confidence differs); every class holds as many inserted as
never-inserted canaries, and centring keeps those level differences out of the pooled ranks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import numpy as np

from ufmclean.verify.audit import AuditCanary, read_audit
from ufmclean.verify.audit_stats import NamedTest, RankTest, named_canary_test, rank_test
from ufmclean.verify.canary import CanarySpec, read_canary, read_canary_doc
from ufmclean.verify.features import Feature, canary_feature
from ufmclean.verify.mscore import paste
from ufmclean.verify.verdict import CanaryTest

Predict = Callable[[np.ndarray], np.ndarray]
PHASES = ("before", "after")


@dataclass(frozen=True)
class ControlSet:
    """The controls of a dataset: ``named`` canary (``None`` without one or when its class is unknown),
    ``audit`` features (own window, ``y_star`` = carrier class) with ``inserted`` ``(n,)`` bool, and
    ``named_controls``: the never-inserted audit canaries at the named canary's window and class."""

    named: Feature | None
    audit: list[Feature]
    inserted: np.ndarray
    classes: list[str]
    named_controls: list[Feature]


def _at_window(c: AuditCanary, named: CanarySpec) -> CanarySpec:
    """``c``'s patch with its own size, top-left at ``named``'s, cropped to the image."""
    fx0, fy0 = named.box_frac[:2]
    ax0, ay0, ax1, ay1 = c.spec.box_frac
    wf, hf = ax1 - ax0, ay1 - ay0
    h, w = c.spec.patch.shape
    keep_w = max(1, min(w, int(w * (1.0 - fx0) / wf))) if wf > 0 else w
    keep_h = max(1, min(h, int(h * (1.0 - fy0) / hf))) if hf > 0 else h
    return CanarySpec(c.spec.patch[:keep_h, :keep_w], c.spec.mask[:keep_h, :keep_w],
                      (fx0, fy0, fx0 + wf * keep_w / w, fy0 + hf * keep_h / h), (), named.label, 0)


def control_features(dataset_dir: str | Path, *, size: int, classes: tuple[str, ...]) -> ControlSet | None:
    """The controls recorded in ``dataset_dir/canary.json`` at probe ``size``; ``None`` without canary.json.

    Audit canaries whose class is not among ``classes`` are left out.
    """
    doc = read_canary_doc(dataset_dir)
    if doc is None:
        return None
    spec = read_canary(dataset_dir)
    named = canary_feature(spec, size=size, classes=classes) if spec is not None else None
    if named is not None and named.y_star is None:
        named = None
    audit, inserted, labels, ctrl = [], [], [], []
    for c in read_audit(doc):
        f = canary_feature(c.spec, size=size, classes=classes)
        if f.y_star is None:
            continue
        audit.append(dataclasses.replace(f, feature_id=c.canary_id, source="audit", relpath=c.relpath or ""))
        inserted.append(c.inserted)
        labels.append(c.spec.label)
        if not c.inserted and named is not None and spec is not None:
            ctrl.append(canary_feature(_at_window(c, spec), size=size, classes=classes))
    return ControlSet(named, audit, np.asarray(inserted, bool), labels, ctrl)


def white_shifts(predict: Predict, images: np.ndarray, labels: np.ndarray, p_clean: np.ndarray,
                 feat: Feature) -> np.ndarray:
    """Per-image white-box shifts ``f_y*(x ⊕ u) - f_y*(x)`` ``(n_y*,)`` over ``images`` ``(N, S, S)`` of class
    ``feat.y_star`` (``labels`` ``(N,)``, ``p_clean`` = ``predict(images)`` ``(N, C)``); empty without any."""
    c = feat.y_star
    sel = labels == c
    if c is None or not sel.any():
        return np.zeros(0)
    x = images[sel]
    return predict(paste(x, feat.patch, feat.mask, feat.probe_box))[:, c] - p_clean[sel, c]


def white_m(predict: Predict, images: np.ndarray, labels: np.ndarray, p_clean: np.ndarray,
            feats: list[Feature]) -> np.ndarray:
    """White-box family-A M ``(len(feats),)`` of each feature (NaN when no held-out image has its class);
    equals ``family_a(p_clean, predict(paste(...)), labels, y_star=f.y_star).m`` but pastes only on the
    images of class y*."""
    out = np.full(len(feats), np.nan)
    for j, f in enumerate(feats):
        d = white_shifts(predict, images, labels, p_clean, f)
        if len(d):
            out[j] = float(d.mean())
    return out


def control_m(predict: Predict, images: np.ndarray, labels: np.ndarray, p_clean: np.ndarray,
              controls: ControlSet) -> dict[str, float]:
    """White-box M of every control on one model: ``{"canary": named M, "a000": ..., ...}`` (named first when
    there is one; NaN where no held-out image has the control's class)."""
    feats = ([controls.named] if controls.named is not None else []) + controls.audit
    ids = ["canary"] * (controls.named is not None) + [f.feature_id for f in controls.audit]
    return dict(zip(ids, (float(m) for m in white_m(predict, images, labels, p_clean, feats))))


def per_class_subset(labels: np.ndarray, max_per_class: int) -> np.ndarray:
    """Indices of the first ``max_per_class`` images of each class in ``labels`` ``(N,)``, in order."""
    labels = np.asarray(labels)
    keep = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:max_per_class]] = True
    return np.flatnonzero(keep)


@dataclass
class ControlScores:
    """Scores of a :class:`ControlSet` accumulated over probes (call :meth:`add` once per trained probe).

    ``phases``: the models' groups; verify scores ``("before", "after")``, a model audit one group
    (``("model",)``). The tests' ``p_before``/``p_after`` come from the first and second phase (NaN
    without a second)."""

    controls: ControlSet
    phases: tuple[str, ...] = PHASES
    audit_m: dict[str, list[np.ndarray]] = field(default_factory=dict)
    named_m: dict[str, list[float]] = field(default_factory=dict)
    named_shifts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    ctrl_m: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for acc in (self.audit_m, self.named_m, self.named_shifts, self.ctrl_m):
            for ph in self.phases:
                acc.setdefault(ph, [])

    def add(self, phase: str, predict: Predict, images: np.ndarray, labels: np.ndarray, p_clean: np.ndarray) -> None:
        """Score every control on one probe (``phase`` ``before``/``after``) on held-out ``images`` ``(N, S, S)``,
        ``labels`` ``(N,)``, ``p_clean`` ``(N, C)``."""
        cs = self.controls
        self.audit_m[phase].append(white_m(predict, images, labels, p_clean, cs.audit))
        if cs.named is not None:
            d = white_shifts(predict, images, labels, p_clean, cs.named)
            self.named_shifts[phase].append(d)
            self.named_m[phase].append(float(d.mean()) if len(d) else float("nan"))
            self.ctrl_m[phase].append(white_m(predict, images, labels, p_clean, cs.named_controls))

    def _rank(self, phase: str, seed: int) -> tuple[RankTest, np.ndarray]:
        m = np.nanmean(np.stack(self.audit_m[phase]), axis=0)
        centred = m.copy()
        labels = np.asarray(self.controls.classes)
        for c in set(self.controls.classes):  # label-blind: all of a class's canaries, inserted or not
            sel = labels == c
            if np.isfinite(m[sel]).any():
                centred[sel] -= np.nanmedian(m[sel])
        ins = self.controls.inserted
        return rank_test(centred[ins], centred[~ins], seed=seed), m

    def _named(self, phase: str) -> NamedTest:
        ctrl = np.stack(self.ctrl_m[phase]) if self.controls.named_controls else None
        return named_canary_test(np.asarray(self.named_m[phase]), controls_seeds=ctrl,
                                 diffs_seeds=_ragged_stack(self.named_shifts[phase]))

    def tests(self, *, seed: int = 0) -> tuple[list[CanaryTest], dict]:
        """The control tests for the verdict and the ``audit`` object of verify.json (ids and numbers only)."""
        cs = self.controls
        first, second = self.phases[0], (self.phases[1] if len(self.phases) > 1 else None)
        tests: list[CanaryTest] = []
        doc: dict = {"n_inserted": int(cs.inserted.sum()), "n_controls": int((~cs.inserted).sum()),
                     "named_canary": cs.named is not None}
        nan = float("nan")
        if len(cs.audit) and self.audit_m[first]:
            ranks = {ph: self._rank(ph, seed) for ph in self.phases if self.audit_m[ph]}
            tests.append(CanaryTest("audit", ranks[first][0].p, ranks[second][0].p if second in ranks else nan, True))
            doc["rank_test"] = {ph: r.to_dict() for ph, (r, _) in ranks.items()}
            doc["rank_test"]["score"] = "seed-mean white-box M, centred per carrier class (median)"
            doc["canaries"] = []
            for j, (f, i, lab) in enumerate(zip(cs.audit, cs.inserted, cs.classes)):
                row = {"id": f.feature_id, "inserted": bool(i), "class": lab}
                for ph, (_, m) in ranks.items():
                    row[f"m_{ph}"] = float(m[j])
                    row[f"m_{ph}_per_seed"] = [float(s[j]) for s in self.audit_m[ph]]
                doc["canaries"].append(row)
        if cs.named is not None and self.named_m[first]:
            named = {ph: self._named(ph) for ph in self.phases if self.named_m[ph]}
            nb = named[first]
            tests.append(CanaryTest("named", nb.p, named[second].p if second in named else nan,
                                    nb.method == "calibrated"))
            doc["named_test"] = {ph: t.to_dict() for ph, t in named.items()}
        return tests, doc


def _ragged_stack(rows: list[np.ndarray]) -> np.ndarray | None:
    if not rows or len({len(r) for r in rows}) != 1 or not len(rows[0]):
        return None
    return np.stack(rows)
