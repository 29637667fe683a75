"""Exact graph simplifications of the PP-OCRv4 ONNX models, done once per process before loading.

The PP-LCNetV3 backbones of both models wrap every convolution in "learnable affine blocks" (a
scalar ``x * a + b`` before and after each hard-swish), and the Paddle-to-ONNX export spells each
hard-swish as four element-wise nodes (``Add 3, Clip 0..6, Mul, Div 6``). ONNX Runtime fuses none of
them, so over a third of the CPU time went to element-wise passes over the activations (measured with
its profiler, one thread: recogniser 36 %, detector 41 %). Rewritten here, with the same arithmetic:

- ``Conv → Mul(a) → Add(b)`` becomes one ``Conv`` with weights ``a·W`` and bias ``a·B + b``;
- ``Add 3 → Clip 0..6 → Mul x → Div 6`` becomes ``HardSigmoid(x) · x`` (the models stay at opset 12,
  where ``HardSwish`` does not exist yet: two passes over the activation instead of four);
- ``Mul(c) → Add(d) → Conv`` without padding becomes one ``Conv`` with weights ``c·W`` and bias
  ``B + d·ΣW`` (with zero padding the border would differ, so padded convolutions keep the affine).

Only float rounding changes (the outputs agree to ~1e-5: ``tests/scan/test_onnx_fold.py``). The original
file is never written to; the rewritten model goes to ONNX Runtime as bytes and is kept in
ufmclean's cache folder, keyed by the source file's digest and :data:`FOLD_VERSION`, because
importing ``onnx`` alone costs ~0.9 s per worker process (the rewrite itself 0.05 s).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Bumped whenever the rewrites change (the scan's batch key and the fold cache's file names hold it).
FOLD_VERSION = 1


class _Graph:
    """The model's nodes with their constants as numpy arrays, and who reads each tensor."""

    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.model = model
        g = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.nodes = []
        for n in g.node:
            if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
            else:
                self.nodes.append(n)
        self.outputs = {o.name for o in g.output}
        self.removed: set[int] = set()
        self.readers: dict[str, list] = {}
        for n in self.nodes:
            self._read_by(n)

    def _read_by(self, node) -> None:
        for name in node.input:
            self.readers.setdefault(name, []).append(node)

    def _unread_by(self, node) -> None:
        for name in node.input:
            self.readers[name] = [r for r in self.readers.get(name, []) if r is not node]

    def only_reader(self, tensor: str, op_type: str):
        """The single node reading ``tensor`` when it is of ``op_type`` (and ``tensor`` is no graph output)."""
        readers = self.readers.get(tensor, [])
        if len(readers) != 1 or tensor in self.outputs or readers[0].op_type != op_type:
            return None
        return readers[0]

    def scalar_operand(self, node, tensor: str) -> float | None:
        """The constant scalar that binary ``node`` combines with ``tensor``, if its other input is one."""
        if len(node.input) != 2 or tensor not in node.input:
            return None
        other = node.input[1] if node.input[0] == tensor else node.input[0]
        value = self.consts.get(other)
        return float(value.ravel()[0]) if value is not None and value.size == 1 else None

    def add_const(self, name: str, value: np.ndarray) -> str:
        """Register constant ``value`` as float32 under ``name``; returns the name."""
        self.consts[name] = value.astype(np.float32)
        return name

    def set_inputs(self, node, inputs: list[str]) -> None:
        """Replace ``node``'s inputs, keeping the reader index right."""
        self._unread_by(node)
        del node.input[:]
        node.input.extend(inputs)
        self._read_by(node)

    def remove(self, *nodes) -> None:
        """Drop ``nodes`` from the graph (lazily: :meth:`to_model` leaves them out)."""
        for n in nodes:
            self._unread_by(n)
            self.removed.add(id(n))

    def alive(self, node) -> bool:
        """Whether ``node`` is still in the graph."""
        return id(node) not in self.removed

    def candidates(self, op_type: str):
        """``(node, x)`` for each live ``op_type`` node, ``x`` its first non-constant input (``None``: all
        constant), looked up as the loop reaches it (earlier rewrites may have removed the node)."""
        for node in [n for n in self.nodes if n.op_type == op_type]:
            if self.alive(node):
                yield node, next((t for t in node.input if t not in self.consts), None)

    def to_model(self):
        """The model with the rewritten nodes and only the constants they still read."""
        from onnx import numpy_helper

        g = self.model.graph
        nodes = [n for n in self.nodes if self.alive(n)]
        used = {name for n in nodes for name in n.input}
        del g.node[:]
        g.node.extend(nodes)
        del g.initializer[:]
        g.initializer.extend(numpy_helper.from_array(v, name) for name, v in self.consts.items() if name in used)
        return self.model


def _conv_weights(graph: _Graph, conv) -> tuple[np.ndarray, np.ndarray] | None:
    if len(conv.input) < 2 or conv.input[1] not in graph.consts:
        return None
    w = graph.consts[conv.input[1]].astype(np.float32)
    if len(conv.input) > 2 and conv.input[2]:
        if conv.input[2] not in graph.consts:
            return None
        b = graph.consts[conv.input[2]].astype(np.float32)
    else:
        b = np.zeros(w.shape[0], np.float32)
    return w, b


def _set_conv(graph: _Graph, conv, x: str, w: np.ndarray, b: np.ndarray, tag: str) -> None:
    name = conv.name or conv.output[0]
    graph.set_inputs(conv, [x, graph.add_const(f"{name}.{tag}.w", w), graph.add_const(f"{name}.{tag}.b", b)])


def _affine_after(graph: _Graph, tensor: str):
    """``(mul, add or None, a, b)`` for ``tensor → Mul(a) [→ Add(b)]`` read by nothing else, else None."""
    mul = graph.only_reader(tensor, "Mul")
    a = graph.scalar_operand(mul, tensor) if mul is not None else None
    if mul is None or a is None:
        return None
    add = graph.only_reader(mul.output[0], "Add")
    b = graph.scalar_operand(add, mul.output[0]) if add is not None else None
    if add is None or b is None:
        return mul, None, a, 0.0
    return mul, add, a, b


def fold_affine_into_conv(graph: _Graph) -> int:
    """``Conv → Mul(a) → Add(b)`` into the Conv; returns how many were folded."""
    folded = 0
    for conv in [n for n in graph.nodes if n.op_type == "Conv"]:
        wb = _conv_weights(graph, conv)
        found = _affine_after(graph, conv.output[0]) if wb is not None else None
        if wb is None or found is None:
            continue
        mul, add, a, b = found
        w, bias = wb
        _set_conv(graph, conv, conv.input[0], w * a, bias * a + b, "pre")
        conv.output[0] = (add or mul).output[0]
        graph.remove(*[n for n in (mul, add) if n is not None])
        folded += 1
    return folded


def fold_affine_before_conv(graph: _Graph) -> int:
    """``Mul(c) → Add(d) → Conv`` (no padding) into the Conv; returns how many were folded."""
    folded = 0
    for mul, tensor in graph.candidates("Mul"):
        c = graph.scalar_operand(mul, tensor) if tensor is not None else None
        add = graph.only_reader(mul.output[0], "Add") if c is not None else None
        d = graph.scalar_operand(add, mul.output[0]) if add is not None else None
        if tensor is None or c is None or add is None or d is None:
            continue
        conv = graph.only_reader(add.output[0], "Conv")
        if conv is None or conv.input[0] != add.output[0] or _padded(conv):
            continue
        wb = _conv_weights(graph, conv)
        if wb is None:
            continue
        w, bias = wb
        _set_conv(graph, conv, tensor, w * c, bias + d * w.reshape(w.shape[0], -1).sum(axis=1), "post")
        graph.remove(mul, add)
        folded += 1
    return folded


def _padded(conv) -> bool:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    return any(int(p) for p in attrs.get("pads", [])) or auto not in ("NOTSET", "VALID")


def fuse_hardswish(graph: _Graph) -> int:
    """``x → Add 3 → Clip 0..6 → Mul x → Div 6`` into ``x · HardSigmoid(x)``; returns how many were fused."""
    from onnx import helper

    fused = 0
    for add, x in graph.candidates("Add"):
        if x is None or graph.scalar_operand(add, x) != 3.0:
            continue
        clip = graph.only_reader(add.output[0], "Clip")
        bounds = [] if clip is None else [graph.consts.get(t) for t in clip.input[1:3]]
        values = [float(b.ravel()[0]) for b in bounds if b is not None and b.size == 1]
        if clip is None or values != [0.0, 6.0]:
            continue
        mul = graph.only_reader(clip.output[0], "Mul")
        if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
            continue
        div = graph.only_reader(mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or graph.scalar_operand(div, mul.output[0]) != 6.0:
            continue
        # The Add becomes the gate in place, so the node order (topological) stays right for free.
        gate = f"{div.output[0]}.gate"
        add.op_type, add.name = "HardSigmoid", gate
        graph.set_inputs(add, [x])
        add.output[0] = gate
        add.attribute.extend([helper.make_attribute("alpha", 1.0 / 6.0), helper.make_attribute("beta", 0.5)])
        graph.set_inputs(mul, [x, gate])
        mul.output[0] = div.output[0]
        graph.remove(clip, div)
        fused += 1
    return fused


REWRITES: tuple[Callable[[_Graph], int], ...] = (fold_affine_into_conv, fuse_hardswish, fold_affine_before_conv)


def folded_model(path: Path) -> tuple[bytes, dict[str, int]]:
    """The serialised model at ``path`` after :data:`REWRITES`, and how often each applied."""
    import onnx

    graph = _Graph(onnx.load(str(path)))
    counts = {rewrite.__name__: rewrite(graph) for rewrite in REWRITES}
    return graph.to_model().SerializeToString(), counts


def folded_bytes(path: Path, *, refresh: bool = False) -> bytes:
    """The folded model of ``path`` as bytes for ``onnxruntime.InferenceSession``.

    Read from ufmclean's cache when a fold of the same source bytes and :data:`FOLD_VERSION` is there
    (``refresh`` ignores it, for a cached file ONNX Runtime could not load); else folded and cached
    atomically. Where the cache cannot be written, the fold is used from memory all the same.
    """
    from ufmclean.errors import WriteError
    from ufmclean.io.atomic import atomic_write_bytes
    from ufmclean.names import cache_dir

    source = Path(path).read_bytes()
    digest = hashlib.sha256(source + f"fold-{FOLD_VERSION}".encode()).hexdigest()[:20]
    cached = cache_dir() / "models" / f"{Path(path).stem}.folded-{digest}.onnx"
    if not refresh:
        try:
            return cached.read_bytes()
        except OSError:
            pass
    data, counts = folded_model(Path(path))
    log.debug("folded %s: %s", Path(path).name, counts)
    try:
        atomic_write_bytes(cached, data)
    except (OSError, WriteError) as exc:  # a read-only home: fold again next time
        log.debug("could not cache the folded model (%s)", type(exc).__name__)
    return data
