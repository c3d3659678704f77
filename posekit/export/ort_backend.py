"""An ONNX Runtime session that stands in for the torch module it was exported from.

:class:`OrtModule` keeps the module's call contract, so posekit's pipelines take it where they take the network:
``OrtModule(path)(x)`` with ``x`` an NCHW float32 batch returns the outputs in the module's order and layout (a
tuple when the module returned a tuple, per the file's ``posekit.output_is_tuple`` metadata, else one array).
A torch tensor in gives torch tensors out (CPU); a NumPy array in gives NumPy arrays out. This module does not
import torch, so ONNX files can be run where torch is not installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OrtModule", "open_session"]


def _torch_tensor_type() -> type | None:
    torch = sys.modules.get("torch")  # torch is only needed when the caller already uses it
    return None if torch is None else torch.Tensor


def _ensure_shared_pool(ort: Any, intra_op_num_threads: int | None) -> None:
    """Create ONNX Runtime's process-wide intra-op thread pool unless it exists (ONNX Runtime keeps that state;
    it refuses to replace the pool, which here means it is already there)."""
    try:
        ort.set_global_thread_pool_sizes(int(intra_op_num_threads or 0), 1)
    except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own Fail type)
        if "already been created" not in str(exc):
            raise


def open_session(path: str | os.PathLike[str], options: Any, providers: Sequence[str]) -> Any:
    """``onnxruntime.InferenceSession(path, options, providers=providers)``; once ONNX Runtime's process-wide thread
    pool exists (see ``OrtModule(shared_threads=True)``) ONNX Runtime refuses sessions with their own pool, so such a
    session is opened on the shared pool instead (its ``intra_op_num_threads`` then no longer applies)."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except RuntimeError as exc:
        if "use_per_session_threads must be false" not in str(exc):
            raise
        options.use_per_session_threads = False
        return ort.InferenceSession(str(path), options, providers=list(providers))


class OrtModule:
    """ONNX Runtime inference with a torch-module-like call: ``module(x) -> outputs``.

    Args:
        path: an ``.onnx`` file with one NCHW float32 input (e.g. from :func:`posekit.export.onnx.export_onnx`).
        providers: ONNX Runtime execution providers, in preference order (default ``("CPUExecutionProvider",)``).
        intra_op_num_threads: threads inside one operator (None: ONNX Runtime's default, all cores).
        inter_op_num_threads: threads across operators (None: ONNX Runtime's default).
        shared_threads: run on ONNX Runtime's process-wide thread pool instead of a pool of this session's own,
            so that a pipeline's networks (e.g. a detector and a landmark model called one after the other) do not
            keep two pools whose idle threads spin against each other (BlazePose on 2 cores: 24 ms per image
            instead of 38). The process-wide pool is created by the first such session with
            ``intra_op_num_threads`` threads (ONNX Runtime's default when None); later ones share it as it is.
            Once it exists ONNX Runtime runs every later session of the process on it (their own
            ``intra_op_num_threads`` no longer applies).

    Call: ``x`` is a ``(B, C, H, W)`` float32 torch tensor (any device; moved to CPU) or NumPy array; other float
    dtypes are cast to float32. ``B`` must equal the exported batch unless the file has a dynamic batch axis.
    Returns the outputs in the exported module's order and layout (e.g. a MediaPipe TFLite graph's
    ``(raw_boxes (B, N, C), raw_scores (B, N, 1))``, a top-down model's heatmaps ``(B, K, h, w)`` or
    ``(simcc_x, simcc_y)``): torch tensors on CPU for a tensor input, NumPy float32 arrays for a NumPy input.

    Attributes: ``path``, ``input_name``, ``input_shape`` (``(B, C, H, W)`` with None for symbolic axes),
    ``output_names``, ``returns_tuple``, ``session`` (the ``onnxruntime.InferenceSession``).

    For pipelines written against torch modules it also has ``eval()`` and ``to("cpu")`` (both return self) and
    ``parameters()`` / ``buffers()`` (empty), so e.g. :class:`posekit.detect.mediapipe.MediaPipeDetector` accepts it.
    """

    def __init__(self, path: str | os.PathLike[str], *, providers: Sequence[str] | None = None,
                 intra_op_num_threads: int | None = None, inter_op_num_threads: int | None = None,
                 shared_threads: bool = False) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file {self.path} does not exist")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        for name, value in (("intra_op_num_threads", intra_op_num_threads),
                            ("inter_op_num_threads", inter_op_num_threads)):
            if value is not None:
                if int(value) < 0:
                    raise ValueError(f"{name} must be >= 0 (0 = ONNX Runtime's default), got {value}")
                if not shared_threads:  # the shared pool's size is set once, below
                    setattr(opts, name, int(value))
        if shared_threads:
            _ensure_shared_pool(ort, intra_op_num_threads)
            opts.use_per_session_threads = False
        providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise ValueError(f"ONNX Runtime providers {missing} are not available here "
                             f"(available: {ort.get_available_providers()})")
        self.session = open_session(self.path, opts, providers)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{self.path} has {len(inputs)} inputs; OrtModule runs graphs with one NCHW input")
        self.input_name = inputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        if len(self.input_shape) != 4:
            raise ValueError(f"{self.path} input {self.input_name!r} has rank {len(self.input_shape)}, expected 4 "
                             f"(B, C, H, W)")
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        meta = self.session.get_modelmeta().custom_metadata_map
        flag = meta.get("posekit.output_is_tuple")
        self.returns_tuple = (len(self.output_names) > 1) if flag is None else flag == "1"
        self.metadata = dict(meta)

    # -- torch-module look-alikes ---------------------------------------------------------------------------
    def eval(self) -> OrtModule:
        return self

    def parameters(self) -> Iterator[Any]:
        return iter(())

    def buffers(self) -> Iterator[Any]:
        return iter(())

    def to(self, device: Any = "cpu", *args: Any, **kwargs: Any) -> OrtModule:
        if str(device) != "cpu":
            raise ValueError(f"OrtModule runs on ONNX Runtime's providers, not torch devices; got device {device!r}")
        return self

    def __repr__(self) -> str:
        return (f"OrtModule({str(self.path)!r}, input={self.input_name}{self.input_shape}, "
                f"outputs={self.output_names}, providers={self.session.get_providers()})")

    # -- inference ------------------------------------------------------------------------------------------
    def _as_array(self, x: Any) -> tuple[np.ndarray, bool]:
        tensor_type = _torch_tensor_type()
        is_torch = tensor_type is not None and isinstance(x, tensor_type)
        if is_torch:
            arr = x.detach().to("cpu").float().contiguous().numpy()
        elif isinstance(x, np.ndarray):
            if not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"input must be a float32 (B, C, H, W) array, got dtype {x.dtype}")
            arr = np.ascontiguousarray(x, np.float32)
        else:
            raise TypeError(f"input must be a torch tensor or a NumPy array, got {type(x).__name__}")
        if arr.ndim != 4:
            raise ValueError(f"input must have shape (B, C, H, W), got {arr.shape}")
        for axis, (want, got) in enumerate(zip(self.input_shape, arr.shape)):
            if want is not None and want != got:
                if axis == 0:
                    raise ValueError(f"{self.path.name} was exported with a fixed batch of {want}, got a batch of "
                                     f"{got}; export with dynamic_batch=True (posekit export --dynamic-batch)")
                want = ", ".join("B" if d is None else str(d) for d in self.input_shape)
                raise ValueError(f"input must have shape ({want}), got {arr.shape}")
        return arr, is_torch

    def __call__(self, x: Any) -> Any:
        arr, is_torch = self._as_array(x)
        outs = self.session.run(None, {self.input_name: arr})
        if is_torch:
            import torch

            outs = [torch.from_numpy(np.ascontiguousarray(o)) for o in outs]
        return tuple(outs) if self.returns_tuple else outs[0]
