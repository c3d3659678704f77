"""posekit.numerics.sigmoid: float32 MediaPipe formula, stable for large |x|."""

from __future__ import annotations

import warnings

import numpy as np

from posekit.numerics import sigmoid


def test_sigmoid_float32_in_float32_out_same_shape():
    x = np.linspace(-6, 6, 24, dtype=np.float32).reshape(2, 3, 4)
    y = sigmoid(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)
    assert sigmoid(np.float32(0)) == np.float32(0.5)


def test_sigmoid_is_the_float32_mediapipe_formula():
    x = np.random.default_rng(0).normal(0, 8, 1000).astype(np.float32)
    with np.errstate(over="ignore"):
        expected = (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)
    np.testing.assert_array_equal(sigmoid(x), expected)


def test_sigmoid_stable_for_large_magnitudes():
    x = np.array([-1e30, -1000.0, -100.0, 100.0, 1000.0, 1e30])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning
        y = sigmoid(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    assert np.isfinite(y).all()
