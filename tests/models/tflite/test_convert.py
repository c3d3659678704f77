"""Converter contract: spec + PyTorch-layout weights, rebuild, batching, memory format, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from posekit.models.tflite import build_module, convert, convert_file
from posekit.models.tflite.ops import DepthToSpace, Pool2d, ResizeBilinear
from posekit.models.tflite.reader import read_tflite
from tests.conftest import shared_path
from tests.models.tflite._files import tflite_path


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_state_dict_is_exactly_the_converted_tensors_in_torch_layout():
    path = tflite_path("face_detection_short_range.tflite")
    spec_json, tensors = convert_file(path)
    spec = json.loads(spec_json)
    assert spec["name"] == "face_detection_short_range"
    assert all(t.dtype == torch.float32 for t in tensors.values())
    module = build_module(spec_json, tensors)
    state = module.state_dict()
    assert set(state) == set(tensors)
    for key, value in tensors.items():
        assert torch.equal(state[key], value), key
    # first CONV_2D: TFLite OHWI filter -> nn.Conv2d OIHW weight
    graph = read_tflite(path)
    first_conv = next(op for op in graph.ops if op.name == "CONV_2D")
    ohwi = graph.tensors[first_conv.inputs[1]].data
    conv = next(m for m in module.layers if isinstance(m, nn.Conv2d))
    np.testing.assert_array_equal(conv.weight.detach().numpy(), ohwi.transpose(0, 3, 1, 2))
    # weights were copied: training the module leaves `tensors` untouched
    with torch.no_grad():
        conv.weight.add_(1.0)
    assert not torch.equal(conv.weight, tensors[next(k for k in tensors if k.endswith(".weight"))])


def test_safetensors_round_trip_rebuilds_the_same_network(tmp_path):
    path = tflite_path("hand_landmark_lite.tflite")
    spec_json, tensors = convert_file(path)
    save_file(tensors, tmp_path / "w.safetensors", metadata={"spec": spec_json})
    from safetensors import safe_open

    with safe_open(tmp_path / "w.safetensors", framework="pt") as f:
        spec_back = f.metadata()["spec"]
    a, b = build_module(spec_json, tensors), build_module(spec_back, load_file(tmp_path / "w.safetensors"))
    x = torch.rand(2, 3, 224, 224)
    with torch.inference_mode():
        for ya, yb in zip(a(x), b(x)):
            assert torch.equal(ya, yb)


@pytest.mark.parametrize("filename", ["pose_detection.tflite", "pose_landmark_full.tflite"])
def test_batch_of_three_equals_three_single_runs(filename):
    module = build_module(*convert_file(tflite_path(filename)))
    folder = shared_path("fixtures", "blazepose")
    _, h, w, _ = module.input_shapes[0]
    real = torch.from_numpy(np.load(folder / f"{filename.split('.')[0]}_input_1x{h}x{w}x3.npy")).permute(0, 3, 1, 2)
    g = torch.Generator().manual_seed(0)
    x = torch.cat([real, torch.rand(1, 3, h, w, generator=g), real.flip(3)])
    with torch.inference_mode():
        batched = module(x)
        singles = [module(x[i : i + 1]) for i in range(3)]
    for k, out in enumerate(batched):
        assert out.shape == (3, *module.output_shapes[k][1:])
        # segmentation logits (up to ~1.6e3, heavy cancellation): oneDNN picks other conv kernels for
        # batch 3, which moves them by up to ~1e-3 relative on the random sample (~1e-4 on real crops)
        tol = 2e-3 if module.output_shapes[k] == (1, 256, 256, 1) else 1e-4
        for i in range(3):
            assert _rel(out[i : i + 1], singles[i][k]) <= tol, (k, i)


def test_channels_last_module_and_input_give_the_same_outputs():
    module = build_module(*convert_file(tflite_path("palm_detection_lite.tflite")))
    x = torch.rand(2, 3, 192, 192, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref = module(x)
        module = module.to(memory_format=torch.channels_last)
        got = module(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(got, ref):
        assert a.shape == b.shape and _rel(a, b) <= 1e-5


def test_rank4_outputs_are_nhwc():
    module = build_module(*convert_file(tflite_path("face_landmark.tflite")))
    with torch.inference_mode():
        outs = module(torch.rand(2, 3, 192, 192))
    assert [tuple(o.shape) for o in outs] == [(2, 1, 1, 1404), (2, 1, 1, 1)]


def test_unsupported_operator_names_the_op_and_the_model(monkeypatch):
    path = tflite_path("face_landmark.tflite")
    monkeypatch.delitem(convert._CONVERTERS, "PRELU")
    with pytest.raises(NotImplementedError, match=r"PRELU.*'face_landmark'"):
        convert_file(path)


def test_unknown_layer_kind_in_a_spec_is_a_clear_error():
    spec = {"format": convert.SPEC_FORMAT, "name": "tiny", "num_slots": 2,
            "inputs": [{"name": "x", "shape": [1, 4, 4, 3], "slot": 0}],
            "outputs": [{"name": "y", "shape": [1, 4, 4, 3], "slot": 1}],
            "layers": [{"kind": "fft2d", "inputs": [0], "output": 1, "attrs": {}}]}
    with pytest.raises(NotImplementedError, match=r"'tiny'.*'fft2d'"):
        build_module(json.dumps(spec), {})
    spec["layers"][0] = {"kind": "unary", "inputs": [0], "output": 1, "attrs": {"fn": "relu"}}
    module = build_module(json.dumps(spec), {})
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(module(x)[0], torch.relu(x).permute(0, 2, 3, 1))
    with pytest.raises(ValueError, match="unexpected key"):
        build_module(json.dumps(spec), {"extra": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"shape \(B, 3, 4, 4\), got \(2, 4, 4, 3\)"):
        module(x.permute(0, 2, 3, 1))
    with pytest.raises(ValueError, match="not a"):
        build_module(json.dumps({"format": "other"}), {})


def test_same_padding_puts_the_odd_pixel_bottom_right():
    assert convert._same_pads(224, 112, 3, 2, 1) == (0, 1)
    assert convert._same_pads(7, 4, 3, 2, 1) == (1, 1)
    assert convert._same_pads(56, 56, 5, 1, 1) == (2, 2)
    assert convert._same_pads(8, 8, 3, 1, 2) == (2, 2)


def test_depth_to_space_uses_tensorflow_channel_order():
    x_nhwc = torch.arange(8.0).reshape(1, 1, 1, 8)  # TF: out[0, i, j, c] = in[0, 0, 0, (i*2 + j)*2 + c]
    y = DepthToSpace(block=2)(x_nhwc.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    expected = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]])
    assert torch.equal(y, expected)


def test_legacy_bilinear_resize_samples_at_dst_times_scale():
    x = torch.tensor([[[[1.0, 3.0]]]])  # (1, 1, 1, 2): src x = dst * 2/4 = 0, .5, 1, 1.5 (clamped to 1)
    y = ResizeBilinear(size=[1, 4], mode="legacy", in_size=[1, 2])(x)
    assert torch.allclose(y, torch.tensor([[[[1.0, 2.0, 3.0, 3.0]]]]))


def test_average_pool_same_padding_excludes_the_pads():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    pool = Pool2d(kind="avg", kernel=[2, 2], stride=[2, 2], pads=[0, 1, 0, 1], activation="none", in_size=[3, 3])
    expected = torch.tensor([[[[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]]]])
    assert torch.allclose(pool(x), expected)
    mx = Pool2d(kind="max", kernel=[2, 2], stride=[2, 2], pads=[0, 1, 0, 1], activation="none", in_size=[3, 3])
    assert torch.equal(mx(-x), torch.tensor([[[[0.0, -2.0], [-6.0, -8.0]]]]))
