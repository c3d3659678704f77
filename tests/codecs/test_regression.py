"""Regression codec behaviour beyond the MMPose fixture."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.codecs import Regression


def test_encode_labels_and_weights():
    codec = Regression((192, 256))
    kp = np.array([[[96.0, 64.0], [191.0, 255.0], [191.5, 10.0], [-0.1, 10.0], [np.nan, 3.0], [5.0, 5.0]]])
    vis = np.array([[1, 1, 1, 1, 1, 0.5]])
    t = codec.encode(kp, vis)
    np.testing.assert_allclose(t.keypoint_labels[0, :2], [[0.5, 0.25], [191 / 192, 255 / 256]], rtol=1e-6)
    np.testing.assert_array_equal(t.keypoint_weights, [[1, 1, 0, 0, 0, 0]])  # inside [0, w-1] and vis > 0.5
    np.testing.assert_array_equal(t.keypoint_labels[0, 4], [0, 0])  # non-finite -> 0 label, weight 0


def test_decode_roundtrip_and_sigma_scores():
    codec = Regression((192, 256))
    kp = np.array([[[10.0, 20.0], [100.0, 200.0]]], dtype=np.float32)
    out = codec.decode(codec.encode(kp).keypoint_labels)
    np.testing.assert_allclose(out.keypoints, kp, rtol=1e-6)
    np.testing.assert_array_equal(out.scores, 1.0)
    coords = np.concatenate([codec.encode(kp).keypoint_labels, np.full((1, 2, 2), 0.25)], axis=-1)
    np.testing.assert_allclose(codec.decode(coords).scores, 0.75)


def test_decode_rejects_bad_last_dim():
    with pytest.raises(ValueError, match=r"coords must have shape \(N, K, 2\) or \(N, K, 4\), got \(1, 17, 3\)"):
        Regression((192, 256)).decode(np.zeros((1, 17, 3)))
