"""Engine options of the torch back end: validation, the channels_last rule, memory formats, autocast and the
compile fallback."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.models.mmpose_cfg import from_mmpose_cfg
from posekit.runtime.torch_runner import (
    EngineOptions, _CompiledOrEager, as_input, autocast, prepare_module, uses_channels_last,
)
from tests.conftest import shared_path


def _fixture_model(name: str) -> torch.nn.Module:
    info = json.loads(shared_path("fixtures", "mmpose", "parity", name, "info.json").read_text())
    return from_mmpose_cfg(info["model_cfg"])[0]


def _convnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))


@pytest.mark.parametrize("kwargs, match", [
    ({"precision": "int8"}, "precision must be one of fp32, bf16, fp16"),
    ({"precision": "fp16"}, "fp16.*needs a CUDA device"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"device": "nonsense"}, "device must be a torch device"),
])
def test_bad_options_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EngineOptions(**kwargs)
    with pytest.raises(TypeError, match="channels_last"):
        EngineOptions(channels_last="yes")


def test_options_normalise_and_allow_all_at_once():
    opts = EngineOptions(device="cpu", precision="bf16", batch_size=8.0, compile=1)
    assert opts.torch_device == torch.device("cpu") and opts.batch_size == 8 and opts.compile is True
    assert EngineOptions(batch_size=None).batch_size is None


def test_channels_last_auto_rule():
    hrnet, vit = _fixture_model("hrnet_tiny"), _fixture_model("vitpose_tiny_classic")
    cpu = EngineOptions()
    assert uses_channels_last(hrnet, cpu) and not uses_channels_last(vit, cpu)  # conv weights vs transformer
    assert not uses_channels_last(hrnet, EngineOptions(channels_last=False))
    assert uses_channels_last(vit, EngineOptions(channels_last=True))


def test_prepare_module_memory_format_and_outputs():
    net = _convnet()
    x = torch.rand(2, 3, 16, 12)
    ref = net(x)
    prepared = prepare_module(net, EngineOptions())  # auto: conv net on CPU -> channels_last
    assert prepared is net and not net.training
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        out = prepared(as_input(x, True))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="nn.Module"):
        prepare_module(lambda t: t, EngineOptions())


def test_as_input_keeps_a_permuted_view_and_copies_otherwise():
    nhwc = torch.rand(2, 8, 6, 3)
    view = nhwc.permute(0, 3, 1, 2)
    assert as_input(view, True).data_ptr() == nhwc.data_ptr()  # already channels_last strides: no copy
    dense = as_input(view, False)
    assert dense.is_contiguous() and dense.data_ptr() != nhwc.data_ptr()
    torch.testing.assert_close(dense, view, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        as_input(torch.zeros(3, 4, 5), True)


def test_autocast_dtypes():
    lin = torch.nn.Linear(4, 4)
    x = torch.rand(2, 4)
    with autocast(EngineOptions()):
        assert lin(x).dtype == torch.float32
    with autocast(EngineOptions(precision="bf16")):
        assert lin(x).dtype == torch.bfloat16


def test_compile_falls_back_to_eager_with_a_warning():
    def failing_backend(gm, example_inputs):  # noqa: ANN001, ANN202
        raise RuntimeError("no compiler here")

    net = _convnet()
    x = torch.rand(1, 3, 8, 8)
    wrapped = _CompiledOrEager(net, backend=failing_backend)
    with pytest.warns(RuntimeWarning, match="torch.compile failed.*running Sequential eagerly"):
        out = wrapped(x)
    torch.testing.assert_close(out, net(x), rtol=0, atol=0)
    assert wrapped.failed and "no compiler here" in wrapped.failed
    torch.testing.assert_close(wrapped(x), net(x), rtol=0, atol=0)  # later calls go straight to eager


@pytest.mark.slow
def test_compiled_module_matches_eager():
    net = _convnet()
    x = torch.rand(2, 3, 16, 12)
    compiled = prepare_module(net, EngineOptions(compile=True, channels_last=False))
    with torch.inference_mode():
        out = compiled(x)
    assert isinstance(compiled, _CompiledOrEager) and compiled.failed is None
    np.testing.assert_allclose(out.numpy(), net(x).detach().numpy(), rtol=1e-4, atol=1e-5)
