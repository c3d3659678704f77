"""Inference engine options shared by the pipelines: device, precision, ``torch.compile``, memory format, batch size.

:class:`EngineOptions` says how a network runs; :func:`prepare_module` puts a module on its device and memory
format (and compiles it when asked); :func:`autocast` is the precision context for the forward pass;
:func:`as_input` gives an (N, C, H, W) input the memory format the module expects. Pipelines return float32
whatever the precision.

Precisions (mixed precision through :func:`torch.autocast`: weights stay float32, matrix products and
convolutions run in the lower precision):

* ``"fp32"``: no autocast (the reference; parity tests run here).
* ``"bf16"``: bfloat16 autocast on CPU and CUDA. Roughly halves ViT time on a CPU with AVX-512 BF16.
  Keypoints move less than 0.5 px against fp32 on the parity fixtures (``tests/pipelines/test_precision.py``);
  the MediaPipe pose *detector* is the exception and keeps fp32 (see :mod:`posekit.pipelines.mediapipe`).
* ``"fp16"``: float16 autocast, CUDA only (CPU float16 kernels are slow and not checked).

``channels_last`` (NHWC memory format) defaults to ``None`` = automatic: on for CPU when convolution weights hold
most of the module's parameters (HRNet, ResNet, CSPNeXt; not ViT), off otherwise. The MediaPipe pipelines
turn it on for CPU modules (their depthwise convolutions are ~2x faster in NHWC; the landmark model moves by
<= 0.002 px, see :class:`posekit.pipelines.mediapipe.MediaPipeLandmarkEstimator`).

:func:`forward_nhwc` runs a network on an NHWC image batch on either backend: a torch module, or an ONNX Runtime
session (:class:`posekit.export.ort_backend.OrtModule`), which it feeds NumPy arrays only.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["PRECISIONS", "EngineOptions", "prepare_module", "autocast", "as_input", "uses_channels_last",
           "forward_nhwc", "onnx_runtime_module"]

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


def onnx_runtime_module(module: Any) -> Any:
    """The :class:`~posekit.export.ort_backend.OrtModule` that runs ``module`` (itself, or the one inside an
    ``OrtTorchModule`` adapter), else None."""
    from posekit.export.ort_backend import OrtModule

    for candidate in (module, getattr(module, "ort", None)):
        if isinstance(candidate, OrtModule):
            return candidate
    return None


def forward_nhwc(module: Any, batch: np.ndarray, options: EngineOptions, *, scale: float | None = None
                 ) -> list[np.ndarray]:
    """Run a network on an image batch; its outputs as float32 NumPy arrays (batch first, the module's order).

    Args:
        module: a prepared torch module (:func:`prepare_module`) or callable taking (B, C, H, W) float32 tensors,
            or an ONNX Runtime network (:class:`~posekit.export.ort_backend.OrtModule`, alone or inside an
            ``OrtTorchModule``).
        batch: (B, H, W, C) uint8 or float32 pixels (NHWC, as OpenCV produces crops); not modified.
        options: device, precision and memory format of the torch path.
        scale: multiplies the float32 input (e.g. ``1/255``), in float32 arithmetic on both paths.

    ONNX Runtime networks get a NumPy NCHW float32 array and no torch operation runs on their path: a torch op
    between two ONNX Runtime calls wakes torch's OpenMP threads, which then spin on the same cores as ONNX
    Runtime's threads (measured on 2 cores: the BlazePose pipeline took 70 ms per image instead of 26).
    """
    ort = onnx_runtime_module(module)
    if ort is not None:
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        if scale is not None:
            x *= np.float32(scale)
        out = ort(x)
        return [np.asarray(o, np.float32) for o in (out if isinstance(out, (tuple, list)) else [out])]
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(options.torch_device).permute(0, 3, 1, 2)
        x = as_input(x, bool(options.channels_last)).float()
        if scale is not None:
            x = x * np.float32(scale)
        with autocast(options):
            out = module(x)
        out = [out] if isinstance(out, torch.Tensor) else list(out)
        return [o.detach().float().cpu().numpy() for o in out]
