"""Deployment: ONNX export of any posekit network and an ONNX Runtime backend for the pipelines.

* :mod:`posekit.export.onnx`: :func:`~posekit.export.onnx.export_onnx` writes a verified ``.onnx`` file (run in
  ONNX Runtime and compared with PyTorch before it appears under its final name).
* :mod:`posekit.export.ort_backend`: :class:`~posekit.export.ort_backend.OrtModule`, an ONNX Runtime session with
  the call contract of the torch module it replaces (NCHW float32 batch in, outputs in the module's order and
  layout out); imports no torch.
* :mod:`posekit.export.ort_pipelines`: the zoo's models by name: export (cached) and pipelines wired to
  ONNX Runtime (``blazepose_full_onnx``, ...).

Nothing is imported here: ``onnx`` and ``onnxruntime`` are needed only by the modules that use them.
"""
