"""Bad input: every codec rejects wrong shapes, dtypes and options with a clear error."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap, Regression, SimCC, UDPHeatmap

CODECS = [
    MSRAHeatmap((192, 256), (48, 64)),
    MSRAHeatmap((192, 256), (48, 64), unbiased=True),
    UDPHeatmap((192, 256), (48, 64)),
    UDPHeatmap((192, 256), (48, 64), heatmap_type="combined"),
    SimCC((192, 256), sigma=(4.9, 5.66)),
    Regression((192, 256)),
]
IDS = ["msra", "msra_dark", "udp", "udp_combined", "simcc", "regression"]


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
@pytest.mark.parametrize(
    ("keypoints", "match"),
    [
        (np.zeros((3, 17)), r"keypoints must have shape \(N, K, 2\), got \(3, 17\)"),
        (np.zeros((1, 17, 3)), r"keypoints must have shape \(N, K, 2\), got \(1, 17, 3\)"),
        (np.zeros((2, 1, 17, 2)), r"keypoints must have shape \(N, K, 2\)"),
    ],
)
def test_encode_rejects_wrong_shapes(codec, keypoints, match):
    with pytest.raises(ValueError, match=match):
        codec.encode(keypoints)


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_encode_rejects_non_numeric(codec):
    with pytest.raises(TypeError, match="keypoints must be a numeric array, got dtype <U"):
        codec.encode(np.full((1, 2, 2), "a"))
    with pytest.raises(TypeError, match="keypoints must be a numeric array, got dtype object"):
        codec.encode(np.array([[[1, 2], [3, None]]], dtype=object))
    with pytest.raises(ValueError, match="keypoints could not be converted"):
        codec.encode([[[1.0, 2.0], [3.0]]])
    with pytest.raises(TypeError, match="keypoints_visible must be a numeric array"):
        codec.encode(np.zeros((1, 2, 2)), np.array([["x", "y"]]))


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_encode_rejects_bad_visibility(codec):
    kp = np.zeros((2, 3, 2))
    with pytest.raises(ValueError, match=r"keypoints_visible must have shape \(N, K\) = \(2, 3\).*got \(3, 2\)"):
        codec.encode(kp, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"keypoints_visible must hold values in \[0, 1\]"):
        codec.encode(kp, np.full((2, 3), 2.0))  # e.g. raw COCO flags
    with pytest.raises(ValueError, match=r"keypoints_visible must hold values in \[0, 1\]"):
        codec.encode(kp, np.full((2, 3), np.nan))


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_encode_nan_keypoints_never_crash(codec):
    kp = np.full((2, 4, 2), 60.0)
    kp[0, 1] = np.nan
    kp[1, 2, 0] = np.nan
    kp[1, 3] = [np.inf, -np.inf]
    before = kp.copy()
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")  # no RuntimeWarning (invalid cast, NaN comparison) escapes either
        t = codec.encode(kp)
    np.testing.assert_array_equal(kp, before)
    expected = np.ones((2, 4), dtype=np.float32)
    expected[0, 1] = expected[1, 2] = expected[1, 3] = 0
    np.testing.assert_array_equal(t.keypoint_weights, expected)
    for field in dataclasses.fields(t):
        value = getattr(t, field.name)
        assert np.isfinite(value).all(), field.name


NON_SIMCC = [(c, i) for c, i in zip(CODECS, IDS) if not isinstance(c, SimCC)]


@pytest.mark.parametrize("codec", [c for c, _ in NON_SIMCC], ids=[i for _, i in NON_SIMCC])
def test_decode_rejects_bad_arrays(codec):
    with pytest.raises(ValueError, match="must have shape"):
        codec.decode(np.zeros((17, 64, 48)) if not isinstance(codec, Regression) else np.zeros((17, 2)))
    with pytest.raises(TypeError, match="must be a numeric array"):
        codec.decode(np.full((1, 3, 64, 48), "s"))


def test_simcc_decode_rejects_bad_arrays():
    codec = SimCC((192, 256))
    with pytest.raises(ValueError, match=r"simcc_x must have shape \(N, K, Wx\), got \(17, 384\)"):
        codec.decode(np.zeros((17, 384)), np.zeros((1, 17, 512)))
    with pytest.raises(TypeError, match="simcc_x must be a numeric array"):
        codec.decode(np.zeros((1, 17, 384), dtype=complex), np.zeros((1, 17, 512)))


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: MSRAHeatmap((192, 256, 3), (48, 64)), "input_size must be a pair of positive integers"),
        (lambda: MSRAHeatmap((192, 0), (48, 64)), "input_size must be a pair of positive integers"),
        (lambda: MSRAHeatmap((192.5, 256), (48, 64)), "input_size must be a pair of positive integers"),
        (lambda: MSRAHeatmap((True, 256), (48, 64)), "input_size must be a pair of positive integers"),
        (lambda: MSRAHeatmap((192, 256), "48x64"), "heatmap_size must be a pair of positive integers"),
        (lambda: MSRAHeatmap((192, 256), (48, 64), sigma=0), "sigma must be a positive finite number"),
        (lambda: MSRAHeatmap((192, 256), (48, 64), sigma=float("nan")), "sigma must be a positive finite number"),
        (lambda: MSRAHeatmap((192, 256), (48, 64), blur_kernel_size=10), "blur_kernel_size must be a positive"),
        (lambda: UDPHeatmap((192, 256), (1, 64)), r"heatmap_size must be at least \(2, 2\)"),
        (lambda: UDPHeatmap((192, 256), (48, 64), heatmap_type="offset"), "heatmap_type must be one of"),
        (lambda: SimCC((192, 256), sigma=(1.0, 2.0, 3.0)), "sigma must be a positive number or a pair"),
        (lambda: SimCC((192, 256), sigma=-1), "sigma must be a positive finite number"),
        (lambda: SimCC((192, 256), simcc_split_ratio=0), "simcc_split_ratio must be a positive"),
        (lambda: SimCC((192, 256), smoothing_type="laplace"), "smoothing_type must be one of"),
        (lambda: SimCC((192, 256), label_smooth_weight=0.1), "only used with smoothing_type='standard'"),
        (
            lambda: SimCC((192, 256), smoothing_type="standard", label_smooth_weight=2),
            r"label_smooth_weight must be in \[0, 1\]",
        ),
        (lambda: Regression("192x256"), "input_size must be a pair of positive integers"),
    ],
)
def test_constructor_validation(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_codecs_are_frozen_hashable_and_keyword_only():
    codec = MSRAHeatmap([192, 256], np.array([48, 64]))
    assert codec.input_size == (192, 256) and codec.heatmap_size == (48, 64)
    assert hash(codec) == hash(MSRAHeatmap((192, 256), (48, 64)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        codec.sigma = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        MSRAHeatmap((192, 256), (48, 64), 2.0)  # type: ignore[misc]
