"""The torch back end: :class:`TorchRunner` runs a torch module (or any callable taking NCHW tensors) as a
:class:`~posekit.runtime.runner.Runner`, with the engine options below.

:class:`EngineOptions` says how a network runs; :func:`prepare_module` puts a module on its device and memory
format (and compiles it when asked); :func:`autocast` is the precision context for the forward pass;
:func:`as_input` gives an (N, C, H, W) input the memory format the module expects. Runners return float32
whatever the precision.

Precisions (mixed precision through :func:`torch.autocast`: weights stay float32, matrix products and
convolutions run in the lower precision):

* ``"fp32"``: no autocast (the reference; parity tests run here).
* ``"bf16"``: bfloat16 autocast on CPU and CUDA. Roughly halves ViT time on a CPU with AVX-512 BF16.
  Keypoints move less than 0.5 px against fp32 on the parity fixtures (``tests/pipelines/test_precision.py``);
  the MediaPipe pipelines refuse it (see :mod:`posekit.pipelines.mediapipe`).
* ``"fp16"``: float16 autocast, CUDA only (CPU float16 kernels are slow and not checked).

``channels_last`` (NHWC memory format) defaults to ``None`` = automatic: on for CPU when convolution weights hold
most of the module's parameters (HRNet, ResNet, CSPNeXt and MediaPipe's networks, whose depthwise convolutions
are ~2x faster in NHWC; not ViT), off otherwise.

The runner takes NumPy batches (any strides: a transposed NHWC view arrives with channels_last strides and is
not copied for a channels_last module), runs the module under ``torch.inference_mode`` and its precision, and
returns the outputs as float32 NumPy arrays on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit.runtime.runner import InputSpec

__all__ = ["PRECISIONS", "EngineOptions", "network_device", "prepare_module", "autocast", "as_input",
           "uses_channels_last", "TorchRunner", "make_torch_runner"]

#: the accepted ``precision`` values
PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class EngineOptions:
    """How a network runs.

    Attributes:
        device: torch device string or :class:`torch.device` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).
        precision: ``"fp32"``, ``"bf16"`` (autocast, CPU and CUDA) or ``"fp16"`` (autocast, CUDA only).
        compile: wrap the module in :func:`torch.compile` (first call compiles, and each new batch size up to
            the second; on CPU with Inductor's weight freezing, so the module's weights must not change afterwards;
            falls back to eager with a warning when compilation fails).
        channels_last: NHWC memory format for module and inputs; ``None`` = automatic (see
            :func:`uses_channels_last`).
        batch_size: at most this many crops per forward pass (>= 1; ``None`` = all at once).
    """

    device: str | torch.device = "cpu"
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool | None = None
    batch_size: int | None = 32

    def __post_init__(self) -> None:
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda:0', got {self.device!r}") from exc
        object.__setattr__(self, "device", device)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "fp16" and device.type != "cuda":
            raise ValueError(f"precision='fp16' needs a CUDA device, got device={str(device)!r}; "
                             "use precision='bf16' on CPU")
        if self.channels_last is not None and not isinstance(self.channels_last, bool):
            raise TypeError(f"channels_last must be True, False or None (auto), got {self.channels_last!r}")
        if self.batch_size is not None:
            if (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, float))
                    or int(self.batch_size) != self.batch_size or self.batch_size < 1):
                raise ValueError(f"batch_size must be an integer >= 1 or None, got {self.batch_size!r}")
            object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "compile", bool(self.compile))

    @property
    def torch_device(self) -> torch.device:
        """``device`` as a :class:`torch.device`."""
        return torch.device(self.device)

    @classmethod
    def for_network(cls, network: Any, *, device: str | torch.device | None = None, **fields: Any) -> EngineOptions:
        """Options for running ``network``; ``device=None`` means where a torch module's parameters (else buffers)
        live, and CPU for anything else (a callable, a file another back end reads)."""
        return cls(device=network_device(network) if device is None else device, **fields)


def network_device(network: Any) -> torch.device:
    """Where an ``nn.Module``'s parameters (else buffers) live; CPU for anything else."""
    if isinstance(network, torch.nn.Module):
        for t in (*network.parameters(), *network.buffers()):
            return t.device
    return torch.device("cpu")


def _conv_fraction(module: torch.nn.Module) -> float:
    """Fraction of the parameter elements that are (transposed) 2D convolution weights."""
    total = sum(p.numel() for p in module.parameters())
    conv = sum(m.weight.numel() for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and m.weight is not None)
    return conv / total if total else 0.0


def uses_channels_last(module: torch.nn.Module, options: EngineOptions) -> bool:
    """Whether ``module`` runs in channels_last: ``options.channels_last`` when set, else automatic: CPU and
    convolution weights hold more than half of the parameters (measured on CPU: HRNet-W32 and RTMPose-m are faster
    in NHWC; ViT only has its patch embedding as a convolution)."""
    if options.channels_last is not None:
        return options.channels_last
    return options.torch_device.type == "cpu" and _conv_fraction(module) > 0.5


class _CompiledOrEager(torch.nn.Module):
    """``torch.compile(module)`` that falls back to the eager module (with a warning) if compiling fails.

    Compilation happens on the first call (and again for new input shapes); a failure there, e.g. no C++
    compiler for the CPU backend, would otherwise surface as a long backend traceback in the middle of inference.
    """

    def __init__(self, module: torch.nn.Module, **compile_kwargs: Any) -> None:
        super().__init__()
        self.eager = module
        self.compiled = torch.compile(module, **compile_kwargs)
        self.failed: str | None = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.failed is None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (any backend failure: report it, keep running eagerly)
                self.failed = _describe(exc)
                warnings.warn(f"torch.compile failed ({self.failed}); running {type(self.eager).__name__} eagerly",
                              RuntimeWarning, stacklevel=2)
        return self.eager(*args, **kwargs)


def _describe(exc: BaseException) -> str:
    """One line: the exception and, for wrapped backend errors, the root cause."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    root = exc.__cause__ or getattr(exc, "inner_exception", None)
    if root is not None and root is not exc:
        text += f" {type(root).__name__}: {str(root).strip().splitlines()[0] if str(root).strip() else ''}"
    return text


def prepare_module(module: torch.nn.Module, options: EngineOptions) -> torch.nn.Module:
    """``module`` ready to run with ``options``: in eval mode, on ``options.device``, in channels_last when
    :func:`uses_channels_last` says so, and wrapped in :func:`torch.compile` when ``options.compile``.

    The module itself is moved and converted in place (as :meth:`torch.nn.Module.to` does); the return value is
    the module, or a compiling wrapper around it (which falls back to the eager module with a
    :class:`RuntimeWarning` if compilation fails on the first call). Raises ``RuntimeError`` when
    ``torch.compile`` is not available in this Python/PyTorch.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch nn.Module, got {type(module).__name__}")
    channels_last = uses_channels_last(module, options)
    module = module.to(options.torch_device).eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    if not options.compile:
        return module
    # Inductor "freezing" treats the weights as constants: on CPU it pre-packs them for oneDNN and fuses
    # convolution + activation/addition (measured here: BlazePose landmark network 12 ms vs 19 ms eager, the
    # detector 8.8 vs 12 ms; without freezing compiled CPU convolutions were slower than eager).
    inductor = {"freezing": True} if options.torch_device.type == "cpu" else None
    try:
        return _CompiledOrEager(module, dynamic=None, options=inductor)
    except Exception as exc:  # noqa: BLE001 (torch.compile refuses e.g. unsupported Python versions)
        raise RuntimeError(f"torch.compile is not available here ({type(exc).__name__}: {exc}); "
                           "run without compile") from exc


@contextlib.contextmanager
def autocast(options: EngineOptions) -> Iterator[None]:
    """The forward-pass precision context: nothing for fp32, :func:`torch.autocast` with bfloat16 (CPU, CUDA) or
    float16 (CUDA only; ``ValueError`` elsewhere) otherwise."""
    if options.precision == "fp32":
        yield
        return
    device_type = options.torch_device.type
    if options.precision == "fp16" and device_type != "cuda":
        raise ValueError(f"precision='fp16' needs a CUDA device, got {device_type!r}; use precision='bf16'")
    if device_type not in ("cpu", "cuda", "xpu", "mps"):
        raise ValueError(f"precision={options.precision!r} autocast is not supported on device {device_type!r}")
    with torch.autocast(device_type, dtype=_DTYPES[options.precision]):
        yield


def as_input(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """(N, C, H, W) ``x`` in the memory format the module runs in. A permuted NHWC -> NCHW view already has
    channels_last strides and is returned as is; otherwise this copies (``.contiguous``) only when needed."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


class TorchRunner:
    """A torch module as a :class:`~posekit.runtime.runner.Runner`.

    Args:
        module: an ``nn.Module`` (prepared in place by :func:`prepare_module`: eval mode, ``options.device``,
            memory format; wrapped by ``torch.compile`` when asked) or any callable taking an (N, C, H, W) float
            tensor (run as it is: ``compile`` and ``channels_last`` need a module).
        options: :class:`EngineOptions`; ``batch_size`` splits larger batches into several calls.
        input_spec: what callers feed (NCHW, or NHWC which is permuted to NCHW as a view).

    Attributes: ``module`` (as given), ``options``, ``input_spec``, ``device``, ``channels_last`` (the memory
    format the module runs in).
    """

    def __init__(self, module: Any, options: EngineOptions | None = None, input_spec: InputSpec | None = None
                 ) -> None:
        options = EngineOptions() if options is None else options
        if not isinstance(options, EngineOptions):
            raise TypeError(f"options must be EngineOptions, got {type(options).__name__}")
        if not isinstance(input_spec, InputSpec):
            raise TypeError(f"input_spec must be an InputSpec, got {type(input_spec).__name__}")
        is_module = isinstance(module, torch.nn.Module)
        if not callable(module):
            raise TypeError(f"module must be a torch nn.Module or a callable, got {type(module).__name__}")
        if (options.compile or options.channels_last) and not is_module:
            raise ValueError(f"compile and channels_last need an nn.Module, got {type(module).__name__}")
        self.module = module
        self.options = options
        self.input_spec = input_spec
        self.device = options.torch_device
        self.channels_last = uses_channels_last(module, options) if is_module else False
        self._run = prepare_module(module, options) if is_module else module

    def __repr__(self) -> str:
        return (f"TorchRunner({type(self.module).__name__}, device={str(self.device)!r}, "
                f"precision={self.options.precision!r}, channels_last={self.channels_last}, "
                f"compile={self.options.compile}, input={self.input_spec.describe()})")

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        batch = self.input_spec.check(batch, what="TorchRunner")
        step = self.options.batch_size or len(batch)
        if len(batch) <= step:
            return self._forward(batch)
        parts = [self._forward(batch[i:i + step]) for i in range(0, len(batch), step)]
        return tuple(np.concatenate(p) for p in zip(*parts))

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        if not x.flags.writeable or any(s < 0 for s in x.strides):
            x = np.array(x)  # torch.from_numpy takes neither negative strides nor read-only memory
        with torch.inference_mode():
            t = torch.from_numpy(x)
            if self.input_spec.layout == "NHWC":
                t = t.permute(0, 3, 1, 2)
            t = as_input(t.to(self.device), self.channels_last)
            with autocast(self.options):
                out = self._run(t)
            outs = [out] if isinstance(out, torch.Tensor) else list(out)
            return tuple(o.detach().float().cpu().numpy() for o in outs)

    def close(self) -> None:
        """Nothing to release (the module belongs to the caller)."""


def make_torch_runner(network: Any, *, options: EngineOptions | None = None, input_spec: InputSpec,
                      name: str | None = None, metadata: Mapping[str, str] | None = None,
                      output_names: tuple[str, ...] | None = None) -> TorchRunner:
    """The ``"torch"`` factory of :func:`posekit.runtime.runner.make_runner` (``name``, ``metadata`` and
    ``output_names`` describe files other back ends write: unused here)."""
    if isinstance(network, (str, os.PathLike)):
        raise TypeError(f"backend 'torch' runs torch modules, got the path {str(network)!r}; run a file with the "
                        "back end that reads it (backend='onnxruntime' for .onnx)")
    return TorchRunner(network, options, input_spec)
