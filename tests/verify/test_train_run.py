"""Probe training determinism, metrics, and the verify CLI end to end on a tiny synthetic run."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import typer
from typer.testing import CliRunner

from ufmclean.cli import canary as cli_canary
from ufmclean.cli import verify as cli_verify
from ufmclean.errors import UsageError
from ufmclean.verify import train
from ufmclean.verify.models import build_model


def main(argv):
    """Run the canary/verify subcommands (registered like ufmclean.cli.main does) and return the exit code."""
    app = typer.Typer()
    cli_canary.register(app)
    cli_verify.register(app)
    return CliRunner().invoke(app, argv).exit_code


def _xy(n=32, s=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = (rng.random((n, s, s)) * 0.3 + 0.5 * y[:, None, None]).astype(np.float32)
    return x, y


def test_training_is_deterministic_per_seed_and_differs_across_seeds():
    x, y = _xy()
    cfg = train.TrainConfig(epochs=2, batch_size=8, device="cpu", width=4)
    a = train.predict_proba(train.train_probe(x, y, n_classes=2, config=cfg, seed=1), x)
    b = train.predict_proba(train.train_probe(x, y, n_classes=2, config=cfg, seed=1), x)
    c = train.predict_proba(train.train_probe(x, y, n_classes=2, config=cfg, seed=2), x)
    assert a.shape == (32, 2) and np.allclose(a.sum(1), 1)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_resnet18_takes_grey_input():
    import torch

    net = build_model("resnet18", n_classes=3)
    assert net(torch.zeros(2, 1, 64, 64)).shape == (2, 3)


def test_bad_model_and_labels_are_usage_errors():
    with pytest.raises(UsageError):
        build_model("vgg", n_classes=2)
    x, y = _xy()
    with pytest.raises(UsageError):
        train.train_probe(x, y + 5, n_classes=2, config=train.TrainConfig(epochs=1, device="cpu"), seed=0)


def test_accuracy_auroc_known_values():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    acc, auc = train.accuracy_auroc(probs, np.array([0, 1, 1, 1]))
    assert acc == 0.75
    assert auc == pytest.approx(1.0)  # every positive scores above the one negative
    _, auc = train.accuracy_auroc(probs, np.array([1, 0, 0, 1]))
    assert auc == pytest.approx(0.0)  # positives 0.1, 0.4 below negatives 0.6, 0.7
    _, auc = train.accuracy_auroc(probs, np.array([1, 0, 1, 0]))
    assert auc == pytest.approx(0.5)  # 2 of 4 (pos, neg) pairs ordered correctly


@pytest.mark.slow
def test_verify_cli_end_to_end(tmp_path, tiny_dataset):
    # canary on the original, a fake sanitise run: clean copy (canary box restored) + one removed finding
    orig = tmp_path / "canaried"
    assert main(["canary", str(tiny_dataset), "--text", "XQ", "--k", "2", "--class", "dark",
                 "--height", "0.25", "--out", str(orig)]) == 0
    run = tmp_path / "run"
    import shutil

    shutil.copytree(tiny_dataset, run / "clean")
    (run / "clean" / "bright" / "img011.png").unlink()  # held back for review
    pq.write_table(pa.table({
        "finding_id": ["f1", "f2"], "image_id": ["i1", "i2"], "relpath": ["bright/img003.png", "dark/img004.png"],
        "frame": [0, 0], "kind": ["text", "text"], "x0": [2, 0], "y0": [2, 0], "x1": [12, 5], "y1": [8, 5],
        "text": ["SECRET NAME", "KEEP"], "action": ["inpaint", "keep"]}), run / "findings.parquet")
    out = tmp_path / "verify"
    rc = main(["verify", "--original", str(orig), "--sanitized", str(run), "--out", str(out), "--seeds", "2",
               "--size", "16", "--epochs", "2", "--device", "cpu", "--gradcam-images", "2",
               "--schedule", "constant", "--lr", "0.002", "--width", "4"])
    assert rc == 0
    raw = (out / "verify.json").read_text()
    assert "SECRET" not in raw and "XQ" not in raw
    doc = json.loads(raw)
    assert doc["settings"]["n_held_back"] == 1 and doc["settings"]["canary"] is True
    assert (doc["settings"]["schedule"], doc["settings"]["lr"], doc["settings"]["width"]) == ("constant", 0.002, 4)
    assert set(doc["probe"]) == {"before", "after"} and doc["probe"]["before"]["device"] == "cpu"
    fids = {r["feature_id"] for r in doc["features"]}
    assert fids == {"f1", "canary"}
    keys = {"feature_id", "source", "relpath", "x0", "y0", "x1", "y1", "setting", "family", "seed",
            "m_before", "p_before", "m_after", "p_after"}
    assert all(keys <= set(r) for r in doc["features"])
    combos = {(r["feature_id"], r["seed"], r["setting"], r["family"]) for r in doc["features"]}
    assert len(combos) == len(doc["features"]) == 2 * 2 * 3 * 2
    assert {s["feature_id"] for s in doc["summary"]} == fids
    assert all(s["tests"]["white/A"]["sig_before"] <= 2 for s in doc["summary"])
    assert (out / "verify.html").is_file() and (out / "m_white_A.png").is_file() and (out / "accuracy.png").is_file()
    assert (out / "gradcam" / "canary_before.png").is_file() and (out / "gradcam" / "f1_after.png").is_file()
    assert "SECRET" not in (out / "verify.html").read_text()


def test_verify_cli_usage_error_exit_code(tmp_path):
    rc = main(["verify", "--original", str(tmp_path / "nope"), "--sanitized", str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 2


def test_verify_options_check_the_recipe():
    from ufmclean.verify.run import VerifyOptions

    assert VerifyOptions().schedule == "onecycle"
    for bad in ({"schedule": "cyclic"}, {"lr": 0.0}, {"width": 0}):
        with pytest.raises(UsageError):
            VerifyOptions(**bad)


def test_verify_cli_rejects_unknown_schedule(tmp_path):
    rc = main(["verify", "--original", str(tmp_path), "--sanitized", str(tmp_path), "--out", str(tmp_path / "o"),
               "--schedule", "cyclic"])
    assert rc == 2


def test_schedule_is_checked_and_changes_training():
    with pytest.raises(UsageError):
        train.TrainConfig(schedule="cyclic")
    x, y = _xy()
    # Odd sizes leave a one-sample last batch that is skipped: the one-cycle step count must match it.
    x, y = x[:25], y[:25]
    one = train.TrainConfig(epochs=2, batch_size=8, device="cpu", width=4)
    const = train.TrainConfig(epochs=2, batch_size=8, device="cpu", width=4, schedule="constant")
    a = train.predict_proba(train.train_probe(x, y, n_classes=2, config=one, seed=1), x)
    b = train.predict_proba(train.train_probe(x, y, n_classes=2, config=const, seed=1), x)
    assert one.schedule == "onecycle" and a.shape == (25, 2)
    assert not np.allclose(a, b)
