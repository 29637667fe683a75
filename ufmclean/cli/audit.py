"""``ufmclean audit``: wiring over :func:`ufmclean.verify.model_audit.run_model_audit` for a model trained elsewhere."""

from __future__ import annotations

from pathlib import Path

import typer

from ufmclean.errors import UfmError

TESTS = ("white/A", "grey/A", "black/A", "white/B")


def _cell(row: dict | None) -> str:
    if row is None or row["m"] is None:
        return "–"
    p = row["p"]
    mark = "*" if row["significant"] else ""
    return f"{row['m']:+.4f} (p {p:.2g}){mark}" if p is not None else f"{row['m']:+.4f}"


def _print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    by = {(r["feature_id"], f"{r['setting']}/{r['family']}"): r for r in doc["features"]}
    fids = list(dict.fromkeys(r["feature_id"] for r in doc["features"]))
    src = {r["feature_id"]: r["source"] for r in doc["features"]}
    alpha = doc["settings"]["alpha"]
    table = Table(title=f"M score on the model (p one-sided; * p < {alpha:g})")
    for col in ("feature", "source", *TESTS):
        table.add_column(col)
    for fid in fids:
        table.add_row(fid, src[fid], *(_cell(by.get((fid, t))) for t in TESTS))
    con = Console()
    con.print(table)
    m = doc["model"]
    con.print(f"model {m['file']} ({m['format']}, {m['channels']}×{m['size']}², outputs read as {m['outputs']}"
              f"{' (detected)' if m['outputs_detected'] else ''}): held-out accuracy {m['accuracy']:.3f} on "
              f"{doc['settings']['n_eval']} images ({doc['wall_seconds']} s)")
    r = ((doc.get("audit") or {}).get("rank_test") or {}).get("model")
    if r and r.get("auroc") is not None:
        lo, hi = r.get("auroc_low"), r.get("auroc_high")
        ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
        con.print(f"audit: {r['n_inserted']} inserted vs {r['n_controls']} never-inserted canaries, AUROC "
                  f"{r['auroc']:.3f}{ci}, Mann–Whitney p = {r['p']:.3g}, ε ≥ {r['eps_lb']:.2f}")


def register(app: typer.Typer) -> None:
    """Add the ``audit`` subcommand to ``app``."""

    @app.command("audit")
    def audit_cmd(
        model: Path = typer.Option(..., "--model", help="The trained classifier: TorchScript (torch.jit.save) or ONNX."),
        run: Path = typer.Option(..., "--run", help="The sanitize run folder (its findings.parquet)."),
        original: Path = typer.Option(..., "--original", help="The dataset that run sanitised (original pixels of the "
                                      "findings; its canary.json)."),
        eval_dir: Path = typer.Option(..., "--eval", help="Labelled images the model was NOT trained on (class folders "
                                      "or --labels); the --original folder itself means its held-out split."),
        out: Path = typer.Option(..., "--out", help="Folder for audit.json."),
        size: int | None = typer.Option(None, "--size", help="Input side in pixels (read from a fixed-shape ONNX "
                                           "model; needed for TorchScript)."),
        channels: int | None = typer.Option(None, "--channels", help="Input channels, 1 or 3 (grey repeated); "
                                               "default: the ONNX model's, else 1."),
        mean: float = typer.Option(0.0, "--mean", help="Input normalisation: (x - mean) / std with x in [0, 1]."),
        std: float = typer.Option(1.0, "--std", help="Input normalisation: (x - mean) / std with x in [0, 1]."),
        outputs: str = typer.Option("auto", "--outputs", help="What the last layer gives: logits | probs | auto "
                                    "(probs when every row lies in [0, 1] and sums to 1)."),
        classes: str | None = typer.Option(None, "--classes", help="Comma-separated class names in the model's "
                                              "output order (default: sorted class names of --eval)."),
        labels: Path | None = typer.Option(None, "--labels", help="CSV with path,label for --eval and --original."),
        model_format: str = typer.Option("auto", "--format", help="auto | torchscript | onnx"),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
        ood: Path | None = typer.Option(None, "--ood", help="Out-of-distribution images for the black-box setting "
                                           "(default: held-out images flipped upside down)."),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance threshold."),
        max_features: int = typer.Option(50, "--max-features", help="Score at most this many removed findings."),
    ) -> None:
        """Score the run's removed findings and the dataset's canaries on a model trained elsewhere, using only its
        outputs, and end with a verdict (memorised | not_detected | inconclusive) and its reason."""
        from ufmclean.verify.blackbox import load_model
        from ufmclean.verify.model_audit import AuditOptions, run_model_audit
        from ufmclean.verify.report import write_audit

        try:
            opts = AuditOptions(outputs=outputs, alpha=alpha, max_features=max_features,
                                classes=tuple(c.strip() for c in classes.split(",")) if classes else None,
                                labels_csv=str(labels) if labels else None, ood_dir=str(ood) if ood else None)
            net = load_model(model, format=model_format, size=size, channels=channels, mean=mean, std=std, device=device)
            doc = run_model_audit(net, original=original, run_dir=run, eval_dir=eval_dir, options=opts,
                                  progress=lambda m: typer.echo(m, err=True))
            path = write_audit(doc, out)
        except UfmError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        _print_table(doc)
        typer.echo(f"written: {path}")
        v = doc["verdict"]
        typer.echo(f"verdict: {v['status']} — {v['reason']}")
