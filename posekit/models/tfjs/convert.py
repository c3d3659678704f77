"""TensorFlow.js GraphDef -> the TFLite converter's layer spec + float32 weights in PyTorch layout.

The output is the spec format of ``posekit.models.tflite`` (``SPEC_FORMAT``); ``build_module`` of this
package (the TFLite one with this package's op table, :mod:`posekit.models.tfjs.ops`) rebuilds it as a
``TFLiteGraph``. Layout rule (as there): rank-4 activations are NCHW in PyTorch and NHWC in the graph;
ops that need the graph's own layout (decoding inside MoveNet) run on batch-1 tensors exactly as the graph
has them (see :mod:`posekit.models.tfjs.context`). ``Const`` nodes and every node whose inputs are all
constants are folded in NumPy (:mod:`posekit.models.tfjs.fold`); shapes come from tracing each emitted
layer once on a batch-1 zero input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import torch

from . import fold, image_ops, tensor_ops
from .context import Act, Context, ref_key
from .ops import build_layer
from .reader import TFJSModel, TFJSNode, attr_value, read_tfjs


def convert_file(path: str | os.PathLike, *, name: str | None = None, input_hw: tuple[int, int] | None = None
                 ) -> tuple[str, dict[str, torch.Tensor]]:
    """Parse a TensorFlow.js ``model.json`` (+ shards) -> (spec JSON string, float32 weights).

    As :func:`posekit.models.tflite.convert_file`: keys are ``"layers.{i}.weight"`` etc., exactly the
    ``state_dict()`` of ``build_module(spec, tensors)``. The module takes one NCHW float tensor per graph
    input of NHWC shape ``(1, H, W, C)`` (an int32 image input is passed as float; a graph whose input is
    already ``(1, 3, H, W)`` takes it as ``(B, W, 3, H)``, i.e. ``x.permute(0, 3, 1, 2)``) and returns the
    signature's outputs in signature order, NHWC for rank 4. Graphs with ``"tf"``-layout layers (MoveNet's
    decoding) are exact for batch 1 only. ``input_hw`` (height, width) converts for another image size than the
    signature's (fully convolutional graphs such as PoseNet; a graph whose constants encode its size fails or
    refuses inputs of that size). Raises ``NotImplementedError`` naming the op and the node for what it cannot
    convert.
    """
    model = read_tfjs(path, name=name)
    spec, tensors = convert_model(model, input_hw=input_hw)
    return json.dumps(spec), tensors


def convert_model(model: TFJSModel, *, input_hw: tuple[int, int] | None = None
                  ) -> tuple[dict, dict[str, torch.Tensor]]:
    """:class:`TFJSModel` -> (spec dict, tensors); see :func:`convert_file`."""
    ctx = Context(model, build_layer)
    inputs = []
    for node in _topological(model):
        if node.op == "Placeholder":
            shape = _input_shape(model, node, input_hw)
            if len(shape) == 4:
                shape = [shape[0], shape[3], shape[1], shape[2]]
            act = Act(node.name, torch.zeros(shape), "nchw")
            ctx.values[node.name] = act
            inputs.append((node.name, act))
        elif node.op == "Const":
            if node.name not in model.weights:
                ctx.fail(node, "its value is not in the weightsManifest")
            ctx.values[node.name] = model.weights[node.name]
        elif node.inputs and all(not isinstance(ctx.get(node, k), Act) for k in range(len(node.inputs))):
            fold.evaluate(ctx, node)
        elif node.op in CONVERTERS:
            CONVERTERS[node.op](ctx, node)
        else:
            ctx.fail(node, "this op is not supported by the converter")
    outputs = []
    sig_outputs = model.signature.get("outputs", {})
    names = (
        [v["name"] for v in sig_outputs.values()]
        if sig_outputs
        else [n.name for n in model.nodes if n.op == "Identity" and ctx.consumers.get(n.name, 0) == 0]
    )
    for full in names:
        v = ctx.values.get(ref_key(full))
        if not isinstance(v, Act):
            raise NotImplementedError(f"model {model.name!r}: output {full!r} is not computed by any layer")
        outputs.append((full.split(":")[0], ctx.ensure(v, "nchw")))
    return ctx.finish(inputs, outputs)


def _input_shape(model: TFJSModel, node: TFJSNode, input_hw: tuple[int, int] | None = None) -> list[int]:
    """Static shape of a Placeholder: the signature's where the node leaves dims open; batch 1. ``input_hw``
    replaces the spatial dims of an image input (NHWC, or (1, 3, H, W) as NanoDet's)."""
    shape = attr_value(node.attr, "shape", [])
    for sig in model.signature.get("inputs", {}).values():
        if sig.get("name", "").split(":")[0] == node.name and "tensorShape" in sig:
            dims = [int(d.get("size", -1)) for d in sig["tensorShape"].get("dim", [])]
            shape = [s if s >= 0 else d for s, d in zip(shape, dims)] if len(dims) == len(shape) else shape or dims
    if input_hw is not None and len(shape) == 4:
        h, w = (int(v) for v in input_hw)
        if h <= 0 or w <= 0:
            raise ValueError(f"input_hw must be positive (height, width), got {input_hw}")
        shape = [shape[0], shape[1], h, w] if shape[1] == 3 and shape[3] != 3 else [shape[0], h, w, shape[3]]
    if any(d < 0 for d in shape[1:]):
        raise NotImplementedError(f"model {model.name!r}: input {node.name!r} has open dims {shape}")
    return [1, *shape[1:]]


def _topological(model: TFJSModel) -> list[TFJSNode]:
    """Nodes in an order where every node follows its inputs (file order where it already is)."""
    by_name = {n.name: n for n in model.nodes}
    order, state = [], {}
    for root in model.nodes:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                state[node.name] = 2
                order.append(node)
                continue
            if state.get(node.name):
                continue
            state[node.name] = 1
            stack.append((node, True))
            for ref in node.inputs:
                dep = by_name.get(ref.split(":")[0])
                if dep is None:
                    raise ValueError(f"model {model.name!r}: node {node.name!r} reads unknown node {ref!r}")
                if not state.get(dep.name):
                    stack.append((dep, False))
    return order


# TensorFlow op name -> converter, for nodes that read at least one activation.
CONVERTERS: dict[str, Callable[[Context, TFJSNode], None]] = {
    "_FusedConv2D": image_ops.conv,
    "Conv2D": image_ops.conv,
    "DepthwiseConv2dNative": image_ops.conv,
    "FusedDepthwiseConv2dNative": image_ops.conv,
    **{op: image_ops.unary for op in (*image_ops.ACTIVATIONS, "LeakyRelu")},
    **{op: image_ops.binary for op in image_ops.BINARY},
    "Pad": image_ops.pad,
    "PadV2": image_ops.pad,
    "MaxPool": image_ops.pool,
    "AvgPool": image_ops.pool,
    "ResizeBilinear": image_ops.resize_bilinear,
    "DepthToSpace": image_ops.depth_to_space,
    "ConcatV2": image_ops.concat,
    "Reshape": image_ops.reshape,
    "Squeeze": image_ops.reshape,
    "ExpandDims": image_ops.reshape,
    "Transpose": image_ops.transpose,
    "Split": image_ops.split,
    "SplitV": image_ops.split,
    "StridedSlice": tensor_ops.strided_slice,
    "Unpack": tensor_ops.unpack,
    "Pack": tensor_ops.pack,
    "ArgMax": tensor_ops.argmax,
    "Cast": tensor_ops.cast,
    "GatherNd": tensor_ops.gather_nd,
    "TopKV2": tensor_ops.top_k,
    "Tile": tensor_ops.tile,
    "Sum": tensor_ops.reduce,
    "Max": tensor_ops.reduce,
    "Select": tensor_ops.select,
    "AddN": tensor_ops.add_n,
    **{op: tensor_ops.unary for op in ("Sqrt", "Exp", "Abs", "Reciprocal")},
    "Shape": tensor_ops.shape,
    "Identity": tensor_ops.alias,
    "StopGradient": tensor_ops.alias,
}
