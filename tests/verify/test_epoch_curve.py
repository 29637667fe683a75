"""When memorisation starts: each canary's M after every training epoch (verify.json ``epochs``, epochs.png)."""

import json
import shutil

import numpy as np
from typer.testing import CliRunner

from ufmclean.verify import train

from .test_audit_run import _app, _canaried


def _verify(tmp_path, *extra):
    src, orig = _canaried(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(src, run / "clean")
    out = tmp_path / "verify"
    res = CliRunner().invoke(_app(), ["verify", "--original", str(orig), "--sanitized", str(run), "--out", str(out),
                                      "--seeds", "2", "--size", "32", "--epochs", "3", "--device", "cpu",
                                      "--gradcam-images", "0", "--width", "4", *extra])
    assert res.exit_code == 0, res.output
    return json.loads((out / "verify.json").read_text()), out


def test_the_hook_sees_every_epoch_and_leaves_training_unchanged():
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    x = (rng.random((24, 16, 16)) * 0.3 + 0.5 * y[:, None, None]).astype(np.float32)
    cfg = train.TrainConfig(epochs=3, batch_size=8, device="cpu", width=4)
    seen = []

    def hook(epoch, probe):
        assert not probe.model.training  # scored in eval mode
        seen.append((epoch, train.predict_proba(probe, x)))

    plain = train.predict_proba(train.train_probe(x, y, n_classes=2, config=cfg, seed=3), x)
    hooked = train.predict_proba(train.train_probe(x, y, n_classes=2, config=cfg, seed=3, on_epoch=hook), x)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert np.array_equal(plain, hooked) and np.array_equal(seen[-1][1], hooked)
    assert not np.array_equal(seen[0][1], seen[-1][1])  # the curve moves


def test_verify_records_every_canary_per_epoch_and_plots_it(tmp_path):
    doc, out = _verify(tmp_path)
    ep = doc["epochs"]
    ids = {c["id"] for c in doc["audit"]["canaries"]}
    assert set(ep["inserted"]) == ids | {"canary"} and ep["inserted"]["canary"] is True
    assert sum(ep["inserted"][i] for i in ids) == 6
    assert {(c["phase"], c["seed"]) for c in ep["curves"]} == {(p, s) for p in ("before", "after") for s in (0, 1)}
    for c in ep["curves"]:
        assert c["epoch"] == [1, 2, 3] and len(c["accuracy"]) == 3 and set(c["m"]) == ids | {"canary"}
        assert all(len(v) == 3 for v in c["m"].values())
    # the held-out split is small (8 images), so the curve scores all of it: its last epoch is the final model,
    # whose scores the audit reports per seed
    assert ep["n_eval_images"] == doc["settings"]["n_eval"]
    rows = {c["id"]: c for c in doc["audit"]["canaries"]}
    for c in ep["curves"]:
        for cid, m in c["m"].items():
            if cid != "canary" and m[-1] is not None:
                assert np.isclose(m[-1], rows[cid][f"m_{c['phase']}_per_seed"][c["seed"]])
        acc = doc["probe"][c["phase"]]["per_seed"][c["seed"]]["accuracy"]
        assert np.isclose(c["accuracy"][-1], acc)
    named_last = [c["m"]["canary"][-1] for c in ep["curves"] if c["phase"] == "before"]
    assert np.isclose(np.mean(named_last), doc["audit"]["named_test"]["before"]["m"])
    png = (out / "epochs.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "verify.html").read_text()
    assert "When memorisation starts" in html and 'src="epochs.png"' in html


def test_the_curve_can_be_turned_off(tmp_path):
    doc, out = _verify(tmp_path, "--no-epoch-curve")
    assert doc["epochs"] is None and doc["settings"]["epoch_curve"] is False
    assert not (out / "epochs.png").exists() and "When memorisation starts" not in (out / "verify.html").read_text()


def test_the_curve_is_scored_at_most_ten_times_with_the_first_and_last_epoch():
    from ufmclean.verify.run import curve_epochs

    assert curve_epochs(3, 10) == {1, 2, 3}
    e = curve_epochs(40, 10)
    assert len(e) == 10 and min(e) == 1 and max(e) == 40
    assert curve_epochs(1, 10) == {1}
