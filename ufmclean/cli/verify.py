"""``ufmclean verify``: wiring over :func:`ufmclean.pipeline.verify.verify_and_report`."""

from __future__ import annotations

from pathlib import Path

import typer

from ufmclean.errors import UfmError


def _print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="M score: seeds significant before → after")
    for col in ("feature", "source", "white/A", "grey/A", "black/A", "white/B"):
        table.add_column(col)
    for s in doc["summary"]:
        cells = []
        for key in ("white/A", "grey/A", "black/A", "white/B"):
            t = s["tests"].get(key)
            cells.append(f"{t['sig_before']}→{t['sig_after']}/{s['n_seeds']}" if t else "–")
        table.add_row(s["feature_id"], s["source"], *cells)
    con = Console()
    con.print(table)
    b, a = doc["probe"]["before"], doc["probe"]["after"]
    con.print(f"probe accuracy {b['accuracy']:.3f} → {a['accuracy']:.3f} (device {b['device']}, {doc['wall_seconds']} s)")
    audit = doc.get("audit") or {}
    for phase in ("before", "after"):
        r = (audit.get("rank_test") or {}).get(phase)
        if r and r.get("auroc") is not None:
            lo, hi = r.get("auroc_low"), r.get("auroc_high")
            ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
            con.print(f"audit {phase}: {r['n_inserted']} inserted vs {r['n_controls']} never-inserted canaries, "
                      f"AUROC {r['auroc']:.3f}{ci}, Mann–Whitney p = {r['p']:.3g}, ε ≥ {r['eps_lb']:.2f}")


def verdict_line(doc: dict) -> str:
    """The CLI's last line: ``verdict: STATUS — reason`` (PHI-free)."""
    v = doc["verdict"]
    return f"verdict: {v['status']} — {v['reason']}"


def register(app: typer.Typer) -> None:
    """Add the ``verify`` subcommand to ``app``."""
    from ufmclean.verify.run import VerifyOptions

    _V = VerifyOptions()  # flag defaults are the library's (tests/test_options_once.py)

    @app.command("verify")
    def verify_cmd(
        original: Path = typer.Option(..., "--original", help="Original dataset folder (may hold canary.json)."),
        sanitized: Path = typer.Option(..., "--sanitized", help="Sanitize run folder (uses RUN/clean/ and findings.parquet)."),
        out: Path = typer.Option(..., "--out", help="Folder for verify.json, plots, Grad-CAM and verify.html."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV with path,label[,split]; else parent folder names."),
        seeds: int = typer.Option(_V.seeds, "--seeds", help="Number of probe seeds."),
        size: int = typer.Option(_V.size, "--size", help="Probe input size (64/128/224)."),
        model: str = typer.Option(_V.model, "--model", help="cnn | resnet18"),
        device: str = typer.Option(_V.device, "--device", help="auto | cpu | cuda"),
        epochs: int = typer.Option(_V.epochs, "--epochs", help="Training epochs."),
        lr: float = typer.Option(_V.lr, "--lr", help="Peak learning rate (Adam)."),
        schedule: str = typer.Option(_V.schedule, "--schedule", help="onecycle (warm-up, cosine decay) | constant"),
        width: int = typer.Option(_V.width, "--width", help="Channels of the small CNN's first layer."),
        ood: Path | None = typer.Option(None, "--ood", help="Out-of-distribution images for the black-box setting "
                                           "(default: held-out images flipped upside down)."),
        alpha: float = typer.Option(_V.alpha, "--alpha", help="Significance threshold."),
        max_features: int = typer.Option(_V.max_features, "--max-features", help="Score at most this many removed findings."),
        gradcam: int = typer.Option(_V.gradcam_images, "--gradcam-images", help="Evaluation images per Grad-CAM strip (0: none)."),
        max_drop: float = typer.Option(_V.max_accuracy_drop, "--max-accuracy-drop", help="Largest held-out accuracy drop (before - "
                                       "after) that still counts as utility kept for a 'mitigated' verdict."),
        recipe: str = typer.Option(_V.recipe, "--recipe", help="default (the options as given) | paper (Hartley et al. "
                                   "2023: ResNet-18 at 224², Adam 1e-5, weight decay 1e-4, batch 32, early stopping "
                                   "with patience 1; overrides --model/--size/--lr/--schedule; --epochs is the cap)."),
        epoch_curve: bool = typer.Option(_V.epoch_curve, "--epoch-curve/--no-epoch-curve", help="Score every canary after training "
                                         "epochs (at most 10, evenly spread; verify.json 'epochs', epochs.png); costs a "
                                         "pass over up to 16 held-out images per class per canary and scored epoch."),
    ) -> None:
        """Train the same probe on the original and the sanitised data, compare M scores per removed feature and
        end with a verdict (mitigated | not_mitigated | inconclusive) and its reason."""
        from ufmclean.pipeline.verify import verify_and_report
        from ufmclean.verify.recipes import apply_recipe
        from ufmclean.verify.run import VerifyOptions

        try:
            opts = VerifyOptions(seeds=seeds, size=size, model=model, device=device, epochs=epochs, alpha=alpha,
                                 lr=lr, schedule=schedule, width=width,
                                 labels_csv=str(labels) if labels else None, ood_dir=str(ood) if ood else None,
                                 max_features=max_features, gradcam_images=gradcam, max_accuracy_drop=max_drop,
                                 epoch_curve=epoch_curve)
            opts = apply_recipe(opts, recipe)
            done = verify_and_report(original, sanitized, out, options=opts, progress=lambda m: typer.echo(m, err=True))
            doc, paths = done.doc, done.paths
        except UfmError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        _print_table(doc)
        if done.holds_phi:  # the Grad-CAM strips show original pixels
            typer.echo(f"note: {paths['html']} and its Grad-CAM images hold PHI (mode 0600); keep them with the data")
        typer.echo(verdict_line(doc))
