"""``verify --recipe paper`` and early stopping (patience on a validation loss)."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from ufmclean.errors import UsageError
from ufmclean.verify import train
from ufmclean.verify.recipes import RECIPES, apply_recipe
from ufmclean.verify.run import VerifyOptions, validation_split

from .conftest import make_dataset
from .test_audit_run import _app


def _xy(n, seed, flip=0.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = (rng.random((n, 16, 16)) * 0.3 + 0.5 * y[:, None, None]).astype(np.float32)
    y = np.where(rng.random(n) < flip, 1 - y, y)
    return x, y


def test_the_paper_recipe_sets_the_papers_options_and_keeps_the_rest():
    o = apply_recipe(VerifyOptions(seeds=7, epochs=30, device="cpu"), "paper")
    assert (o.model, o.size, o.lr, o.weight_decay, o.batch_size, o.schedule, o.patience) == (
        "resnet18", 224, 1e-5, 1e-4, 32, "constant", 1)
    assert (o.seeds, o.epochs, o.device, o.recipe) == (7, 30, "cpu", "paper")
    assert apply_recipe(VerifyOptions(width=5), "default") == VerifyOptions(width=5)
    assert set(RECIPES) == {"default", "paper"}
    with pytest.raises(UsageError, match="--recipe must be one of"):
        apply_recipe(VerifyOptions(), "fast")


def test_early_stopping_stops_when_the_validation_loss_stops_falling():
    x, y = _xy(32, 0)
    # validation labels are the opposite of what the training data teach: the loss rises from epoch 2 on
    xv, yv = _xy(16, 1)
    cfg = train.TrainConfig(epochs=20, batch_size=8, device="cpu", width=4, schedule="constant", patience=1)
    probe = train.train_probe(x, y, n_classes=2, config=cfg, seed=0, val=(xv, 1 - yv))
    assert probe.epochs < 20
    # a validation set like the training data: the loss keeps falling for a while
    patient = train.train_probe(x, y, n_classes=2, config=cfg, seed=0, val=(xv, yv))
    assert patient.epochs > probe.epochs
    free = train.train_probe(x, y, n_classes=2, config=train.TrainConfig(epochs=3, batch_size=8, device="cpu", width=4),
                             seed=0)
    assert free.epochs == 3
    with pytest.raises(UsageError, match="needs validation images"):
        train.train_probe(x, y, n_classes=2, config=cfg, seed=0)
    with pytest.raises(UsageError):
        train.TrainConfig(patience=0)


def test_the_validation_set_never_takes_a_canary_carrier():
    rels = tuple(f"c/{i:03d}.png" for i in range(50))
    carriers = set(rels[:20])
    keep, val = validation_split(rels, carriers=carriers, seed=0)
    chosen = {r for r, v in zip(rels, val) if v}
    assert len(chosen) == 5 and not chosen & carriers and (keep == ~val).all()
    again = validation_split(rels, carriers=carriers, seed=0)[1]
    assert (again == val).all()  # deterministic
    with pytest.raises(UsageError):
        validation_split(rels[:2], carriers=set(), seed=0)


@pytest.mark.slow
def test_verify_runs_the_paper_recipe_end_to_end(tmp_path):
    src = make_dataset(tmp_path / "data", n_per_class=10, size=32)
    orig = tmp_path / "canaried"
    res = CliRunner().invoke(_app(), ["canary", str(src), "--text", "XQ", "--k", "1", "--height", "0.25",
                                      "--out", str(orig)])
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    shutil.copytree(src, run / "clean")
    out = tmp_path / "verify"
    res = CliRunner().invoke(_app(), ["verify", "--original", str(orig), "--sanitized", str(run), "--out", str(out),
                                      "--seeds", "1", "--epochs", "1", "--device", "cpu", "--gradcam-images", "0",
                                      "--recipe", "paper", "--no-epoch-curve"])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "verify.json").read_text())
    s = doc["settings"]
    assert (s["recipe"], s["model"], s["size"], s["patience"], s["batch_size"]) == ("paper", "resnet18", 224, 1, 32)
    assert "early stopping on" in res.output
    # 16 training images minus a validation tenth (at least 2, never the carrier)
    assert s["n_train"] == 16 - 2 and doc["probe"]["before"]["per_seed"][0]["epochs"] == 1
