"""One interface for every inference back end: a :class:`Runner` takes a NumPy batch and returns NumPy outputs.

A runner runs one network. ``runner(batch)`` takes a NumPy array as its :class:`InputSpec` describes it (layout,
dtype, shape; any strides) and returns the network's outputs as a tuple of float32 NumPy arrays, batch first, in
the network's output order. How (device, precision, threads, files) is the runner's business: the pipelines and
detectors hold runners and never know which back end runs them.

:func:`make_runner` builds one from a network (a torch module, or a file the back end reads) and a back-end name.
:data:`_FACTORIES` below is the one place that maps a back-end name to code: a back end is one module with a
factory function ``(network, *, options, input_spec, name, metadata, output_names, **own_options) -> Runner``
(and, optionally, ``check_options(options)`` to refuse settings it cannot honour before anything is loaded), plus
its line in that table. Back ends: ``"torch"`` (:mod:`posekit.runtime.torch_runner`) and ``"onnxruntime"``
(:mod:`posekit.runtime.onnxruntime_runner`).

This module imports NumPy only; each back end is imported when it is first used.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["LAYOUTS", "BACKENDS", "InputSpec", "Runner", "make_runner", "check_backend", "check_options",
           "backend_option_names", "split_backend_options", "close_runner"]

#: the accepted :attr:`InputSpec.layout` values (batch, channels, height, width in the order they are stored)
LAYOUTS = ("NCHW", "NHWC")

#: back-end name -> ``"module:factory"``; a new back end is one new module and one line here
_FACTORIES: Mapping[str, str] = MappingProxyType({
    "torch": "posekit.runtime.torch_runner:make_torch_runner",
    "onnxruntime": "posekit.runtime.onnxruntime_runner:make_onnxruntime_runner",
})

#: the back-end names :func:`make_runner` accepts
BACKENDS: tuple[str, ...] = tuple(_FACTORIES)

#: keywords :func:`make_runner` hands every factory (not back-end options)
_COMMON = frozenset({"options", "input_spec", "name", "metadata", "output_names"})


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """The one input a runner takes.

    Attributes:
        shape: the input's shape in ``layout`` order, ``None`` for a free axis (the batch, usually):
            ``(None, 3, 256, 192)`` for an NCHW top-down input.
        layout: ``"NCHW"`` or ``"NHWC"``.
        dtype: the NumPy dtype (``float32`` for posekit's networks).
        name: the input's name (an ONNX graph's input name; informational for torch).
    """

    shape: tuple[int | None, ...]
    layout: str = "NCHW"
    dtype: Any = np.float32
    name: str = "input"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        shape = tuple(self.shape)
        if len(shape) != len(self.layout) or not all(
                d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0) for d in shape):
            raise ValueError(f"shape must hold {len(self.layout)} positive ints or None ({self.layout}), "
                             f"got {self.shape!r}")
        object.__setattr__(self, "shape", tuple(None if d is None else int(d) for d in shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @classmethod
    def image(cls, channels: int, height: int, width: int, *, layout: str = "NCHW", dtype: Any = np.float32,
              name: str = "input") -> InputSpec:
        """A batch of ``height`` x ``width`` images with ``channels`` channels, any batch size."""
        shape = (None, channels, height, width) if layout == "NCHW" else (None, height, width, channels)
        return cls(shape=shape, layout=layout, dtype=dtype, name=name)

    def _axis(self, letter: str) -> int | None:
        return self.shape[self.layout.index(letter)]

    @property
    def channels(self) -> int | None:
        return self._axis("C")

    @property
    def height(self) -> int | None:
        return self._axis("H")

    @property
    def width(self) -> int | None:
        return self._axis("W")

    def describe(self) -> str:
        """``(B, 3, 256, 192) float32 NCHW``."""
        dims = ", ".join("B" if i == 0 and d is None else ("?" if d is None else str(d))
                         for i, d in enumerate(self.shape))
        return f"({dims}) {self.dtype} {self.layout}"

    def from_nhwc(self, batch: np.ndarray) -> np.ndarray:
        """``batch`` (B, H, W, C) in this spec's layout: itself for NHWC, a transposed view (no copy) for NCHW."""
        return batch if self.layout == "NHWC" else batch.transpose(0, 3, 1, 2)

    def check(self, batch: Any, *, what: str = "runner") -> np.ndarray:
        """``batch`` when it matches this spec; else ``TypeError`` / ``ValueError`` naming the problem: not an
        array, wrong rank, the other layout, wrong shape, wrong dtype."""
        if not isinstance(batch, np.ndarray):
            raise TypeError(f"{what} input {self.name!r} must be a NumPy array {self.describe()}, "
                            f"got {type(batch).__name__}")
        if batch.ndim != len(self.shape):
            raise ValueError(f"{what} input {self.name!r} must have shape {self.describe()}, got {batch.ndim} "
                             f"dimension(s): {batch.shape}")
        if not self._fits(batch.shape, self.shape):
            other = "NHWC" if self.layout == "NCHW" else "NCHW"
            swapped = tuple(self.shape[self.layout.index(c)] for c in other)
            if self._fits(batch.shape, swapped):
                raise ValueError(f"{what} input {self.name!r} has layout {other} {batch.shape}, but this runner "
                                 f"takes {self.describe()}: transpose it (InputSpec.from_nhwc)")
            raise ValueError(f"{what} input {self.name!r} must have shape {self.describe()}, got {batch.shape}")
        if batch.dtype != self.dtype:
            raise ValueError(f"{what} input {self.name!r} must have dtype {self.dtype}, got dtype {batch.dtype}")
        return batch

    def compatible(self, other: InputSpec) -> bool:
        """Same layout and dtype, and equal sizes wherever both give one."""
        return (self.layout == other.layout and self.dtype == other.dtype
                and all(a is None or b is None or a == b for a, b in zip(self.shape, other.shape)))

    @staticmethod
    def _fits(shape: tuple[int, ...], spec: tuple[int | None, ...]) -> bool:
        return len(shape) == len(spec) and all(s is None or d == s for d, s in zip(shape, spec))


@runtime_checkable
class Runner(Protocol):
    """Runs one network: ``runner(batch) -> outputs``.

    ``batch`` matches :attr:`input_spec` (checked: a clear ``ValueError`` otherwise); the outputs are float32 NumPy
    arrays, batch first, in the network's output order (a 1-tuple for a single output). Runners may split a
    batch into several network calls (``EngineOptions.batch_size``); the result is the same. An optional
    ``close()`` releases what the runner holds (see :func:`close_runner`).
    """

    input_spec: InputSpec

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]: ...


def check_backend(backend: str) -> str:
    """``backend`` if it names a back end, else ``ValueError`` listing them."""
    if backend not in _FACTORIES:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def _module(backend: str) -> Any:
    return importlib.import_module(_FACTORIES[check_backend(backend)].split(":")[0])


def _factory(backend: str) -> Callable[..., Runner]:
    return getattr(_module(backend), _FACTORIES[backend].split(":")[1])


def check_options(backend: str, options: Any) -> None:
    """Refuse, before anything is loaded, engine options (:class:`~posekit.runtime.torch_runner.EngineOptions`)
    that ``backend`` cannot honour (e.g. ONNX Runtime runs the exported float32 graph: no ``precision="bf16"``)."""
    check = getattr(_module(backend), "check_options", None)
    if check is not None and options is not None:
        check(options)


def backend_option_names(backend: str) -> frozenset[str]:
    """The keywords of ``backend``'s own options (those of its factory beyond :func:`make_runner`'s)."""
    params = inspect.signature(_factory(backend)).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY) - _COMMON


def split_backend_options(backend: str, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(backend options, the rest)`` of ``kwargs``: builders pass the first to :func:`make_runner` and the rest
    to their estimator."""
    names = backend_option_names(backend)
    return ({k: v for k, v in kwargs.items() if k in names}, {k: v for k, v in kwargs.items() if k not in names})


def make_runner(network: Any, *, backend: str = "torch", options: Any = None, input_spec: InputSpec,
                name: str | None = None, metadata: Mapping[str, str] | None = None,
                output_names: tuple[str, ...] | None = None, **backend_options: Any) -> Runner:
    """A :class:`Runner` for ``network`` on ``backend``.

    Args:
        network: what the back end runs: a torch module (both back ends; ONNX Runtime exports it once, cached by a
            fingerprint of its weights), a file the back end reads (an ``.onnx`` file for ``"onnxruntime"``), or a
            ready :class:`Runner`, returned as it is (it keeps its own options) once its input spec is checked.
        backend: a name in :data:`BACKENDS`.
        options: :class:`~posekit.runtime.torch_runner.EngineOptions` (device, precision, memory format, compile,
            batch size); back ends refuse settings they cannot honour. ``None``: the defaults.
        input_spec: what the caller will feed; the runner's own spec must agree with it.
        name, metadata, output_names: describe the network (file names, ONNX metadata and output names where a
            back end writes a file; ignored otherwise).
        backend_options: the back end's own settings (e.g. ``intra_op_num_threads`` for ONNX Runtime);
            ``TypeError`` for a keyword the back end does not take.
    """
    if isinstance(network, Runner):
        if backend_options:
            raise TypeError(f"{type(network).__name__} is a ready runner: options {sorted(backend_options)} "
                            "belong to the runner's construction")
        _check_spec(network, input_spec)
        return network
    factory = _factory(backend)
    unknown = set(backend_options) - backend_option_names(backend)
    if unknown:
        owners = {k: [b for b in BACKENDS if b != backend and k in backend_option_names(b)] for k in unknown}
        detail = "; ".join(f"{k!r}" + (f" is an option of backend {', '.join(map(repr, v))}" if v else "")
                           for k, v in sorted(owners.items()))
        raise TypeError(f"unexpected option(s) for backend {backend!r}: {detail} (its options: "
                        f"{', '.join(sorted(backend_option_names(backend))) or 'none'})")
    runner = factory(network, options=options, input_spec=input_spec, name=name, metadata=metadata,
                     output_names=output_names, **backend_options)
    _check_spec(runner, input_spec)
    return runner


def _check_spec(runner: Runner, wanted: InputSpec) -> None:
    if not runner.input_spec.compatible(wanted):
        raise ValueError(f"{type(runner).__name__} takes {runner.input_spec.describe()}, but the caller feeds "
                         f"{wanted.describe()}")


def close_runner(runner: Any) -> None:
    """``runner.close()`` when the runner has one."""
    close = getattr(runner, "close", None)
    if callable(close):
        close()
