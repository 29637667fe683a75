"""Real-data experiment (not a test): do audit canaries on *hard* carriers get memorised more?

Feldman (2020) and Hartley et al.'s influence analysis: atypical training images are the most memorised.
Protocol (Kermany CXR, as bench/verify_audit.py): a stratified ``--train-n`` subsample of the training
split plus the whole test split as held-out set. A reference probe (same recipe, seed ``--ref-seed``,
trained on the un-canaried subsample; computed once and cached in ``--out``/reference_pool.json, as it
does not depend on the draw) scores every training image's own cross-entropy loss; per class the
``--pool`` x (canaries per class) highest-loss images form the carrier pool. ``make_canary`` then draws
the audit's carriers from that pool (``--carriers hard``) or from all training images (``--carriers
random``); which canaries are inserted stays random, so never-inserted canaries remain exact controls.
``--draws D`` repeats the whole draw (canary seeds ``--seed`` .. ``--seed`` + D - 1: named canary, audit
texts, places, which carriers get one) and writes the per-draw rows to ``--out``/draws_*.json after every
draw. The after-data are the subsample itself (``--after restore``: ideal removal) or the canaried copy
with its canaried images (named + inserted audit canaries) cleaned by ``ufmclean sanitize`` with the
default policy (``--after sanitize``: bench/verify_kermany.sanitized_after; the share of each inserted
canary's strokes the sanitiser changed is reported). ``run_verify`` trains ``--seeds`` probes (seeds 0..)
before/after; prints per draw the audit rank test, accuracy, the verdict and the wall time, then the
summary (detected = audit one-sided Mann-Whitney p < ``--alpha``) and the recipe. The canaries' look:
``--height`` (glyph height as a fraction of the image height, named and audit canaries; default 0.07),
``--audit-height`` (the audit canaries' alone: then the named canary's test is not calibrated),
``--wrap`` (a text too wide for one line on two), ``--audit-kind`` (``text``: names and labelled IDs
"MRN 1234567"; ``bare``: the IDs without their label word; ``patch``: random black-and-white 4 x 6
grids) and ``--named-at X Y`` (the named canary's top-left, default 0.45 0.85).

Measured (600 train / 624 held-out, cnn width 8, 64², lr 3e-3 one-cycle, 1 probe seed, OMP 1 thread,
nice 19 on 2 CPU cores shared with other sessions; the reference probe fits 98.8% of its training set):

    N   epochs  carriers (canary seed)   AUROC before [95%]     MW p     AUROC after  p after  verdict       wall
    60  12      random (0)               0.480 [0.374, 0.584]   0.65     0.482        0.63     inconclusive  151 s
    60  12      hard, top 20% (0)        0.524 [0.418, 0.624]   0.33     0.444        0.85     inconclusive  159 s
    30  30      random (0)               0.590 [0.443, 0.726]   0.12     0.462        0.70     inconclusive  304 s
    30  30      hard, top 10% (0)        0.702 [0.562, 0.827]   0.0036   0.596        0.10     mitigated     153 s
    30  30      hard, top 10% (1)        0.660 [0.518, 0.793]   0.017    0.590        0.12     mitigated     296 s

Training to fit (30 epochs) and carriers among the hardest 10% per class together made the audit
detect single-copy canaries before in the first 2 canary draws (one probe seed each); neither alone did.
(Wall times vary with the other sessions' load; user CPU was 75-105 s per run.)

10 draws with the real sanitiser (``--draws 10 --after sanitize``, the defaults: N = 30, 30 epochs,
hard carriers, pool 1.0 x = the 30 highest-loss training images per class, reference probe seed 1000
fitting 100% of its training set; 1 probe seed (0) per draw; 1,957 s wall, load 1-4):

    draw  AUROC before [95%]     MW p     acc     AUROC after [95%]      MW p    acc     verdict        wall
    0     0.697 [0.558, 0.824]   0.0045   0.793   0.571 [0.426, 0.721]   0.17    0.785   mitigated      393 s
    1     0.654 [0.511, 0.790]   0.020    0.787   0.584 [0.432, 0.732]   0.13    0.798   mitigated      152 s
    2     0.608 [0.460, 0.749]   0.077    0.800   0.492 [0.343, 0.639]   0.54    0.790   inconclusive   235 s
    3     0.512 [0.370, 0.659]   0.44     0.800   0.461 [0.319, 0.617]   0.70    0.798   inconclusive   124 s
    4     0.514 [0.364, 0.660]   0.43     0.793   0.490 [0.340, 0.640]   0.56    0.787   inconclusive   115 s
    5     0.483 [0.339, 0.634]   0.59     0.787   0.439 [0.298, 0.587]   0.79    0.785   inconclusive    99 s
    6     0.587 [0.439, 0.732]   0.13     0.796   0.470 [0.322, 0.618]   0.66    0.800   inconclusive   339 s
    7     0.744 [0.612, 0.862]   0.00059  0.787   0.644 [0.502, 0.782]   0.028   0.792   not_mitigated  100 s
    8     0.538 [0.392, 0.690]   0.31     0.787   0.436 [0.292, 0.580]   0.81    0.792   inconclusive    91 s
    9     0.668 [0.526, 0.804]   0.013    0.798   0.603 [0.463, 0.746]   0.086   0.790   mitigated       97 s

Detected (p < 0.05) before in 4 of 10 draws, after in 1 of 10; mean accuracy 0.793 before, 0.792 after;
mean AUROC 0.601 -> 0.519. The must-show (>= 8 of 10 before, <= 1 after) is *not* reached. The sanitiser
removed every audit canary: >= 88% of each inserted canary's stroke pixels changed (30 of 30 in every
draw; the named canary 89-96%). The effect is real but small: before > after in AUROC in 10 of 10
draws (sign test p = 0.001), and the inserted canaries' centred M rose more than the controls' from
after to before in 10 of 10; but with 30 vs 30 canaries the rank test's null sd is 0.075, so an AUROC of
~0.60 is detected in about 4 draws of 10, as seen. The after-probes, which saw none of the audit
text, answer pasted text with M spread twice as wide (sd 0.17-0.26 against 0.09-0.17): the
paired score M_before - M_after is no more powerful (1 of 10 at p < 0.05). Draw 7's
after-detection (p = 0.028) is what a 5% test gives in 1 of 10 by chance. The verdict stays honest per
draw: inconclusive where the audit did not see the canaries before, mitigated only where it did.

3 probe seeds per draw (``--seeds 3``, else the same; stopped after 7 of 10 draws at the time budget,
2,886 s; M averaged over seeds before the rank test, as verify does):

    draw  AUROC before [95%]     MW p    acc     AUROC after [95%]      MW p   acc     verdict        wall
    0     0.659 [0.520, 0.789]   0.018   0.802   0.544 [0.400, 0.693]   0.28   0.805   mitigated      513 s
    1     0.653 [0.511, 0.790]   0.021   0.800   0.560 [0.410, 0.709]   0.21   0.816   mitigated      270 s
    2     0.599 [0.454, 0.749]   0.095   0.814   0.509 [0.353, 0.656]   0.46   0.814   inconclusive   372 s
    3     0.648 [0.509, 0.782]   0.025   0.808   0.492 [0.348, 0.640]   0.54   0.809   inconclusive   285 s
    4     0.548 [0.398, 0.693]   0.26    0.804   0.453 [0.300, 0.607]   0.74   0.812   inconclusive   273 s
    5     0.517 [0.373, 0.664]   0.42    0.806   0.468 [0.321, 0.617]   0.67   0.807   inconclusive   297 s
    6     0.626 [0.480, 0.774]   0.048   0.807   0.463 [0.308, 0.614]   0.69   0.812   inconclusive   876 s

Detected before in 4 of 7 (p < 0.05), after in 0 of 7; accuracy 0.806 / 0.811; mean AUROC 0.607 ->
0.499. Averaging seeds lifted draw 3 (0.512 -> 0.648) and steadied the after side, but with 3 of the
first 6 missed, >= 8 of 10 is out of reach for this recipe too. Draws 3 and 6 pass p < 0.05 yet stay
inconclusive: the verdict's detection threshold is alpha / 2 (Bonferroni over the audit and the named
canary's test).

More canaries, 2026-12-04 (``--audit 100 --train-n 1000 --draws 10 --after sanitize``, else the defaults:
hard carriers from the 101 highest-loss training images per class, 1 probe seed; 624 held-out; 984 s
wall on a quiet 2-core machine, ~95 s per draw). With 100 inserted against 100 never inserted the rank
test's null sd is 0.041 (0.075 at 30 vs 30):

    draw  AUROC before [95%]     MW p     acc     AUROC after [95%]      MW p    acc     verdict        wall
    0     0.520 [0.439, 0.604]   0.31     0.750   0.486 [0.399, 0.569]   0.63    0.752   inconclusive   114 s
    1     0.520 [0.437, 0.601]   0.31     0.753   0.499 [0.419, 0.582]   0.51    0.753   inconclusive    98 s
    2     0.585 [0.502, 0.661]   0.019    0.737   0.449 [0.368, 0.527]   0.89    0.755   mitigated       75 s
    3     0.574 [0.495, 0.649]   0.036    0.748   0.583 [0.507, 0.660]   0.022   0.755   inconclusive   106 s
    4     0.516 [0.432, 0.597]   0.35     0.747   0.493 [0.412, 0.576]   0.57    0.748   inconclusive    97 s
    5     0.556 [0.479, 0.633]   0.085    0.740   0.539 [0.456, 0.620]   0.17    0.753   inconclusive    93 s
    6     0.509 [0.429, 0.589]   0.41     0.745   0.505 [0.421, 0.584]   0.45    0.744   inconclusive    91 s
    7     0.610 [0.527, 0.682]   0.0036   0.753   0.559 [0.480, 0.635]   0.075   0.748   mitigated       96 s
    8     0.593 [0.511, 0.669]   0.012    0.744   0.539 [0.458, 0.617]   0.17    0.748   mitigated       98 s
    9     0.586 [0.506, 0.665]   0.018    0.764   0.553 [0.474, 0.633]   0.098   0.756   mitigated       94 s

Detected before in 5 of 10 draws, after in 1 of 10 (draw 3, p = 0.022, though the sanitiser changed >= 87%
of every inserted canary's strokes: a false alarm at the rate a 5% test gives); accuracy 0.748 / 0.751;
mean AUROC 0.557 -> 0.520. An earlier start of the same run with a pool of 100 per class (stopped at
draw 4 when the named canary took a pool image) gave 0.641 / 0.568 / 0.607 / 0.581 in draws 0-3 (4 of 4):
which 100 of ~200 pool images carry a canary moves the AUROC by ~0.1, more than the null sd. The pooled
test has the power it was meant to (0.04 sd); the per-canary effect at 64² (text 4.5 px tall) is the
limit: the next lever is the probe's resolution (128-224², as the issue lists), not N.

The same at 128² (``--size 128``, else as above; the reference probe at 128² fits 99.7% and picks its own
pool, so the draws are not paired with the 64² ones; 5 draws, stopped at the session's end; walls include
other jobs on the machine):

    draw  AUROC before [95%]     MW p     acc     AUROC after [95%]      MW p    acc     verdict        wall
    0     0.550 [0.469, 0.631]   0.11     0.760   0.456 [0.382, 0.538]   0.86    0.748   inconclusive   924 s
    1     0.610 [0.535, 0.684]   0.0036   0.756   0.506 [0.424, 0.588]   0.45    0.744   mitigated      466 s
    2     0.607 [0.523, 0.685]   0.0045   0.748   0.574 [0.493, 0.657]   0.035   0.750   not_mitigated  696 s
    3     0.602 [0.526, 0.680]   0.0064   0.756   0.548 [0.469, 0.628]   0.12    0.748   mitigated      419 s
    4     0.538 [0.457, 0.617]   0.18     0.748   0.471 [0.391, 0.550]   0.76    0.748   inconclusive   447 s

Detected before in 3 of 5 (64², draws 0-4: 2 of 5), after in 1 of 5; mean AUROC before 0.581 (64²:
0.543), after 0.511. The after-probes at 128² also score a little higher (0.511 against 0.502 at 64² in these
draws; draw 2 after p = 0.035 with >= 89% of every inserted canary's strokes changed): whether the
inpainted areas keep a trace a 128² probe can see is the next question, beside more draws.

Larger canaries, 2026-12-05 (64², ``--audit 100 --train-n 1000 --after sanitize``, else the defaults as
above; OMP 2 threads, nice 19, 2 cores shared with another session's benchmarks, so walls vary 55-240 s
per draw). At 64² a 0.07 glyph is 4.5 px with 0.6 px strokes: the probe sees a faint smear. Screened on
draws 0-3 (same carriers and insertions as the 0.07 table above, whose draws 0-3 gave AUROC 0.520 /
0.520 / 0.585 / 0.574, 2 of 4 detected), the named canary kept at 0.07 and (0.45, 0.85):

    audit canaries (glyph height)        AUROC before, draws 0-3       detected  AUROC after, draws 0-3      detected
    text 0.14, wrapped                   0.604 0.586 0.632 0.673       4/4       0.539 0.492 0.534 0.606      1/4
    patch 4 x 6 grid, cells 0.07         0.679 0.721 0.677 0.685       4/4       0.604 0.698 0.638 0.644      4/4
    bare 0.14, wrapped                   0.645 0.667 0.608 0.650       4/4       0.503 0.488 0.458 0.553      0/4
    bare 0.07 (one line, as before)      0.544 0.535 0.611 0.603       2/4       0.498 0.477 0.445 0.596      1/4

(commands: ``--audit-height 0.14 --wrap``, with ``--audit-kind patch`` / ``bare``, and ``--audit-kind
bare`` alone; ``--draws 4``, ``--out`` one per variant. The first run predates ``--wrap``: its code wrapped whenever the audit height exceeded the
named canary's, the same canaries.) At 0.14 few strings fit one line (0 of 400 from the text stream),
so they are set on two: a block about half the image's height and up to 0.9 of its width. Findings:
- Size is the lever before sanitising: 0.07 -> 0.14 raised the before-AUROC in 4 of 4 paired draws,
  for labelled (mean 0.550 -> 0.624) and bare texts (0.573 -> 0.643); bare IDs alone at 0.07 did not
  reach 4/4. Draw 3's after-probe scores the 0.07 canaries high with either text (0.583, 0.596).
- Labelled IDs leave their label behind: the sanitiser rightly keeps "MRN" (not PHI, and on 44-51
  carriers per draw not rare; the 8-digit "ID" strings do not fit at 0.14), so a median 63% of such a
  canary's strokes change (names: 97%) and the word stays as a one-copy feature at the canary's place on
  its carrier. Split by kind, the after-AUROC of the MRN canaries (with their controls) was 0.523 / 0.556
  / 0.606 / 0.624 against 0.564 / 0.430 / 0.482 / 0.541 for names (draw 3's after detection is
  theirs). With bare numbers the sanitiser changes >= 85% of every inserted canary's strokes, and the
  after side sits at chance.
- Patches are memorised most (AUROC ~0.69) but are not text: the sanitiser removed >= 50% of only 20-30
  of 100 inserted grids and left 45-52 untouched, so the after-probes still see them (4 of 4; verdict
  not_mitigated, correctly). A probe-power check, not a mitigation test for a text sanitiser.
- A named canary of another size than the audit canaries mis-calibrates its own test (its controls are
  the never-inserted audit canaries at its window): with the named canary at 0.07 and the audit at 0.14
  the named test ranked 0-4 among 100 controls after sanitising in 4 of 4 bare-screen draws (p =
  0.01-0.05) and all 4 verdicts read not_mitigated. The 10-draw run gives it the same height (wrapped, at
  (0.45, 0.45), where two lines fit).

The must-show run: ``OMP_NUM_THREADS=2 nice -n 19 python bench/verify_carriers.py --audit 100 --train-n
1000 --after sanitize --height 0.14 --wrap --named-at 0.45 0.45 --audit-kind bare --draws 10``
(cnn width 8, 64², 30 epochs, lr 3e-3 one-cycle, batch 64, 1 probe seed per draw, hard carriers from
the 101 highest-loss training images per class, reference probe seed 1000; 1,000 train / 624 held-out;
canaries: named "JANE DOE" and 100 + 100 audit names / bare IDs, glyphs 0.14 of the image height,
31 px at 224², 9 px at the probe's 64²; 985 s wall):

    draw  AUROC before [95%]     MW p     acc     AUROC after [95%]      MW p    acc     verdict        wall
    0     0.639 [0.560, 0.712]   3.6e-04  0.753   0.498 [0.418, 0.575]   0.52    0.761   mitigated      62 s
    1     0.661 [0.578, 0.736]   4.4e-05  0.758   0.489 [0.411, 0.573]   0.60    0.748   mitigated      58 s
    2     0.612 [0.532, 0.691]   0.0030   0.745   0.456 [0.377, 0.539]   0.86    0.752   mitigated      163 s
    3     0.655 [0.577, 0.731]   7.4e-05  0.737   0.556 [0.476, 0.632]   0.085   0.742   mitigated      59 s
    4     0.632 [0.552, 0.707]   6.1e-04  0.732   0.530 [0.449, 0.609]   0.23    0.740   mitigated      56 s
    5     0.606 [0.527, 0.679]   0.0049   0.769   0.542 [0.462, 0.620]   0.15    0.755   mitigated      69 s
    6     0.591 [0.510, 0.663]   0.014    0.753   0.556 [0.472, 0.635]   0.085   0.748   mitigated      227 s
    7     0.593 [0.511, 0.664]   0.012    0.747   0.559 [0.479, 0.635]   0.076   0.748   mitigated      61 s
    8     0.531 [0.448, 0.607]   0.23     0.737   0.540 [0.457, 0.618]   0.16    0.753   inconclusive   58 s
    9     0.618 [0.539, 0.699]   0.0020   0.755   0.526 [0.446, 0.609]   0.26    0.748   mitigated      158 s

Detected (audit MW p < 0.05) before in 9 of 10 draws, after in 0 of 10; mean accuracy 0.749 before,
0.750 after (+0.1 points); mean AUROC 0.614 -> 0.525: the must-show (>= 8 of 10 before, <= 1 of 10
after, accuracy within 2 points) is met at 64², with canaries twice the old height and IDs without
label words. The sanitiser changed >= 85% of every inserted canary's strokes (100 of 100 in every draw;
the named canary 95-98%); a median 5% of stroke pixels stayed > 40 levels brighter than the original.
The named canary's own calibrated test (k = 1) saw it before in none of the 10 draws (ranks 7-99 of 100)
and after in none: the detections are the audit's. Draw 8 is inconclusive: nothing detected before.
The after-AUROCs sit a little above 0.5 (mean 0.525, 0 of 10 at p < 0.05; 0.501 over the screen's
draws 0-3): what inpainting traces leave is small at this size. ``ufmclean canary`` now defaults to
``--height 0.14 --wrap --audit-kind bare``.

The variant was chosen on draws 0-3, which the table above includes; the same command on fresh draws
(``--seed 10 --draws 10``, 624 s wall):

    draw  AUROC before [95%]     MW p     acc     AUROC after [95%]      MW p    acc     verdict        wall
    10    0.574 [0.490, 0.652]   0.036    0.740   0.461 [0.383, 0.537]   0.83    0.753   inconclusive   73 s
    11    0.623 [0.547, 0.701]   0.0014   0.740   0.509 [0.428, 0.591]   0.41    0.756   mitigated      60 s
    12    0.591 [0.510, 0.669]   0.013    0.752   0.519 [0.441, 0.602]   0.32    0.748   mitigated      55 s
    13    0.629 [0.549, 0.706]   7.9e-04  0.740   0.562 [0.480, 0.637]   0.066   0.745   mitigated      56 s
    14    0.636 [0.560, 0.709]   4.6e-04  0.753   0.537 [0.457, 0.621]   0.18    0.760   not_mitigated  58 s
    15    0.582 [0.504, 0.659]   0.023    0.756   0.514 [0.432, 0.597]   0.37    0.753   mitigated      57 s
    16    0.589 [0.512, 0.666]   0.015    0.740   0.560 [0.479, 0.642]   0.07    0.740   mitigated      59 s
    17    0.593 [0.514, 0.672]   0.011    0.758   0.458 [0.381, 0.537]   0.85    0.755   mitigated      57 s
    18    0.595 [0.516, 0.674]   0.01     0.761   0.524 [0.446, 0.603]   0.28    0.753   mitigated      59 s
    19    0.696 [0.624, 0.768]   9.0e-07  0.744   0.501 [0.424, 0.579]   0.49    0.763   mitigated      56 s

Detected before in 10 of 10, after in 0 of 10; accuracy 0.749 / 0.753 (+0.4 points); mean AUROC 0.611
-> 0.515 (draw 10 inconclusive: p = 0.036 passes 0.05 but not the verdict's alpha / 2; draw 14
not_mitigated by the named canary's own test).

The CLI's cost (the must-show's "3-seed verify on 1,000 images in < 10 min on 2 CPU cores": *not met*):
a 1,000-image Kermany subset (376 train + 624 test by labels.csv), ``ufmclean canary --k 1 --audit 30``,
``ufmclean sanitize`` (default policy, 141 s, 336 findings removed) and ``ufmclean verify --seeds 3``
with the default recipe (cnn width 16, 64², 10 epochs, lr 1e-3): 1,194 s wall (user 1,457 s, system
767 s; nice 19, load ~2, this run the only heavy one). Training is 31 s of it; the rest is scoring
(not profiled further): per probe 50 removed findings + the canary in three settings (~6 passes each),
60 audit canaries and 30 named-canary controls, each pasted on all 624 held-out images (~250,000 image
passes per probe), plus the per-epoch curve and Grad-CAM. The high system time hints at thread
contention. The verdict was inconclusive (before-probe 0.639 vs majority 0.625, binomial p = 0.24:
this recipe does not fit 376 images in 10 epochs).

Since then (2026-12-04, same command and data, quiet machine): white- and grey-box share their passes,
predict runs in batches of 128 (system time 420 -> 13 s: page faults at 512) and the default recipe is
the fitting one above (width 8, 30 epochs, 3e-3): 557 s with the old default, **195 s** wall (362 user +
13 system CPU-s) with the new one, held-out accuracy 0.763 / 0.767, audit AUROC 0.673 (p = 0.011)
before and 0.451 (p = 0.75) after. Verdict not_mitigated: the named canary's calibrated test after
sanitising reached its floor p = 1/31 (its M -0.366, the 30 controls' lower still; before p = 0.13),
which the fail-closed rule counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.verify_kermany import sanitized_after, subset_for  # noqa: E402
from ufmclean.verify import data as vdata  # noqa: E402
from ufmclean.verify.audit import read_audit  # noqa: E402
from ufmclean.verify.canary import make_canary, read_canary, read_canary_doc  # noqa: E402
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


def cached_hard_pool(base: Path, cache: Path, *, per_class: int, opts: VerifyOptions, seed: int,
                     train_n: int) -> tuple[set[str], dict]:
    """:func:`hard_pool`, read from ``cache`` when it was computed with the same subset and recipe (the
    reference probe does not depend on the canary draw), else computed and written there."""
    key = {"train_n": train_n, "per_class": per_class, "seed": seed, "model": opts.model, "size": opts.size,
           "epochs": opts.epochs, "batch_size": opts.batch_size, "lr": opts.lr, "width": opts.width,
           "schedule": opts.schedule, "device": opts.device}
    if cache.is_file():
        doc = json.loads(cache.read_text())
        if doc.get("key") == key:
            return set(doc["pool"]), {**doc["info"], "cached": True}
    pool, info = hard_pool(base, per_class=per_class, opts=opts, seed=seed)
    write_json({"key": key, "pool": sorted(pool), "info": info}, cache)
    return pool, info


def one_draw(base: Path, work: Path, *, seed: int, args: argparse.Namespace, opts: VerifyOptions,
             pool: set[str] | None) -> dict:
    """One canary draw: the canaried copy (named canary + audit), its after-data (restored or sanitised),
    ``run_verify``; returns the draw's row (numbers only)."""
    t0 = time.perf_counter()
    if work.exists():
        shutil.rmtree(work)
    cdir = work / "canaried"
    make_canary(base, cdir, text="JANE DOE", k=1, label="1", seed=seed, labels_csv=base / "labels.csv",
                box_frac=tuple(args.named_at), height_frac=args.height, audit=args.audit, audit_pool=pool,
                audit_height_frac=args.audit_height, audit_kind=args.audit_kind, wrap=args.wrap)
    row: dict = {"draw_seed": seed}
    after = base
    if args.after == "sanitize":
        named = read_canary(cdir)
        inserted = [c.spec for c in read_audit(read_canary_doc(cdir) or {}) if c.inserted]
        ts = time.perf_counter()
        after, changed, brighter = sanitized_after(base, cdir, [named, *inserted], work / "sanitize",
                                                   device=args.device)
        n_named = len(named.relpaths)
        ch, br = np.asarray(changed[n_named:]), np.asarray(brighter[n_named:])
        row["sanitize"] = {"seconds": round(time.perf_counter() - ts, 1), "n_inserted": len(inserted),
                           "changed_ge_50pct": int((ch >= 0.5).sum()), "changed_none": int((ch == 0).sum()),
                           "changed_min": float(ch.min()), "changed_median": float(np.median(ch)),
                           "brighter_median": float(np.median(br)), "brighter_gt_10pct": int((br > 0.1).sum()),
                           "named_changed": changed[:n_named], "per_canary_changed": ch.round(3).tolist()}
    run = work / "run"
    run.mkdir()
    (run / "clean").symlink_to(after.resolve(), target_is_directory=True)
    doc, _ = run_verify(cdir, run, options=opts, progress=lambda m: print(f"  {m}", flush=True))
    write_json(doc, work / "verify.json")
    rt = doc["audit"]["rank_test"]
    for ph in ("before", "after"):
        r = rt[ph]
        row[ph] = {"accuracy": doc["probe"][ph]["accuracy"], "auroc": r["auroc"], "auroc_low": r["auroc_low"],
                   "auroc_high": r["auroc_high"], "p": r["p"], "eps_lb": r["eps_lb"]}
    row["verdict"] = doc["verdict"]["status"]
    row["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return row


def draw_line(row: dict) -> str:
    """One printed line per draw."""
    b, a = row["before"], row["after"]
    s = row.get("sanitize")
    san = (f"; sanitiser changed >= 50% of strokes of {s['changed_ge_50pct']}/{s['n_inserted']} inserted, none of "
           f"{s['changed_none']}, min {s['changed_min']:.2f} ({s['seconds']:.0f} s)" if s else "")
    return (f"draw {row['draw_seed']}: before AUROC {b['auroc']:.3f} [{b['auroc_low']:.3f}, {b['auroc_high']:.3f}] "
            f"p {b['p']:.3g} acc {b['accuracy']:.3f} | after AUROC {a['auroc']:.3f} [{a['auroc_low']:.3f}, "
            f"{a['auroc_high']:.3f}] p {a['p']:.3g} acc {a['accuracy']:.3f} | {row['verdict']}{san} | "
            f"{row['wall_seconds']:.0f} s")


def summary_line(rows: list[dict], *, alpha: float) -> str:
    """Detected before/after (audit MW p < alpha), mean accuracies, verdicts."""
    n = len(rows)
    det = {ph: sum(r[ph]["p"] < alpha for r in rows) for ph in ("before", "after")}
    acc = {ph: float(np.mean([r[ph]["accuracy"] for r in rows])) for ph in ("before", "after")}
    verdicts = {v: sum(r["verdict"] == v for r in rows) for v in sorted({r["verdict"] for r in rows})}
    return (f"detected (audit MW p < {alpha}) before {det['before']}/{n}, after {det['after']}/{n}; mean accuracy "
            f"before {acc['before']:.3f}, after {acc['after']:.3f} (diff {100 * (acc['after'] - acc['before']):+.1f} "
            f"points); mean AUROC {np.mean([r['before']['auroc'] for r in rows]):.3f} -> "
            f"{np.mean([r['after']['auroc'] for r in rows]):.3f}; verdicts {verdicts}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kermany_cxr_224"))
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "verify_carriers"))
    ap.add_argument("--train-n", type=int, default=600)
    ap.add_argument("--audit", type=int, default=30)
    ap.add_argument("--height", type=float, default=0.07,
                    help="glyph height of the canaries (named and audit) as a fraction of the image height")
    ap.add_argument("--audit-height", type=float, default=None,
                    help="the audit canaries' glyph height, if not --height (then the named canary's test is not "
                         "calibrated: its controls are audit canaries of another size)")
    ap.add_argument("--wrap", action="store_true", help="set a text too wide for one line on two")
    ap.add_argument("--named-at", type=float, nargs=2, default=(0.45, 0.85), metavar=("X", "Y"),
                    help="the named canary's top-left corner (fractions of width, height)")
    ap.add_argument("--audit-kind", choices=("text", "bare", "patch"), default="text",
                    help="audit canaries: random fake names / labelled IDs ('MRN 1234567'), names / bare IDs, or "
                         "random black-and-white 4 x 6 grids (cells half the --audit-height)")
    ap.add_argument("--carriers", choices=("hard", "random"), default="hard")
    ap.add_argument("--pool", type=float, default=1.0, help="pool size per class / carriers per class (>= 1)")
    ap.add_argument("--seeds", type=int, default=1, help="probe seeds per draw")
    ap.add_argument("--ref-seed", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first canary draw")
    ap.add_argument("--draws", type=int, default=1, help="canary draws (seeds --seed .. --seed + D - 1)")
    ap.add_argument("--after", choices=("restore", "sanitize"), default="restore",
                    help="after-data: the subset itself (ideal removal) or the canaried copy as ufmclean sanitize "
                         "(default policy) cleans its canaried images (bench/verify_kermany.sanitized_after)")
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    t0 = time.perf_counter()
    out, base = subset_for(args)
    opts = VerifyOptions(seeds=args.seeds, size=args.size, epochs=args.epochs, width=args.width, lr=args.lr,
                         device=args.device, labels_csv=str(base / "labels.csv"), gradcam_images=0, epoch_curve=False)
    n_classes = len({r["label"] for r in csv.DictReader((base / "labels.csv").open())})
    # + 1: the named canary's carrier may be one of its class's pool images (--audit 100, draw 4: 99 left).
    per_class = int(np.ceil(2 * args.audit / n_classes * args.pool)) + 1
    pool, info = (cached_hard_pool(base, out / "reference_pool.json", per_class=per_class, opts=opts,
                                   seed=args.ref_seed, train_n=args.train_n)
                  if args.carriers == "hard" else (None, {}))
    print(f"carriers {args.carriers}: {info} ({time.perf_counter() - t0:.0f} s)", flush=True)
    recipe = (f"cnn width {args.width}, {args.size}², {args.epochs} epochs, lr {args.lr} one-cycle, batch "
              f"{opts.batch_size}, {args.seeds} probe seed(s) per draw, train-n {args.train_n}, N = {args.audit}, "
              f"canary height {args.height:g}{'' if args.audit_height is None else f' (audit {args.audit_height:g})'}"
              f"{', wrapped' if args.wrap else ''}, audit kind {args.audit_kind}, named at {tuple(args.named_at)}, "
              f"carriers {args.carriers} (pool {args.pool} x, reference seed {args.ref_seed}), after = {args.after}")
    rows: list[dict] = []
    results = out / f"draws_{args.carriers}_{args.after}.json"
    for seed in range(args.seed, args.seed + args.draws):
        print(f"draw {seed}", flush=True)
        rows.append(one_draw(base, out / f"draw_{seed}", seed=seed, args=args, opts=opts, pool=pool))
        print(draw_line(rows[-1]), flush=True)
        write_json({"args": vars(args), "recipe": recipe, "carriers": info, "draws": rows,
                    "wall_seconds": round(time.perf_counter() - t0, 1)}, results)
    print(f"\nrecipe: {recipe}")
    for r in rows:
        print(draw_line(r))
    print(summary_line(rows, alpha=args.alpha))
    print(f"wall {time.perf_counter() - t0:.0f} s ({len(rows)} draws); results {results}")


if __name__ == "__main__":
    main()
