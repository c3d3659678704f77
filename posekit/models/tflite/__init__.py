"""TFLite flatbuffer -> PyTorch: convert MediaPipe ``.tflite`` models into plain ``nn.Module`` graphs.

``convert_file(path)`` parses the flatbuffer (``tflite`` package) into a JSON graph spec and float32
weights in PyTorch layout; ``build_module(spec_json, tensors)`` rebuilds the network without the
parser, so both can be cached (e.g. safetensors with the spec in the metadata). The module takes NCHW
inputs and returns TFLite-layout outputs (NHWC for rank 4); see :class:`TFLiteGraph`.
"""

from __future__ import annotations

from .convert import SPEC_FORMAT, convert_file
from .graph import TFLiteGraph, build_module

__all__ = ["SPEC_FORMAT", "TFLiteGraph", "build_module", "convert_file"]
