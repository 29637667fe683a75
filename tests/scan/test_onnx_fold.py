"""The exact ONNX rewrites of ocr/onnx_fold.py: same outputs as the original graphs, on tiny hand-built
graphs (each pattern, and the cases that must be left alone) and on the installed PP-OCRv4 models."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ufmclean.ocr import onnx_fold  # noqa: E402

RNG = np.random.default_rng(7)


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def _model(nodes, inits, *, channels=3, out_channels=4):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def _run(model_or_bytes, x):
    data = model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _fold(model, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    data, counts = onnx_fold.folded_model(path)
    return data, counts, [n.op_type for n in onnx.load_from_string(data).graph.node]


def _hardswish(x, prefix):
    return [
        helper.make_node("Add", [x, f"{prefix}.three"], [f"{prefix}.a"]),
        helper.make_node("Clip", [f"{prefix}.a", f"{prefix}.zero", f"{prefix}.six"], [f"{prefix}.c"]),
        helper.make_node("Mul", [x, f"{prefix}.c"], [f"{prefix}.m"]),
        helper.make_node("Div", [f"{prefix}.m", f"{prefix}.six"], [f"{prefix}.out"]),
    ], [_const(f"{prefix}.three", 3.0), _const(f"{prefix}.zero", 0.0), _const(f"{prefix}.six", 6.0)]


def _lab_block(*, pads):
    """conv → ·a + b → hard-swish → ·c + d → conv (the learnable-affine pattern of PP-LCNetV3)."""
    hs_nodes, hs_inits = _hardswish("s", "hs")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c1", "a"], ["m1"]),
        helper.make_node("Add", ["m1", "b"], ["s"]),
        *hs_nodes,
        helper.make_node("Mul", ["hs.out", "c"], ["m2"]),
        helper.make_node("Add", ["m2", "d"], ["s2"]),
        helper.make_node("Conv", ["s2", "w2"], ["y"], kernel_shape=[3, 3], pads=[pads] * 4),
    ]
    inits = [
        _const("w1", RNG.normal(size=(4, 3, 3, 3))), _const("b1", RNG.normal(size=4)),
        _const("a", 1.7), _const("b", -0.4), _const("c", 0.8), _const("d", 0.3),
        _const("w2", RNG.normal(size=(5, 4, 3, 3))), *hs_inits,
    ]
    return _model(nodes, inits)


def test_each_rewrite_keeps_the_function_of_an_unpadded_block(tmp_path):
    model = _lab_block(pads=0)
    x = RNG.normal(scale=3, size=(1, 3, 9, 9)).astype(np.float32)
    data, counts, ops = _fold(model, tmp_path)
    assert counts == {"fold_affine_into_conv": 1, "fuse_hardswish": 1, "fold_affine_before_conv": 1}
    assert ops == ["Conv", "HardSigmoid", "Mul", "Conv"]
    np.testing.assert_allclose(_run(data, x), _run(model, x), rtol=1e-5, atol=1e-4)


def test_a_padded_conv_keeps_the_affine_before_it(tmp_path):
    # Zero padding of (c·x + d) is not c·(zero padding of x) + d at the border: folding would be wrong.
    model = _lab_block(pads=1)
    x = RNG.normal(scale=3, size=(1, 3, 9, 9)).astype(np.float32)
    data, counts, ops = _fold(model, tmp_path)
    assert counts["fold_affine_before_conv"] == 0
    assert ops == ["Conv", "HardSigmoid", "Mul", "Mul", "Add", "Conv"]
    np.testing.assert_allclose(_run(data, x), _run(model, x), rtol=1e-5, atol=1e-4)


def test_an_activation_read_twice_or_a_graph_output_is_not_folded(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("Mul", ["c1", "a"], ["m1"]),
        helper.make_node("Add", ["m1", "c1"], ["y"]),  # c1 read twice: the Conv's output must stay
    ]
    model = _model(nodes, [_const("w1", RNG.normal(size=(3, 3, 1, 1))), _const("a", 2.0)])
    data, counts, ops = _fold(model, tmp_path)
    assert counts["fold_affine_into_conv"] == 0 and ops == ["Conv", "Mul", "Add"]
    x = RNG.normal(size=(1, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(_run(data, x), _run(model, x), rtol=1e-6)


def test_a_clip_to_other_bounds_is_not_a_hardswish(tmp_path):
    hs_nodes, hs_inits = _hardswish("x", "hs")
    hs_inits[2] = _const("hs.six", 5.0)  # Clip 0..5 and Div 5: not the hard-swish
    hs_nodes.append(helper.make_node("Identity", ["hs.out"], ["y"]))
    model = _model(hs_nodes, hs_inits)
    data, counts, ops = _fold(model, tmp_path)
    assert counts["fuse_hardswish"] == 0 and "HardSigmoid" not in ops


def test_the_cache_returns_the_same_fold_and_a_damaged_file_is_refolded(tmp_path, monkeypatch):
    monkeypatch.setenv("UFMCLEAN_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "m.onnx"
    onnx.save(_lab_block(pads=0), str(path))
    first = onnx_fold.folded_bytes(path)
    (cached,) = (tmp_path / "cache" / "models").iterdir()
    assert cached.read_bytes() == first and onnx_fold.folded_bytes(path) == first
    cached.write_bytes(b"damaged")
    assert onnx_fold.folded_bytes(path) == b"damaged"  # the cache is trusted ...
    assert onnx_fold.folded_bytes(path, refresh=True) == first  # ... until ONNX Runtime rejects it
    assert cached.read_bytes() == first


@pytest.mark.parametrize("name, shape", [("DET_MODEL", (1, 3, 96, 160)), ("REC_MODEL", (3, 3, 48, 192))])
def test_the_installed_ppocr_models_agree_with_their_folds(name, shape, tmp_path, monkeypatch):
    from ufmclean.ocr import ppocr

    try:
        path = ppocr.model_dir() / getattr(ppocr, name)
    except ppocr.ModelsMissingError:
        pytest.skip("PP-OCR models not installed")
    monkeypatch.setenv("UFMCLEAN_CACHE", str(tmp_path))
    data, counts = onnx_fold.folded_model(path)
    assert min(counts.values()) >= 10  # every pattern occurs in PP-LCNetV3 (24-28 times in v4)
    x = RNG.uniform(-1, 1, size=shape).astype(np.float32)
    original = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(_run(data, x), original, atol=2e-5)
