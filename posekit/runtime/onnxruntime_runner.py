"""The ONNX Runtime back end: :class:`OrtRunner` runs an ``.onnx`` file as a
:class:`~posekit.runtime.runner.Runner` (NumPy in, NumPy out).

Its factory (:func:`make_onnxruntime_runner`, ``backend="onnxruntime"`` of :func:`~posekit.runtime.runner.make_runner`)
also takes a torch module: the module is exported once (dynamic batch, verified against PyTorch) into
``<cache>/onnx/<name>-<fingerprint>-opset<opset>.onnx`` (:func:`posekit.runtime.onnx_files.cached_export`; the
fingerprint hashes the weights, so changed weights give a new file instead of a stale one) and that file runs.

No torch operation runs on this path (this module does not import torch; only the export step does): a torch op
between two ONNX Runtime calls wakes torch's OpenMP threads, which then spin on the cores ONNX Runtime's threads
need (measured on 2 cores: the BlazePose pipeline took 70 ms per image instead of 26).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.runtime._ort_session import ensure_shared_pool, open_session
from posekit.runtime.onnx_files import cached_export
from posekit.runtime.runner import InputSpec
from posekit.runtime.threads import configured_threads

__all__ = ["OrtRunner", "open_session", "check_options", "make_onnxruntime_runner"]

#: ONNX tensor element types -> NumPy dtypes (the input types a posekit runner can be fed)
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
                "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32,
                "tensor(int64)": np.int64}


class OrtRunner:
    """An ONNX Runtime session as a :class:`~posekit.runtime.runner.Runner`.

    Args:
        path: an ``.onnx`` file with one input (e.g. from :func:`posekit.runtime.onnx_export.export_onnx`: NCHW
            float32).
        providers: ONNX Runtime execution providers, in preference order (default ``("CPUExecutionProvider",)``).
        intra_op_num_threads: threads inside one operator (None: the count of
            :func:`posekit.runtime.threads.configure_threads` if it was called, else ONNX Runtime's default, all
            cores).
        inter_op_num_threads: threads across operators (None: ONNX Runtime's default).
        shared_threads: run on ONNX Runtime's process-wide thread pool instead of a pool of this session's own,
            so that a pipeline's networks (e.g. a detector and a landmark model called one after the other) do not
            keep two pools whose idle threads spin against each other (BlazePose on 2 cores: 24 ms per image
            instead of 38). The process-wide pool is created by the first such session with
            ``intra_op_num_threads`` threads (ONNX Runtime's default when None); later ones share it as it is.
            Once it exists ONNX Runtime runs every later session of the process on it (their own
            ``intra_op_num_threads`` no longer applies).
        batch_size: at most this many items per session run (None: the whole batch at once).

    Call: ``runner(batch)`` with ``batch`` as :attr:`input_spec` says (from the file: its input name, layout from
    the ``posekit.input_layout`` metadata (NCHW by default), dtype, and shape with None for symbolic axes; any
    strides); returns the outputs as a tuple of float32 arrays in the file's output order.

    Attributes: ``path``, ``input_spec``, ``output_names``, ``returns_tuple`` (the exported module returned a
    tuple, per the ``posekit.output_is_tuple`` metadata), ``metadata``, ``session``.
    """

    def __init__(self, path: str | os.PathLike[str], *, providers: Sequence[str] | None = None,
                 intra_op_num_threads: int | None = None, inter_op_num_threads: int | None = None,
                 shared_threads: bool = False, batch_size: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file {self.path} does not exist")
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
        self.batch_size = None if batch_size is None else int(batch_size)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if intra_op_num_threads is None:
            intra_op_num_threads = configured_threads()  # posekit.runtime.threads.configure_threads, if called
        for name, value in (("intra_op_num_threads", intra_op_num_threads),
                            ("inter_op_num_threads", inter_op_num_threads)):
            if value is not None:
                if int(value) < 0:
                    raise ValueError(f"{name} must be >= 0 (0 = ONNX Runtime's default), got {value}")
                if not shared_threads:  # the shared pool's size is set once, below
                    setattr(opts, name, int(value))
        if shared_threads:
            ensure_shared_pool(ort, intra_op_num_threads)
            opts.use_per_session_threads = False
        providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        missing = [p for p in providers if p not in ort.get_available_providers()]
        if missing:
            raise ValueError(f"ONNX Runtime providers {missing} are not available here "
                             f"(available: {ort.get_available_providers()})")
        self.session = open_session(self.path, opts, providers)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{self.path} has {len(inputs)} inputs; OrtRunner runs graphs with one input")
        meta = self.session.get_modelmeta().custom_metadata_map
        layout = meta.get("posekit.input_layout", "NCHW")
        shape = tuple(d if isinstance(d, int) and d > 0 else None for d in inputs[0].shape)
        if len(shape) != len(layout):
            raise ValueError(f"{self.path} input {inputs[0].name!r} has rank {len(shape)}, expected 4 "
                             f"({', '.join(layout)})")
        if inputs[0].type not in _ONNX_DTYPES:
            raise ValueError(f"{self.path} input {inputs[0].name!r} has type {inputs[0].type}, which OrtRunner "
                             f"does not feed (one of {', '.join(_ONNX_DTYPES)})")
        self.input_spec = InputSpec(shape=shape, layout=layout, dtype=_ONNX_DTYPES[inputs[0].type],
                                    name=inputs[0].name)
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        flag = meta.get("posekit.output_is_tuple")
        self.returns_tuple = (len(self.output_names) > 1) if flag is None else flag == "1"
        self.metadata = dict(meta)

    def __repr__(self) -> str:
        providers = self.session.get_providers() if self.session is not None else "closed"
        return (f"OrtRunner({str(self.path)!r}, input={self.input_spec.describe()}, outputs={self.output_names}, "
                f"providers={providers})")

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.session is None:
            raise RuntimeError(f"OrtRunner({self.path.name}) is closed")
        want = self.input_spec.shape[0]
        if isinstance(batch, np.ndarray) and batch.ndim == len(self.input_spec.shape) and want is not None \
                and batch.shape[0] != want:
            raise ValueError(f"{self.path.name} was exported with a fixed batch of {want}, got a batch of "
                             f"{batch.shape[0]}; export with dynamic_batch=True (posekit export --dynamic-batch)")
        x = np.ascontiguousarray(self.input_spec.check(batch, what=f"OrtRunner({self.path.name})"))
        step = self.batch_size or len(x)
        if len(x) <= step:
            return self._run(x)
        parts = [self._run(x[i:i + step]) for i in range(0, len(x), step)]
        return tuple(np.concatenate(p) for p in zip(*parts))

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        outs = self.session.run(None, {self.input_spec.name: x})
        return tuple(np.asarray(o, np.float32) for o in outs)

    def close(self) -> None:
        """Release the session (later calls raise ``RuntimeError``)."""
        self.session = None


def check_options(options: Any) -> None:
    """Refuse torch engine options: ONNX Runtime runs the exported float32 graph on its providers."""
    device = str(getattr(options, "device", "cpu"))
    if device != "cpu":
        raise ValueError(f"backend='onnxruntime' runs on ONNX Runtime providers, not torch devices (got "
                         f"device={device!r}); pass providers=['CUDAExecutionProvider', ...] instead")
    for key, neutral in (("precision", "fp32"), ("compile", False), ("channels_last", None)):
        value = getattr(options, key, neutral)
        if value != neutral:
            raise ValueError(f"{key}={value!r} is a torch backend option; ONNX Runtime runs the exported float32 "
                             "graph")


def make_onnxruntime_runner(network: Any, *, options: Any = None, input_spec: InputSpec, name: str | None = None,
                            metadata: Mapping[str, str] | None = None, output_names: tuple[str, ...] | None = None,
                            folder: str | os.PathLike[str] | None = None, opset: int = 17,
                            providers: Sequence[str] | None = None, intra_op_num_threads: int | None = None,
                            inter_op_num_threads: int | None = None, shared_threads: bool = True) -> OrtRunner:
    """The ``"onnxruntime"`` factory of :func:`posekit.runtime.runner.make_runner`.

    ``network``: an ``.onnx`` path, or a torch module exported on first use into ``folder`` (default
    ``<cache>/onnx``) as ``<name>-<fingerprint>-opset<opset>.onnx`` with ``metadata`` and ``output_names``
    (:func:`posekit.runtime.onnx_files.cached_export`). ``options``: only their ``batch_size`` applies (torch
    settings are refused by :func:`check_options`). ``providers``, ``intra_op_num_threads``,
    ``inter_op_num_threads`` and ``shared_threads`` (default on: a pipeline's networks share one pool) go to
    :class:`OrtRunner`.
    """
    if options is not None:
        check_options(options)
    if isinstance(network, (str, os.PathLike)):
        path = Path(network)
    elif callable(getattr(network, "state_dict", None)):  # a torch module: export it once
        path = cached_export(network, name=name, input_spec=input_spec, folder=folder, opset=opset,
                             output_names=output_names, metadata=metadata)
    else:
        raise TypeError(f"backend 'onnxruntime' runs an .onnx file or exports a torch module, got "
                        f"{type(network).__name__}")
    return OrtRunner(path, providers=providers, intra_op_num_threads=intra_op_num_threads,
                     inter_op_num_threads=inter_op_num_threads, shared_threads=shared_threads,
                     batch_size=getattr(options, "batch_size", None))
