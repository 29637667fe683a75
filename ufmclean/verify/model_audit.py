"""Model audit: score a sanitize run's removed findings and the dataset's canaries on a model trained elsewhere.

The model is a black box (:mod:`ufmclean.verify.blackbox`): only its last layer's outputs on images.
Inputs:

- ``original``: the dataset the run sanitised (the features are crops of its original pixels, and its
  ``canary.json`` holds the canaries and their carriers' classes);
- ``run_dir``: the sanitize run (``findings.parquet``: which findings were removed, and where);
- ``eval_dir``: labelled images the model was **not** trained on (held-out; class folders or
  ``--labels``). When it is the ``original`` folder itself, only the verify split's held-out side is
  used (the side canaries are never placed on).

Scoring is verify's: families A and B in the three settings per finding (:mod:`ufmclean.verify.scoring`)
and the control tests over the canaries (:mod:`ufmclean.verify.controls`), for one model instead of
before/after probe pairs; the verdict is :func:`ufmclean.verify.verdict.decide_model`. The document
written (``audit.json``) holds ids, masked relpaths, boxes and numbers only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np

from ufmclean.errors import UsageError
from ufmclean.verify import data as vdata
from ufmclean.verify.blackbox import OUTPUTS, BlackBoxModel, detect_outputs, to_probs
from ufmclean.verify.controls import ControlScores, control_features
from ufmclean.verify.run import collect_features, ood_set
from ufmclean.verify.scoring import EvalSets, feature_row, score_features
from ufmclean.verify.train import accuracy_auroc
from ufmclean.verify.verdict import decide_model

log = logging.getLogger(__name__)
PHASE = "model"


@dataclass(frozen=True)
class AuditOptions:
    """Options of a model audit (see ``ufmclean audit --help``). ``classes``: the model's outputs' class
    names in order (default: the sorted class names of the evaluation data)."""

    outputs: str = "auto"
    classes: tuple[str, ...] | None = None
    labels_csv: str | None = None
    label_column: str = "label"
    ood_dir: str | None = None
    alpha: float = 0.05
    max_features: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.outputs not in OUTPUTS:
            raise UsageError(f"--outputs must be one of {', '.join(OUTPUTS)}, got {self.outputs!r}")
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.classes is not None and (len(self.classes) < 2 or len(set(self.classes)) != len(self.classes)):
            raise UsageError("--classes needs two or more distinct class names, in the model's output order")


def _eval_items(eval_dir: Path, original: Path, options: AuditOptions) -> tuple[list[vdata.Item], str]:
    items = vdata.list_items(eval_dir, labels_csv=options.labels_csv, label_column=options.label_column)
    if eval_dir.resolve() != original.resolve():
        return items, "all labelled images in --eval"
    side = vdata.split_items(items)
    return [it for it in items if side[it.relpath] == vdata.EVAL], "the held-out side of --original's verify split"


def run_model_audit(model: BlackBoxModel, *, original: str | Path, run_dir: str | Path, eval_dir: str | Path,
                    options: AuditOptions, progress: Callable[[str], None] | None = None) -> dict:
    """Audit ``model``; returns the audit document (``verdict``, ``settings``, ``model``, ``audit``, ``features``)."""
    t0 = time.perf_counter()
    say = progress or (lambda msg: log.info("%s", msg))
    original, run_dir, eval_dir = Path(original), Path(run_dir), Path(eval_dir)
    for flag, d in (("--original", original), ("--run", run_dir), ("--eval", eval_dir)):
        if not d.is_dir():
            raise UsageError(f"{flag} {d.name} is not a folder")
    items, eval_desc = _eval_items(eval_dir, original, options)
    if not items:
        raise UsageError("no labelled images in --eval; pass --labels CSV or use class sub-folders")
    classes = options.classes or tuple(sorted({it.label for it in items}))
    unknown = sorted({it.label for it in items} - set(classes))
    if unknown:
        raise UsageError(f"{len(unknown)} label(s) of --eval are not in --classes; list every class the model outputs")
    n_out = model.n_outputs if model.n_outputs > 1 else 2
    if n_out != len(classes):
        raise UsageError(f"{model.name} has {model.n_outputs} output(s) but {len(classes)} classes are named; "
                         "pass --classes in the model's output order")
    say(f"reading {len(items)} held-out images at {model.size}px")
    ev = vdata.load_probe_data(eval_dir, items, size=model.size, classes=classes)
    if len(ev.images) < 2:
        raise UsageError("fewer than 2 readable held-out images in --eval")
    raw = model.raw(ev.images)
    kind = detect_outputs(raw) if options.outputs == "auto" else options.outputs
    predict = lambda x: to_probs(model.raw(x), kind)  # noqa: E731
    p_ev = to_probs(raw, kind)
    acc, auc = accuracy_auroc(p_ev, ev.labels)
    ood_x, ood_y, ood_desc = ood_set(options.ood_dir, ev.images, len(classes), size=model.size, split_seed=options.seed)
    orig_items = vdata.list_items(original, labels_csv=options.labels_csv, label_column=options.label_column)
    feats, finfo = collect_features(original, run_dir, size=model.size, classes=classes,
                                    label_of={it.relpath: it.label for it in orig_items},
                                    max_features=options.max_features)
    controls = control_features(original, size=model.size, classes=classes)
    tests, audit_doc = None, None
    if controls is not None:
        say(f"scoring {len(controls.audit)} audit canaries and the named canary")
        cscores = ControlScores(controls, phases=(PHASE,))
        cscores.add(PHASE, predict, ev.images, ev.labels, p_ev)
        tests, audit_doc = cscores.tests(seed=options.seed)
    say(f"scoring {len(feats)} feature(s) in the white-, grey- and black-box settings")
    sets = EvalSets(ev.images, ev.labels, p_ev, ood_x, ood_y, predict(ood_x))
    scores = score_features(predict, feats, sets, seed=options.seed)
    by_id = {f.feature_id: f for f in feats}
    rows = [{**feature_row(by_id[fid]), "setting": setting, "family": fam, "statistic": sc[0], "m": sc[1], "p": sc[2],
             "p_mw": sc[3], "class": sc[4], "significant": bool(np.isfinite(sc[2]) and sc[2] < options.alpha)}
            for (fid, setting, fam), sc in scores.items()]
    counts = np.bincount(ev.labels, minlength=len(classes))
    verdict = decide_model(accuracy=acc, n_eval=len(ev.labels), majority_rate=float(counts.max() / counts.sum()),
                           tests=tests, alpha=options.alpha)
    say(f"verdict: {verdict['status']}: {verdict['reason']}")
    return {
        "verdict": verdict,
        "settings": {**asdict(options), "classes": list(classes), "eval": eval_desc, "n_eval": len(ev.images),
                     "n_ood": len(ood_x), "ood": ood_desc, "n_read_errors": len(ev.errors), **finfo},
        "model": {"file": model.name, "format": model.format, "size": model.size, "channels": model.channels,
                  "n_outputs": model.n_outputs, "outputs": kind,
                  "outputs_detected": options.outputs == "auto", "mean": model.mean, "std": model.std,
                  "device": model.device, "accuracy": acc, "auroc": auc},
        "audit": audit_doc,
        "features": rows,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
