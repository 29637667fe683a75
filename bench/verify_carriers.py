"""Real-data experiment (not a test): do audit canaries on *hard* carriers get memorised more?

Feldman (2020) and Hartley et al.'s influence analysis: atypical training images are the most memorised.
Protocol (Kermany CXR, as bench/verify_audit.py): a stratified ``--train-n`` subsample of the training
split plus the whole test split as held-out set. A reference probe (same recipe, seed ``--ref-seed``,
trained on the un-canaried subsample) scores every training image's own cross-entropy loss; per class
the ``--pool`` x (canaries per class) highest-loss images form the carrier pool. ``make_canary`` then
draws the audit's carriers from that pool (``--carriers hard``) or from all training images
(``--carriers random``); which canaries are inserted stays random, so never-inserted canaries remain
exact controls. The after-data are the subsample itself (ideal removal). ``run_verify`` trains
``--seeds`` probes before/after; prints the audit rank test, accuracy, the verdict and the wall time.

Measured (600 train / 624 held-out, cnn width 8, 64², lr 3e-3 one-cycle, 1 probe seed, OMP 1 thread,
nice 19 on 2 CPU cores shared with other sessions; the reference probe fits 98.8% of its training set):

    N   epochs  carriers (canary seed)   AUROC before [95%]     MW p     AUROC after  p after  verdict       wall
    60  12      random (0)               0.480 [0.374, 0.584]   0.65     0.482        0.63     inconclusive  151 s
    60  12      hard, top 20% (0)        0.524 [0.418, 0.624]   0.33     0.444        0.85     inconclusive  159 s
    30  30      random (0)               0.590 [0.443, 0.726]   0.12     0.462        0.70     inconclusive  304 s
    30  30      hard, top 10% (0)        0.702 [0.562, 0.827]   0.0036   0.596        0.10     mitigated     153 s
    30  30      hard, top 10% (1)        0.660 [0.518, 0.793]   0.017    0.590        0.12     mitigated     296 s

Training to fit (30 epochs) and carriers among the hardest 10% per class together make the audit
detect single-copy canaries before (2 of 2 canary draws, one probe seed each); neither alone did. Not
yet shown: several probe seeds per draw, and the 10-seed must-show of bench/verify_kermany.py.
(Wall times vary with the other sessions' load; user CPU was 75-105 s per run.)
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.verify_kermany import subset_for  # noqa: E402
from ufmclean.verify import data as vdata  # noqa: E402
from ufmclean.verify.canary import make_canary  # noqa: E402
from ufmclean.verify.report import write_json  # noqa: E402
from ufmclean.verify.run import VerifyOptions, run_verify  # noqa: E402
from ufmclean.verify.train import TrainConfig, predict_proba, train_probe  # noqa: E402


def hard_pool(base: Path, *, per_class: int, opts: VerifyOptions, seed: int) -> tuple[set[str], dict]:
    """The ``per_class`` highest-loss training images of each class under a reference probe."""
    items = vdata.list_items(base, labels_csv=base / "labels.csv")
    side = vdata.split_items(items)
    train = [it for it in items if side[it.relpath] == vdata.TRAIN]
    d = vdata.load_probe_data(base, train, size=opts.size)
    cfg = TrainConfig(model=opts.model, epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, device=opts.device,
                      width=opts.width, schedule=opts.schedule)
    probe = train_probe(d.images, d.labels, n_classes=len(d.classes), config=cfg, seed=seed)
    p = predict_proba(probe, d.images)
    loss = -np.log(np.clip(p[np.arange(len(d.labels)), d.labels], 1e-7, 1))
    pool: set[str] = set()
    info = {"train_accuracy": float((p.argmax(1) == d.labels).mean())}
    for c in range(len(d.classes)):
        idx = np.flatnonzero(d.labels == c)
        top = idx[np.argsort(-loss[idx])[:per_class]]
        pool |= {d.relpaths[i] for i in top}
        info[f"class_{d.classes[c]}_pool_loss_min"] = float(loss[top].min())
        info[f"class_{d.classes[c]}_median_loss"] = float(np.median(loss[idx]))
    return pool, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kermany_cxr_224"))
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "verify_carriers"))
    ap.add_argument("--train-n", type=int, default=600)
    ap.add_argument("--audit", type=int, default=60)
    ap.add_argument("--carriers", choices=("hard", "random"), default="hard")
    ap.add_argument("--pool", type=float, default=1.0, help="pool size per class / carriers per class (>= 1)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--ref-seed", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0, help="seed of the canary draw")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out, base = subset_for(args)
    opts = VerifyOptions(seeds=args.seeds, size=args.size, epochs=args.epochs, width=args.width, lr=args.lr,
                         device=args.device, labels_csv=str(base / "labels.csv"), gradcam_images=0, epoch_curve=False)
    n_classes = len({r["label"] for r in csv.DictReader((base / "labels.csv").open())})
    per_class = int(np.ceil(2 * args.audit / n_classes * args.pool))
    pool, info = (hard_pool(base, per_class=per_class, opts=opts, seed=args.ref_seed) if args.carriers == "hard"
                  else (None, {}))
    print(f"carriers {args.carriers}: {info}", flush=True)
    cdir = out / "canaried"
    if cdir.exists():
        shutil.rmtree(cdir)
    make_canary(base, cdir, text="JANE DOE", k=1, label="1", seed=args.seed, labels_csv=base / "labels.csv",
                box_frac=(0.45, 0.85), height_frac=0.07, audit=args.audit, audit_pool=pool)
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)
    run.mkdir()
    (run / "clean").symlink_to(base.resolve(), target_is_directory=True)
    doc, _ = run_verify(cdir, run, options=opts, progress=lambda m: print(m, flush=True))
    write_json({**doc, "carriers": {"mode": args.carriers, **info}}, out / f"verify_{args.carriers}.json")
    a = doc["audit"]
    print(f"\nrecipe: cnn width {args.width}, {args.size}², {args.epochs} epochs, lr {args.lr} one-cycle, "
          f"{args.seeds} seed(s), {doc['settings']['n_train']} train / {doc['settings']['n_eval']} held-out, "
          f"N = {args.audit}, carriers {args.carriers}")
    for ph in ("before", "after"):
        r = a["rank_test"][ph]
        print(f"{ph}: accuracy {doc['probe'][ph]['accuracy']:.3f}; audit AUROC {r['auroc']:.3f} "
              f"[{r['auroc_low']:.3f}, {r['auroc_high']:.3f}], MW p = {r['p']:.3g}, eps >= {r['eps_lb']:.2f}")
    print(f"verdict: {doc['verdict']['status']} — {doc['verdict']['reason']}")
    print(f"wall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
