"""Inference back ends behind one interface, and ONNX export.

* :mod:`posekit.runtime.runner`: :class:`~posekit.runtime.runner.Runner` (NumPy batch in, float32 NumPy outputs
  out), its :class:`~posekit.runtime.runner.InputSpec`, and :func:`~posekit.runtime.runner.make_runner`, whose
  table is the one place that maps a back-end name (``backend="torch"`` / ``"onnxruntime"``) to code.
* :mod:`posekit.runtime.torch_runner`: :class:`~posekit.runtime.torch_runner.TorchRunner` and the engine options
  (:class:`~posekit.runtime.torch_runner.EngineOptions`: device, precision, memory format, compile, batch size).
* :mod:`posekit.runtime.onnxruntime_runner`: :class:`~posekit.runtime.onnxruntime_runner.OrtRunner` (an ONNX
  Runtime session; imports no torch).
* :mod:`posekit.runtime.onnx_export`: :func:`~posekit.runtime.onnx_export.export_onnx` (a verified ``.onnx`` file).
* :mod:`posekit.runtime.onnx_files`: the cached export the ONNX Runtime back end uses
  (:func:`~posekit.runtime.onnx_files.cached_export`) and :func:`~posekit.runtime.onnx_files.export_model` (files
  by public model name, ``posekit export``).

Pipelines and detectors hold runners and never know which back end runs them. A new back end (TensorRT,
OpenVINO, ...) is one new module with a factory and one line in :mod:`posekit.runtime.runner`'s table.

Only NumPy is imported here: torch, ``onnx`` and ``onnxruntime`` are imported by the modules that need them.
"""

from posekit.runtime.runner import BACKENDS, InputSpec, Runner, make_runner

__all__ = ["BACKENDS", "InputSpec", "Runner", "make_runner"]
