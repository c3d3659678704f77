"""RTMPose (CSPNeXt + RTMCCHead) against MMPose 1.3.2: official layouts and raw-output parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert import load_official
from posekit.models.backbones.cspnext import RTMPOSE_CSPNEXT_FACTORS, cspnext
from posekit.models.heads.rtmcc import RTMCCHead
from tests.conftest import shared_path

RTOL = 5e-5  # |diff| <= RTOL * max|ref| (MMPose reruns differ by <= 1e-5 relative)


def load_checkpoint(model: torch.nn.Module, path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    load_official(model, state, source="mmpose")  # strict; fp16 tensors are copied into fp32 parameters
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.fixture(scope="module")
def parity_model():
    folder = shared_path("fixtures", "mmpose", "parity", "rtmpose_t")
    model = posekit.create_model("rtmpose_t_coco_256x192")  # the fixture is RTMPose-t with random weights
    load_checkpoint(model, folder / "model.pth")
    return model, folder


@pytest.mark.parametrize("flip", [False, True], ids=["plain", "flipped"])
def test_rtmpose_t_parity(parity_model, flip):
    model, folder = parity_model
    x = torch.from_numpy(np.load(folder / "input.npy"))
    if flip:
        x = x.flip(-1)
    with torch.no_grad():
        simcc_x, simcc_y = model(x)
    tag = "out_flip_" if flip else "out_"
    for got, name, bins in ((simcc_x, "simcc_x", 384), (simcc_y, "simcc_y", 512)):
        ref = np.load(folder / f"{tag}{name}.npy")
        assert got.shape == ref.shape == (2, 17, bins) and got.dtype == torch.float32
        err = np.abs(got.numpy() - ref).max()
        assert err <= RTOL * np.abs(ref).max(), f"{name}: max |diff| {err} vs max |ref| {np.abs(ref).max()}"


def test_rtmpose_batch_sizes_agree(parity_model):
    model, folder = parity_model
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad():
        one = model(x[:1])
        three = model(x[[1, 0, 1]])
    for a, b in zip(one, three):
        torch.testing.assert_close(a[0], b[1], rtol=0, atol=1e-5 * float(b.abs().max()))
    ref = np.load(folder / "out_simcc_x.npy")
    np.testing.assert_allclose(three[0][0].numpy(), ref[1], rtol=0, atol=RTOL * np.abs(ref).max())


@pytest.mark.parametrize("variant", ["t", "s", "m", "l"])
def test_rtmpose_layout_matches_official(variant):
    layout = json.loads(shared_path("fixtures", "mmpose", "layouts",
                                    f"rtmpose-{variant}_8xb256-420e_coco-256x192.json").read_text())
    with torch.device("meta"):
        model = posekit.create_model(f"rtmpose_{variant}_coco_256x192", device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(layout["state_dict"])  # same keys, same order
    assert got == layout["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    cfg = layout["model_cfg"]
    assert (cfg["backbone"]["deepen_factor"], cfg["backbone"]["widen_factor"]) == RTMPOSE_CSPNEXT_FACTORS[variant]
    assert cfg["head"]["in_channels"] == int(1024 * RTMPOSE_CSPNEXT_FACTORS[variant][1])


def test_cspnext_out_indices_and_strides():
    net = cspnext(0.167, 0.375, out_indices=(2, 3, 4)).eval()
    with torch.no_grad():
        feats = net(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(1, 96, 8, 12), (1, 192, 4, 6), (1, 384, 2, 3)]
    with pytest.raises(ValueError, match="out_indices"):
        cspnext(out_indices=(5,))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.zeros(3, 64, 64))


def test_rtmcc_head_rejects_wrong_feature_size():
    head = RTMCCHead(32, 5, (192, 256), (6, 8))
    assert [tuple(t.shape) for t in head(torch.randn(2, 32, 8, 6))] == [(2, 5, 384), (2, 5, 512)]
    with pytest.raises(ValueError, match=r"\(B, 32, 8, 6\)"):
        head(torch.randn(2, 32, 6, 8))
