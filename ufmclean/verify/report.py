"""verify.json, plots (matplotlib, Agg) and an HTML page (jinja2) for a verify run.

Everything written holds feature ids, relpaths (PHI-looking components masked), boxes and numbers
only — never recognised text. Files are written atomically (temp file + ``os.replace``).

When the page links Grad-CAM strips (original pixels with removed features pasted, see
:mod:`ufmclean.verify.gradcam`) it holds PHI: ``verify.json`` then says so (``holds_phi: true``,
``phi_note``), ``verify.html`` says it at the top, and both are written 0600. Plots are charts of
numbers and keep the ordinary mode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ufmclean.io.atomic import atomic_write_bytes

TEMPLATE = "verify.html.j2"


#: Mode of verify.json / verify.html when they embed or link images built from original pixels.
PHI_MODE = 0o600
PHI_NOTE = ("This verify report holds PHI: its Grad-CAM images show original patient images with removed "
            "features (burned-in names, IDs, dates) pasted in. Keep it with the data (mode 0600); do not share it.")


def _atomic_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, data, mode=mode)


def _masked(o: object) -> object:
    """``o`` with every ``relpath`` value masked (:func:`ufmclean.path_phi.mask_relpath`), recursively."""
    from ufmclean.path_phi import mask_relpath

    if isinstance(o, dict):
        return {k: (mask_relpath(v) if k == "relpath" and isinstance(v, str) else _masked(v)) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_masked(v) for v in o]
    return o


def _masked_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """:func:`_masked` of a document (a dict stays a dict)."""
    masked = _masked(doc)
    assert isinstance(masked, dict)  # _masked maps a dict to a dict
    return masked


def jsonable(o: object) -> object:
    """``o`` with every non-finite float (NaN, inf) replaced by ``None``, recursively (dicts, lists, tuples)."""
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    return o


def jsonable_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """:func:`jsonable` of a document (a dict stays a dict)."""
    out = jsonable(doc)
    assert isinstance(out, dict)  # jsonable maps a dict to a dict
    return out


def write_json(doc: dict, dest: str | Path, *, mode: int = 0o644) -> Path:
    """Write ``doc`` as indented JSON (NaN -> null) to ``dest`` atomically with ``mode``."""
    dest = Path(dest)
    _atomic_bytes(dest, json.dumps(jsonable(doc), indent=1, allow_nan=False, default=_default).encode(), mode=mode)
    return dest


def _default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _savefig(fig: object, dest: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    _atomic_bytes(dest, buf.getvalue())


def plot_scores(doc: dict, dest: str | Path, *, setting: str = "white", family: str = "A") -> Path | None:
    """Per feature: M before and after for every seed (dots; filled when ``p < alpha``). ``None`` if no rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["features"] if r["setting"] == setting and r["family"] == family]
    if not rows:
        return None
    alpha = doc["settings"]["alpha"]
    fids = sorted({r["feature_id"] for r in rows}, key=lambda f: (f != "canary", f))
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(fids) + 2), 3.2))
    for i, fid in enumerate(fids):
        for ph, dx, colour in (("before", -0.15, "tab:red"), ("after", 0.15, "tab:blue")):
            for r in (r for r in rows if r["feature_id"] == fid):
                m, p = r[f"m_{ph}"], r[f"p_{ph}"]
                if m is None:
                    continue
                sig = p is not None and p < alpha
                ax.scatter(i + dx, m, s=22, color=colour if sig else "none", edgecolors=colour,
                           label=f"{ph} (filled: p<{alpha})" if (i == 0 and r["seed"] == 0) else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(fids)), [f[:12] for f in fids], rotation=30, ha="right")
    ax.set_ylabel(f"M ({setting}-box, family {family})")
    ax.legend(fontsize=7, loc="best")
    dest = Path(dest)
    _savefig(fig, dest)
    plt.close(fig)
    return dest


def plot_accuracy(doc: dict, dest: str | Path) -> Path:
    """Probe accuracy per seed, before vs after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    for ph, colour in (("before", "tab:red"), ("after", "tab:blue")):
        per = doc["probe"][ph]["per_seed"]
        ax.plot([r["seed"] for r in per], [r["accuracy"] for r in per], "o-", color=colour, label=ph)
    ax.set_xlabel("seed")
    ax.set_ylabel("held-out accuracy")
    ax.legend()
    dest = Path(dest)
    _savefig(fig, dest)
    plt.close(fig)
    return dest


def plot_audit(doc: dict, dest: str | Path) -> Path | None:
    """Audit canaries' seed-mean white-box M, inserted vs never inserted, before and after. ``None`` without."""
    rows = (doc.get("audit") or {}).get("canaries") or []
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    rng = np.random.default_rng(0)
    for i, (ph, ins) in enumerate((("before", True), ("before", False), ("after", True), ("after", False))):
        m = [r[f"m_{ph}"] for r in rows if r["inserted"] == ins and r[f"m_{ph}"] is not None]
        colour = "tab:red" if ins else "tab:grey"
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(m)), m, s=12, color=colour, alpha=0.7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(4), ["before\ninserted", "before\nnever", "after\ninserted", "after\nnever"])
    ax.set_ylabel("white-box M (seed mean)")
    dest = Path(dest)
    _savefig(fig, dest)
    plt.close(fig)
    return dest


def plot_epochs(doc: dict, dest: str | Path) -> Path | None:
    """When memorisation starts: the named canary's white-box M after each epoch (left) and the audit's mean M
    of inserted minus never-inserted canaries (right), one line per probe seed, before (red) and after (blue)
    sanitising. ``None`` when verify.json has no ``epochs`` curves."""
    ep = doc.get("epochs") or {}
    curves, inserted = ep.get("curves") or [], ep.get("inserted") or {}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    audit_ids = [c for c in inserted if c != "canary"]
    panels = [("canary", "named canary: M")] * ("canary" in inserted) + [("audit", "audit: M inserted − never")] * bool(audit_ids)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (kind, title) in zip(axes[0], panels):
        for c in curves:
            colour = "tab:red" if c["phase"] == "before" else "tab:blue"
            if kind == "canary":
                y = np.asarray([np.nan if v is None else v for v in c["m"]["canary"]], float)
            else:
                m = np.asarray([[np.nan if v is None else v for v in c["m"][a]] for a in audit_ids], float)
                ins = np.asarray([inserted[a] for a in audit_ids], bool)
                y = np.nanmean(m[ins], 0) - np.nanmean(m[~ins], 0) if ins.any() and (~ins).any() else m[0] * np.nan
            ax.plot(c["epoch"], y, color=colour, lw=1, alpha=0.8,
                    label=c["phase"] if c["seed"] == 0 else None)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    dest = Path(dest)
    _savefig(fig, dest)
    plt.close(fig)
    return dest


def write_audit(doc: dict, out_dir: str | Path) -> Path:
    """Write a model audit's document as ``out_dir/audit.json`` (relpaths masked; atomic). It holds ids, boxes
    and numbers only (no pixels), so it keeps the ordinary mode."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_json(_masked_doc(doc), out / "audit.json")


def write_html(doc: dict, dest: str | Path, *, images: list[str], mode: int = 0o644) -> Path:
    """Render the HTML page (template ``templates/verify.html.j2``) with ``images`` relative to ``dest``."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ufmclean.verify", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    html = env.get_template(TEMPLATE).render(doc=jsonable(doc), images=images)
    dest = Path(dest)
    _atomic_bytes(dest, html.encode(), mode=mode)
    return dest


def write_report(doc: dict, out_dir: str | Path, *, gradcam_pngs: Sequence[str] = ()) -> dict[str, Any]:
    """Write ``verify.json``, plots and ``verify.html`` into ``out_dir``; returns their paths.

    With ``gradcam_pngs`` (images of original pixels) both documents say they hold PHI and are 0600.
    Relpaths are shown masked. ``doc`` itself is not changed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    holds_phi = bool(gradcam_pngs)
    doc = {**_masked_doc(doc), "holds_phi": holds_phi, "phi_note": PHI_NOTE if holds_phi else ""}
    mode = PHI_MODE if holds_phi else 0o644
    paths: dict[str, Any] = {"json": str(write_json(doc, out / "verify.json", mode=mode))}
    imgs = []
    for setting, fam in (("white", "A"), ("grey", "A"), ("black", "A"), ("white", "B")):
        p = plot_scores(doc, out / f"m_{setting}_{fam}.png", setting=setting, family=fam)
        if p is not None:
            imgs.append(p.name)
    imgs.append(plot_accuracy(doc, out / "accuracy.png").name)
    p = plot_audit(jsonable_doc(doc), out / "audit.png")
    if p is not None:
        imgs.insert(0, p.name)
    p = plot_epochs(jsonable_doc(doc), out / "epochs.png")
    if p is not None:
        imgs.insert(0, p.name)
    imgs += [str(Path(g).relative_to(out)) for g in gradcam_pngs]
    paths["html"] = str(write_html(doc, out / "verify.html", images=imgs, mode=mode))
    paths["images"] = imgs
    return paths
