"""UDPHeatmap behaviour beyond the MMPose fixtures: 'gaussian' geometry, 'combined' maps, NaN fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posekit.codecs import UDPHeatmap


@pytest.fixture
def codec() -> UDPHeatmap:
    return UDPHeatmap((192, 256), (48, 64), sigma=2.0)


def test_scale_factor_and_subpixel_peak(codec):
    np.testing.assert_allclose(codec.scale_factor, [191 / 47, 255 / 63], rtol=1e-6)
    kp = np.array([[[100.3, 77.7]]])
    t = codec.encode(kp)
    centre = kp[0, 0] / codec.scale_factor
    mu = (centre + 0.5).astype(int)
    value = t.heatmaps[0, 0, mu[1], mu[0]]
    d2 = ((mu - centre) ** 2).sum()
    assert value == pytest.approx(np.exp(-d2 / 8), rel=1e-6)  # Gaussian centred at the exact keypoint


def test_roundtrip_has_mmpose_decode_scale(codec):
    # MMPose decodes q / (W - 1) * w (not w - 1): the roundtrip of p is p * w / (w - 1), up to DARK error.
    rng = np.random.default_rng(0)
    kp = np.stack([rng.uniform(40, 150, (3, 17)), rng.uniform(40, 210, (3, 17))], axis=-1)
    out = codec.decode(codec.encode(kp).heatmaps)
    np.testing.assert_allclose(out.keypoints, kp * np.array([192 / 191, 256 / 255]), atol=0.02)


def test_all_zero_map_falls_back_to_argmax_with_zero_score(codec):
    hm = np.zeros((2, 3, 64, 48), dtype=np.float32)
    hm[1, 1, 10, 12] = 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = codec.decode(hm)
    invalid = -1 / np.array([47, 63]) * np.array([192, 256])
    for n, k in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]:
        np.testing.assert_allclose(out.keypoints[n, k], invalid, rtol=1e-6)
        assert out.scores[n, k] == 0
    assert out.scores[1, 1] == pytest.approx(0.8)
    assert np.isfinite(out.keypoints).all()


def test_combined_encode_layout_and_roundtrip():
    codec = UDPHeatmap((192, 256), (48, 64), heatmap_type="combined")
    kp = np.array([[[96.0, 128.0], [40.0, 60.0]], [[150.0, 200.0], [0.0, 0.0]]])
    vis = np.array([[1.0, 1.0], [1.0, 0.0]])
    t = codec.encode(kp, vis)
    assert t.heatmaps.shape == (2, 6, 64, 48)
    np.testing.assert_array_equal(t.keypoint_weights, vis)
    disc = t.heatmaps[0, 0]
    assert set(np.unique(disc)) == {0.0, 1.0}
    assert not (t.heatmaps[0, 1:3] * (1 - disc)).any()  # offsets only inside the disc
    assert not t.heatmaps[1, 3:].any()  # invisible keypoint: all three maps zero
    out = codec.decode(t.heatmaps)
    assert out.keypoints.shape == (2, 2, 2)
    # the blurred offsets shrink toward 0 (zeros outside the disc): within half a heatmap pixel
    np.testing.assert_allclose(out.keypoints[vis > 0], kp[vis > 0] * np.array([192 / 191, 256 / 255]), atol=2.0)
    np.testing.assert_allclose(out.keypoints[1, 1], -1 / np.array([47, 63]) * np.array([192, 256]), rtol=1e-6)


def test_combined_decode_adds_offset_at_disc_maximum():
    codec = UDPHeatmap((192, 256), (48, 64), heatmap_type="combined")
    hm = np.zeros((1, 3, 64, 48), dtype=np.float32)
    yy, xx = np.mgrid[:64, :48]
    hm[0, 0] = np.exp(-((xx - 20) ** 2 + (yy - 30) ** 2) / 8)
    hm[0, 1], hm[0, 2] = 0.1, -0.2  # constant offsets survive the blur; radius = 0.0546875 * 64 = 3.5
    out = codec.decode(hm)
    expected = (np.array([20 + 0.35, 30 - 0.7]) / [47, 63]) * [192, 256]
    np.testing.assert_allclose(out.keypoints[0, 0], expected, rtol=1e-5)
    assert 0 < out.scores[0, 0] < 1  # maximum of the blurred disc map, as MMPose


def test_combined_decode_checks_channel_count():
    codec = UDPHeatmap((192, 256), (48, 64), heatmap_type="combined")
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(N, 3K, 64, 48\)"):
        codec.decode(np.zeros((1, 4, 64, 48)))


def test_decode_rejects_wrong_heatmap_size(codec):
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(N, K, 64, 48\).*got \(1, 17, 48, 64\)"):
        codec.decode(np.zeros((1, 17, 48, 64)))
