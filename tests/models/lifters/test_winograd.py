"""Winograd F(2, 3) dilated convolutions and the channels-last GEMM convolutions equal ``F.conv1d``; the
VideoPose3D backbone gives the same result in every evaluation form."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.models.test_lifters import _randomised  # BN with non-trivial statistics
from posekit.models.lifters import winograd
from posekit.models.lifters.temporal import videopose3d
from posekit.models.lifters.winograd import (
    conv1d_nlc,
    winograd_conv1d,
    winograd_conv1d_nlc,
    winograd_pays_off,
    winograd_weights,
)


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got.double() - ref.double()).abs().max() / ref.double().abs().max())


def _case(batch: int, cin: int, cout: int, frames: int, *, seed: int = 0, taps: int = 3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, frames, generator=gen)
    w = torch.randn(cout, cin, taps, generator=gen) / cin**0.5
    b = torch.randn(cout, generator=gen)
    return x, w, b


# frames: shorter than one 2d-block of outputs (tail only), exact multiples of 2d, odd and even remainders
@pytest.mark.parametrize("dilation,frames", [
    (1, 3), (1, 50), (1, 51), (2, 12), (2, 29), (3, 7), (3, 100), (3, 101), (9, 54), (9, 331),
    (27, 60), (27, 400), (81, 170), (81, 700),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_winograd_conv1d_equals_conv1d(dilation: int, frames: int, with_bias: bool) -> None:
    x, w, b = _case(2, 12, 10, frames, seed=dilation * 1000 + frames)
    bias = b if with_bias else None
    ref = F.conv1d(x, w, bias, dilation=dilation)
    before = x.clone()
    got = winograd_conv1d(x, w, bias, dilation=dilation)
    assert got.shape == ref.shape == (2, 10, frames - 2 * dilation) and got.is_contiguous()
    assert _rel_err(got, ref) < 1e-5
    assert _rel_err(winograd_conv1d(x, w, bias, dilation=dilation, relu=True), F.relu(ref)) < 1e-5
    nlc = winograd_conv1d_nlc(x.transpose(1, 2), w, bias, dilation=dilation)  # a non-contiguous input is fine
    assert nlc.shape == (2, frames - 2 * dilation, 10) and nlc.is_contiguous()
    assert _rel_err(nlc.transpose(1, 2), ref) < 1e-5
    torch.testing.assert_close(x, before, rtol=0, atol=0)


@pytest.mark.parametrize("dilation", [1, 3, 27])
def test_many_chunks_and_a_partial_last_chunk(dilation: int) -> None:
    # more output pairs than one chunk holds, so the chunk loop runs several times with a shorter last chunk
    frames = 2 * dilation + 2 * winograd._CHUNK_PAIRS * 2 + 2 * dilation * 3 + 1
    x, w, b = _case(1, 6, 5, frames, seed=dilation)
    ref = F.relu(F.conv1d(x, w, b, dilation=dilation))
    assert _rel_err(winograd_conv1d(x, w, b, dilation=dilation, relu=True), ref) < 1e-5
    got = winograd_conv1d_nlc(x.transpose(1, 2).contiguous(), w, b, dilation=dilation, relu=True)
    assert _rel_err(got.transpose(1, 2), ref) < 1e-5


def test_precomputed_transformed_weights_and_the_transform() -> None:
    x, w, b = _case(1, 4, 3, 40)
    tw = winograd_weights(w)
    g0, g1, g2 = w[:, :, 0], w[:, :, 1], w[:, :, 2]
    torch.testing.assert_close(tw, torch.stack([g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2]))
    torch.testing.assert_close(winograd_conv1d(x, w, b, dilation=3, transformed=tw),
                               F.conv1d(x, w, b, dilation=3), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"transformed must be a \(4, 3, 4\)"):
        winograd_conv1d(x, w, b, dilation=3, transformed=tw[:3])
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, Cin, 3\)"):
        winograd_weights(w[:, :, :2])


def test_bfloat16_stays_close_to_float32() -> None:
    x, w, b = _case(1, 256, 64, 600, seed=3)
    ref = F.conv1d(x, w, b, dilation=9)  # float32
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    direct = F.conv1d(xb, wb, bb, dilation=9)
    got = winograd_conv1d(xb, wb, bb, dilation=9)
    nlc = winograd_conv1d_nlc(xb.transpose(1, 2).contiguous(), wb, bb, dilation=9).transpose(1, 2)
    assert got.dtype == nlc.dtype == torch.bfloat16
    # bf16 keeps 8 mantissa bits: ~4e-3 relative per rounding; Winograd rounds the transforms too
    assert _rel_err(got, ref) < 3e-2 and _rel_err(nlc, ref) < 3e-2
    assert _rel_err(got, ref) < 4 * _rel_err(direct, ref) + 1e-3


@pytest.mark.parametrize("taps,dilation,cin", [(1, 1, 300), (3, 1, 34), (3, 4, 300), (5, 2, 7), (3, 2, 100)])
def test_conv1d_nlc_equals_conv1d(taps: int, dilation: int, cin: int) -> None:
    # cin * taps <= 256 takes the one-GEMM-over-windows branch, wider inputs one GEMM per tap
    x, w, b = _case(2, cin, 9, 40, seed=taps, taps=taps)
    ref = F.conv1d(x, w, b, dilation=dilation)
    got = conv1d_nlc(x.transpose(1, 2).contiguous(), w, b, dilation=dilation)
    assert got.shape == (2, 40 - (taps - 1) * dilation, 9)
    assert _rel_err(got.transpose(1, 2), ref) < 1e-5
    relu = conv1d_nlc(x.transpose(1, 2).contiguous(), w, None, dilation=dilation, relu=True)
    assert _rel_err(relu.transpose(1, 2), F.relu(F.conv1d(x, w, None, dilation=dilation))) < 1e-5


def test_out_buffers_are_filled_and_checked() -> None:
    x, w, b = _case(2, 6, 5, 70)
    xt = x.transpose(1, 2).contiguous()
    ref = F.conv1d(x, w, b, dilation=3).transpose(1, 2)
    buf = torch.full((2 * 64 * 5 + 7,), float("nan"))
    out = buf[: 2 * 64 * 5].view(2, 64, 5)
    assert winograd_conv1d_nlc(xt, w, b, dilation=3, out=out) is out
    assert _rel_err(out, ref) < 1e-5 and torch.isnan(buf[-7:]).all()
    assert conv1d_nlc(xt, w, b, dilation=3, out=out) is out
    assert _rel_err(out, ref) < 1e-5
    with pytest.raises(ValueError, match=r"out must be a contiguous \(2, 64, 5\) torch.float32 tensor"):
        winograd_conv1d_nlc(xt, w, b, dilation=3, out=torch.empty(2, 63, 5))
    with pytest.raises(ValueError, match="not contiguous"):
        conv1d_nlc(xt, w, b, dilation=3, out=torch.empty(2, 5, 64).transpose(1, 2))
    with pytest.raises(ValueError, match="must not share memory with x"):
        conv1d_nlc(xt, torch.randn(6, 6, 1), None, out=xt)  # in place is not supported


def test_bad_input_is_rejected() -> None:
    x, w, b = _case(1, 4, 3, 20)
    with pytest.raises(ValueError, match=r"x must have shape \(B, Cin, T\)"):
        winograd_conv1d(x[0], w, b)
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, 4, 3\)"):
        winograd_conv1d(x, w[:, :3], b)
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, 4, 3\)"):
        winograd_conv1d(x, torch.randn(3, 4, 5), b)
    with pytest.raises(ValueError, match="must have the dtype of x"):
        winograd_conv1d(x, w.double(), b)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        winograd_conv1d(x, w, b[:2])
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        winograd_conv1d(x, w, b, dilation=0)
    with pytest.raises(ValueError, match="needs more than .* = 20 frames, got 20"):
        winograd_conv1d(x, w, b, dilation=10)
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, 20, 3\)"):
        winograd_conv1d_nlc(x, w, b)  # (B, Cin, T) passed where (B, T, Cin) is expected
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, 20, k\)"):
        conv1d_nlc(x, w, b)


def test_pays_off_only_for_wide_layers_on_long_inputs() -> None:
    assert winograd_pays_off(1024, 1024, 10_000, dilation=81)
    assert not winograd_pays_off(64, 64, 10_000, dilation=3)
    assert not winograd_pays_off(1024, 1024, 500, dilation=3)


# ---------------------------------------------------------------- VideoPose3D backbone forms


@pytest.mark.parametrize("causal", [False, True])
def test_backbone_forms_equal_the_unfused_network(causal: bool) -> None:
    torch.manual_seed(0)
    model = _randomised(videopose3d(receptive_field=243, channels=256, causal=causal))
    x = torch.randn(2, 34, 242 + 1100)  # 1100 outputs: the automatic choice is channels-last + Winograd
    with torch.no_grad():
        ref = model.backbone.forward_dilated(x)
        auto = model.backbone.forward_dilated_fused(x)
        forms = {(cl, wg): model.backbone.forward_dilated_fused(x, channels_last=cl, winograd=wg)
                 for cl in (False, True) for wg in (False, True)}
    assert auto.shape == ref.shape == (2, 256, 1100)
    assert not auto.is_contiguous()  # the channels-last path ran (a transposed view is returned)
    assert _rel_err(auto, ref) < 1e-5
    for form, got in forms.items():
        assert _rel_err(got, ref) < 1e-5, form
    # the automatic choice on a short input is the F.conv1d path, identical to forcing it
    short = x[:, :, :300]
    with torch.no_grad():
        torch.testing.assert_close(model.backbone.forward_dilated_fused(short),
                                   model.backbone.forward_dilated_fused(short, channels_last=False, winograd=False),
                                   rtol=0, atol=0)


def test_backbone_bfloat16_with_winograd_stays_close() -> None:
    torch.manual_seed(1)
    model = _randomised(videopose3d(receptive_field=81, channels=256))
    x = torch.randn(1, 34, 80 + 1100)
    with torch.no_grad():
        ref = model.backbone.forward_dilated_fused(x, channels_last=False, winograd=False)
        direct = model.backbone.forward_dilated_fused(x.bfloat16(), channels_last=True, winograd=False)
        wino = model.backbone.forward_dilated_fused(x.bfloat16())
    assert wino.dtype == torch.bfloat16
    assert _rel_err(wino, ref) < 3e-2
    assert _rel_err(wino, ref) < 4 * _rel_err(direct, ref) + 1e-3
