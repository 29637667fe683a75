"""Audit canaries for the one-run multi-canary audit (Steinke, Nasr & Jagielski 2023).

``ufmclean canary --audit N`` draws 2N distinct random fake names / IDs (Faker, upper case, rendered
like the named canary: white strokes through a dilated stroke mask), gives each a random place by the
same rules (top-left uniform in the image's central 90%, the whole string inside it) and a carrier: 2N
distinct training images (by the verify split; never one of the named canary's), the same number in
every class. In each class half of them, chosen at random, are stamped into their carrier (exactly one
image each); the other half are recorded but never inserted (their carrier's class is kept, the image
is untouched). Which ones were inserted is random and independent of their look and place, so the
never-inserted canaries are exact controls for the probe's response to "some text like this here".

Why balanced over classes (measured, bench/verify_audit.py, Kermany 64², N = 100): with every audit
canary on pneumonia images, the before-probes learned "pasted text -> pneumonia" as such: every canary,
inserted or not, moved f_1 by +0.032 (sd 0.002 across canaries, saturated), and the after-probes by
-0.44 (the dataset's marker shortcut). A generic text feature that predicts a class swamps single-copy
effects; with text equally often on every class it predicts nothing, and only memorising a canary
with its own carrier's class pays.

Carriers are random training images by default. :func:`plan_audit`'s ``carrier_pool`` restricts them to
given relpaths, e.g. the images a reference probe finds hardest (Feldman 2020: atypical images are the
most memorised); bench/verify_carriers.py builds such a pool. It is not the default of ``ufmclean
canary``: measured on Kermany (600 training images, N = 30, small CNN at 64², 30 epochs, the real
sanitiser), hard carriers made the audit detect single copies before sanitising in 4 of 10 canary draws
(1 of 10 after; 4 of 7 with 3 probe seeds), not reliably enough to justify training a reference probe at
canary time.

Stored in ``canary.json`` under ``"audit"``: ``{"version", "n", "seed", "canaries": [{"id", "text" (null for patches),
"inserted", "relpath" (null when not inserted), "class", "box_frac", "patch_png", "mask_png"}]}``.
The strings are synthetic, but they look like PHI: they stay in canary.json and never reach logs,
verify.json or reports (those carry the ids ``a000``... only).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import numpy as np

from ufmclean.errors import UsageError
from ufmclean.verify.canary import RASTER_SUFFIXES, CanarySpec, render_text
from ufmclean.verify.data import TRAIN, Item, split_items

AUDIT_VERSION = 1
MARGIN = 0.05  # canaries sit inside the central 1 - 2 * MARGIN of the image


@dataclass(frozen=True)
class AuditCanary:
    """One audit canary: ``canary_id`` (``a000``...), ``inserted`` (stamped into ``relpath``) or a control,
    and its ``spec`` (patch, mask, ``box_frac``, class)."""

    canary_id: str
    inserted: bool
    relpath: str | None
    spec: CanarySpec


def text_stream(*, seed: int, exclude: tuple[str, ...] = (), labelled: bool = True) -> Iterator[str]:
    """Endless distinct random fake names / IDs, upper case (``"DOE, JANE"``, ``"JANE DOE"``,
    ``"MRN 1234567"``, ``"ID 12345678"``), none equal to a string in ``exclude``. Deterministic in
    ``seed`` (and Faker's version). ``labelled=False`` drops the IDs' ``"MRN "`` / ``"ID "`` labels (bare
    numbers): a sanitiser rightly keeps such a label word, which then stays behind as a one-copy
    feature of the canary's carrier; the draws are otherwise the same."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    seen = {e.upper() for e in exclude}
    while True:
        kind = int(rng.integers(0, 4))
        if kind == 0:
            t = f"{fake.last_name()}, {fake.first_name()}"
        elif kind == 1:
            t = f"{fake.first_name()} {fake.last_name()}"
        elif kind == 2:
            t = f"MRN {int(rng.integers(10**6, 10**7))}"
        else:
            t = f"ID {int(rng.integers(10**7, 10**8))}"
        if not labelled:
            t = t.split(" ", 1)[1] if kind >= 2 else t
        t = t.upper()
        if t not in seen:
            seen.add(t)
            yield t


def _b64png(img: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise UsageError("could not encode an audit canary patch")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _unpng(s: str) -> np.ndarray:
    """The grey image of a base64 PNG; ``ValueError`` when it does not decode."""
    import cv2

    img = cv2.imdecode(np.frombuffer(base64.b64decode(s), np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("not a PNG")
    return np.asarray(img)


def plan_audit(items: list[Item], *, n: int, exclude_relpaths: set[str], seed: int, label: str | None = None,
               height_px: int, image_hw: tuple[int, int], exclude_texts: tuple[str, ...] = (),
               split_seed: int = 0, eval_fraction: float = 0.2,
               carrier_pool: set[str] | None = None, wrap: bool = False,
               kind: str = "text") -> tuple[list[AuditCanary], list[str | None]]:
    """Plan ``2 n`` audit canaries (``n`` inserted, ``n`` controls) over ``items`` (see the module doc);
    returns them and their strings (same order; the strings are only for canary.json).

    ``height_px`` is the glyph height in an image of ``image_hw`` = (H, W) (the named canary's reference
    image); places are fractions of the image, so they scale to files of other sizes. ``label`` restricts
    the carriers to one class (default: every class, balanced). ``carrier_pool`` restricts the carriers to
    these relpaths (e.g. the training images a reference probe finds hardest); inserted and never-inserted
    canaries are still drawn from the same pool at random, so the controls stay exact. ``wrap`` sets a
    text too wide for one line on two (:func:`ufmclean.verify.canary.render_text`'s ``max_width``), for
    heights at which few strings fit one line; texts that fit neither way are skipped, for inserted and
    never-inserted canaries alike. ``kind="bare"``: the IDs without their label word (:func:`text_stream`'s
    ``labelled``). ``kind="patch"`` makes them non-text canaries instead: each a random
    black-and-white grid (:func:`random_grid`, cells ``height_px // 2`` wide), drawn opaque; their strings
    are ``None``.
    """
    if kind not in ("text", "bare", "patch"):
        raise UsageError(f"audit canary kind must be 'text', 'bare' or 'patch', got {kind!r}")
    if n < 1:
        raise UsageError(f"--audit must be >= 1, got {n}")
    side = split_items(items, seed=split_seed, eval_fraction=eval_fraction)
    pool = [it for it in items if side[it.relpath] == TRAIN and (label is None or it.label == label)
            and it.relpath not in exclude_relpaths and Path(it.relpath).suffix.lower() in RASTER_SUFFIXES
            and (carrier_pool is None or it.relpath in carrier_pool)]
    classes = sorted({it.label for it in pool})
    rng = np.random.default_rng([seed, 0xA0D1])
    carriers: list[Item] = []
    inserted_l: list[bool] = []
    for j, cls in enumerate(classes):  # n_c inserted + n_c controls per class, n split as evenly as it goes
        n_c = n // len(classes) + (j < n % len(classes))
        cpool = [it for it in pool if it.label == cls]
        if len(cpool) < 2 * n_c:
            raise UsageError(f"--audit {n} needs {2 * n_c} raster training images of each class besides the named "
                             f"canary's, one class has only {len(cpool)}; lower --audit")
        carriers += [cpool[i] for i in rng.choice(len(cpool), size=2 * n_c, replace=False)]
        inserted_l += list(rng.permutation([True] * n_c + [False] * n_c))
    if not carriers:
        raise UsageError("no raster training images for the audit canaries; lower --audit")
    order = rng.permutation(len(carriers))  # ids in random order, independent of class and insertion
    carriers, inserted = [carriers[i] for i in order], np.asarray(inserted_l, bool)[order]
    H, W = image_hw
    texts: list[str | None] = []
    patches: list[tuple[np.ndarray, np.ndarray]] = []
    if kind == "patch":
        grng = np.random.default_rng([seed, 0xA0D2])
        patches = [random_grid(max(1, height_px // 2), grng) for _ in range(2 * n)]
        texts = [None] * (2 * n)
        if max(patches[0][0].shape[1] / W, patches[0][0].shape[0] / H) > 1 - 2 * MARGIN:
            raise UsageError("the audit patches do not fit the images at this --height; lower --height")
    for tries, t in enumerate(text_stream(seed=seed, exclude=exclude_texts, labelled=kind != "bare")):
        if len(patches) == 2 * n:
            break
        if tries > 20 * n + 100:
            raise UsageError("the audit canaries do not fit the images at this --height; lower --height")
        p, m = render_text(t, height=height_px, max_width=int((1 - 2 * MARGIN) * W) if wrap else None)
        if max(p.shape[1] / W, p.shape[0] / H) <= 1 - 2 * MARGIN:  # same rule for all
            texts.append(t)
            patches.append((p, m))
    out = []
    for i, (it, ins, (p, m)) in enumerate(zip(carriers, inserted, patches)):
        wf, hf = p.shape[1] / W, p.shape[0] / H
        fx0 = float(rng.uniform(MARGIN, 1 - MARGIN - wf))
        fy0 = float(rng.uniform(MARGIN, 1 - MARGIN - hf))
        spec = CanarySpec(p, m, (fx0, fy0, fx0 + wf, fy0 + hf), (it.relpath,) if ins else (), it.label, int(ins))
        out.append(AuditCanary(f"a{i:03d}", bool(ins), it.relpath if ins else None, spec))
    return out, texts


def random_grid(cell: int, rng: np.random.Generator, *, rows: int = 4, cols: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A non-text audit canary: patch ``(rows * cell, cols * cell)`` uint8 of random black (0) and white
    (255) cells, between a third and two thirds of them white, and an all-true mask (drawn opaque, so the
    black cells are part of it)."""
    while True:
        bits = rng.random((rows, cols)) < 0.5
        if rows * cols / 3 <= bits.sum() <= 2 * rows * cols / 3:
            break
    patch = np.kron(bits.astype(np.uint8) * 255, np.ones((cell, cell), np.uint8))
    return patch, np.ones(patch.shape, bool)


def audit_json(canaries: list[AuditCanary], texts: list[str | None], *, seed: int) -> dict:
    """The ``"audit"`` object of canary.json for ``canaries`` and their ``texts`` (same order)."""
    rows = []
    for c, t in zip(canaries, texts):
        rows.append({"id": c.canary_id, "text": t, "inserted": c.inserted, "relpath": c.relpath,
                     "class": c.spec.label, "box_frac": list(c.spec.box_frac), "patch_png": _b64png(c.spec.patch),
                     "mask_png": _b64png(c.spec.mask.astype(np.uint8) * 255)})
    return {"version": AUDIT_VERSION, "n": sum(c.inserted for c in canaries), "seed": seed, "canaries": rows}


def read_audit(doc: dict) -> list[AuditCanary]:
    """Audit canaries from a parsed canary.json ``doc`` (``[]`` when it has none). Raises ``UsageError``
    when the ``"audit"`` object is malformed."""
    audit = doc.get("audit")
    if not audit:
        return []
    try:
        out = []
        for r in audit["canaries"]:
            ins = bool(r["inserted"])
            x0, y0, x1, y1 = (float(v) for v in r["box_frac"])  # ValueError unless four numbers
            spec = CanarySpec(_unpng(r["patch_png"]), _unpng(r["mask_png"]) >= 128, (x0, y0, x1, y1),
                              (str(r["relpath"]),) if ins else (), str(r["class"]), int(ins))
            out.append(AuditCanary(str(r["id"]), ins, str(r["relpath"]) if ins else None, spec))
        return out
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"canary.json's audit list is malformed ({type(exc).__name__}); re-create it with "
                         "`ufmclean canary --audit N`") from None
