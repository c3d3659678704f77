"""The runner interface: torch and ONNX Runtime runners on a tiny conv net (same outputs), batch splitting, input
spec validation, and the back-end table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.runtime.runner import (
    BACKENDS, InputSpec, Runner, backend_option_names, check_backend, close_runner, make_runner,
    split_backend_options,
)
from posekit.runtime.torch_runner import EngineOptions, TorchRunner

SPEC = InputSpec.image(3, 16, 12)


class _TwoHeads(torch.nn.Module):
    """A tiny conv net with two outputs (like a SimCC head: a tuple)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        self.a = torch.nn.Conv2d(8, 4, 1)
        self.b = torch.nn.Conv2d(8, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.body(x)
        return self.a(y), self.b(y).flatten(1)


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return _TwoHeads().eval()


def _batch(n: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 16, 12), dtype=np.float32)


class _Counting:
    """A callable network recording the batch size of every call."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net, self.batches = net, []

    def __call__(self, x: torch.Tensor):
        self.batches.append(int(x.shape[0]))
        return self.net(x)


# ------------------------------------------------------------------------------------------------- torch


def test_torch_runner_returns_float32_numpy_in_output_order():
    net = _net()
    runner = make_runner(net, options=EngineOptions(), input_spec=SPEC)
    assert isinstance(runner, TorchRunner) and isinstance(runner, Runner) and runner.input_spec == SPEC
    x = _batch()
    out = runner(x)
    with torch.inference_mode():
        ref = net(torch.from_numpy(x))
    assert isinstance(out, tuple) and len(out) == 2
    for o, r in zip(out, ref):
        assert isinstance(o, np.ndarray) and o.dtype == np.float32 and o.shape == tuple(r.shape)
        np.testing.assert_allclose(o, r.numpy(), rtol=1e-5, atol=1e-6)
    assert runner.channels_last  # auto: a CPU conv net runs in NHWC
    np.testing.assert_array_equal(runner(np.ascontiguousarray(x[:, :, :, ::-1])[:, :, :, ::-1])[0], out[0])


def test_torch_runner_splits_batches_by_batch_size():
    net = _net()
    counting = _Counting(net)
    whole = make_runner(net, options=EngineOptions(batch_size=None), input_spec=SPEC)(_batch(7))
    split = make_runner(counting, options=EngineOptions(batch_size=3), input_spec=SPEC)(_batch(7))
    assert counting.batches == [3, 3, 1]
    for a, b in zip(whole, split):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_torch_runner_takes_an_nhwc_spec_and_views():
    net = _net()
    nhwc = InputSpec.image(3, 16, 12, layout="NHWC")
    x = _batch()
    a = make_runner(net, input_spec=nhwc)(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    b = make_runner(net, input_spec=SPEC)(x)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_torch_runner_refuses_what_a_plain_callable_cannot_do():
    with pytest.raises(ValueError, match="nn.Module"):
        make_runner(lambda t: t, options=EngineOptions(compile=True), input_spec=SPEC)
    with pytest.raises(TypeError, match="backend 'torch' runs torch modules"):
        make_runner("model.onnx", input_spec=SPEC)


# ------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("make, match", [
    (lambda x: x.transpose(0, 2, 3, 1), r"layout NHWC \(5, 16, 12, 3\).*takes \(B, 3, 16, 12\) float32 NCHW"),
    (lambda x: x[:, :, :8], r"must have shape \(B, 3, 16, 12\) float32 NCHW, got \(5, 3, 8, 12\)"),
    (lambda x: x[0], r"must have shape .* got 3 dimension\(s\)"),
    (lambda x: x.astype(np.float64), "must have dtype float32, got dtype float64"),
    (lambda x: (x * 255).astype(np.uint8), "must have dtype float32, got dtype uint8"),
])
def test_input_spec_errors_name_the_problem(make, match):
    runner = make_runner(_net(), input_spec=SPEC)
    with pytest.raises(ValueError, match=match):
        runner(make(_batch()))
    with pytest.raises(TypeError, match="must be a NumPy array"):
        runner(torch.from_numpy(_batch()))


def test_input_spec_basics():
    spec = InputSpec(shape=(None, 3, 256, 192), name="x")
    assert (spec.channels, spec.height, spec.width, spec.dtype) == (3, 256, 192, np.dtype(np.float32))
    assert spec.describe() == "(B, 3, 256, 192) float32 NCHW"
    nhwc = np.zeros((2, 256, 192, 3), np.float32)
    view = spec.from_nhwc(nhwc)
    assert view.shape == (2, 3, 256, 192) and np.shares_memory(view, nhwc)
    assert spec.check(view) is view
    assert spec.compatible(InputSpec(shape=(1, 3, 256, 192))) and not spec.compatible(InputSpec.image(3, 256, 191))
    assert not spec.compatible(InputSpec.image(3, 256, 192, layout="NHWC"))
    with pytest.raises(ValueError, match="layout must be one of NCHW, NHWC"):
        InputSpec(shape=(None, 3, 4, 4), layout="CHW")
    with pytest.raises(ValueError, match="shape must hold 4 positive ints or None"):
        InputSpec(shape=(None, 3, 4))
    with pytest.raises(ValueError, match="takes .* but the caller feeds"):
        make_runner(make_runner(_net(), input_spec=SPEC), input_spec=InputSpec.image(3, 32, 32))


# ----------------------------------------------------------------------------------------- back ends


def test_backend_table_and_options():
    assert BACKENDS == ("torch", "onnxruntime")
    with pytest.raises(ValueError, match="backend must be one of torch, onnxruntime, got 'tensorrt'"):
        check_backend("tensorrt")
    assert backend_option_names("torch") == frozenset()
    assert {"intra_op_num_threads", "providers", "folder", "opset"} <= backend_option_names("onnxruntime")
    mine, rest = split_backend_options("onnxruntime", {"intra_op_num_threads": 2, "flip_test": False})
    assert mine == {"intra_op_num_threads": 2} and rest == {"flip_test": False}
    with pytest.raises(TypeError, match="'intra_op_num_threads' is an option of backend 'onnxruntime'"):
        make_runner(_net(), input_spec=SPEC, intra_op_num_threads=2)
    ready = make_runner(_net(), input_spec=SPEC)
    assert make_runner(ready, backend="onnxruntime", input_spec=SPEC) is ready  # a runner is taken as it is
    close_runner(ready)


@pytest.fixture(scope="module")
def ort_runner(tmp_path_factory):
    pytest.importorskip("onnx", reason="onnx is not installed (the optional `onnx` extra)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the optional `onnx` extra)")
    folder = tmp_path_factory.mktemp("onnx")
    return folder, make_runner(_net(), backend="onnxruntime", options=EngineOptions(batch_size=2), input_spec=SPEC,
                               name="two_heads", folder=folder, intra_op_num_threads=1, shared_threads=False)


def test_onnxruntime_runner_gives_the_torch_runner_outputs(ort_runner):
    from posekit.runtime.onnxruntime_runner import OrtRunner

    folder, ort = ort_runner
    assert isinstance(ort, OrtRunner) and isinstance(ort, Runner)
    assert ort.input_spec.compatible(SPEC) and ort.input_spec.shape[0] is None  # exported with a dynamic batch
    assert ort.path.parent == folder and ort.path.name.startswith("two_heads-") and ort.path.suffix == ".onnx"
    x = _batch(5)
    got, ref = ort(x), make_runner(_net(), input_spec=SPEC)(x)
    assert len(got) == len(ref) == 2
    for g, r in zip(got, ref):
        assert g.dtype == np.float32 and g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=0, atol=1e-5)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ort(ort.input_spec.from_nhwc(nhwc))[1], got[1])  # a strided view is fine
    # the same weights reuse the file; other weights get another one
    again = make_runner(_net(), backend="onnxruntime", input_spec=SPEC, name="two_heads", folder=folder)
    assert again.path == ort.path
    other = _net()
    with torch.no_grad():
        other.a.bias.add_(1.0)
    assert make_runner(other, backend="onnxruntime", input_spec=SPEC, name="two_heads", folder=folder).path != ort.path


def test_onnxruntime_runner_splits_batches_and_validates(ort_runner):
    _, ort = ort_runner
    calls = []
    run = ort._run
    ort._run = lambda x: (calls.append(len(x)), run(x))[1]
    try:
        out = ort(_batch(5))
    finally:
        del ort._run
    assert calls == [2, 2, 1] and out[0].shape[0] == 5
    np.testing.assert_allclose(out[0], ort.session.run(None, {"input": _batch(5)})[0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="layout NHWC"):
        ort(_batch().transpose(0, 2, 3, 1))
    with pytest.raises(ValueError, match=r"must have shape \(B, 3, 16, 12\)"):
        ort(_batch()[:, :2])
    with pytest.raises(ValueError, match="dtype float32, got dtype float64"):
        ort(_batch().astype(np.float64))


@pytest.mark.parametrize("options, match", [
    (EngineOptions(precision="bf16"), "precision='bf16' is a torch backend option"),
    (EngineOptions(compile=True), "compile=True is a torch backend option"),
    (EngineOptions(channels_last=True), "channels_last=True is a torch backend option"),
    (EngineOptions(device="cuda"), "not torch devices"),
])
def test_onnxruntime_refuses_torch_options(options, match):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the optional `onnx` extra)")
    with pytest.raises(ValueError, match=match):
        make_runner("missing.onnx", backend="onnxruntime", options=options, input_spec=SPEC)


def test_cached_export_keeps_a_fixed_batch_of_the_input_spec(tmp_path):
    """An open batch exports a dynamic one; a fixed batch (graphs that decode in their own layout run batch 1) is
    exported as that batch, in a file of its own."""
    pytest.importorskip("onnxruntime")
    import onnx

    from posekit.runtime.onnx_files import cached_export
    from posekit.runtime.runner import InputSpec

    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    dynamic = cached_export(module, name="tiny", input_spec=InputSpec.image(3, 8, 8), folder=tmp_path)
    fixed = cached_export(module, name="tiny", input_spec=InputSpec(shape=(1, 3, 8, 8)), folder=tmp_path)
    assert "-batch" not in dynamic.name and fixed.name.endswith("-batch1-opset17.onnx")

    def batch_dim(path):
        return onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]

    assert batch_dim(fixed).dim_value == 1 and batch_dim(dynamic).dim_param
