"""``ufmclean audit``: a model trained elsewhere, audited from its outputs only (TorchScript and ONNX).

The data are built so that single-copy memorisation has a reason to happen and a place to show: two
image "looks" (horizontal or vertical stripes, identical within a look) and labels that follow the look
in 80% of images. A mislabelled training image can only be fitted through something of its own, and the
only thing of its own an image can have is an audit canary; held-out images of the carrier's class that
look like the other class leave room for the canary to raise that class's probability.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from ufmclean.cli import audit as cli_audit
from ufmclean.cli import canary as cli_canary
from ufmclean.errors import UsageError
from ufmclean.verify import data as vdata
from ufmclean.verify.blackbox import detect_outputs, load_model, to_probs
from ufmclean.verify.model_audit import AuditOptions, run_model_audit
from ufmclean.verify.verdict import MEMORISED, NOT_DETECTED

from .onnx_writer import mlp_onnx

SIZE, MEAN, STD = 48, 0.5, 0.25


def _stripes(root: Path, *, n_per_class: int, seed: int, label_noise: float = 0.2) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    looks = [110 + 25 * np.sin(2 * np.pi * g / 8) for g in (yy, xx)]
    for li, label in enumerate(("a", "b")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            look = li if rng.random() >= label_noise else 1 - li
            cv2.imwrite(str(root / label / f"i{i:03d}.png"), looks[look].astype(np.uint8))
    return root


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_canary.register(app)
    cli_audit.register(app)
    return app


def _train_mlp(dataset: Path, *, seed: int = 0, epochs: int = 300):
    """What a user might train elsewhere: an MLP on the verify split's training side, inputs (x - 0.5) / 0.25."""
    import torch

    items = vdata.list_items(dataset)
    side = vdata.split_items(items)
    d = vdata.load_probe_data(dataset, [it for it in items if side[it.relpath] == vdata.TRAIN], size=SIZE,
                              classes=("a", "b"))
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIZE * SIZE, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 2))
    x = (torch.from_numpy(d.images).unsqueeze(1) - MEAN) / STD
    y = torch.from_numpy(d.labels)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), 16):
            idx = order[s : s + 16]
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Original data, its canaried copy (k = 1 named canary + 30 audit canaries), a held-out set, a fake run
    with one removed finding, and TorchScript models trained with and without the canaries."""
    import torch

    root = tmp_path_factory.mktemp("audit")
    src = _stripes(root / "data", n_per_class=40, seed=0)
    ev = _stripes(root / "eval", n_per_class=100, seed=1)
    can = root / "canaried"
    res = CliRunner().invoke(_app(), ["canary", str(src), "--text", "XQ", "--k", "1", "--audit", "30",
                                      "--height", "0.06", "--out", str(can)])
    assert res.exit_code == 0, res.output
    run = root / "run"
    run.mkdir()
    pq.write_table(pa.table({"finding_id": ["f1"], "relpath": ["b/i003.png"], "frame": [0], "x0": [10], "y0": [10],
                             "x1": [40], "y1": [20], "text": ["SECRET NAME"], "action": ["inpaint"]}),
                   run / "findings.parquet")
    models = {}
    for name, dset in (("with", can), ("without", src)):
        net = _train_mlp(dset)
        models[name] = root / f"{name}.pt"
        torch.jit.script(net).save(str(models[name]))
        models[name + "_net"] = net
    return {"root": root, "src": src, "eval": ev, "canaried": can, "run": run, **models}


def _audit(world, model: Path, out: Path, *extra: str):
    return CliRunner().invoke(_app(), ["audit", "--model", str(model), "--run", str(world["run"]), "--original",
                                       str(world["canaried"]), "--eval", str(world["eval"]), "--out", str(out),
                                       "--mean", str(MEAN), "--std", str(STD), *extra])


@pytest.mark.slow
def test_a_model_trained_with_the_canaries_is_memorised_and_one_trained_without_is_not(world, tmp_path):
    docs = {}
    for name in ("with", "without"):
        res = _audit(world, world[name], tmp_path / name, "--size", str(SIZE))
        assert res.exit_code == 0, res.output
        raw = (tmp_path / name / "audit.json").read_text()
        assert "SECRET" not in raw and "XQ" not in raw  # no recognised text, no canary strings
        docs[name] = json.loads(raw)
        assert res.output.strip().splitlines()[-1].startswith(f"verdict: {docs[name]['verdict']['status']} — ")
    w, wo = docs["with"], docs["without"]
    for d in (w, wo):  # both models learned the task: the verdict rests on the canaries, not on chance
        assert d["model"]["accuracy"] > 0.7 and d["verdict"]["figures"]["p_above_chance"] < 1e-6
        assert d["model"]["outputs"] == "logits" and d["model"]["outputs_detected"] is True
        assert {r["feature_id"] for r in d["features"]} == {"f1", "canary"}
        assert {(r["setting"], r["family"]) for r in d["features"] if r["feature_id"] == "f1"} == {
            ("white", "A"), ("white", "B"), ("grey", "A"), ("grey", "B"), ("black", "A"), ("black", "B")}
    assert w["verdict"]["status"] == MEMORISED and w["verdict"]["canary_detected"] is True
    assert wo["verdict"]["status"] == NOT_DETECTED and wo["verdict"]["canary_detected"] is False
    rw, rwo = w["audit"]["rank_test"]["model"], wo["audit"]["rank_test"]["model"]
    assert rw["n_inserted"] == rw["n_controls"] == 30
    assert rw["auroc"] > 0.7 and rw["p"] < 0.01 and rwo["p"] > 0.2
    assert len(w["audit"]["canaries"]) == 60 and all("m_model" in c for c in w["audit"]["canaries"])


@pytest.mark.slow
def test_the_same_model_as_onnx_gives_the_same_outputs_and_verdict(world, tmp_path):
    net = world["with_net"]
    layers = [(net[1].weight.detach().numpy().T, net[1].bias.detach().numpy()),
              (net[3].weight.detach().numpy().T, net[3].bias.detach().numpy())]
    onnx_path = tmp_path / "with.onnx"
    onnx_path.write_bytes(mlp_onnx(layers, input_shape=["N", 1, SIZE, SIZE]))
    m_onnx = load_model(onnx_path, mean=MEAN, std=STD)  # size and channels come from the file
    m_ts = load_model(world["with"], size=SIZE, mean=MEAN, std=STD, device="cpu")
    assert (m_onnx.format, m_onnx.size, m_onnx.channels, m_onnx.n_outputs) == ("onnx", SIZE, 1, 2)
    assert m_ts.format == "torchscript"
    x = np.random.default_rng(0).random((5, SIZE, SIZE)).astype(np.float32)
    np.testing.assert_allclose(m_onnx.raw(x), m_ts.raw(x), rtol=1e-4, atol=1e-4)
    doc = run_model_audit(m_onnx, original=world["canaried"], run_dir=world["run"], eval_dir=world["eval"],
                          options=AuditOptions())
    assert doc["verdict"]["status"] == MEMORISED
    # a fixed-shape ONNX model refuses another size
    with pytest.raises(UsageError, match="takes size 48, not 32"):
        load_model(onnx_path, size=32)


@pytest.mark.slow
def test_probability_outputs_are_detected_and_scored_like_logits(world, tmp_path):
    import torch

    net = torch.nn.Sequential(world["with_net"], torch.nn.Softmax(dim=1))
    path = tmp_path / "probs.pt"
    torch.jit.script(net).save(str(path))
    res = _audit(world, path, tmp_path / "o", "--size", str(SIZE))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "audit.json").read_text())
    assert doc["model"]["outputs"] == "probs" and doc["verdict"]["status"] == MEMORISED


@pytest.mark.slow
def test_bad_model_files_and_mismatched_inputs_are_clear_usage_errors(world, tmp_path):
    import torch

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model at all")
    ckpt = tmp_path / "ckpt.pt"
    torch.save(world["with_net"].state_dict(), ckpt)
    cases = [
        (junk, ["--size", "48"], "neither a TorchScript nor a readable ONNX model"),
        (ckpt, ["--size", "48"], "not a TorchScript model"),
        (tmp_path / "missing.pt", ["--size", "48"], "model file not found"),
        (world["with"], [], "pass --size"),
        (world["with"], ["--size", "32"], "did not accept a (2, 1, 32, 32) batch"),
        (world["with"], ["--size", "48", "--classes", "a,b,c"], "2 output(s) but 3 classes"),
        (world["with"], ["--size", "48", "--classes", "a,x"], "not in --classes"),
        (world["with"], ["--size", "48", "--outputs", "scores"], "--outputs must be one of"),
    ]
    for model, extra, message in cases:
        res = _audit(world, model, tmp_path / "o", *extra)
        assert res.exit_code == 2, (extra, res.output)
        assert message in res.output, (message, res.output)
        assert "Traceback" not in res.output


def test_output_kind_detection_and_conversion():
    logits = np.array([[2.0, -1.0], [0.0, 0.0]])
    probs = np.array([[0.9, 0.1], [0.5, 0.5]])
    assert detect_outputs(logits) == "logits" and detect_outputs(probs) == "probs"
    assert detect_outputs(np.array([[0.2, 0.3]])) == "logits"  # in [0, 1] but not summing to 1
    np.testing.assert_allclose(to_probs(logits, "logits")[1], [0.5, 0.5])
    np.testing.assert_allclose(to_probs(logits, "logits")[0], np.exp([2, -1]) / np.exp([2, -1]).sum())
    np.testing.assert_allclose(to_probs(probs, "probs"), probs)
    one = np.array([[0.0], [np.log(3.0)]])  # a single binary logit: class 1's
    np.testing.assert_allclose(to_probs(one, "logits"), [[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(to_probs(np.array([[0.25]]), "probs"), [[0.75, 0.25]])


def test_a_square_input_is_required(tmp_path):
    w = np.zeros((1 * 4 * 6, 2), np.float32)
    path = tmp_path / "wide.onnx"
    path.write_bytes(mlp_onnx([(w, np.zeros(2, np.float32))], input_shape=["N", 1, 4, 6]))
    with pytest.raises(UsageError, match="4x6 images"):
        load_model(path)
