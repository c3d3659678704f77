"""TFLite graph -> JSON-able layer spec + float32 weights in PyTorch layout.

Layout rule of the spec: rank-4 activations are NCHW in PyTorch, every other rank keeps its TFLite
layout; each converter maps axes, paddings and weights accordingly. Fusions done here: a zero PAD
feeding a single convolution becomes that convolution's padding; a RELU/RELU6/LOGISTIC/TANH whose
only input is the output of a layer without activation becomes that layer's fused activation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .reader import TFGraph, TFOp, read_tflite

SPEC_FORMAT = "posekit.tflite-graph/1"
_FUSED = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh"}
_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # TFLite axis -> torch axis for rank-4 tensors


def convert_file(path: str | os.PathLike, *, name: str | None = None) -> tuple[str, dict[str, torch.Tensor]]:
    """Parse a ``.tflite`` file -> (graph spec as a JSON string, float32 weights keyed by stable names).

    Keys are ``"layers.{i}.weight"`` etc., exactly the ``state_dict()`` of ``build_module(spec, tensors)``;
    tensors are in PyTorch layout (conv weights OIHW). ``name`` (default: the file stem) names the
    model in errors. Raises ``NotImplementedError`` naming the operator and model for unsupported ops.
    """
    graph = read_tflite(path, name=name)
    spec, tensors = convert_graph(graph)
    return json.dumps(spec), tensors


def convert_graph(graph: TFGraph) -> tuple[dict, dict[str, torch.Tensor]]:
    """:class:`TFGraph` -> (spec dict, tensors); see :func:`convert_file`."""
    ctx = _Context(graph)
    for t in graph.inputs:
        tensor = graph.tensors[t]
        if tensor.dtype != "float32":
            raise NotImplementedError(f"model {graph.name!r}: input {tensor.name!r} is {tensor.dtype}; only float32 inputs are supported")
    for op in graph.ops:
        fn = _CONVERTERS.get(op.name)
        if fn is None:
            raise NotImplementedError(f"TFLite operator {op.name} (operator #{op.index}) in model {graph.name!r} is not supported by the converter")
        fn(ctx, op)
    return ctx.finish()


@dataclass
class _Node:
    kind: str
    inputs: list[int]
    output: int
    attrs: dict
    params: dict[str, np.ndarray]


@dataclass
class _Context:
    """Conversion state of one graph (local to one convert_graph call)."""

    graph: TFGraph
    nodes: list[_Node] = field(default_factory=list)
    producer: dict[int, _Node] = field(default_factory=dict)
    folded_pad: dict[int, tuple[int, list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.consumers: dict[int, list[TFOp]] = {}
        for op in self.graph.ops:
            for i in op.inputs:
                self.consumers.setdefault(i, []).append(op)

    def shape(self, t: int) -> tuple[int, ...]:
        return self.graph.tensors[t].shape

    def const(self, op: TFOp, k: int, what: str) -> np.ndarray:
        t = op.inputs[k]
        data = self.graph.tensors[t].data if t >= 0 else None
        if data is None:
            self.fail(op, f"its {what} (input {k}) is not a constant")
        return data

    def fail(self, op: TFOp, why: str) -> None:
        raise NotImplementedError(f"TFLite operator {op.name} (operator #{op.index}) in model {self.graph.name!r}: {why}")

    def only_consumer(self, t: int) -> bool:
        return len(self.consumers.get(t, ())) == 1 and t not in self.graph.outputs

    def emit(self, kind: str, inputs: list[int], output: int, attrs: dict, params: dict | None = None) -> None:
        for t in inputs:
            if self.graph.tensors[t].data is not None:
                raise NotImplementedError(f"model {self.graph.name!r}: constant {self.graph.tensors[t].name!r} used as an activation of a {kind} layer")
        node = _Node(kind, list(inputs), output, attrs, params or {})
        self.nodes.append(node)
        self.producer[output] = node

    def finish(self) -> tuple[dict, dict[str, torch.Tensor]]:
        g = self.graph
        slots: dict[int, int] = {t: i for i, t in enumerate(g.inputs)}
        layers, tensors = [], {}
        for k, node in enumerate(self.nodes):
            for t in node.inputs:
                if t not in slots:
                    raise ValueError(f"model {g.name!r}: tensor {g.tensors[t].name!r} is read before it is computed")
            slots[node.output] = len(slots)
            layers.append({"kind": node.kind, "inputs": [slots[t] for t in node.inputs], "output": slots[node.output],
                           "attrs": node.attrs})
            for pname, arr in node.params.items():
                tensors[f"layers.{k}.{pname}"] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        outputs = []
        for t in g.outputs:
            if t not in slots:
                raise NotImplementedError(f"model {g.name!r}: output {g.tensors[t].name!r} is not computed by any layer")
            outputs.append({"name": g.tensors[t].name, "shape": list(g.tensors[t].shape), "slot": slots[t]})
        inputs = [{"name": g.tensors[t].name, "shape": list(g.tensors[t].shape), "slot": slots[t]} for t in g.inputs]
        spec = {"format": SPEC_FORMAT, "name": g.name, "inputs": inputs, "outputs": outputs,
                "num_slots": len(slots), "layers": layers}
        return spec, tensors


def _fused(ctx: _Context, op: TFOp) -> str:
    code = op.options.FusedActivationFunction() if op.options is not None else 0
    if code not in _FUSED:
        ctx.fail(op, f"fused activation code {code} is not supported")
    return _FUSED[code]


def _same_pads(in_size: int, out_size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite 'SAME': total = max((out-1)*stride + eff_k - in, 0), the odd pixel goes bottom/right."""
    total = max((out_size - 1) * stride + (k - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


def _window_pads(ctx: _Context, op: TFOp, x: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> list[int]:
    _, h, w, _ = ctx.shape(x)
    _, oh, ow, _ = ctx.shape(op.outputs[0])
    if op.options.Padding() == 1:  # VALID
        return [0, 0, 0, 0]
    return [*_same_pads(h, oh, kh, sh, dh), *_same_pads(w, ow, kw, sw, dw)]


def _conv(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    w = ctx.const(op, 1, "filter")
    o = op.options
    sh, sw, dh, dw = o.StrideH(), o.StrideW(), o.DilationHFactor(), o.DilationWFactor()
    src_x, pad_pre = ctx.folded_pad.pop(x, (x, [0, 0, 0, 0]))
    pads = _window_pads(ctx, op, x, w.shape[1], w.shape[2], sh, sw, dh, dw)
    pads = [a + b for a, b in zip(pads, pad_pre)]
    cin = ctx.shape(x)[3]
    if op.name == "DEPTHWISE_CONV_2D":
        weight = w[0].transpose(2, 0, 1)[:, None]  # (1,KH,KW,C*M) -> (C*M,1,KH,KW)
        groups = cin
    else:
        weight = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        if cin % w.shape[3]:
            ctx.fail(op, f"input channels {cin} not divisible by filter channels {w.shape[3]}")
        groups = cin // w.shape[3]
    params = {"weight": weight}
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        params["bias"] = ctx.const(op, 2, "bias").astype(np.float32)
    attrs = {"stride": [sh, sw], "dilation": [dh, dw], "groups": groups, "pads": pads, "activation": _fused(ctx, op)}
    ctx.emit("conv2d", [src_x], op.outputs[0], attrs, params)


def _fully_connected(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    w = ctx.const(op, 1, "weights")
    in_shape, out_shape = ctx.shape(x), ctx.shape(op.outputs[0])
    if int(np.prod(in_shape[1:])) != w.shape[1] or list(out_shape) != [1, w.shape[0]]:
        ctx.fail(op, f"only (1, ...) -> (1, units) is supported, got {in_shape} -> {out_shape}")
    params = {"weight": w}
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        params["bias"] = ctx.const(op, 2, "bias")
    ctx.emit("linear", [x], op.outputs[0], {"in_rank4": len(in_shape) == 4, "activation": _fused(ctx, op)}, params)


def _binary(ctx: _Context, op: TFOp) -> None:
    out_rank = len(ctx.shape(op.outputs[0]))
    act = _fused(ctx, op) if op.name in ("ADD", "SUB", "MUL", "DIV") else "none"
    attrs = {"op": op.name.lower(), "activation": act}
    consts = [k for k in range(2) if ctx.graph.tensors[op.inputs[k]].data is not None]
    if len(consts) == 2:
        ctx.fail(op, "both operands are constants")
    acts = [op.inputs[k] for k in range(2) if k not in consts]
    if len(acts) == 2 and len(ctx.shape(acts[0])) != len(ctx.shape(acts[1])) and out_rank == 4:
        ctx.fail(op, f"broadcasting {ctx.shape(acts[0])} with {ctx.shape(acts[1])} is not supported")
    params = {}
    if consts:
        c = ctx.const(op, consts[0], "operand").astype(np.float32)
        if out_rank == 4:
            c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(0, 3, 1, 2)
        params["const"] = c
        attrs["const_index"] = consts[0]
    ctx.emit("binary", acts, op.outputs[0], attrs, params)


_UNARY = {"RELU": "relu", "RELU6": "relu6", "RELU_N1_TO_1": "relu_n1_to_1", "LOGISTIC": "sigmoid",
          "TANH": "tanh", "HARD_SWISH": "hard_swish", "LEAKY_RELU": "leaky_relu"}


def _unary(ctx: _Context, op: TFOp) -> None:
    x, fn = op.inputs[0], _UNARY[op.name]
    prod = ctx.producer.get(x)
    if (fn in ("relu", "relu6", "relu_n1_to_1", "sigmoid", "tanh") and prod is not None
            and prod.attrs.get("activation") == "none" and ctx.only_consumer(x)):
        prod.attrs["activation"] = fn
        prod.output = op.outputs[0]
        ctx.producer[op.outputs[0]] = prod
        return
    attrs = {"fn": fn}
    if fn == "leaky_relu":
        attrs["alpha"] = float(op.options.Alpha())
    ctx.emit("unary", [x], op.outputs[0], attrs)


def _prelu(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    alpha = ctx.const(op, 1, "alpha")
    shape = ctx.shape(x)
    if len(shape) not in (2, 4) or any(s != 1 for s in alpha.shape[:-1]) or alpha.shape[-1:] not in ((shape[-1],), (1,)):
        ctx.fail(op, f"only per-channel slopes are supported, got alpha {alpha.shape} for input {shape}")
    ctx.emit("prelu", [x], op.outputs[0], {}, {"weight": alpha.reshape(-1)})


def _concat(ctx: _Context, op: TFOp) -> None:
    rank = len(ctx.shape(op.outputs[0]))
    axis = op.options.Axis() % rank
    dim = _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis
    if dim == 0:
        ctx.fail(op, "concatenation along the batch axis")
    ctx.emit("concat", list(op.inputs), op.outputs[0], {"dim": dim, "activation": _fused(ctx, op)})


def _reshape(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    in_shape, out_shape = ctx.shape(x), ctx.shape(op.outputs[0])
    if not in_shape or not out_shape or in_shape[0] != 1 or out_shape[0] != 1:
        ctx.fail(op, f"only reshapes keeping a batch of 1 are supported, got {in_shape} -> {out_shape}")
    attrs = {"shape": list(out_shape[1:]), "in_rank4": len(in_shape) == 4, "out_rank4": len(out_shape) == 4}
    ctx.emit("reshape", [x], op.outputs[0], attrs)


def _resize_bilinear(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    size = [int(v) for v in ctx.const(op, 1, "size")]
    o = op.options
    mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "legacy"
    ctx.emit("resize_bilinear", [x], op.outputs[0], {"size": size, "mode": mode, "in_size": list(ctx.shape(x)[1:3])})


def _pool(ctx: _Context, op: TFOp) -> None:
    x, o = op.inputs[0], op.options
    kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
    attrs = {"kind": "max" if op.name == "MAX_POOL_2D" else "avg", "kernel": [kh, kw], "stride": [sh, sw],
             "pads": _window_pads(ctx, op, x, kh, kw, sh, sw, 1, 1), "activation": _fused(ctx, op),
             "in_size": list(ctx.shape(x)[1:3])}
    ctx.emit("pool2d", [x], op.outputs[0], attrs)


def _pad(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    p = ctx.const(op, 1, "paddings").astype(np.int64).reshape(-1, 2)
    value = float(ctx.const(op, 2, "constant value").reshape(())) if len(op.inputs) > 2 and op.inputs[2] >= 0 else 0.0
    if p[0].any():
        ctx.fail(op, "padding the batch axis")
    out = op.outputs[0]
    consumers = ctx.consumers.get(out, [])
    if (len(p) == 4 and value == 0.0 and not p[3].any() and ctx.only_consumer(out)
            and consumers[0].name in ("CONV_2D", "DEPTHWISE_CONV_2D") and consumers[0].inputs[0] == out):
        ctx.folded_pad[out] = (x, [int(p[1, 0]), int(p[1, 1]), int(p[2, 0]), int(p[2, 1])])
        return
    dims = [2, 1, 3, 0] if len(p) == 4 else list(range(len(p) - 1, -1, -1))  # F.pad order: last torch dim first
    pads = [int(v) for d in dims for v in p[d]]
    while pads and pads[-2:] == [0, 0]:
        pads = pads[:-2]
    ctx.emit("pad", [x], out, {"pads": pads, "value": value})


def _depth_to_space(ctx: _Context, op: TFOp) -> None:
    ctx.emit("depth_to_space", [op.inputs[0]], op.outputs[0], {"block": op.options.BlockSize()})


def _mean(ctx: _Context, op: TFOp) -> None:
    x = op.inputs[0]
    rank = len(ctx.shape(x))
    axes = sorted({int(a) % rank for a in ctx.const(op, 1, "axes").reshape(-1)})
    keep = bool(op.options.KeepDims())
    if 0 in axes:
        ctx.fail(op, "reducing over the batch axis")
    if rank == 4 and keep:
        attrs = {"dims": [_NHWC_TO_NCHW_AXIS[a] for a in axes], "keepdim": True, "nhwc": False}
    else:
        attrs = {"dims": axes, "keepdim": keep, "nhwc": rank == 4}
    ctx.emit("mean", [x], op.outputs[0], attrs)


def _strided_slice(ctx: _Context, op: TFOp) -> None:
    x, o = op.inputs[0], op.options
    shape = ctx.shape(x)
    begin, end, strides = (ctx.const(op, k, w).astype(np.int64) for k, w in ((1, "begin"), (2, "end"), (3, "strides")))
    if o.EllipsisMask() or o.NewAxisMask() or (strides <= 0).any():
        ctx.fail(op, "ellipsis/new-axis masks and non-positive strides are not supported")
    slices, squeeze = [], []
    for i in range(len(shape)):
        b = None if o.BeginMask() >> i & 1 else int(begin[i])
        e = None if o.EndMask() >> i & 1 else int(end[i])
        if o.ShrinkAxisMask() >> i & 1:  # a single index: begin[i] (masks do not apply)
            b = int(begin[i])
            e, squeeze = (None if b == -1 else b + 1), squeeze + [i]
        slices.append([b, e, int(strides[i])])
    if slices[0][0] not in (None, 0) or 0 in squeeze or (slices[0][1] is not None and slices[0][1] < 1):
        ctx.fail(op, "slicing the batch axis")
    slices[0] = [None, None, 1]
    attrs = {"slices": slices, "squeeze": squeeze, "nhwc": len(shape) == 4, "out_rank4": len(ctx.shape(op.outputs[0])) == 4}
    ctx.emit("strided_slice", [x], op.outputs[0], attrs)


# TFLite builtin operator -> converter (the file format's own op names).
_CONVERTERS: dict[str, Callable[[_Context, TFOp], None]] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "FULLY_CONNECTED": _fully_connected,
    "ADD": _binary, "SUB": _binary, "MUL": _binary, "DIV": _binary, "MAXIMUM": _binary, "MINIMUM": _binary,
    **{name: _unary for name in _UNARY}, "PRELU": _prelu, "CONCATENATION": _concat,
    "RESHAPE": _reshape, "SQUEEZE": _reshape, "RESIZE_BILINEAR": _resize_bilinear,
    "MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool, "PAD": _pad, "PADV2": _pad,
    "DEPTH_TO_SPACE": _depth_to_space, "MEAN": _mean, "STRIDED_SLICE": _strided_slice,
}
