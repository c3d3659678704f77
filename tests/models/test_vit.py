"""ViTPose (ViT backbone + classic / simple decoder) against MMPose 1.3.2: layouts and raw-output parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert import load_official
from posekit.models.backbones.vit import VIT_ARCHS, ViTArch, resize_pos_embed, vit
from posekit.models.vitpose import vitpose
from tests.conftest import shared_path

RTOL = 5e-5  # |diff| <= RTOL * max|ref| (MMPose reruns differ by <= 1e-5 relative)
TINY = {"embed_dims": 192, "num_layers": 2, "num_heads": 3, "feedforward_channels": 768}


def load_parity(name: str):
    """The reduced fixture model (2 layers, 64-channel deconvolutions) from the family builder, fixture weights."""
    folder = shared_path("fixtures", "mmpose", "parity", name)
    decoder = "simple" if name.endswith("simple") else "classic"
    model = vitpose(TINY, decoder=decoder, deconv_out_channels=(64, 64))[0].eval()
    state = torch.load(folder / "model.pth", map_location="cpu", weights_only=True)["state_dict"]
    load_official(model, state, source="mmpose")  # strict; fp16 tensors are copied into fp32 parameters
    assert all(p.dtype == torch.float32 for p in model.parameters())
    return model, folder


@pytest.fixture(scope="module", params=["vitpose_tiny_classic", "vitpose_tiny_simple"])
def parity(request):
    return load_parity(request.param)


@pytest.mark.parametrize("flip", [False, True], ids=["plain", "flipped"])
def test_vitpose_tiny_parity(parity, flip):
    model, folder = parity
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad():
        out = model(x.flip(-1) if flip else x)
    ref = np.load(folder / ("out_flip_heatmaps.npy" if flip else "out_heatmaps.npy"))
    assert out.shape == ref.shape == (2, 17, 64, 48) and out.dtype == torch.float32
    err = np.abs(out.numpy() - ref).max()
    assert err <= RTOL * np.abs(ref).max(), f"max |diff| {err} vs max |ref| {np.abs(ref).max()}"


def test_vitpose_batch_sizes_agree(parity):
    model, folder = parity
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad():
        one = model(x[1:])
        three = model(x[[0, 1, 0]])
    ref = np.load(folder / "out_heatmaps.npy")
    tol = 1e-5 * np.abs(ref).max()
    np.testing.assert_allclose(one[0].numpy(), three[1].numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(three[2].numpy(), ref[0], rtol=0, atol=RTOL * np.abs(ref).max())


def test_vitpose_bf16_autocast_close(parity):
    # Observed: max |diff| ~0.6 % (classic) / 0.5 % (simple) of max |ref|; mean ~0.4-0.6 % of mean |ref|.
    model, folder = parity
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    ref = np.load(folder / "out_heatmaps.npy")
    diff = np.abs(out.float().numpy() - ref)
    assert diff.max() <= 2e-2 * np.abs(ref).max()
    assert diff.mean() <= 2e-2 * np.abs(ref).mean()


@pytest.mark.parametrize("size", ["small", "base", "large", "huge"])
@pytest.mark.parametrize("simple", [False, True], ids=["classic", "simple"])
def test_vitpose_layout_matches_official(size, simple):
    name = f"td-hm_ViTPose-{size}{'-simple' if simple else ''}_8xb64-210e_coco-256x192.json"
    layout = json.loads(shared_path("fixtures", "mmpose", "layouts", name).read_text())
    with torch.device("meta"):  # ViT-H has 630 M parameters: build without allocating them
        model = posekit.create_model(f"vitpose_{size[0]}{'_simple' if simple else ''}_coco_256x192", device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(layout["state_dict"])  # same keys, same order
    assert got == layout["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    arch = layout["model_cfg"]["backbone"]["arch"]
    if isinstance(arch, dict):  # ViTPose-S is written as a dict in the config
        assert ViTArch(**arch) == VIT_ARCHS[size]


def test_vit_other_input_size_resizes_pos_embed():
    net = vit(TINY).eval()
    with torch.no_grad():
        (feat,) = net(torch.randn(1, 3, 320, 240))
    assert feat.shape == (1, 192, 20, 15)  # (320 + 4 - 16) // 16 + 1 = 20
    assert net.patch_grid == (16, 12)


def test_resize_pos_embed():
    pe = torch.randn(1, 16 * 12, 8)
    assert resize_pos_embed(pe, (16, 12), (16, 12)) is pe
    const = torch.full((1, 16 * 12, 8), 0.25)
    torch.testing.assert_close(resize_pos_embed(const, (16, 12), (20, 15)), torch.full((1, 300, 8), 0.25))
    # bicubic, align_corners=False on a (rows, cols) grid in row-major token order
    grid = pe.reshape(1, 16, 12, 8).permute(0, 3, 1, 2)
    expect = torch.nn.functional.interpolate(grid, size=(8, 6), mode="bicubic", align_corners=False)
    torch.testing.assert_close(resize_pos_embed(pe, (16, 12), (8, 6)), expect.flatten(2).transpose(1, 2))
    with pytest.raises(ValueError, match=r"\(1, 192, C\)"):
        resize_pos_embed(pe[:, :100], (16, 12), (8, 6))


def test_vit_bad_arguments():
    with pytest.raises(ValueError, match="unknown ViT arch"):
        vit("gigantic")
    with pytest.raises(ValueError, match="exactly the keys"):
        vit({"embed_dims": 64, "num_layers": 1})
    with pytest.raises(ValueError, match="divisible"):
        vit({"embed_dims": 64, "num_layers": 1, "num_heads": 5, "feedforward_channels": 128})
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        vit(TINY)(torch.zeros(1, 1, 256, 192))


def test_vit_layernorm_eps_is_mmpretrain_default():
    # mmpretrain's VisionTransformer uses LN eps 1e-6; 1e-5 moves the tiny outputs by only ~1.7e-5
    # relative, under the parity tolerance, so it is pinned here.
    norms = [m for m in vit(TINY).modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 2 * TINY["num_layers"] + 1
    assert all(m.eps == 1e-6 for m in norms)
