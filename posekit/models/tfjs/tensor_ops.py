"""Converters of tensor ops (slicing, stacking, ArgMax, GatherNd, casts) that run in the graph's ``"tf"`` layout.

These appear in the decoding that MoveNet graphs do after their heads; the layers are batch-1 exact
(the graph itself indexes batch 0). See :mod:`posekit.models.tfjs.ops` for the layers.
"""

from __future__ import annotations

import numpy as np

from . import image_ops
from .context import Act, Context
from .reader import TFJSNode, attr_value


def strided_slice(ctx: Context, node: TFJSNode) -> None:
    """StridedSlice of an activation with constant begin/end/strides (begin/end/shrink/new-axis masks)."""
    x = ctx.act(node, 0, "tf")
    ctx.batch_one = True
    begin, end, strides = (
        ctx.const(node, k, w).astype(np.int64) for k, w in ((1, "begin"), (2, "end"), (3, "strides"))
    )
    a = node.attr
    if attr_value(a, "ellipsis_mask", 0):
        ctx.fail(node, "the ellipsis mask is not supported")
    bm, em, sm, nm = (attr_value(a, k, 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask", "new_axis_mask"))
    slices, squeeze, index = [], [], []  # per input axis; `index` (with None) gives the output shape
    for i in range(len(begin)):
        if nm >> i & 1:
            index.append(None)
        elif sm >> i & 1:
            b = int(begin[i])
            squeeze.append(len(slices))
            slices.append([b, None if b == -1 else b + 1, 1])
            index.append(b)
        else:
            slices.append(
                [None if bm >> i & 1 else int(begin[i]), None if em >> i & 1 else int(end[i]), int(strides[i])]
            )
            index.append(slice(*slices[-1]))
    slices += [[None, None, 1]] * (x.trace.ndim - len(slices))
    out_shape = np.empty(x.tf_shape, dtype=np.int8)[tuple(index)].shape
    y = ctx.emit(
        node.name + ("/slice" if nm else ""),
        "strided_slice",
        [x],
        {"slices": slices, "squeeze": squeeze, "nhwc": False, "out_rank4": False},
        layout="tf",
    )
    if nm:
        ctx.emit(node.name, "full_reshape", [y], {"shape": list(out_shape)}, layout="tf")


def unpack(ctx: Context, node: TFJSNode) -> None:
    """Unpack -> one strided_slice (index k, axis squeezed) per output ``"node"``, ``"node:1"``, ..."""
    x = ctx.act(node, 0, "tf")
    ctx.batch_one = True
    axis = attr_value(node.attr, "axis", 0) % x.trace.ndim
    for k in range(x.trace.shape[axis]):
        slices = [[None, None, 1] for _ in range(x.trace.ndim)]
        slices[axis] = [k, k + 1, 1]
        attrs = {"slices": slices, "squeeze": [axis], "nhwc": False, "out_rank4": False}
        ctx.emit(f"{node.name}:{k}" if k else node.name, "strided_slice", [x], attrs, layout="tf")


def pack(ctx: Context, node: TFJSNode) -> None:
    """Pack of activations and constants (constants must share the activations' shape)."""
    vals = [ctx.get(node, k) for k in range(len(node.inputs))]
    acts = [ctx.ensure(v, "tf") for v in vals if isinstance(v, Act)]
    const_pos = [k for k, v in enumerate(vals) if not isinstance(v, Act)]
    params = {"consts": np.stack([np.asarray(vals[k]) for k in const_pos])} if const_pos else {}
    rank = acts[0].trace.ndim + 1
    attrs = {"dim": attr_value(node.attr, "axis", 0) % rank, "n": len(vals), "const_positions": const_pos}
    ctx.emit(node.name, "stack", acts, attrs, params, layout="tf")


def argmax(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node, 0, "tf")
    ctx.emit(node.name, "argmax", [x], {"dim": int(ctx.const(node, 1, "dimension")) % x.trace.ndim}, layout="tf")


def top_k(ctx: Context, node: TFJSNode) -> None:
    """TopKV2 -> values (``"node"``) and indices (``"node:1"``) layers."""
    x = ctx.act(node, 0, "tf")
    k = int(ctx.const(node, 1, "k"))
    ctx.emit(node.name, "topk", [x], {"k": k, "output": "values"}, layout="tf")
    ctx.emit(node.name + ":1", "topk", [x], {"k": k, "output": "indices"}, layout="tf")


def tile(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node, 0, "tf")
    ctx.emit(node.name, "tile", [x], {"reps": [int(r) for r in ctx.const(node, 1, "multiples")]}, layout="tf")


def reduce(ctx: Context, node: TFJSNode) -> None:
    """Sum / Max over constant axes."""
    x = ctx.act(node, 0, "tf")
    dims = sorted({int(d) % x.trace.ndim for d in np.atleast_1d(ctx.const(node, 1, "axes"))})
    attrs = {"op": node.op.lower(), "dims": dims, "keepdim": bool(attr_value(node.attr, "keep_dims", False))}
    ctx.emit(node.name, "reduce", [x], attrs, layout="tf")


def select(ctx: Context, node: TFJSNode) -> None:
    image_ops.nary(ctx, node, "select", [ctx.get(node, k) for k in range(3)])


def add_n(ctx: Context, node: TFJSNode) -> None:
    image_ops.nary(ctx, node, "add_n", [ctx.get(node, k) for k in range(len(node.inputs))])


_CAST = {"DT_FLOAT": "float", "DT_INT32": "int", "DT_INT64": "int", "DT_BOOL": "bool"}


def cast(ctx: Context, node: TFJSNode) -> None:
    """Cast; float -> float (also the int32 image input, which the module takes as float) is an alias."""
    x = ctx.act(node)
    to = _CAST.get(attr_value(node.attr, "DstT", ""))
    if to is None:
        ctx.fail(node, f"cast to {attr_value(node.attr, 'DstT')}")
    if to == "float" and (
        x.trace.is_floating_point()
        or attr_value(node.attr, "SrcT") == "DT_INT32"
        and x.key in {n.name for n in ctx.model.nodes if n.op == "Placeholder"}
    ):
        ctx.values[node.name] = x
        return
    ctx.emit(node.name, "cast", [x], {"to": to}, layout=x.layout)


def gather_nd(ctx: Context, node: TFJSNode) -> None:
    params, indices = ctx.get(node, 0), ctx.get(node, 1)
    if not isinstance(params, Act):
        ctx.fail(node, "constant params are not supported")
    ins = [ctx.ensure(params, "tf")]
    if isinstance(indices, Act):
        ins.append(ctx.ensure(indices, "tf"))
        ctx.emit(node.name, "gather_nd", ins, {}, layout="tf")
    else:
        ctx.emit(node.name, "gather_nd", ins, {}, {"indices": np.asarray(indices)}, layout="tf")


_UNARY = {"Sqrt": "sqrt", "Exp": "exp", "Abs": "abs", "Reciprocal": "reciprocal"}


def unary(ctx: Context, node: TFJSNode) -> None:
    x = ctx.act(node)
    ctx.emit(node.name, "tf_unary", [x], {"fn": _UNARY[node.op]}, layout=x.layout)


def alias(ctx: Context, node: TFJSNode) -> None:
    ctx.values[node.name] = ctx.act(node)


def shape(ctx: Context, node: TFJSNode) -> None:
    """Shape of an activation: a constant (the graph's batch-1 shape)."""
    ctx.values[node.name] = np.array(ctx.act(node).tf_shape, dtype=np.int32)
