"""Constant folding: evaluate, in NumPy, a GraphDef node whose inputs are all constants.

Used by :mod:`posekit.models.tfjs.convert` for shape arithmetic (``Shape`` -> ``StridedSlice`` ->
``Pack`` -> ``Reshape``) and for weight preprocessing that the graph does at run time. Values keep the
graph's (TensorFlow) layout. Multi-output ops store ``"node"``, ``"node:1"``, ... in ``ctx.values``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .reader import TFJSNode, attr_value

_DT = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_, "DT_INT64": np.int64}


def evaluate(ctx: Any, node: TFJSNode) -> None:
    """Fold ``node`` (all inputs constant) into ``ctx.values``; ``ctx.fail`` for an op without a rule."""
    fn = _RULES.get(node.op)
    if fn is None:
        ctx.fail(node, "this op is not supported by the converter (also not with constant inputs)")
    args = [np.asarray(ctx.get(node, k)) for k in range(len(node.inputs))]
    out = fn(node, *args)
    if isinstance(out, list):
        for k, v in enumerate(out):
            ctx.values[node.name if k == 0 else f"{node.name}:{k}"] = np.asarray(v)
    else:
        ctx.values[node.name] = np.asarray(out)


def strided_slice(node: TFJSNode, x: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """TensorFlow StridedSlice with begin/end/shrink-axis/new-axis masks (no ellipsis mask)."""
    a = node.attr
    if attr_value(a, "ellipsis_mask", 0):
        raise NotImplementedError(f"StridedSlice node {node.name!r}: the ellipsis mask is not supported")
    bm, em, sm, nm = (attr_value(a, k, 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask", "new_axis_mask"))
    index = []
    for i in range(len(begin)):
        if nm >> i & 1:
            index.append(None)
        elif sm >> i & 1:
            index.append(int(begin[i]))
        else:
            index.append(
                slice(None if bm >> i & 1 else int(begin[i]), None if em >> i & 1 else int(end[i]), int(strides[i]))
            )
    return x[tuple(index)]


def _sparse_to_dense(
    node: TFJSNode, idx: np.ndarray, shape: np.ndarray, values: np.ndarray, default: np.ndarray
) -> np.ndarray:
    out = np.full([int(s) for s in shape.reshape(-1)], default, dtype=np.result_type(values, default))
    if idx.size:
        out[tuple(idx.reshape(-1, max(out.ndim, 1)).T)] = values
    return out


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda node, a, b: fn(a, b)


def _floordiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.floor_divide(a, b)


_RULES: dict[str, Callable[..., Any]] = {
    "Identity": lambda node, x: x,
    "Cast": lambda node, x: x.astype(_DT[attr_value(node.attr, "DstT", "DT_FLOAT")]),
    "Shape": lambda node, x: np.array(x.shape, dtype=np.int32),
    "StridedSlice": strided_slice,
    "Pack": lambda node, *xs: np.stack(xs, axis=attr_value(node.attr, "axis", 0)),
    "Unpack": lambda node, x: list(np.moveaxis(x, attr_value(node.attr, "axis", 0), 0)),
    "ConcatV2": lambda node, *xs: np.concatenate(xs[:-1], axis=int(xs[-1])),
    "Reshape": lambda node, x, s: x.reshape([int(v) for v in s.reshape(-1)]),
    "ExpandDims": lambda node, x, axis: np.expand_dims(x, int(axis)),
    "Squeeze": lambda node, x: np.squeeze(x, axis=tuple(attr_value(node.attr, "squeeze_dims", [])) or None),
    "Transpose": lambda node, x, perm: np.transpose(x, [int(p) for p in perm]),
    "Range": lambda node, s, e, d: np.arange(s, e, d),
    "Fill": lambda node, shape, v: np.full([int(s) for s in shape], v),
    "SparseToDense": _sparse_to_dense,
    "Size": lambda node, x: np.int32(x.size),
    "Tile": lambda node, x, reps: np.tile(x, [int(r) for r in reps]),
    "Sum": lambda node, x, axis: np.sum(
        x, axis=tuple(np.atleast_1d(axis)), keepdims=attr_value(node.attr, "keep_dims", False)
    ),
    "Max": lambda node, x, axis: np.max(
        x, axis=tuple(np.atleast_1d(axis)), keepdims=attr_value(node.attr, "keep_dims", False)
    ),
    "Select": lambda node, c, a, b: np.where(c, a, b),
    "AddN": lambda node, *xs: sum(xs[1:], xs[0]),
    "Abs": lambda node, x: np.abs(x),
    "Exp": lambda node, x: np.exp(x),
    "Sqrt": lambda node, x: np.sqrt(x),
    "Reciprocal": lambda node, x: 1 / x,
    "Less": _binary(np.less),
    "Greater": _binary(np.greater),
    "GreaterEqual": _binary(np.greater_equal),
    "Equal": _binary(np.equal),
    "LogicalAnd": _binary(np.logical_and),
    "SquaredDifference": _binary(lambda a, b: (a - b) ** 2),
    "Add": _binary(np.add),
    "AddV2": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "RealDiv": _binary(np.divide),
    "FloorDiv": _binary(_floordiv),
    "Maximum": _binary(np.maximum),
    "Minimum": _binary(np.minimum),
}
