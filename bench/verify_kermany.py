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
- Control glyphs (``--controls`` K): K never-inserted random strings of the canary's length, rendered
  and placed like it. Their white-box M_{y*} is the model's response to "some text of this size at this
  place"; the canary's rank among them (``rank`` = number of controls with M >= the canary's, so the
  percentile p is (rank + 1) / (K + 1)) separates memorisation of the canary from the generic text
  response every Kermany probe has (see below). It is the spec's optional calibrated score.

Why the defaults (measured, 64², small CNN; see the commit messages for the numbers):
- The dataset's own burned-in laterality markers (large "R" at mid-left, mostly on NORMAL images)
  teach every probe a "bright strokes -> normal" shortcut; with global average pooling it fires
  wherever text is pasted. So a class-0 (normal) canary is "significant" on probes that never saw it
  (white/A M_0 +0.10..+0.28, p < 1e-40, on after-probes), and with two classes the grey/black-box
  max over classes is simply |shift|: significant on every probe, before and after (10 -> 10).
- The default canary is therefore stamped on class 1 (pneumonia), against the shortcut, at the
  bottom right (0.45, 0.85), away from the markers (top-left on pneumonia, mid-left on normals).
- Recipe: one-cycle learning rate (settles batch norm; constant-rate probes were unstable).

Prints a table (seeds significant before/after, mean M, accuracy) and the wall time; writes
bench/out/verify_kermany/results.json (rewritten after every seed, with a partial table printed).

Measured with these defaults, 10 seeds (2 CPU cores, 2,099 s wall; one probe trains in 6-10 s):

    k   white/A before -> after   control-calibrated   acc before / after
    1   1 -> 1 of 10              0 -> 0               0.792 / 0.793
    5   3 -> 1 of 10              0 -> 0               0.791 / 0.793
    25  9 -> 1 of 10              0 -> 0               0.797 / 0.793

Why not k = 1 (3 seeds each unless said; "rank" = controls with M >= the canary's, of 39):
- Every probe answers *any* sharp pasted feature at this place with a shift towards "normal": the
  controls' white/A M_1 is -0.02..-0.13 on before- and after-probes alike. Pneumonia is diffuse
  opacity, normal lungs have sharp high-contrast edges. It is not only the "R" markers: on a copy of
  the subset with every finding inpainted (`ufmclean sanitize --rare-max-images 1000000`, 1,014 of
  1,224 images written), the controls' M_1 is -0.02..-0.13 again. A one-copy effect of the size
  Hartley et al. report (M 0.007-0.015) cannot lift M above 0, and the one-sided test needs M > 0.
- Nor is there a canary-specific effect at k = 1 to calibrate out: the canary ranks among the
  controls as chance would have it: text on the all-inpainted copy 27, 26, 25; 3x3 checker 33, 23,
  10 (original) and 28, 27, 9 (inpainted); 1 seed each of 40 epochs: 19, width 16 with 300 training
  images and 40 epochs: 13, one bigger glyph ("A", 12% of the height): 36. At 128² (2 seeds) the
  canary's M is more negative still. Width 32, 30 epochs (checker, 200-240 s per probe): the
  generic response shrinks to -0.006..+0.004 and white/A turns significant on before- and
  after-probes alike (2 -> 2 of 3); ranks 10, 31, 23.
- What the probe does memorise: at k = 25 white/A is 3/3 -> 0/3 for every canary, and a non-text
  canary (``--patch checker``) is memorised *as itself*: ranks 0, 1, 0 (original) and 0, 2, 0 (all
  findings inpainted), and the label-free family-B grey/black tests see it too (2-3/3 -> 0/3). The
  text canary never is (ranks ~20-24 at k = 25): at 64² its glyphs are 4-5 px high, and the controls,
  random capitals in the same font and box, look the same to the probe.

``--after sanitize`` (10 seeds, 1,344 s wall): after-probes train on the canaried images as ufmclean
sanitize (default policy) cleans them. The sanitiser finds and removes the canary in 1/1, 5/5, 25/25
images (>= 50% of its strokes changed; strokes left > 40 levels brighter than the original: median
0.07 at k = 25, where it lay over the dark body edge that inpainting cannot redraw):

    k   white/A before -> after   control-calibrated   acc before / after (max per-seed diff)
    1   1 -> 1 of 10              0 -> 0               0.792 / 0.793 (0.010)
    5   3 -> 1 of 10              0 -> 0               0.791 / 0.790 (0.019)
    25  9 -> 1 of 10              0 -> 0               0.797 / 0.792 (0.026)

The one seed significant after (seed 7) is so on its restore after-probe too (--after restore, k = 25:
9 -> 1 of 10): its controls move as much as the canary (+0.016). Three defects found on the way (see
the commits): the fast OCR read only 'VAV' of the name in 5 of 25 images; 'JANEDOE' was no name; and
inpainting spread the canary's white fill into blobs (then k = 25 was 9 -> 2 of 10).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ufmclean.verify import data as vdata  # noqa: E402
from ufmclean.verify.canary import CanarySpec, make_canary, read_canary, render_text  # noqa: E402
from ufmclean.verify.features import canary_feature  # noqa: E402
from ufmclean.verify.mscore import calibrate, family_a, paste, score_feature  # noqa: E402
from ufmclean.verify.train import TrainConfig, accuracy_auroc, predict_proba, train_probe  # noqa: E402


def subset_for(args) -> tuple[Path, Path]:
    """``(out, base)`` of a bench run: ``args.out`` created and the subset of ``args.data`` under it
    (exits with a message when the dataset is not there)."""
    src, out = Path(args.data), Path(args.out)
    if not (src / "labels.csv").is_file():
        sys.exit(f"dataset not found at {src}")
    out.mkdir(parents=True, exist_ok=True)
    return out, make_subset(src, out / "subset", train_n=args.train_n, seed=0)


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


def cell_px(args: argparse.Namespace) -> int:
    """Cell size (px at the dataset's 224² reference) of a ``--cells`` grid ``--height`` high."""
    return max(1, int(round(args.height * 224 / args.cells)))


def checker(cells: int, cell: int, rng: np.random.Generator) -> np.ndarray:
    """A ``cells`` x ``cells`` grid of dark (40) and white (255) ``cell``-px squares, random but never uniform.

    Non-zero everywhere: make_canary pastes a PNG where it is > 0, so the dark cells are part of the patch.
    """
    while True:
        grid = rng.integers(0, 2, (cells, cells))
        if 0 < grid.sum() < cells * cells:
            break
    return np.kron(np.where(grid, 255, 40), np.ones((cell, cell))).astype(np.uint8)


AFTER = {"restore": "the un-canaried subset (shared by all k)",
         "sanitize": "the canaried images as ufmclean sanitize cleans them (per k)"}


def sanitized_after(base: Path, cdir: Path, specs, work: Path, *, device: str) -> tuple[Path, list[float], list[float]]:
    """The subset with its canaried images as ``ufmclean sanitize`` (default policy) cleans them.

    ``specs``: the canaries stamped in ``cdir`` (a :class:`CanarySpec` or several: the named canary's k
    images and, for an audit, each inserted audit canary's one carrier). Only the canaried images are
    sanitised (rarity then counts among them; the canary is a PHI name or a marker on each): the rest of
    the subset is the same for before and after, so the comparison isolates what the sanitiser leaves of
    the canaries. Returns the folder (hard links) and, per canaried image (in ``specs``' order), the
    fraction of the canary's stroke pixels the sanitiser changed (by more than 20 grey levels) and the
    fraction left brighter than the un-canaried original by more than 40 (a light fill the inpainting
    spread: changed strokes alone counted such white blobs as removed).
    """
    from ufmclean.pipeline.sanitize import SanitizeOptions, run_sanitize
    from ufmclean.policy import load_policy
    specs = [specs] if isinstance(specs, CanarySpec) else list(specs)
    stamped_at = [(rel, sp) for sp in specs for rel in sp.relpaths]
    rels = {rel for rel, _ in stamped_at}
    if work.exists():
        shutil.rmtree(work)
    for rel in rels:
        (work / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(cdir / rel, work / "in" / rel)
    run = work / "run"
    run_sanitize(work / "in", run, policy=load_policy(),
                 options=SanitizeOptions(device="cpu" if device == "auto" else device))
    after = work / "after"
    for f in (f for f in base.rglob("*") if f.is_file()):
        rel = f.relative_to(base)
        (after / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.as_posix() in rels:
            # a held image (not cleaned) stays canaried: the sanitiser failed on it
            f = run / "clean" / rel if (run / "clean" / rel).is_file() else cdir / rel
        os.link(f, after / rel)
    removed, brighter = [], []
    for rel, spec in stamped_at:
        stamped = cv2.imread(str(cdir / rel), cv2.IMREAD_GRAYSCALE).astype(np.int16)
        cleaned = cv2.imread(str(after / rel), cv2.IMREAD_GRAYSCALE).astype(np.int16)
        box = spec.box_for(*stamped.shape)
        _, mask = spec.patch_for(box)
        removed.append(float((np.abs(stamped[box.slices] - cleaned[box.slices]) > 20)[mask].mean()))
        original = cv2.imread(str(base / rel), cv2.IMREAD_GRAYSCALE).astype(np.int16)
        brighter.append(float((cleaned[box.slices] - original[box.slices] > 40)[mask].mean()))
    return after, removed, brighter


def canary_name(args: argparse.Namespace) -> str:
    """How the table names the canary."""
    return repr(args.text) if args.patch == "text" else f"{args.cells}x{args.cells} checker, {args.height} high"


def print_table(rows: list, probes: list, *, ks: list, args: argparse.Namespace, wall: float, n_train: int, n_eval: int) -> None:
    """The summary table (seeds significant before -> after per k x test), control ranks, accuracy, wall time."""
    n_seeds = len({p["seed"] for p in probes})
    print(f"\nKermany {args.size}px {args.model} w{args.width} {args.schedule} lr {args.lr}, train n={n_train}, "
          f"eval n={n_eval}, {args.epochs} epochs, canary {canary_name(args)} class {args.label} at ({args.x}, {args.y}), "
          f"{n_seeds} of {args.seeds} seeds; after = {AFTER[args.after]}; wall {wall:.0f} s")
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
    for k in ks:
        pk = [p for p in probes if p["k"] == k]
        sig = lambda key, pk=pk: sum(p[key][3] < args.alpha for p in pk)  # noqa: E731
        print(f"k={k}: control-calibrated (canary rank among {args.controls} control strings, p < {args.alpha}): "
              f"{sig('ctrl_before')} -> {sig('ctrl_after')}/{len(pk)}; max |acc diff| "
              f"{max(abs(p['acc_before'] - p['acc_after']) for p in pk):.3f}; grey-box class before "
              f"{[p['grey_class_before'] for p in pk]}, after {[p['grey_class_after'] for p in pk]}")
    print("\nmean M (white/A) before -> after: " + ", ".join(
        f"k={k}: {np.mean([r['m_before'] for r in rows if r['k'] == k and r['test'] == 'white/A']):+.4f} -> "
        f"{np.mean([r['m_after'] for r in rows if r['k'] == k and r['test'] == 'white/A']):+.4f}" for k in ks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kermany_cxr_224"))
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "verify_kermany"))
    ap.add_argument("--ks", default="1,5,25")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--schedule", default="onecycle")
    ap.add_argument("--controls", type=int, default=39)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--train-n", type=int, default=600)
    ap.add_argument("--text", default="JANE DOE")
    ap.add_argument("--class", dest="label", default="1")
    ap.add_argument("--x", type=float, default=0.45)
    ap.add_argument("--y", type=float, default=0.85)
    ap.add_argument("--height", type=float, default=0.07)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--patch", choices=("text", "checker"), default="text",
                    help="canary kind: --text rendered, or a non-text checker patch (--cells x --cells, --height high)")
    ap.add_argument("--cells", type=int, default=3)
    ap.add_argument("--after", choices=("restore", "sanitize"), default="restore",
                    help="after-probes train on the canaried images restored (ideal removal) or as ufmclean sanitize "
                         "cleans them (default policy, the rest of the subset as it is)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out, base = subset_for(args)
    csv_path = base / "labels.csv"
    items = vdata.list_items(base, labels_csv=csv_path)
    side = vdata.split_items(items)
    tr_items = [it for it in items if side[it.relpath] == vdata.TRAIN]
    ev_items = [it for it in items if side[it.relpath] == vdata.EVAL]
    classes = tuple(sorted({it.label for it in items}))
    restored = vdata.load_probe_data(base, tr_items, size=args.size, classes=classes)
    after_tr = {}  # k -> training data after the canary's removal (absent: the restored original)
    ev = vdata.load_probe_data(base, ev_items, size=args.size, classes=classes)
    rng = np.random.default_rng(7919)
    ood_x, ood_y = ev.images[:, ::-1, :].copy(), rng.integers(0, len(classes), len(ev.images))
    ks = [int(k) for k in args.ks.split(",")]
    before_tr, feats = {}, {}
    patch_png = None
    if args.patch == "checker":
        patch_png = out / "checker.png"
        cv2.imwrite(str(patch_png), checker(args.cells, cell_px(args), np.random.default_rng(1)))
    for k in ks:
        cdir = out / f"canary_k{k}"
        if cdir.exists():
            shutil.rmtree(cdir)
        make_canary(base, cdir, text=None if patch_png else args.text, patch_png=patch_png, k=k, label=args.label,
                    seed=k, labels_csv=csv_path, box_frac=(args.x, args.y), height_frac=args.height)
        spec = read_canary(cdir)
        before_tr[k] = vdata.load_probe_data(cdir, tr_items, size=args.size, classes=classes)
        if args.after == "sanitize":
            adir, changed, brighter = sanitized_after(base, cdir, spec, out / f"sanitize_k{k}", device=args.device)
            after_tr[k] = vdata.load_probe_data(adir, tr_items, size=args.size, classes=classes)
            print(f"k={k}: the sanitiser changed >= 50% of the canary's stroke pixels in "
                  f"{sum(c >= 0.5 for c in changed)} of {k} images, none in {sum(c == 0 for c in changed)}; stroke pixels "
                  f"left > 40 levels brighter than the original: median {np.median(brighter):.3f}, max {max(brighter):.3f} "
                  f"(> 10% in {sum(b > 0.1 for b in brighter)} images)", flush=True)
        feats[k] = canary_feature(spec, size=args.size, classes=classes)
    ctrl_rng = np.random.default_rng(4242)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    controls = {}
    for k in ks:
        spec = read_canary(out / f"canary_k{k}")
        ph, pw = spec.patch.shape
        fx0, fy0 = spec.box_frac[:2]
        cl = []
        for _ in range(args.controls):
            if args.patch == "checker":  # another random pattern of the same grid
                cp = checker(args.cells, cell_px(args), ctrl_rng)
                cm = np.ones_like(cp, bool)
            else:
                t = "".join(c if c == " " else str(ctrl_rng.choice(letters)) for c in args.text)
                cp, cm = render_text(t, height=max(5, int(round(args.height * 224))))
            cp, cm = cp[:, :pw], cm[:, :pw]  # same box as the canary (a wider string is cut)
            cs = CanarySpec(cp, cm, (fx0, fy0, fx0 + cp.shape[1] / 224, fy0 + cp.shape[0] / 224), (), spec.label, k)
            cl.append(canary_feature(cs, size=args.size, classes=classes))
        controls[k] = cl
    cfg = TrainConfig(model=args.model, epochs=args.epochs, device=args.device, width=args.width, lr=args.lr,
                      schedule=args.schedule)
    rows, probes = [], []
    feat_k = {id(f): k for k, f in feats.items()}

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
            if setting == "grey":
                res["grey_class"] = a.k
        ctrl_m = [family_a(p_ev, pred(paste(ev.images, c.patch, c.mask, c.probe_box)), ev.labels, y_star=feat.y_star).m
                  for c in controls[feat_k[id(feat)]]]
        cal = calibrate(res["white/A"][0], np.asarray(ctrl_m))
        res["ctrl"] = (float(np.mean(ctrl_m)), float(np.std(ctrl_m)), cal.rank, cal.p, cal.z)
        return res, accuracy_auroc(p_ev, ev.labels)

    for seed in range(args.seeds):
        after_probes = {}  # one after-probe per distinct training set (the restored one is shared by all k)
        for k in ks:
            data = after_tr.get(k, restored)
            if id(data) not in after_probes:
                after_probes[id(data)] = train_probe(data.images, data.labels, n_classes=len(classes), config=cfg,
                                                     seed=seed)
            after = after_probes[id(data)]
            before = train_probe(before_tr[k].images, before_tr[k].labels, n_classes=len(classes), config=cfg, seed=seed)
            sb, accb = scores(before, feats[k], seed)
            sa, acca = scores(after, feats[k], seed)
            probes.append({"k": k, "seed": seed, "acc_before": accb[0], "auroc_before": accb[1], "acc_after": acca[0],
                           "auroc_after": acca[1], "train_s_before": before.seconds, "train_s_after": after.seconds,
                           "images_per_s": before.images_per_s, "device": before.device})
            probes[-1].update(ctrl_before=sb.pop("ctrl"), ctrl_after=sa.pop("ctrl"), grey_class_before=sb.pop("grey_class"),
                              grey_class_after=sa.pop("grey_class"))
            for key in sb:
                rows.append({"k": k, "seed": seed, "test": key, "m_before": sb[key][0], "p_before": sb[key][1],
                             "m_after": sa[key][0], "p_after": sa[key][1]})
            print(f"seed {seed} k={k}: white/A M {sb['white/A'][0]:+.4f} (p={sb['white/A'][1]:.2g}) -> "
                  f"{sa['white/A'][0]:+.4f} (p={sa['white/A'][1]:.2g}); controls {probes[-1]['ctrl_before'][0]:+.4f} / "
                  f"{probes[-1]['ctrl_after'][0]:+.4f}, rank {probes[-1]['ctrl_before'][2]} -> {probes[-1]['ctrl_after'][2]} of "
                  f"{args.controls}; acc {accb[0]:.3f} -> {acca[0]:.3f}; train {before.seconds:.0f} s", flush=True)
        doc = {"args": vars(args), "wall_seconds": time.perf_counter() - t0, "rows": rows, "probes": probes}
        (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))
        if seed < args.seeds - 1:  # a partial table after every seed: long runs can be read (or stopped) early
            print_table(rows, probes, ks=ks, args=args, wall=time.perf_counter() - t0, n_train=len(restored.images),
                        n_eval=len(ev.images))
    wall = time.perf_counter() - t0
    print_table(rows, probes, ks=ks, args=args, wall=wall, n_train=len(restored.images), n_eval=len(ev.images))
    doc = {"args": vars(args), "wall_seconds": wall, "rows": rows, "probes": probes}
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))


if __name__ == "__main__":
    main()
