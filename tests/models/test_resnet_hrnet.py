"""ResNet / HRNet top-down models against MMPose 1.3.2: numerical parity on the reduced random-weight
fixtures and exact state_dict layouts of the official full-size configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert import load_official
from posekit.models.backbones.hrnet import HRNetStage, hrnet, stages_from_extra
from posekit.models.backbones.resnet import ResNet, resnet
from posekit.models.hrnet import hrnet_topdown
from posekit.models.mmpose_cfg import from_mmpose_cfg
from posekit.models.simplebaseline import simplebaseline
from posekit.models.topdown import TopdownModel
from tests.conftest import shared_path

PARITY = ("simplebaseline_res50_tiny", "hrnet_tiny")
# The reduced fixture networks through the public family builders, from the fixture's MMPose ``model_cfg``.
FIXTURE_BUILDERS: dict[str, Callable[[dict[str, Any]], TopdownModel]] = {
    "simplebaseline_res50_tiny": lambda cfg: simplebaseline(
        cfg["backbone"]["depth"], stem_channels=cfg["backbone"]["stem_channels"],
        base_channels=cfg["backbone"]["base_channels"], deconv_out_channels=cfg["head"]["deconv_out_channels"],
    )[0],
    "hrnet_tiny": lambda cfg: hrnet_topdown(cfg["backbone"]["extra"])[0],
}


def load_fixture_model(name: str) -> tuple[TopdownModel, dict[str, torch.Tensor]]:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    info = json.loads((folder / "info.json").read_text())
    model = FIXTURE_BUILDERS[name](info["model_cfg"]).eval()
    ckpt = torch.load(folder / "model.pth", map_location="cpu", weights_only=True)
    return model, ckpt["state_dict"]


@pytest.mark.parametrize("name", PARITY)
def test_parity_with_mmpose(name: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    model, state_dict = load_fixture_model(name)
    load_official(model, state_dict, source="mmpose")
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad():
        out = model(x).numpy()
        out_flip = model(x.flip(-1)).numpy()
    for got, ref_name in ((out, "out_heatmaps"), (out_flip, "out_flip_heatmaps")):
        ref = np.load(folder / f"{ref_name}.npy")
        assert got.shape == ref.shape == (2, 17, 64, 48)
        err = np.abs(got - ref).max()
        assert err <= 5e-5 * np.abs(ref).max(), f"{name}/{ref_name}: max |diff| {err} vs max |ref| {np.abs(ref).max()}"


def test_parity_fixture_layout_and_params() -> None:
    for name in PARITY:
        folder = shared_path("fixtures", "mmpose", "parity", name)
        info = json.loads((folder / "info.json").read_text())
        model, state_dict = load_fixture_model(name)
        assert {k: list(v.shape) for k, v in model.state_dict().items()} == info["state_dict"]
        assert list(model.state_dict()) == list(state_dict)  # same order as MMPose's modules
    n_params = sum(p.numel() for p in load_fixture_model("hrnet_tiny")[0].parameters())
    assert n_params == 620_009


LAYOUTS = {  # layout manifest -> the public model name of that official config
    "td-hm_res50_8xb64-210e_coco-256x192.json": "simplebaseline_res50_coco_256x192",
    "td-hm_res101_8xb64-210e_coco-256x192.json": "simplebaseline_res101_coco_256x192",
    "td-hm_hrnet-w32_8xb64-210e_coco-256x192.json": "hrnet_w32_coco_256x192",
    "td-hm_hrnet-w48_8xb32-210e_coco-384x288.json": "hrnet_w48_coco_384x288",
    "td-hm_res50_8xb64-210e_mpii-256x256.json": "simplebaseline_res50_mpii_256x256",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_full_size_layouts(layout: str) -> None:
    manifest = json.loads(shared_path("fixtures", "mmpose", "layouts", layout).read_text())
    for model in (posekit.create_model(LAYOUTS[layout]), from_mmpose_cfg(manifest["model_cfg"])[0]):
        sd = model.state_dict()
        got = {k: list(v.shape) for k, v in sd.items()}
        assert set(got) - set(manifest["state_dict"]) == set(), "unexpected keys"
        assert set(manifest["state_dict"]) - set(got) == set(), "missing keys"
        assert got == manifest["state_dict"]
        assert list(got) == list(manifest["state_dict"])
        assert len(sd) == manifest["num_state_dict_keys"]
        assert sum(v.numel() for v in sd.values()) == manifest["num_state_dict_elements"]
        assert sum(p.numel() for p in model.parameters()) == manifest["num_params"]
        non_f32 = {k: str(v.dtype).removeprefix("torch.") for k, v in sd.items() if v.dtype != torch.float32}
        assert non_f32 == manifest["state_dict_non_float32"]


@pytest.mark.parametrize(("depth", "channels"), [(18, 512), (34, 512), (50, 2048), (101, 2048), (152, 2048)])
def test_resnet_depths(depth: int, channels: int) -> None:
    model = resnet(depth)
    assert model.out_channels == (channels,)
    blocks = {18: 8, 34: 16, 50: 16, 101: 33, 152: 50}[depth]
    assert sum(len(getattr(model, f"layer{i}")) for i in range(1, 5)) == blocks
    if depth == 18:
        with torch.no_grad():
            (feat,) = model.eval()(torch.randn(1, 3, 64, 96))
        assert feat.shape == (1, 512, 2, 3)


def test_resnet_out_indices_and_errors() -> None:
    model = ResNet(18, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]
    assert model.out_channels == (8, 16, 32, 64)
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet(42)
    with pytest.raises(ValueError, match="out_indices"):
        ResNet(18, num_stages=3, out_indices=(3,))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(torch.zeros(3, 64, 64))


def test_hrnet_config_and_multiscale() -> None:
    info = json.loads(shared_path("fixtures", "mmpose", "parity", "hrnet_tiny", "info.json").read_text())
    extra = info["model_cfg"]["backbone"]["extra"]
    stages = stages_from_extra(extra)
    assert stages[3] == HRNetStage(3, "BASIC", (1, 1, 1, 1), (8, 16, 32, 64))
    single = hrnet(extra).eval()
    multi = hrnet(stages, multiscale_output=True).eval()
    assert single.out_channels == (8,) and multi.out_channels == (8, 16, 32, 64)
    # the last module keeps only branch 0's fusion unless multiscale_output
    assert len(single.stage4[-1].fuse_layers) == 1 and len(multi.stage4[-1].fuse_layers) == 4
    multi.load_state_dict(single.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 32)
    with torch.no_grad():
        (out,) = single(x)
        outs = multi(x)
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 8), (1, 16, 8, 4), (1, 32, 4, 2), (1, 64, 2, 1)]
    torch.testing.assert_close(outs[0], out, rtol=0, atol=0)


def test_hrnet_bad_config() -> None:
    extra = json.loads(
        shared_path("fixtures", "mmpose", "parity", "hrnet_tiny", "info.json").read_text()
    )["model_cfg"]["backbone"]["extra"]
    with pytest.raises(ValueError, match="missing 'stage4'"):
        hrnet({k: v for k, v in extra.items() if k != "stage4"})
    bad = {**extra, "stage3": {**extra["stage3"], "num_branches": 2}}
    with pytest.raises(ValueError, match="num_branches=2"):
        hrnet(bad)
    with pytest.raises(ValueError, match="block must be one of"):
        HRNetStage(1, "BLOCK", (1,), (8,))
    with pytest.raises(ValueError, match="equal length"):
        HRNetStage(1, "BASIC", (1, 1), (8,))
