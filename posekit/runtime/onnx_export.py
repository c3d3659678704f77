"""Export a posekit network (any ``nn.Module`` the zoo builds) to ONNX and verify it in ONNX Runtime.

:func:`export_onnx` traces the module with PyTorch's TorchScript-based exporter (``torch.onnx.export(...,
dynamo=False)``, which needs no ``onnxscript``), writes the file into a temporary folder next to its destination,
runs it in ONNX Runtime on random and caller-given inputs, compares every output with PyTorch
(:func:`verify_onnx`), and only then renames it into place (``os.replace``: a failed or interrupted export never
leaves a file under the final name).

Error measure (per output): ``max |ort - torch| / max(1, max |torch|)``, i.e. relative to the largest reference
magnitude, absolute for outputs below 1 in magnitude (probabilities, tiny sigmoid outputs). An output passes when
this is at most ``rtol`` (1e-4). Some outputs are ill-conditioned in float32: BlazePose's segmentation logits reach
~1600 and two float32 PyTorch runs that only order their sums differently (NCHW vs channels_last memory format)
differ by ~5e-4 relative. For an output above ``rtol`` the module is run again in channels_last (same float32
maths, other kernels), and the output passes when the ONNX Runtime error is at most 4 x that PyTorch-vs-PyTorch
difference: the export is then as exact as PyTorch itself is. (A float64 reference would be cleaner but costs
~60 s per batch for the BlazePose landmark model on 2 CPU cores.) Both figures are reported in :class:`OnnxCheck`.

The file carries metadata (``metadata_props``): ``posekit.output_is_tuple`` (``"1"`` when the module returns a
tuple; :class:`posekit.runtime.onnxruntime_runner.OrtRunner` reports it as ``returns_tuple``), ``posekit.input_layout``
(``"NCHW"``, the layout of :attr:`OrtRunner.input_spec <posekit.runtime.onnxruntime_runner.OrtRunner.input_spec>`)
and whatever the caller adds with ``metadata=``.

Files by name and cached: :mod:`posekit.runtime.onnx_files`.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.runtime._ort_session import open_session

__all__ = ["OnnxCheck", "OnnxVerificationError", "export_onnx", "verify_onnx"]

_F = np.float32


class OnnxVerificationError(RuntimeError):
    """ONNX Runtime's outputs differ from PyTorch's beyond the tolerance (the message names the output, the input
    and the error)."""


@dataclass(frozen=True)
class OnnxCheck:
    """One comparison of ONNX Runtime with PyTorch on one input batch.

    Attributes:
        input: what was fed: ``"uniform[0,1)"``, ``"normal(0,1)"`` or ``"check_inputs[i]"``.
        batch: its batch size.
        output_names: the ONNX output names, in order.
        errors: per output, ``max |ort - torch| / max(1, max |torch|)``.
        torch_noise: per output, the same measure between PyTorch's NCHW and channels_last runs (float32 rounding
            of PyTorch itself), or None where it was not needed (error within ``rtol``).
        passed: per output, ``error <= rtol`` or ``error <= 4 * torch_noise``.
    """

    input: str
    batch: int
    output_names: tuple[str, ...]
    errors: tuple[float, ...]
    torch_noise: tuple[float | None, ...]
    passed: tuple[bool, ...]

    @property
    def ok(self) -> bool:
        return all(self.passed)

    @property
    def max_error(self) -> float:
        return max(self.errors, default=0.0)


def _flatten(out: Any, what: str) -> tuple[list[torch.Tensor], bool]:
    """Module output -> (list of tensors, whether it was a tuple/list)."""
    if isinstance(out, torch.Tensor):
        return [out], False
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, torch.Tensor) for o in out):
        return list(out), True
    raise TypeError(f"{what} must return a tensor or a tuple of tensors to be exported to ONNX, "
                    f"got {type(out).__name__}")


def _check_shape(input_shape: Sequence[int]) -> tuple[int, int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in shape):
        raise ValueError(f"input_shape must be (B, C, H, W) positive ints, got {input_shape!r}")
    return tuple(int(v) for v in shape)  # type: ignore[return-value]


def _output_names(model: torch.nn.Module, n: int, input_name: str, given: Sequence[str] | None) -> tuple[str, ...]:
    if given is not None:
        names = tuple(str(v) for v in given)
        if len(names) != n:
            raise ValueError(f"output_names must name the module's {n} output(s), got {len(names)}: {names}")
        if len(set(names)) != n or input_name in names:
            raise ValueError(f"output_names must be unique and differ from input_name {input_name!r}, got {names}")
        return names
    own = getattr(model, "output_names", None)  # TFLite graphs carry their tensor names
    if isinstance(own, (tuple, list)) and len(own) == n and all(isinstance(v, str) and v for v in own) \
            and len(set(own)) == n and input_name not in own:
        return tuple(own)
    return ("output",) if n == 1 else tuple(f"output_{i}" for i in range(n))


def _check_inputs(inputs: Sequence[Any], shape: tuple[int, int, int, int], dynamic: bool) -> list[np.ndarray]:
    out = []
    for i, x in enumerate(inputs):
        a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if a.ndim != 4 or a.shape[1:] != shape[1:] or (not dynamic and a.shape[0] != shape[0]):
            want = f"(B, {shape[1]}, {shape[2]}, {shape[3]})" if dynamic else str(shape)
            raise ValueError(f"check_inputs[{i}] must have shape {want} (NCHW), got {a.shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"check_inputs[{i}] must be a float array (NCHW float32), got dtype {a.dtype}")
        out.append(np.ascontiguousarray(a, _F))
    return out


def _err(a: np.ndarray, ref: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    return float(np.abs(a.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0)) / scale


def _run_torch(model: torch.nn.Module, x: np.ndarray, *, channels_last: bool = False) -> list[np.ndarray]:
    t = torch.from_numpy(x)
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out, _ = _flatten(model(t), type(model).__name__)
    return [o.detach().cpu().float().numpy() for o in out]


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return open_session(path, opts, ["CPUExecutionProvider"])


def verify_onnx(
    path: str | os.PathLike[str], model: torch.nn.Module, inputs: Sequence[tuple[str, np.ndarray]], *,
    rtol: float = 1e-4,
) -> tuple[OnnxCheck, ...]:
    """Run the ONNX file in ONNX Runtime (CPU) and ``model`` (on CPU) on each input and compare every output.

    Args:
        path: the ``.onnx`` file (one input, NCHW float32).
        model: the PyTorch module it was exported from (eval mode; not modified; a model off the CPU is compared
            through a CPU copy).
        inputs: ``(label, (B, C, H, W) float32 array)`` pairs.
        rtol: tolerance on the error measure of the module docstring.

    Returns:
        One :class:`OnnxCheck` per input. Raises :class:`OnnxVerificationError` naming the worst failing output
        (its error and PyTorch's own float32 variation) when any output fails.
    """
    sess = _session(Path(path))
    in_name = sess.get_inputs()[0].name
    names = tuple(o.name for o in sess.get_outputs())
    params = list(model.parameters())
    cpu_model = model if all(p.device.type == "cpu" for p in params) else copy.deepcopy(model).cpu()
    checks = []
    for label, x in inputs:
        ort_out = sess.run(None, {in_name: x})
        ref = _run_torch(cpu_model, x)
        if len(ref) != len(ort_out):
            raise OnnxVerificationError(f"{path}: ONNX Runtime returns {len(ort_out)} outputs, PyTorch {len(ref)}")
        errors, noise, passed = [], [], []
        ref_cl = None
        for k, (o, r) in enumerate(zip(ort_out, ref)):
            if o.shape != r.shape:
                raise OnnxVerificationError(f"{path}: output {names[k]!r} on {label} has shape {o.shape} in ONNX "
                                            f"Runtime but {r.shape} in PyTorch")
            e, n = _err(o, r), None
            ok = e <= rtol
            if not ok:
                if ref_cl is None:
                    ref_cl = _run_torch(cpu_model, x, channels_last=True)
                n = _err(ref_cl[k], r)
                ok = e <= 4.0 * n
            errors.append(e)
            noise.append(n)
            passed.append(ok)
        checks.append(OnnxCheck(label, int(x.shape[0]), names, tuple(errors), tuple(noise), tuple(passed)))
    bad = [(c.errors[k], c, k) for c in checks for k in range(len(names)) if not c.passed[k]]
    if bad:
        e, c, k = max(bad, key=lambda t: t[0])
        raise OnnxVerificationError(
            f"{path}: ONNX Runtime differs from PyTorch on output {names[k]!r} for input {c.input} (batch {c.batch}):"
            f" max error {e:.3g} relative to max(1, max|ref|) > {rtol:g} (PyTorch's own float32 variation "
            f"{c.torch_noise[k]:.3g}); {len(bad)} output check(s) failed")
    return tuple(checks)


def _random_inputs(shape: tuple[int, int, int, int], dynamic: bool, seed: int,
                   value_range: tuple[float, float] | None = None) -> list[tuple[str, np.ndarray]]:
    """Uniform [0, 1) and standard normal inputs; with a ``value_range`` (lo, hi) uniform in it and normal with mean
    (lo + hi) / 2 and deviation (hi - lo) / 4 (a network of raw pixel values gets inputs of its own domain)."""
    rng = np.random.default_rng(seed)
    b = shape[0]
    other = b + 3 if dynamic else b  # a second batch size proves the batch axis is really dynamic
    if value_range is None:
        return [("uniform[0,1)", rng.random(shape, dtype=_F)),
                ("normal(0,1)", rng.standard_normal((other, *shape[1:]), dtype=_F))]
    lo, hi = (float(v) for v in value_range)
    mid, dev = (lo + hi) / 2, (hi - lo) / 4
    return [(f"uniform[{lo:g},{hi:g})", (lo + (hi - lo) * rng.random(shape)).astype(_F)),
            (f"normal({mid:g},{dev:g})", (mid + dev * rng.standard_normal((other, *shape[1:]))).astype(_F))]


def export_onnx(
    model: torch.nn.Module, path: str | os.PathLike[str], *, input_shape: Sequence[int], dynamic_batch: bool = False,
    opset: int = 17, input_name: str = "input", output_names: Sequence[str] | None = None,
    check_inputs: Sequence[Any] = (), rtol: float = 1e-4, metadata: Mapping[str, str] | None = None,
    seed: int = 0, progress: Callable[[str], None] | None = None,
) -> Path:
    """Export ``model`` to ONNX at ``path``, verified against PyTorch in ONNX Runtime before it is written.

    Args:
        model: an ``nn.Module`` in eval mode taking one ``(B, C, H, W)`` float32 tensor and returning a tensor or
            a tuple of tensors (e.g. a :class:`~posekit.models.topdown.TopdownModel`, a converted MediaPipe
            TFLite graph). Not modified.
        path: destination, must end in ``.onnx``; its folder is created. Models over 2 GB get their weights in
            ``<path>.data`` next to it (ONNX external data), written before the ``.onnx`` file.
        input_shape: ``(B, C, H, W)`` of the traced input (the batch is fixed to B unless ``dynamic_batch``).
        dynamic_batch: make axis 0 of the input and of every output symbolic (``"batch"``).
        opset: ONNX opset version.
        input_name, output_names: graph names (default outputs: the module's ``output_names`` attribute when it
            has one, e.g. TFLite tensor names, else ``output`` / ``output_0``, ``output_1``, ...).
        check_inputs: real inputs to verify on besides the random ones: ``(B', C, H, W)`` float arrays or tensors
            in the module's input range (``B' = B`` unless ``dynamic_batch``).
        rtol: verification tolerance (see :func:`verify_onnx` and the module docstring).
        metadata: extra ``metadata_props`` (str -> str) stored in the file.
        seed: seed of the random verification inputs (uniform in [0, 1) and standard normal; for a module with an
            ``input_range = (lo, hi)`` attribute, e.g. YOLOX's raw 0-255 pixels, uniform in it and normal around
            its middle).
        progress: called with a one-line summary (export time, worst error) when given.

    Returns:
        ``path`` as a :class:`~pathlib.Path`. Raises ``ValueError`` for bad arguments, ``TypeError`` for a module
        that does not return tensors, and :class:`OnnxVerificationError` (with the max error) when ONNX Runtime
        disagrees with PyTorch; nothing is written then.
    """
    import onnx

    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"path must end in .onnx, got {str(path)!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError(f"model ({type(model).__name__}) is in training mode; call model.eval() before exporting")
    shape = _check_shape(input_shape)
    if not isinstance(opset, int) or not 7 <= opset <= 25:
        raise ValueError(f"opset must be an int in [7, 25], got {opset!r}")
    extra = _check_inputs(check_inputs, shape, dynamic_batch)
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    example = torch.zeros(shape, dtype=torch.float32, device=device)
    with torch.inference_mode():
        outs, is_tuple = _flatten(model(example), type(model).__name__)
    names = _output_names(model, len(outs), input_name, output_names)
    axes = {n: {0: "batch"} for n in (input_name, *names)} if dynamic_batch else None

    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        start = time.perf_counter()
        with warnings.catch_warnings():
            for category in (DeprecationWarning, FutureWarning, torch.jit.TracerWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
            torch.onnx.export(model, (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=[input_name], output_names=list(names), dynamic_axes=axes,
                              do_constant_folding=True)
        seconds = time.perf_counter() - start
        external = len(list(tmpdir.iterdir())) > 1  # the exporter wrote weights beside the graph (> 2 GB)
        proto = onnx.load(str(tmp))
        props = {"posekit.output_is_tuple": "1" if is_tuple else "0", "posekit.input_layout": "NCHW",
                 **{str(k): str(v) for k, v in (metadata or {}).items()}}
        del proto.metadata_props[:]
        for key, value in props.items():
            proto.metadata_props.add(key=key, value=value)
        for f in tmpdir.iterdir():
            f.unlink()
        data_name = path.name + ".data"
        onnx.save_model(proto, str(tmp), save_as_external_data=external, all_tensors_to_one_file=True,
                        location=data_name)
        del proto
        inputs = [*_random_inputs(shape, dynamic_batch, seed, getattr(model, "input_range", None)),
                  *((f"check_inputs[{i}]", a) for i, a in enumerate(extra))]
        try:
            checks = verify_onnx(tmp, model, inputs, rtol=rtol)
        except OnnxVerificationError as err:  # name the destination, not the temporary file
            raise OnnxVerificationError(str(err).replace(str(tmp), str(path)) + "; nothing was written") from None
        if external:
            os.replace(tmpdir / data_name, path.parent / data_name)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if progress is not None:
        strict = [c.errors[k] for c in checks for k in range(len(c.errors)) if c.errors[k] <= rtol]
        loose = sorted({c.output_names[k] for c in checks for k in range(len(c.errors)) if c.errors[k] > rtol})
        note = f"; {', '.join(loose)} within 4 x PyTorch's own float32 variation (NCHW vs channels_last)" if loose \
            else ""
        progress(f"{path}: exported in {seconds:.1f} s (opset {opset}, {'dynamic' if dynamic_batch else 'fixed'} "
                 f"batch); ONNX Runtime vs PyTorch on {len(checks)} inputs: max error {max(strict, default=0):.2g} "
                 f"(relative to max(1, max|ref|); tolerance {rtol:g}){note}")
    return path
