"""Official-checkpoint key maps and strict loading with errors that name the offending keys."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert import load_official, remap_state_dict
from posekit.models.backbones.resnet import resnet
from posekit.models.heads.heatmap import HeatmapHead
from posekit.models.topdown import TopdownModel
from tests.conftest import shared_path
from tests.models.test_resnet_hrnet import load_fixture_model


def _assert_loaded(model: TopdownModel, state_dict: dict[str, torch.Tensor]) -> None:
    got = model.state_dict()
    for key, value in state_dict.items():
        torch.testing.assert_close(got[key], value.to(got[key].dtype), rtol=0, atol=0, msg=key)


def test_official_fixture_loads_fp16_into_fp32() -> None:
    model, sd = load_fixture_model("simplebaseline_res50_tiny")
    assert sd["head.final_layer.weight"].dtype == torch.float16
    before = OrderedDict(sd)
    load_official(model, sd, source="mmpose")
    assert model.head.final_layer.weight.dtype == torch.float32
    _assert_loaded(model, sd)
    assert list(sd) == list(before) and all(sd[k] is before[k] for k in sd)  # input untouched


def test_missing_unexpected_and_shape_errors_name_the_keys() -> None:
    model, sd = load_fixture_model("simplebaseline_res50_tiny")
    broken = dict(sd)
    del broken["backbone.layer2.1.bn2.running_var"]
    broken["head.extra_conv.weight"] = torch.zeros(3)
    broken["head.final_layer.weight"] = torch.zeros(16, 32, 1, 1)
    with pytest.raises(ValueError) as info:
        load_official(model, broken, source="mmpose")
    msg = str(info.value)
    assert "missing keys (1): backbone.layer2.1.bn2.running_var" in msg
    assert "unexpected keys (1): head.extra_conv.weight" in msg
    assert "head.final_layer.weight: checkpoint (16, 32, 1, 1) vs model (17, 32, 1, 1)" in msg
    for only in ("missing", "unexpected", "shape"):
        one = dict(sd)
        if only == "missing":
            one.pop("head.deconv_layers.4.bias")
        elif only == "unexpected":
            one["backbone.fc.weight"] = torch.zeros(2)
        else:
            one["backbone.conv1.weight"] = torch.zeros(16, 3, 3, 3)
        with pytest.raises(ValueError, match=only) as info:
            load_official(model, one, source="mmpose")
        assert ("head.deconv_layers.4.bias", "backbone.fc.weight", "backbone.conv1.weight")[
            ("missing", "unexpected", "shape").index(only)
        ] in str(info.value)


def test_full_size_layout_key_errors() -> None:
    manifest = json.loads(
        shared_path("fixtures", "mmpose", "layouts", "td-hm_res50_8xb64-210e_coco-256x192.json").read_text()
    )
    fake = {k: torch.zeros(shape) for k, shape in manifest["state_dict"].items()}
    # the 17-keypoint checkpoint does not fit the 16-keypoint MPII model: both head tensors are named
    mpii = posekit.create_model("simplebaseline_res50_mpii_256x256")
    with pytest.raises(ValueError) as info:
        load_official(mpii, fake, source="mmpose")
    msg = str(info.value)
    assert "head.final_layer.weight: checkpoint (17, 256, 1, 1) vs model (16, 256, 1, 1)" in msg
    assert "head.final_layer.bias: checkpoint (17,) vs model (16,)" in msg
    assert "missing" not in msg and "unexpected" not in msg
    coco = posekit.create_model("simplebaseline_res50_coco_256x192")
    load_official(coco, fake, source="mmpose")
    assert float(coco.backbone.bn1.running_var.abs().sum()) == 0.0


def test_pre_1_0_keypoint_head_prefix() -> None:
    folder = shared_path("fixtures", "mmpose", "parity", "simplebaseline_res50_tiny")
    model, sd = load_fixture_model("simplebaseline_res50_tiny")
    old = {("keypoint_head." + k[len("head."):] if k.startswith("head.") else k): v for k, v in sd.items()}
    assert any(k.startswith("keypoint_head.") for k in old)
    with pytest.raises(ValueError, match="unexpected keys.*keypoint_head.final_layer.weight"):
        load_official(model, old, source="mmpose")
    load_official(model, old, source="mmpose_v0")
    _assert_loaded(model, sd)
    x = torch.from_numpy(np.load(folder / "input.npy"))
    ref = np.load(folder / "out_heatmaps.npy")
    with torch.no_grad():
        out = model.eval()(x).numpy()
    assert np.abs(out - ref).max() <= 5e-5 * np.abs(ref).max()


def test_pre_1_0_final_layer_with_intermediate_convs() -> None:
    torch.manual_seed(0)
    model = TopdownModel(
        resnet(18, stem_channels=8, base_channels=8),
        HeatmapHead(64, 5, deconv_out_channels=(16,), deconv_kernel_sizes=(4,), conv_out_channels=(12,),
                    conv_kernel_sizes=(3,)),
    )
    new = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    # MMPose 0.x: intermediate convs and the final conv share one Sequential called final_layer
    old = {}
    for k, v in new.items():
        if k.startswith("head.conv_layers."):
            k = "keypoint_head.final_layer." + k[len("head.conv_layers."):]
        elif k.startswith("head.final_layer."):
            k = "keypoint_head.final_layer.3." + k[len("head.final_layer."):]
        elif k.startswith("head."):
            k = "keypoint_head." + k[len("head."):]
        old[k] = v
    assert "keypoint_head.final_layer.0.weight" in old and "keypoint_head.final_layer.3.bias" in old
    assert remap_state_dict(old, source="mmpose_v0", model=model).keys() == new.keys()
    load_official(model, old, source="mmpose_v0")
    _assert_loaded(model, new)


def test_module_prefix_and_bad_arguments() -> None:
    model, sd = load_fixture_model("hrnet_tiny")
    load_official(model, {"module." + k: v for k, v in sd.items()}, source="mmpose")
    _assert_loaded(model, sd)
    with pytest.raises(ValueError, match="source must be one of"):
        load_official(model, sd, source="timm")
    with pytest.raises(ValueError, match="mapping"):
        load_official(model, list(sd.items()), source="mmpose")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="collide"):
        remap_state_dict({"head.x": torch.zeros(1), "keypoint_head.x": torch.zeros(1)}, source="mmpose_v0")
