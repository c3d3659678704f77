"""MSRAHeatmap behaviour beyond the MMPose fixtures: geometry, edge cases, NaN handling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap, heatmap_argmax


@pytest.fixture
def codec() -> MSRAHeatmap:
    return MSRAHeatmap((192, 256), (48, 64), sigma=2.0)


def test_encode_peak_at_rounded_keypoint(codec):
    t = codec.encode(np.array([[[41.0, 101.0], [10.0, 20.0]]]))  # heatmap (10.25, 25.25) and (2.5, 5)
    assert t.heatmaps.shape == (1, 2, 64, 48) and t.heatmaps.dtype == np.float32
    locs, vals = heatmap_argmax(t.heatmaps)
    np.testing.assert_array_equal(locs[0], [[10, 25], [3, 5]])  # int(x + 0.5) rounding
    np.testing.assert_array_equal(vals, 1.0)
    # 6 sigma + 1 = 13 pixel window, separable Gaussian
    assert np.count_nonzero(t.heatmaps[0, 0]) == 13 * 13
    assert t.heatmaps[0, 0, 25, 11] == pytest.approx(np.exp(-1 / 8), rel=1e-6)


def test_roundtrip_interior_quarter_offset(codec):
    kp = np.array([[[96.0, 128.0], [48.0, 72.0]]], dtype=np.float32)
    out = codec.decode(codec.encode(kp).heatmaps)
    np.testing.assert_array_equal(out.keypoints, kp)  # exact grid points, symmetric peaks
    np.testing.assert_array_equal(out.scores, 1.0)


def test_dark_roundtrip_is_subpixel():
    codec = MSRAHeatmap((192, 256), (48, 64), sigma=2.0, unbiased=True)
    rng = np.random.default_rng(0)
    kp = np.stack([rng.uniform(40, 150, (4, 17)), rng.uniform(40, 210, (4, 17))], axis=-1)
    out = codec.decode(codec.encode(kp).heatmaps)
    np.testing.assert_allclose(out.keypoints, kp, atol=5e-3)


def test_nan_and_infinite_keypoints_are_invisible(codec):
    kp = np.array([[[np.nan, 10.0], [20.0, np.inf], [1e30, -1e30], [96.0, 128.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = codec.encode(kp, np.ones((1, 4)))
    np.testing.assert_array_equal(t.keypoint_weights, [[0, 0, 0, 1]])
    assert not t.heatmaps[0, :3].any() and t.heatmaps[0, 3].max() == 1


def test_visibility_threshold_and_weights_follow_mmpose(codec):
    kp = np.full((1, 3, 2), 100.0)
    t = codec.encode(kp, np.array([[0.4, 0.6, 0.0]]))
    np.testing.assert_allclose(t.keypoint_weights, [[0.4, 0.6, 0.0]])  # weight = visibility as given
    assert not t.heatmaps[0, 0].any() and t.heatmaps[0, 1].any() and not t.heatmaps[0, 2].any()
    # bool visibility is accepted
    t2 = codec.encode(kp, np.array([[True, False, True]]))
    np.testing.assert_array_equal(t2.keypoint_weights, [[1, 0, 1]])


def test_window_overlap_keeps_weight_outside_map(codec):
    # (-15, 30): heatmap x = -3.75 -> window [-9, 4) still overlaps the map; (-40, 30) does not.
    t = codec.encode(np.array([[[-15.0, 30.0], [-40.0, 30.0]]]))
    np.testing.assert_array_equal(t.keypoint_weights, [[1, 0]])
    assert t.heatmaps[0, 0].any() and not t.heatmaps[0, 1].any()


def test_empty_batch(codec):
    t = codec.encode(np.zeros((0, 17, 2)))
    assert t.heatmaps.shape == (0, 17, 64, 48) and t.keypoint_weights.shape == (0, 17)
    out = MSRAHeatmap((192, 256), (48, 64), unbiased=True).decode(t.heatmaps)
    assert out.keypoints.shape == (0, 17, 2) and out.scores.shape == (0, 17)


def test_dark_decode_of_all_zero_map_gives_argmax_and_zero_score():
    codec = MSRAHeatmap((192, 256), (48, 64), unbiased=True)
    hm = np.zeros((1, 2, 64, 48), dtype=np.float32)
    hm[0, 1, 30, 20] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = codec.decode(hm)
    np.testing.assert_array_equal(out.keypoints[0, 0], [-4, -4])
    assert out.scores[0, 0] == 0 and out.scores[0, 1] == 1
    np.testing.assert_allclose(out.keypoints[0, 1], [80, 120], atol=1e-4)  # single-pixel peak: no offset


def test_decode_does_not_modify_input():
    codec = MSRAHeatmap((192, 256), (48, 64), unbiased=True)
    hm = np.random.default_rng(1).random((2, 3, 64, 48)).astype(np.float32)
    before = hm.copy()
    codec.decode(hm)
    np.testing.assert_array_equal(hm, before)


def test_decode_float16_torch_tensor():
    import torch  # a posekit dependency; the codecs themselves need only numpy
    codec = MSRAHeatmap((192, 256), (48, 64))
    hm = codec.encode(np.array([[[60.0, 80.0]]])).heatmaps
    out = codec.decode(torch.from_numpy(hm).to(torch.bfloat16))
    np.testing.assert_array_equal(out.keypoints, [[[60.0, 80.0]]])


def test_heatmap_argmax_any_leading_dims():
    hm = np.zeros((2, 3, 4, 5, 6), dtype=np.float32)
    hm[1, 2, 3, 4, 5] = 2.0
    hm[0, 0, 0] = -1.0
    locs, vals = heatmap_argmax(hm)
    assert locs.shape == (2, 3, 4, 2) and vals.shape == (2, 3, 4)
    np.testing.assert_array_equal(locs[1, 2, 3], [5, 4])
    np.testing.assert_array_equal(locs[0, 0, 0], [-1, -1])  # max <= 0
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(\.\.\., H, W\)"):
        heatmap_argmax(np.zeros(5))
