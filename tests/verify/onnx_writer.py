"""A minimal ONNX writer for tests: an MLP (Flatten, MatMul, Add, Relu) as a ModelProto, encoded by hand.

The `onnx` package is not a dependency (only onnxruntime is), and torch.onnx.export needs it; the
protobuf wire format of the few messages used here is small enough to write directly
(field numbers from onnx/onnx.proto3).
"""

from __future__ import annotations

import numpy as np


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _bytes(field: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _key(field, 2) + _varint(len(data)) + data


def _tensor(name: str, a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a, dtype="<f4")
    return b"".join(_int(1, d) for d in a.shape) + _int(2, 1) + _bytes(8, name) + _bytes(9, a.tobytes())


def _value_info(name: str, dims: list[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in dims)
    tensor_type = _int(1, 1) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(op: str, inputs: list[str], outputs: list[str]) -> bytes:
    return b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs) + _bytes(4, op)


def mlp_onnx(layers: list[tuple[np.ndarray, np.ndarray]], *, input_shape: list[int | str]) -> bytes:
    """ONNX bytes of ``x -> Flatten -> (x @ W + b, ReLU between layers)`` with ``layers`` ``[(W (in, out), b (out,))]``
    and input ``(N, C, H, W)`` named ``x`` (``input_shape`` entries may be strings for symbolic dims)."""
    nodes, inits, cur = [_node("Flatten", ["x"], ["h0"])], [], "h0"
    for i, (w, b) in enumerate(layers):
        inits += [_tensor(f"W{i}", w), _tensor(f"b{i}", b)]
        nodes += [_node("MatMul", [cur, f"W{i}"], [f"m{i}"]), _node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        cur = f"a{i}"
        if i < len(layers) - 1:
            nodes.append(_node("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
    nodes.append(_node("Identity", [cur], ["y"]))
    graph = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "mlp") + b"".join(_bytes(5, t) for t in inits)
             + _bytes(11, _value_info("x", input_shape)) + _bytes(12, _value_info("y", ["N", int(layers[-1][0].shape[1])])))
    opset = _bytes(1, "") + _int(2, 13)
    return _int(1, 8) + _bytes(8, opset) + _bytes(7, graph)

