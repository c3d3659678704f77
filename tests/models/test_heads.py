"""HeatmapHead layouts/shapes and the SRCNN refinement head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.codecs.msra_heatmap import MSRAHeatmap
from posekit.models.convert import load_official
from posekit.models.heads.heatmap import HeatmapHead
from posekit.models.heads.srcnn_refine import RefinedHeatmapHead, SRCNNRefine
from tests.conftest import shared_path
from tests.models.test_resnet_hrnet import load_fixture_model


@pytest.mark.parametrize(("kernel", "expected"), [(4, (6, 8)), (3, (6, 8)), (2, (6, 8))])
def test_deconv_kernels_double_the_size(kernel: int, expected: tuple[int, int]) -> None:
    head = HeatmapHead(16, 5, deconv_out_channels=(8,), deconv_kernel_sizes=(kernel,)).eval()
    out = head((torch.randn(2, 16, 3, 4),))
    assert out.shape == (2, 5, *expected)


def test_simplebaseline_head_layout_and_shape() -> None:
    head = HeatmapHead(64, 17, deconv_out_channels=(32, 32, 32)).eval()
    keys = {k: tuple(v.shape) for k, v in head.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert keys["deconv_layers.0.weight"] == (64, 32, 4, 4)  # ConvTranspose2d: (in, out, k, k), no bias
    assert "deconv_layers.0.bias" not in keys
    assert [k for k in keys if k.startswith("deconv_layers.") and k.endswith(".weight")] == [
        "deconv_layers.0.weight", "deconv_layers.1.weight", "deconv_layers.3.weight",
        "deconv_layers.4.weight", "deconv_layers.6.weight", "deconv_layers.7.weight",
    ]
    assert keys["final_layer.weight"] == (17, 32, 1, 1) and keys["final_layer.bias"] == (17,)
    # the last feature map of a tuple is used; a bare tensor works too
    x = torch.randn(1, 64, 8, 6)
    with torch.no_grad():
        out = head((torch.randn(1, 3, 2, 2), x))
        torch.testing.assert_close(out, head(x), rtol=0, atol=0)
    assert out.shape == (1, 17, 64, 48)


def test_simple_decoder_head_and_conv_layers() -> None:
    # ViTPose-simple: no deconv, 3x3 final conv with padding 1 -> only final_layer.* keys
    simple = HeatmapHead(24, 17, deconv_out_channels=(), deconv_kernel_sizes=(), final_kernel_size=3)
    assert {k: tuple(v.shape) for k, v in simple.state_dict().items()} == {
        "final_layer.weight": (17, 24, 3, 3), "final_layer.bias": (17,)
    }
    assert simple(torch.randn(1, 24, 16, 12)).shape == (1, 17, 16, 12)
    convs = HeatmapHead(8, 4, deconv_out_channels=None, conv_out_channels=(6, 5), conv_kernel_sizes=(3, 1))
    shapes = {k: tuple(v.shape) for k, v in convs.state_dict().items()}
    assert shapes["conv_layers.0.weight"] == (6, 8, 3, 3) and shapes["conv_layers.0.bias"] == (6,)
    assert shapes["conv_layers.3.weight"] == (5, 6, 1, 1) and shapes["final_layer.weight"] == (4, 5, 1, 1)
    assert convs(torch.randn(1, 8, 5, 7)).shape == (1, 4, 5, 7)
    no_final = HeatmapHead(8, 4, deconv_out_channels=None, final_kernel_size=None)
    assert len(no_final.state_dict()) == 0


def test_heatmap_head_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        HeatmapHead(8, 4, deconv_out_channels=(8, 8), deconv_kernel_sizes=(4,))
    with pytest.raises(ValueError, match="2, 3 or 4, got 5"):
        HeatmapHead(8, 4, deconv_out_channels=(8,), deconv_kernel_sizes=(5,))
    with pytest.raises(ValueError, match="same length"):
        HeatmapHead(8, 4, conv_out_channels=(8,), conv_kernel_sizes=None)
    head = HeatmapHead(8, 4, deconv_out_channels=None)
    with pytest.raises(ValueError, match=r"expects 8 input channels, got shape \(1, 9, 4, 4\)"):
        head(torch.zeros(1, 9, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C, h, w\)"):
        head(())


def test_srcnn_shapes_and_errors() -> None:
    x = torch.randn(2, 17, 16, 12)
    assert SRCNNRefine(17)(x).shape == (2, 17, 32, 24)
    assert SRCNNRefine(17, upscale=3)(x).shape == (2, 17, 48, 36)
    assert SRCNNRefine(17, upscale=1, channels=(8, 4), kernels=(3, 3, 1))(x).shape == (2, 17, 16, 12)
    refine = SRCNNRefine(17)
    shapes = {k: tuple(v.shape) for k, v in refine.state_dict().items()}
    assert shapes == {
        "conv1.weight": (64, 17, 9, 9), "conv1.bias": (64,),
        "conv2.weight": (32, 64, 5, 5), "conv2.bias": (32,),
        "conv3.weight": (17, 32, 5, 5), "conv3.bias": (17,),
    }
    with pytest.raises(ValueError, match=r"shape \(B, 17, h, w\), got \(2, 16, 16, 12\)"):
        refine(torch.zeros(2, 16, 16, 12))
    with pytest.raises(ValueError, match="odd"):
        SRCNNRefine(17, kernels=(9, 4, 5))
    with pytest.raises(ValueError, match="upscale"):
        SRCNNRefine(17, upscale=0)
    with pytest.raises(ValueError, match="channels"):
        SRCNNRefine(17, channels=(64,))


@pytest.mark.parametrize("unbiased", [False, True])
def test_srcnn_untrained_is_bilinear_upsampling_and_keeps_the_decode(unbiased: bool) -> None:
    torch.manual_seed(0)
    codec = MSRAHeatmap((192, 256), (48, 64), sigma=2.0, unbiased=unbiased)
    fine = MSRAHeatmap((192, 256), (96, 128), sigma=2.0, unbiased=unbiased)
    kp = np.random.default_rng(0).uniform(20, 170, size=(3, 17, 2)).astype(np.float32)
    coarse = torch.from_numpy(codec.encode(kp).heatmaps)
    refine = SRCNNRefine(17).eval()
    with torch.no_grad():
        refined = refine(coarse)
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(refined, up, rtol=0, atol=0)
    dec_refined, dec_up = fine.decode(refined.numpy()), fine.decode(up.numpy())
    np.testing.assert_array_equal(dec_refined.keypoints, dec_up.keypoints)
    np.testing.assert_array_equal(dec_refined.scores, dec_up.scores)
    if unbiased:  # DARK is sub-pixel accurate: the documented frame offset (1 px here) is all that is left
        assert refine.input_offset(4.0) == 1.0
        err = dec_refined.keypoints - refine.input_offset(4.0) - kp
        assert np.abs(err).max() < 0.01, np.abs(err).max()


def test_srcnn_gradients_flow() -> None:
    torch.manual_seed(0)
    refine = SRCNNRefine(4, channels=(8, 6), kernels=(5, 3, 3))
    coarse = torch.rand(2, 4, 8, 8, requires_grad=True)
    target = torch.rand(2, 4, 16, 16)
    F.mse_loss(refine(coarse), target).backward()
    assert coarse.grad is not None and coarse.grad.abs().sum() > 0
    assert refine.conv3.weight.grad.abs().sum() > 0 and refine.conv3.bias.grad.abs().sum() > 0
    # conv3 starts at zero, so conv1/conv2 get gradients once it has moved
    opt = torch.optim.SGD(refine.parameters(), lr=0.1)
    opt.step()
    opt.zero_grad()
    F.mse_loss(refine(coarse), target).backward()
    assert refine.conv1.weight.grad.abs().sum() > 0 and refine.conv2.weight.grad.abs().sum() > 0


def test_refined_head_behind_official_hrnet() -> None:
    folder = shared_path("fixtures", "mmpose", "parity", "hrnet_tiny")
    model, state_dict = load_fixture_model("hrnet_tiny")
    load_official(model, state_dict, source="mmpose")
    model.head = RefinedHeatmapHead(model.head, SRCNNRefine(17))
    model.eval()
    x = torch.from_numpy(np.load(folder / "input.npy"))[:1]
    ref = np.load(folder / "out_heatmaps.npy")[:1]
    with torch.no_grad():
        feats = model.extract_features(x)
        coarse, refined = model.head.forward_both(feats)
        torch.testing.assert_close(model(x), refined, rtol=0, atol=0)
    assert np.abs(coarse.numpy() - ref).max() <= 5e-5 * np.abs(ref).max()
    assert refined.shape == (1, 17, 128, 96)
    torch.testing.assert_close(refined, F.interpolate(coarse, scale_factor=2, mode="bilinear"), rtol=0, atol=0)
    assert all(k.startswith(("backbone.", "head.head.", "head.refine.")) for k in model.state_dict())
