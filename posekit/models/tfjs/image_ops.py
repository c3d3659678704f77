"""Converters of image ops (convolutions, pooling, resizing, elementwise, reshapes) onto the TFLite op table.

Each converter takes the :class:`~posekit.models.tfjs.context.Context` and one GraphDef node. Image
layers run in the ``"nchw"`` layout; elementwise ops, reshapes, concatenations and splits keep the
``"nchw"`` layout when their rank-4 inputs have it, and otherwise run in the graph's ``"tf"`` layout.
"""

from __future__ import annotations

import numpy as np

from ..tflite import ops as tflite_ops
from .context import Act, Context
from .reader import TFJSNode, attr_value

_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)
ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def _same_pads(in_size: int, k: int, stride: int, dilation: int) -> list[int]:
    """TensorFlow 'SAME': out = ceil(in / stride), the odd pixel of padding goes bottom/right."""
    out = -(-in_size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - in_size, 0)
    return [total // 2, total - total // 2]


def _window_pads(
    ctx: Context, node: TFJSNode, shape: tuple[int, ...], kh: int, kw: int, s: list[int], d: list[int]
) -> list[int]:
    """(top, bottom, left, right) zero padding of a conv/pool window (NHWC ``shape``)."""
    padding = attr_value(node.attr, "padding", "VALID")
    if attr_value(node.attr, "data_format", "NHWC") != "NHWC":
        ctx.fail(node, "only data_format NHWC is supported")
    if padding == "VALID":
        return [0, 0, 0, 0]
    if padding == "SAME":
        return _same_pads(shape[1], kh, s[1], d[1]) + _same_pads(shape[2], kw, s[2], d[2])
    if padding == "EXPLICIT":
        p = attr_value(node.attr, "explicit_paddings", [])
        return [p[2], p[3], p[4], p[5]]
    ctx.fail(node, f"padding {padding!r}")


def conv(ctx: Context, node: TFJSNode) -> None:
    """Conv2D / DepthwiseConv2dNative and their fused forms (BiasAdd, then Relu/Relu6/Sigmoid/Tanh/Prelu/LeakyRelu)."""
    x = ctx.act(node, 0, "nchw")
    w = ctx.const(node, 1, "filter")
    kh, kw, cin_w, cout = w.shape
    s = attr_value(node.attr, "strides", [1, 1, 1, 1])
    d = attr_value(node.attr, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
    if "Depthwise" in node.op:  # (KH, KW, C, M) -> (C*M, 1, KH, KW), output channel c*M + m as in TensorFlow
        weight, groups = w.reshape(kh, kw, cin_w * cout).transpose(2, 0, 1)[:, None], cin_w
    else:  # HWIO -> OIHW
        weight, groups = w.transpose(3, 2, 0, 1), x.tf_shape[3] // cin_w
    params = {"weight": weight}
    fused = attr_value(node.attr, "fused_ops", []) if node.op.startswith(("_Fused", "Fused")) else []
    act, post = "none", None
    for k, op in enumerate(fused):
        if op == "BiasAdd" and k == 0:
            params["bias"] = ctx.const(node, 2, "bias")
        elif op in ACTIVATIONS and k == len(fused) - 1:
            act = ACTIVATIONS[op]
        elif op in ("Prelu", "LeakyRelu") and k == len(fused) - 1:
            post = op
        else:
            ctx.fail(node, f"fused op sequence {fused} is not supported")
    attrs = {
        "stride": [s[1], s[2]],
        "dilation": [d[1], d[2]],
        "groups": groups,
        "pads": _window_pads(ctx, node, x.tf_shape, kh, kw, s, d),
        "activation": act,
    }
    if post is None:
        ctx.emit(node.name, "conv2d", [x], attrs, params)
        return
    y = ctx.emit(node.name + "/conv", "conv2d", [x], attrs, params)
    if post == "Prelu":
        ctx.emit(node.name, "prelu", [y], {}, {"weight": ctx.const(node, 3, "alpha").reshape(-1)})
    else:
        ctx.emit(node.name, "unary", [y], {"fn": "leaky_relu", "alpha": attr_value(node.attr, "leakyrelu_alpha", 0.2)})


def unary(ctx: Context, node: TFJSNode) -> None:
    """Relu / Relu6 / Sigmoid / Tanh (fused into a sole producer without activation) and LeakyRelu."""
    x = ctx.act(node)
    fn = ACTIVATIONS.get(node.op)
    k = ctx.producer.get(x.key)
    if (
        fn
        and k is not None
        and ctx.layers[k]["attrs"].get("activation") == "none"
        and ctx.consumers.get(x.key) == 1
        and x.key not in ctx.output_keys
    ):
        ctx.layers[k]["attrs"]["activation"] = fn  # same shape; later readers use the fused output
        ctx.layers[k]["output"] = node.name
        ctx.producer[node.name] = k
        ctx.values[node.name] = Act(node.name, x.trace, x.layout)
        return
    attrs = {"fn": fn or "leaky_relu"}
    if node.op == "LeakyRelu":
        attrs["alpha"] = attr_value(node.attr, "alpha", 0.2)
    ctx.emit(node.name, "unary", [x], attrs, layout=x.layout)


BINARY = {
    "Add": "add",
    "AddV2": "add",
    "Sub": "sub",
    "Mul": "mul",
    "RealDiv": "div",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "FloorDiv": "floordiv",
    "SquaredDifference": "squared_difference",
    "Less": "less",
    "Greater": "greater",
    "GreaterEqual": "greater_equal",
    "Equal": "equal",
    "LogicalAnd": "logical_and",
}
_NCHW_BINARY = frozenset(tflite_ops.BINARY)  # the TFLite table's ops: NCHW-safe, batch-generic


def binary(ctx: Context, node: TFJSNode) -> None:
    """Elementwise op of two activations or an activation and a constant, with broadcasting."""
    a, b = ctx.get(node, 0), ctx.get(node, 1)
    acts = [v for v in (a, b) if isinstance(v, Act)]
    consts = [np.asarray(v) for v in (a, b) if not isinstance(v, Act)]
    op = BINARY[node.op]
    nchw = (
        op in _NCHW_BINARY
        and all(v.trace.ndim == 4 for v in acts)
        and any(v.layout == "nchw" for v in acts)
        and all(c.ndim <= 4 for c in consts)
    )
    layout = "nchw" if nchw else "tf"
    acts = [ctx.ensure(v, layout) for v in acts]
    attrs, params = {"op": op}, {}
    if consts:
        idx = 0 if not isinstance(a, Act) else 1
        c = consts[0].astype(np.float32)
        if nchw:
            c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(0, 3, 1, 2)
        params["const"], attrs["const_index"] = c, idx
    if nchw:
        ctx.emit(node.name, "binary", acts, {**attrs, "activation": "none"}, params)
    else:
        ctx.emit(node.name, "tf_binary", acts, attrs, params, layout="tf")


def pad(ctx: Context, node: TFJSNode) -> None:
    p = ctx.const(node, 1, "paddings").astype(np.int64).reshape(-1, 2)
    x = ctx.act(node, 0, "nchw")
    value = float(ctx.const(node, 2, "constant value").reshape(())) if len(node.inputs) > 2 else 0.0
    if p[0].any():
        ctx.fail(node, "padding the batch axis")
    dims = [2, 1, 3, 0] if len(p) == 4 else list(range(len(p) - 1, -1, -1))  # F.pad order: last torch dim first
    pads = [int(v) for d in dims for v in p[d]]
    while pads and pads[-2:] == [0, 0]:
        pads = pads[:-2]
    ctx.emit(node.name, "pad", [x], {"pads": pads, "value": value}, layout=x.layout)


def pool(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node, 0, "nchw")
    k, s = attr_value(node.attr, "ksize"), attr_value(node.attr, "strides")
    attrs = {
        "kind": "max" if node.op == "MaxPool" else "avg",
        "kernel": [k[1], k[2]],
        "stride": [s[1], s[2]],
        "pads": _window_pads(ctx, node, x.tf_shape, k[1], k[2], s, [1, 1, 1, 1]),
        "activation": "none",
        "in_size": list(x.tf_shape[1:3]),
    }
    ctx.emit(node.name, "pool2d", [x], attrs)


def resize_bilinear(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node, 0, "nchw")
    size = [int(v) for v in ctx.const(node, 1, "size")]
    mode = (
        "align_corners"
        if attr_value(node.attr, "align_corners", False)
        else "half_pixel"
        if attr_value(node.attr, "half_pixel_centers", False)
        else "legacy"
    )
    ctx.emit(node.name, "resize_bilinear", [x], {"size": size, "mode": mode, "in_size": list(x.tf_shape[1:3])})


def depth_to_space(ctx: Context, node: TFJSNode) -> None:
    if attr_value(node.attr, "data_format", "NHWC") != "NHWC":
        ctx.fail(node, "only data_format NHWC is supported")
    ctx.emit(node.name, "depth_to_space", [ctx.act(node, 0, "nchw")], {"block": attr_value(node.attr, "block_size")})


def concat(ctx: Context, node: TFJSNode) -> None:
    """ConcatV2 of activations (``"nchw"`` when possible), or with constants (``"tf"`` layout)."""
    n = len(node.inputs) - 1
    vals = [ctx.get(node, k) for k in range(n)]
    xs = [v for v in vals if isinstance(v, Act)]
    rank = len(xs[0].tf_shape)
    axis = int(ctx.const(node, n, "axis")) % rank
    if len(xs) < n:
        nary(ctx, node, "concat", vals, dim=axis)
        return
    nchw = rank == 4 and any(x.layout == "nchw" for x in xs) and axis != 0
    layout = "nchw" if nchw else "tf"
    xs = [ctx.ensure(x, layout) for x in xs]
    dim = _NHWC_TO_NCHW_AXIS[axis] if nchw else axis
    dtypes = {x.trace.dtype for x in xs}
    if len(dtypes) > 1:
        ctx.fail(node, f"inputs of different dtypes {sorted(map(str, dtypes))}")
    ctx.emit(node.name, "concat", xs, {"dim": dim, "activation": "none"}, layout=layout)


def nary(ctx: Context, node: TFJSNode, op: str, vals: list, **attrs) -> None:
    """A ``tf_nary`` layer over activations and constants ``vals`` (``"tf"`` layout)."""
    consts = {f"const{k}": np.asarray(v) for k, v in enumerate(vals) if not isinstance(v, Act)}
    attrs = {"op": op, "n": len(vals), "const_positions": [int(k[5:]) for k in consts], **attrs}
    acts = [ctx.ensure(v, "tf") for v in vals if isinstance(v, Act)]
    ctx.emit(node.name, "tf_nary", acts, attrs, consts, layout="tf")


def reshape(ctx: Context, node: TFJSNode) -> None:
    """Reshape / Squeeze / ExpandDims: batch-generic when the batch axis stays first, else batch-1 exact."""
    x = ctx.act(node)
    in_shape = x.tf_shape
    probe = np.empty(in_shape, dtype=np.int8)
    if node.op == "Reshape":
        out_shape = probe.reshape([int(v) for v in ctx.const(node, 1, "shape").reshape(-1)]).shape
    elif node.op == "Squeeze":
        dims = attr_value(node.attr, "squeeze_dims", []) or [i for i, s in enumerate(in_shape) if s == 1]
        out_shape = np.squeeze(probe, axis=tuple(d % len(in_shape) for d in dims)).shape
    else:  # ExpandDims
        out_shape = np.expand_dims(probe, int(ctx.const(node, 1, "axis"))).shape
    batch_kept = bool(in_shape) and bool(out_shape) and in_shape[0] == 1 and out_shape[0] == 1
    if batch_kept and (x.layout == "nchw" or len(in_shape) != 4):
        attrs = {"shape": list(out_shape[1:]), "in_rank4": len(in_shape) == 4, "out_rank4": len(out_shape) == 4}
        ctx.emit(node.name, "reshape", [x], attrs)
    else:
        ctx.emit(node.name, "full_reshape", [ctx.ensure(x, "tf")], {"shape": list(out_shape)}, layout="tf")


def transpose(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node)
    perm = [int(v) % len(x.tf_shape) for v in ctx.const(node, 1, "perm")]
    if x.layout == "nchw":
        if perm[0] != 0:
            x = ctx.ensure(x, "tf")
        else:  # torch dim k of the output reads torch dim a[perm[b[k]]] of the input
            a, b = (0, 2, 3, 1), (0, 3, 1, 2)
            ctx.emit(node.name, "transpose", [x], {"dims": [a[perm[b[k]]] for k in range(4)]})
            return
    ctx.emit(node.name, "transpose", [x], {"dims": perm}, layout="tf")


def split(ctx: Context, node: TFJSNode) -> None:
    """Split / SplitV -> one strided_slice layer per output (``"node"``, ``"node:1"``, ...)."""
    if node.op == "Split":
        x, axis = ctx.act(node, 1), int(ctx.const(node, 0, "split_dim"))
        n = attr_value(node.attr, "num_split")
        sizes = [x.tf_shape[axis] // n] * n
    else:
        x, axis = ctx.act(node, 0), int(ctx.const(node, 2, "split_dim"))
        sizes = [int(v) for v in ctx.const(node, 1, "size_splits")]
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.tf_shape[axis] - (sum(sizes) + 1)
    rank = len(x.tf_shape)
    axis %= rank
    if axis == 0:
        x = ctx.ensure(x, "tf")
    nhwc = x.layout == "nchw"
    start = 0
    for k, size in enumerate(sizes):
        slices = [[None, None, 1] for _ in range(rank)]
        slices[axis] = [start, start + size, 1]
        start += size
        attrs = {"slices": slices, "squeeze": [], "nhwc": nhwc, "out_rank4": nhwc}
        ctx.emit(f"{node.name}:{k}" if k else node.name, "strided_slice", [x], attrs, layout=x.layout)
