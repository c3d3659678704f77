"""SimCC behaviour beyond the MMPose fixtures: label geometry, standard smoothing, DARK, visibility."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from posekit.codecs import SimCC


@pytest.fixture
def rtmpose() -> SimCC:
    return SimCC((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False)


def test_sizes_sigma_pair_and_kernels(rtmpose):
    assert rtmpose.simcc_size == (384, 512)
    assert rtmpose.sigma == (4.9, 5.66)
    assert rtmpose.blur_kernel_sizes == (29, 35)  # MMPose: (20 sigma - 7) // 3, made odd
    assert SimCC((192, 256), sigma=6).sigma == (6.0, 6.0)


def test_gaussian_labels_centre_and_half_even_rounding(rtmpose):
    t = rtmpose.encode(np.array([[[10.25, 20.75], [100.0, 3.0]]]))
    assert t.x_labels.shape == (1, 2, 384) and t.y_labels.shape == (1, 2, 512)
    # 10.25 * 2 = 20.5 -> 20 (half to even), 20.75 * 2 = 41.5 -> 42
    assert t.x_labels[0, 0].argmax() == 20 and t.y_labels[0, 0].argmax() == 42
    assert t.x_labels[0, 0, 20] == 1.0
    assert t.x_labels[0, 0, 21] == pytest.approx(math.exp(-1 / (2 * 4.9**2)), rel=1e-6)
    normalized = SimCC((192, 256), sigma=6.0, normalize=True).encode(np.array([[[100.0, 3.0]]]))
    assert normalized.x_labels.max() == pytest.approx(1 / (6.0 * math.sqrt(2 * math.pi)), rel=1e-6)


def test_roundtrip_is_half_pixel_exact(rtmpose):
    kp = np.array([[[96.5, 128.0], [0.0, 255.5]]], dtype=np.float32)
    out = rtmpose.decode(*_labels(rtmpose.encode(kp)))
    np.testing.assert_array_equal(out.keypoints, kp)
    np.testing.assert_array_equal(out.scores, 1.0)


def _labels(t):
    return t.x_labels, t.y_labels


def test_out_of_range_weights(rtmpose):
    # x = -7 -> bin -14: window reaches bin 0.7 (kept); x = -8 -> bin -16: none (weight 0)
    t = rtmpose.encode(np.array([[[-7.0, 10.0], [-8.0, 10.0]]]))
    np.testing.assert_array_equal(t.keypoint_weights, [[1, 0]])
    assert t.x_labels[0, 0].any() and not t.x_labels[0, 1].any() and not t.y_labels[0, 1].any()


def test_standard_smoothing():
    codec = SimCC((192, 256), smoothing_type="standard", label_smooth_weight=0.1)
    t = codec.encode(np.array([[[50.0, 60.0], [-1.0, 60.0]]]))
    assert t.x_labels[0, 0, 100] == pytest.approx(0.9)
    assert t.x_labels[0, 0, 0] == pytest.approx(0.1 / 383)
    np.testing.assert_allclose(t.x_labels[0, 0].sum(), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(t.keypoint_weights, [[1, 0]])  # bin -2 is outside
    one_hot = SimCC((192, 256), smoothing_type="standard").encode(np.array([[[50.0, 60.0]]]))
    assert one_hot.x_labels.sum() == 1 and one_hot.x_labels[0, 0, 100] == 1


def test_dark_refines_between_bins():
    codec = SimCC((192, 256), sigma=(4.9, 5.66), normalize=False, use_dark=True)
    bins = np.arange(384)
    x = np.exp(-((bins - 100.3) ** 2) / (2 * 4.9**2))[None, None]
    y = np.exp(-((np.arange(512) - 200.6) ** 2) / (2 * 5.66**2))[None, None]
    out = codec.decode(x, y)
    np.testing.assert_allclose(out.keypoints[0, 0], [50.15, 100.3], atol=0.01)


def test_dark_all_zero_vector_gives_argmax_and_zero_score():
    codec = SimCC((192, 256), sigma=(4.9, 5.66), normalize=False, use_dark=True)
    x = np.zeros((1, 2, 384), dtype=np.float32)
    y = np.zeros((1, 2, 512), dtype=np.float32)
    x[0, 1, 100] = y[0, 1, 200] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = codec.decode(x, y)
    np.testing.assert_array_equal(out.keypoints[0, 0], [-0.5, -0.5])
    assert out.scores[0, 0] == 0 and out.scores[0, 1] == 1
    np.testing.assert_allclose(out.keypoints[0, 1], [50, 100], atol=1e-4)


def test_visibility_is_softmax_peak():
    codec = SimCC((192, 256), sigma=6.0, decode_visibility=True)
    x = np.zeros((1, 1, 384))
    y = np.zeros((1, 1, 512))
    out = codec.decode(x, y)  # flat logits: softmax max = 1 / bins, min over axes
    np.testing.assert_allclose(out.visibility, [[1 / 512]], rtol=1e-5)
    x[0, 0, 7] = y[0, 0, 9] = 1.0
    out = codec.decode(x, y)
    assert out.visibility[0, 0] > 0.99 and out.visibility.dtype == np.float32


def test_decode_checks_batch_shapes(rtmpose):
    with pytest.raises(ValueError, match="must share N and K"):
        rtmpose.decode(np.zeros((2, 17, 384)), np.zeros((2, 16, 512)))
    with pytest.raises(ValueError, match=r"simcc_y must have shape \(N, K, Hy\)"):
        rtmpose.decode(np.zeros((2, 17, 384)), np.zeros((17, 512)))


def test_decode_torch_inputs_on_any_dtype(rtmpose):
    import torch  # a posekit dependency; the codecs themselves need only numpy
    t = rtmpose.encode(np.array([[[33.0, 44.5]]]))
    out = rtmpose.decode(torch.from_numpy(t.x_labels).half(), torch.from_numpy(t.y_labels).double())
    np.testing.assert_array_equal(out.keypoints, [[[33.0, 44.5]]])
