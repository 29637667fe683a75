"""Before/after driver: train the same probe on the original and the sanitised data, score each feature.

Data decisions (documented in verify.json ``settings``):
- the sanitised dataset is ``RUN/clean/`` (or ``RUN`` itself when it has no ``clean/``);
- files absent from it (held back for review, or failed) are dropped from both datasets;
- one split (``split_seed``) for both; each probe seed trains a "before" and an "after" model;
- every model is evaluated on the same images: the sanitised held-out split (accuracy, white/grey-box)
  and an out-of-distribution set (black-box): ``--ood DIR`` (all images there, random labels) or, by
  default, the sanitised held-out images flipped upside down with random labels.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np

from ufmclean.errors import UfmError, UsageError
from ufmclean.verify import data as vdata
from ufmclean.verify.canary import read_canary
from ufmclean.verify.controls import ControlScores, ControlSet, control_features, control_m, per_class_subset
from ufmclean.verify.features import Feature, canary_feature, finding_feature, removed_findings
from ufmclean.verify.scoring import SETTINGS, EvalSets, feature_row, score_features
from ufmclean.verify.train import SCHEDULES, TrainConfig, accuracy_auroc, predict_proba, train_probe
from ufmclean.verify.verdict import decide

log = logging.getLogger(__name__)
#: Held-out images per class the per-epoch curve scores each control on (the final scores use all of them),
#: and the most epochs it is scored at (evenly spread, the last always among them). Why so few: every
#: control needs its own pass, so the curve costs (controls x images) forward passes per scored epoch.
#: Measured on sample_data (2 x 160 training images, 21 controls, 20 epochs, 1 thread): 16 images x all
#: 20 epochs cost 5 CPU-s per probe against 7 for its training.
EPOCH_EVAL_PER_CLASS = 16
EPOCH_CURVE_POINTS = 10


@dataclass(frozen=True)
class VerifyOptions:
    """Options of a verify run (see the CLI for meanings)."""

    seeds: int = 3
    size: int = 64
    model: str = "cnn"
    device: str = "auto"
    # The default recipe fits its training set, which single-copy memorisation needs: on 1,000 Kermany
    # images (376 train) the former width 16 / lr 1e-3 / 10 epochs stayed at chance (0.638 vs majority
    # 0.625: inconclusive), this one reached 0.763 held out and its audit saw the single-copy canaries
    # before sanitising (AUROC 0.673, p = 0.011) and not after (0.451, p = 0.75); bench/verify_carriers.py.
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    schedule: str = "onecycle"
    width: int = 8
    alpha: float = 0.05
    split_seed: int = 0
    eval_fraction: float = 0.2
    labels_csv: str | None = None
    label_column: str = "label"
    ood_dir: str | None = None
    max_features: int = 50
    gradcam_images: int = 4
    max_accuracy_drop: float = 0.02
    epoch_curve: bool = True
    weight_decay: float = 0.0
    patience: int | None = None
    recipe: str = "default"

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise UsageError(f"--seeds must be >= 1, got {self.seeds}")
        if self.size not in (32, 64, 128, 224, 256) and not 16 <= self.size <= 512:
            raise UsageError(f"--size must be between 16 and 512, got {self.size}")
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0 <= self.max_accuracy_drop <= 1:
            raise UsageError(f"--max-accuracy-drop must be in [0, 1], got {self.max_accuracy_drop}")
        if not self.lr > 0 or self.width < 1:
            raise UsageError(f"--lr must be > 0 and --width >= 1, got {self.lr} and {self.width}")
        if self.weight_decay < 0 or (self.patience is not None and self.patience < 1):
            raise UsageError(f"weight decay must be >= 0 and patience >= 1, got {self.weight_decay}, {self.patience}")


def _clean_root(sanitized: Path) -> Path:
    return sanitized / "clean" if (sanitized / "clean").is_dir() else sanitized


def ood_set(ood_dir: str | None, eval_images: np.ndarray, n_classes: int, *, size: int,
            split_seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The black-box set: every image in ``ood_dir`` at ``size`` (or, without it, ``eval_images`` ``(N, S, S)``
    flipped upside down), with labels drawn at random from ``n_classes`` (seeded by ``split_seed``), and its
    description."""
    rng = np.random.default_rng(split_seed + 7919)
    if ood_dir:
        root = Path(ood_dir)
        if not root.is_dir():
            raise UsageError(f"--ood {root} is not a folder")
        rels = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and p.suffix.lower() in vdata.IMAGE_SUFFIXES)
        items = [vdata.Item(r, "ood") for r in rels]
        d = vdata.load_probe_data(root, items, size=size, classes=("ood",))
        if len(d.images) < 2:
            raise UsageError("--ood folder holds fewer than 2 readable images")
        imgs, desc = d.images, f"folder ({len(d.images)} images)"
    else:
        imgs, desc = eval_images[:, ::-1, :].copy(), "held-out images flipped upside down"
    return imgs, rng.integers(0, n_classes, size=len(imgs)), desc + ", random labels"


def collect_features(original: Path, sanitized: Path, *, size: int, classes: tuple[str, ...],
                     label_of: dict[str, str], max_features: int) -> tuple[list[Feature], dict]:
    """Removed findings (first ``max_features`` by relpath) and the canary, with counts of skipped ones."""
    feats: list[Feature] = []
    rows = removed_findings(sanitized)
    info = {"n_removed_findings": len(rows), "n_scored_findings": 0, "n_feature_errors": 0, "canary": False}
    for row in rows[:max_features]:
        lab = label_of.get(row["relpath"])
        y_star = classes.index(lab) if lab in classes else None
        try:
            feats.append(finding_feature(original, row, size=size, y_star=y_star))
            info["n_scored_findings"] += 1
        except UfmError:
            info["n_feature_errors"] += 1
    spec = read_canary(original)
    if spec is not None:
        feats.append(canary_feature(spec, size=size, classes=classes))
        info["canary"] = True
    return feats, info


def run_verify(original: str | Path, sanitized: str | Path, *, options: VerifyOptions,
               progress: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """Run the before/after probe comparison. Returns ``(doc, artefacts)``: ``doc`` is verify.json's content
    (ids, boxes, numbers only), ``artefacts`` holds the trained seed-0 probes and evaluation arrays for
    Grad-CAM (``{"probes": {"before", "after"}, "eval_images", "features"}``)."""
    t_start = time.perf_counter()
    say = progress or (lambda msg: log.info("%s", msg))
    original, sanitized = Path(original), Path(sanitized)
    clean = _clean_root(sanitized)
    items = vdata.list_items(original, labels_csv=options.labels_csv, label_column=options.label_column)
    if not items:
        raise UsageError("no labelled images in --original; pass --labels CSV or use class sub-folders")
    present = [it for it in items if (clean / it.relpath).is_file()]
    side = vdata.split_items(items, seed=options.split_seed, eval_fraction=options.eval_fraction)
    train_items = [it for it in present if side[it.relpath] == vdata.TRAIN]
    eval_items = [it for it in present if side[it.relpath] == vdata.EVAL]
    if not train_items or not eval_items:
        raise UsageError("the split left no training or no evaluation images; add images or change eval_fraction")
    classes = tuple(sorted({it.label for it in items}))
    say(f"reading {len(train_items)} training and {len(eval_items)} evaluation images at {options.size}px")
    tr_before = vdata.load_probe_data(original, train_items, size=options.size, classes=classes)
    tr_after = vdata.load_probe_data(clean, train_items, size=options.size, classes=classes)
    ev = vdata.load_probe_data(clean, eval_items, size=options.size, classes=classes)
    ood_x, ood_y, ood_desc = ood_set(options.ood_dir, ev.images, len(classes), size=options.size,
                                     split_seed=options.split_seed)
    feats, finfo = collect_features(original, sanitized, size=options.size, classes=classes,
                                    label_of={it.relpath: it.label for it in items}, max_features=options.max_features)
    cfg = TrainConfig(model=options.model, epochs=options.epochs, batch_size=options.batch_size, lr=options.lr,
                      device=options.device, width=options.width, schedule=options.schedule,
                      weight_decay=options.weight_decay, patience=options.patience)
    controls = control_features(original, size=options.size, classes=classes)
    val: dict[str, tuple[np.ndarray, np.ndarray] | None] = {"before": None, "after": None}
    if options.patience is not None:
        keep, vmask = validation_split(tr_before.relpaths, carriers=_carriers(original, controls), seed=options.split_seed)
        say(f"early stopping on {int(vmask.sum())} validation images held out of training (no canary carriers)")
        val = {"before": (tr_before.images[vmask], tr_before.labels[vmask]),
               "after": (tr_after.images[vmask], tr_after.labels[vmask])}
        tr_before, tr_after = _subset(tr_before, keep), _subset(tr_after, keep)
    cscores = ControlScores(controls) if controls is not None else None
    if controls is not None and len(controls.audit):
        say(f"scoring {len(controls.audit)} audit canaries on every probe ({int(controls.inserted.sum())} inserted)")
    probe_rows: dict[str, list[dict]] = {"before": [], "after": []}
    rows: list[dict] = []
    artefacts: dict = {"probes": {}, "eval_images": ev.images, "eval_labels": ev.labels, "features": feats}
    curves: list[dict] = []
    curve_x: np.ndarray | None = None
    curve_y: np.ndarray | None = None
    if options.epoch_curve and controls is not None and (controls.named is not None or controls.audit):
        keep = per_class_subset(ev.labels, EPOCH_EVAL_PER_CLASS)
        curve_x, curve_y = ev.images[keep], ev.labels[keep]
    for seed in range(options.seeds):
        scores = {}
        for phase, d in (("before", tr_before), ("after", tr_after)):
            say(f"seed {seed}: training the {phase} probe on {len(d.images)} images")
            on_epoch = None
            if curve_x is not None and curve_y is not None and controls is not None:
                curve, on_epoch = _epoch_tracker(phase, seed, controls, curve_x, curve_y,
                                                 at=curve_epochs(options.epochs, EPOCH_CURVE_POINTS))
                curves.append(curve)
            probe = train_probe(d.images, d.labels, n_classes=len(classes), config=cfg, seed=seed, on_epoch=on_epoch,
                                val=val[phase])
            predict = lambda x, _p=probe: predict_proba(_p, x)  # noqa: E731
            p_ev, p_ood = predict(ev.images), predict(ood_x)
            acc, auc = accuracy_auroc(p_ev, ev.labels)
            probe_rows[phase].append({"seed": seed, "accuracy": acc, "auroc": auc, "train_seconds": round(probe.seconds, 3),
                                      "images_per_s": round(probe.images_per_s, 1), "device": probe.device,
                                      "epochs": probe.epochs})
            if cscores is not None:
                cscores.add(phase, predict, ev.images, ev.labels, p_ev)
            sets = EvalSets(ev.images, ev.labels, p_ev, ood_x, ood_y, p_ood)
            for (fid, setting, fam), sc in score_features(predict, feats, sets, seed=seed).items():
                scores[(phase, fid, setting, fam)] = sc
            if seed == 0:
                artefacts["probes"][phase] = probe
        for f in feats:
            for setting in SETTINGS:
                for fam in ("A", "B"):
                    if ("before", f.feature_id, setting, fam) not in scores:
                        continue
                    sb, sa = scores[("before", f.feature_id, setting, fam)], scores[("after", f.feature_id, setting, fam)]
                    rows.append({
                        **feature_row(f),
                        "setting": setting, "family": fam, "statistic": sb[0], "seed": seed,
                        "m_before": sb[1], "p_before": sb[2], "p_mw_before": sb[3], "class_before": sb[4],
                        "m_after": sa[1], "p_after": sa[2], "p_mw_after": sa[3], "class_after": sa[4],
                    })
    tests, audit_doc = cscores.tests(seed=options.split_seed) if cscores is not None else (None, None)
    probe_doc = {phase: _probe_summary(r) for phase, r in probe_rows.items()}
    counts = np.bincount(ev.labels, minlength=len(classes))
    verdict = decide(accuracy_before=probe_doc["before"]["accuracy"], accuracy_after=probe_doc["after"]["accuracy"],
                     n_eval=len(ev.labels), majority_rate=float(counts.max() / max(1, counts.sum())), tests=tests,
                     alpha=options.alpha, max_accuracy_drop=options.max_accuracy_drop)
    say(f"verdict: {verdict['status']}: {verdict['reason']}")
    doc = {
        "verdict": verdict,
        "settings": {**asdict(options), "classes": list(classes), "sanitized_root": "clean" if clean != sanitized else ".",
                     "n_train": len(tr_before.images), "n_eval": len(ev.images), "n_ood": len(ood_x),
                     "ood": ood_desc, "n_held_back": len(items) - len(present),
                     "held_back_policy": "files missing from the sanitised data are excluded from both datasets",
                     "eval_policy": "both probes are evaluated on the sanitised held-out split",
                     "n_read_errors": len(tr_before.errors) + len(tr_after.errors) + len(ev.errors), **finfo},
        "probe": probe_doc,
        "audit": audit_doc,
        "features": _nan_to_none(rows),
        "summary": summarise(rows, alpha=options.alpha, n_seeds=options.seeds),
        "epochs": _epoch_doc(curves, controls, n_images=0 if curve_y is None else len(curve_y)),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
    }
    return doc, artefacts


def validation_split(relpaths: tuple[str, ...], *, carriers: set[str], seed: int,
                     fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(train, validation)`` over ``relpaths``: ``fraction`` of them (at least 2), chosen by a
    hash of ``seed`` and relpath, never one in ``carriers`` (a canary must stay in training)."""
    ranked = sorted((r for r in relpaths if r not in carriers), key=lambda r: vdata.hash_rank(seed + 101, r))
    chosen = set(ranked[: max(2, int(round(fraction * len(relpaths))))])
    vmask = np.asarray([r in chosen for r in relpaths], bool)
    if vmask.all() or not vmask.any():
        raise UsageError("too few training images to hold out a validation set for early stopping")
    return ~vmask, vmask


def _carriers(original: Path, controls: ControlSet | None) -> set[str]:
    spec = read_canary(original)
    out = set(spec.relpaths) if spec is not None else set()
    return out | {f.relpath for f in (controls.audit if controls is not None else []) if f.relpath}


def _subset(d: vdata.ProbeData, keep: np.ndarray) -> vdata.ProbeData:
    return dataclasses.replace(d, relpaths=tuple(r for r, k in zip(d.relpaths, keep) if k), images=d.images[keep],
                               labels=d.labels[keep], shapes=d.shapes[keep])


def curve_epochs(n_epochs: int, points: int) -> set[int]:
    """At most ``points`` epochs of ``1..n_epochs``, evenly spread, always with the first and the last."""
    return {int(e) for e in np.unique(np.round(np.linspace(1, n_epochs, min(n_epochs, max(points, 2)))))}


def _epoch_tracker(phase: str, seed: int, controls: ControlSet, images: np.ndarray, labels: np.ndarray, *,
                   at: set[int]) -> tuple[dict, Callable]:
    """A curve record and the ``on_epoch`` hook filling it: after each epoch in ``at``, each control's white-box
    M and the accuracy on ``images`` (a per-class subset of the held-out split)."""
    curve: dict = {"phase": phase, "seed": seed, "epoch": [], "accuracy": [], "m": {}}

    def on_epoch(epoch: int, probe) -> None:
        if epoch not in at:
            return
        predict = lambda x: predict_proba(probe, x)  # noqa: E731
        p = predict(images)
        curve["epoch"].append(epoch)
        curve["accuracy"].append(float((p.argmax(1) == labels).mean()))
        for cid, m in control_m(predict, images, labels, p, controls).items():
            curve["m"].setdefault(cid, []).append(m)

    return curve, on_epoch


def _epoch_doc(curves: list[dict], controls: ControlSet | None, *, n_images: int) -> dict | None:
    """verify.json's ``epochs``: per probe (phase, seed) each control's M after every epoch. ``None`` when off."""
    if not curves or controls is None:
        return None
    inserted = {"canary": True} if controls.named is not None else {}
    inserted.update({f.feature_id: bool(i) for f, i in zip(controls.audit, controls.inserted)})
    return {"n_eval_images": n_images, "max_per_class": EPOCH_EVAL_PER_CLASS, "max_points": EPOCH_CURVE_POINTS,
            "score": "white-box M (family A) on a per-class subset of the held-out split",
            "inserted": inserted, "curves": curves}


def _probe_summary(rows: list[dict]) -> dict:
    acc = [r["accuracy"] for r in rows]
    auc = [r["auroc"] for r in rows if r["auroc"] is not None]
    return {"accuracy": float(np.mean(acc)), "auroc": float(np.mean(auc)) if auc else None,
            "train_seconds": float(np.sum([r["train_seconds"] for r in rows])), "device": rows[0]["device"],
            "per_seed": rows}


def _nan_to_none(rows: list[dict]) -> list[dict]:
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in rows]


def summarise(rows: list[dict], *, alpha: float, n_seeds: int) -> list[dict]:
    """Per feature and (setting, family): how many seeds had ``p < alpha`` before and after, and mean M."""
    out: dict[str, dict] = {}
    for r in rows:
        s = out.setdefault(r["feature_id"], {"feature_id": r["feature_id"], "source": r["source"], "relpath": r["relpath"],
                                             "x0": r["x0"], "y0": r["y0"], "x1": r["x1"], "y1": r["y1"], "n_seeds": n_seeds,
                                             "tests": {}})
        t = s["tests"].setdefault(f"{r['setting']}/{r['family']}", {"sig_before": 0, "sig_after": 0, "m_before": [], "m_after": []})
        for ph in ("before", "after"):
            p, m = r[f"p_{ph}"], r[f"m_{ph}"]
            t[f"sig_{ph}"] += int(p is not None and np.isfinite(p) and p < alpha)
            if m is not None and np.isfinite(m):
                t[f"m_{ph}"].append(m)
    for s in out.values():
        for t in s["tests"].values():
            for ph in ("before", "after"):
                vals = t.pop(f"m_{ph}")
                t[f"mean_m_{ph}"] = float(np.mean(vals)) if vals else None
                t[f"frac_sig_{ph}"] = t[f"sig_{ph}"] / n_seeds
    return list(out.values())
