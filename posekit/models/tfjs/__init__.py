"""TensorFlow.js graph model -> PyTorch: ``model.json`` + weight shards into the TFLite converter's spec.

``convert_file(path)`` reads the GraphDef and its (float32, or float16 / uint8 / uint16 quantised)
weights and returns the same JSON layer spec and float32 PyTorch-layout tensors as
:func:`posekit.models.tflite.convert_file`; :func:`build_module` rebuilds the network as a
:class:`posekit.models.tflite.TFLiteGraph` with this package's op table (the TFLite table plus the
tensor ops of :mod:`posekit.models.tfjs.ops`). Inputs are NCHW for rank-4 graph inputs (NHWC in the
graph); outputs come in signature order, NHWC for rank 4.
"""

from __future__ import annotations

import torch

from ..tflite import SPEC_FORMAT, TFLiteGraph
from ..tflite.graph import build_module as _build_tflite_module
from . import ops
from .convert import convert_file, convert_model
from .reader import TFJSModel, TFJSNode, read_tfjs

#: Recorded in converted cache files; bump when a change of this converter changes its output.
CONVERTER_VERSION = "posekit.tfjs/1"


def build_module(spec_json: str, tensors: dict[str, torch.Tensor]) -> TFLiteGraph:
    """Rebuild a converted graph from ``convert_file``'s spec and weights (see
    :func:`posekit.models.tflite.build_module`); eval mode, float32, CPU."""
    return _build_tflite_module(spec_json, tensors, layer_builder=ops.build_layer)


__all__ = [
    "CONVERTER_VERSION",
    "SPEC_FORMAT",
    "TFJSModel",
    "TFJSNode",
    "TFLiteGraph",
    "build_module",
    "convert_file",
    "convert_model",
    "read_tfjs",
]
