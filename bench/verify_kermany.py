"""Real-data experiment (not a test): does the probe + M score see a k-image canary on Kermany CXR, and
does it stop seeing it once the canary is removed?

Protocol
- Dataset: ../shared/data/kermany_cxr_224 (labels.csv: split, label). To fit 2 shared CPU cores the
  training split is subsampled to ``--train-n`` images (seeded, stratified by class; hard links into
  bench/out); the whole test split (624) is the held-out set.
- For each k in ``--ks``: ``make_canary`` stamps ``--text`` into k training images of ``--class``
  (chosen with the verify split). "Before" probes train on that canaried copy; "after" probes on the data
  with the canary removed by restoring the original pixels (= the subsample itself, so the after-probe of
  a seed is shared by all k).
- Per seed, both probes are scored on the canary (families A and B; white/grey/black box; black box =
  held-out images flipped upside down with random labels) with ufmclean.verify.mscore.

Prints a table (seeds significant before/after, mean M, accuracy) and the wall time; writes
bench/out/verify_kermany/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ufmclean.verify import data as vdata  # noqa: E402
from ufmclean.verify.canary import make_canary, read_canary  # noqa: E402
from ufmclean.verify.features import canary_feature  # noqa: E402
from ufmclean.verify.mscore import score_feature  # noqa: E402
from ufmclean.verify.train import TrainConfig, accuracy_auroc, predict_proba, train_probe  # noqa: E402


def make_subset(src: Path, dst: Path, *, train_n: int, seed: int) -> Path:
    """Hard-link a stratified subsample of the training split plus the whole test split; write labels.csv."""
    import csv

    rows = list(csv.DictReader((src / "labels.csv").open()))
    rng = np.random.default_rng(seed)
    train = [r for r in rows if r["split"] == "train"]
    keep = []
    for lab in sorted({r["label"] for r in train}):
        cls = [r for r in train if r["label"] == lab]
        n = int(round(train_n * len(cls) / len(train)))
        keep += [cls[i] for i in sorted(rng.choice(len(cls), n, replace=False))]
    keep += [r for r in rows if r["split"] != "train"]
    if dst.exists():
        shutil.rmtree(dst)
    for r in keep:
        (dst / r["path"]).parent.mkdir(parents=True, exist_ok=True)
        os.link(src / r["path"], dst / r["path"])
    with (dst / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kermany_cxr_224"))
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "verify_kermany"))
    ap.add_argument("--ks", default="1,5,25")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--train-n", type=int, default=1200)
    ap.add_argument("--text", default="JANE DOE")
    ap.add_argument("--class", dest="label", default="1")
    ap.add_argument("--x", type=float, default=0.12)
    ap.add_argument("--y", type=float, default=0.12)
    ap.add_argument("--height", type=float, default=0.07)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    t0 = time.perf_counter()
    src, out = Path(args.data), Path(args.out)
    if not (src / "labels.csv").is_file():
        sys.exit(f"dataset not found at {src}")
    out.mkdir(parents=True, exist_ok=True)
    base = make_subset(src, out / "subset", train_n=args.train_n, seed=0)
    csv_path = base / "labels.csv"
    items = vdata.list_items(base, labels_csv=csv_path)
    side = vdata.split_items(items)
    tr_items = [it for it in items if side[it.relpath] == vdata.TRAIN]
    ev_items = [it for it in items if side[it.relpath] == vdata.EVAL]
    classes = tuple(sorted({it.label for it in items}))
    after_tr = vdata.load_probe_data(base, tr_items, size=args.size, classes=classes)
    ev = vdata.load_probe_data(base, ev_items, size=args.size, classes=classes)
    rng = np.random.default_rng(7919)
    ood_x, ood_y = ev.images[:, ::-1, :].copy(), rng.integers(0, len(classes), len(ev.images))
    ks = [int(k) for k in args.ks.split(",")]
    before_tr, feats = {}, {}
    for k in ks:
        cdir = out / f"canary_k{k}"
        if cdir.exists():
            shutil.rmtree(cdir)
        make_canary(base, cdir, text=args.text, k=k, label=args.label, seed=k, labels_csv=csv_path,
                    box_frac=(args.x, args.y), height_frac=args.height)
        spec = read_canary(cdir)
        before_tr[k] = vdata.load_probe_data(cdir, tr_items, size=args.size, classes=classes)
        feats[k] = canary_feature(spec, size=args.size, classes=classes)
    cfg = TrainConfig(model=args.model, epochs=args.epochs, device=args.device)
    rows, probes = [], []

    def scores(probe, feat, seed):
        pred = lambda x: predict_proba(probe, x)  # noqa: E731
        p_ev, p_ood = pred(ev.images), pred(ood_x)
        res = {}
        for setting, x, y, pc, ys in (("white", ev.images, ev.labels, p_ev, feat.y_star),
                                      ("grey", ev.images, ev.labels, p_ev, None),
                                      ("black", ood_x, ood_y, p_ood, None)):
            a, b = score_feature(pred, x, y, patch=feat.patch, mask=feat.mask, box=feat.probe_box, y_star=ys,
                                 rng=np.random.default_rng([seed, len(setting)]), p_clean=pc)
            res[f"{setting}/A"] = (a.m, a.p)
            res[f"{setting}/B"] = (b.m_label, b.p_label_t) if setting == "white" else (b.m_kl, b.p_kl_t)
        return res, accuracy_auroc(p_ev, ev.labels)

    for seed in range(args.seeds):
        after = train_probe(after_tr.images, after_tr.labels, n_classes=len(classes), config=cfg, seed=seed)
        for k in ks:
            before = train_probe(before_tr[k].images, before_tr[k].labels, n_classes=len(classes), config=cfg, seed=seed)
            sb, accb = scores(before, feats[k], seed)
            sa, acca = scores(after, feats[k], seed)
            probes.append({"k": k, "seed": seed, "acc_before": accb[0], "auroc_before": accb[1], "acc_after": acca[0],
                           "auroc_after": acca[1], "train_s_before": before.seconds, "train_s_after": after.seconds,
                           "images_per_s": before.images_per_s, "device": before.device})
            for key in sb:
                rows.append({"k": k, "seed": seed, "test": key, "m_before": sb[key][0], "p_before": sb[key][1],
                             "m_after": sa[key][0], "p_after": sa[key][1]})
            print(f"seed {seed} k={k}: white/A M {sb['white/A'][0]:+.4f} (p={sb['white/A'][1]:.2g}) -> "
                  f"{sa['white/A'][0]:+.4f} (p={sa['white/A'][1]:.2g}); acc {accb[0]:.3f} -> {acca[0]:.3f}", flush=True)
    wall = time.perf_counter() - t0
    print(f"\nKermany {args.size}px {args.model}, train n={len(after_tr.images)}, eval n={len(ev.images)}, "
          f"{args.epochs} epochs, canary class {args.label}, {args.seeds} seeds; wall {wall:.0f} s")
    tests = ["white/A", "grey/A", "black/A", "white/B", "grey/B", "black/B"]
    print("k   " + "  ".join(f"{t:>13}" for t in tests) + "   acc before  acc after")
    for k in ks:
        cells = []
        for t in tests:
            rs = [r for r in rows if r["k"] == k and r["test"] == t]
            nb = sum(r["p_before"] < args.alpha for r in rs if np.isfinite(r["p_before"]))
            na = sum(r["p_after"] < args.alpha for r in rs if np.isfinite(r["p_after"]))
            cells.append(f"{nb:>2}->{na:>2}/{len(rs):<2}".rjust(13))
        pk = [p for p in probes if p["k"] == k]
        print(f"{k:<3} " + "  ".join(cells) + f"   {np.mean([p['acc_before'] for p in pk]):.3f}       "
              f"{np.mean([p['acc_after'] for p in pk]):.3f}")
    print("\nmean M (white/A) before -> after: " + ", ".join(
        f"k={k}: {np.mean([r['m_before'] for r in rows if r['k'] == k and r['test'] == 'white/A']):+.4f} -> "
        f"{np.mean([r['m_after'] for r in rows if r['k'] == k and r['test'] == 'white/A']):+.4f}" for k in ks))
    doc = {"args": vars(args), "wall_seconds": wall, "rows": rows, "probes": probes}
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))


if __name__ == "__main__":
    main()
