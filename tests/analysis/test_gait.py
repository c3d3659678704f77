"""Gait measures on synthetic alternating ankle trajectories with a known cadence and stance ratio."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.analysis.gait import gait_measures, skeleton_gait
from posekit.skeletons import blazepose33, coco17


def _foot(t: np.ndarray, stride_s: float, stance: float, phase: float, speed: float) -> np.ndarray:
    """(T, 2) pixels of one ankle seen from the side, walking right at ``speed`` px/s: still during the stance
    fraction of each stride, then a swing with a smooth (smoothstep) forward motion and a small lift. ``phase``
    (in strides) shifts the foot in time and space (the other foot is half a stride ahead)."""
    stride_len = speed * stride_s
    u = t / stride_s + phase
    k, f = np.floor(u), u - np.floor(u)
    s = np.clip((f - stance) / (1 - stance), 0.0, 1.0)  # swing progress in [0, 1]
    x = 100 + stride_len * (k - phase + s * s * (3 - 2 * s))
    y = 400 - 15 * np.sin(np.pi * s)  # lifted during the swing (y down)
    return np.stack([x, y], axis=1)


def _walk(cadence_spm: float, *, seconds: float = 10.0, fps: float = 30.0, stance: float = 0.62,
          noise: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fps)
    stride_s = 2 * 60.0 / cadence_spm  # one stride = two steps
    left = _foot(t, stride_s, stance, 0.0, 120.0)
    right = _foot(t, stride_s, stance, 0.5, 120.0)
    return t, left + rng.normal(0, noise, left.shape), right + rng.normal(0, noise, right.shape), stride_s


@pytest.mark.parametrize("cadence", [90.0, 110.0, 125.0])
def test_cadence_steps_and_stance(cadence):
    t, left, right, stride_s = _walk(cadence)
    g = gait_measures(left, right, fps=30.0)
    assert g.cadence_spm == pytest.approx(cadence, rel=0.03)
    expected_steps = 2 * t[-1] / stride_s  # heel strikes in the clip
    assert abs(g.step_count - expected_steps) <= 1.5
    # steps alternate: consecutive step events are half a stride apart
    np.testing.assert_allclose(np.diff(g.step_times_s), stride_s / 2, atol=1.5 / 30)
    # stance 62 %: the slow start and end of the swing read as stance, so allow +0.08 (measured 0.61-0.66)
    for ratio in (g.stance_ratio_left, g.stance_ratio_right):
        assert 0.58 <= ratio <= 0.70
    assert g.swing_ratio_left == pytest.approx(1 - g.stance_ratio_left)


def test_variable_timestamps_and_gaps():
    t, left, right, stride_s = _walk(105.0, fps=60.0, seed=3)
    keep = np.ones(len(t), bool)
    keep[3::5] = False  # irregular sampling
    left[100:110] = np.nan  # the left ankle hidden for a moment
    g = gait_measures(left[keep], right[keep], time_s=t[keep])
    assert g.cadence_spm == pytest.approx(105.0, rel=0.04)
    assert np.isfinite(g.stance_ratio_left) and np.isfinite(g.stance_ratio_right)


def test_standing_still_has_no_steps():
    rng = np.random.default_rng(4)
    left = np.array([110.0, 400.0]) + rng.normal(0, 1.0, (300, 2))
    right = np.array([90.0, 400.0]) + rng.normal(0, 1.0, (300, 2))
    g = gait_measures(left, right, fps=30.0, prominence=10.0)
    assert g.step_count == 0
    assert np.isnan(g.cadence_spm) and np.isnan(g.stance_ratio_left) and np.isnan(g.stance_ratio_right)


def test_skeleton_gait_takes_ankles_by_name():
    t, left, right, _ = _walk(100.0)
    for skeleton in (coco17, blazepose33):
        kpts = np.full((len(t), skeleton.num_keypoints, 2), np.nan)
        kpts[:, skeleton.index("left_ankle")] = left
        kpts[:, skeleton.index("right_ankle")] = right
        g = skeleton_gait(kpts, skeleton, fps=30.0)
        assert g.cadence_spm == pytest.approx(100.0, rel=0.03)


def test_errors():
    with pytest.raises(ValueError, match=r"left_ankle must have shape \(T, 2\) or \(T, 3\)"):
        gait_measures(np.zeros((10, 4)), np.zeros((10, 4)), fps=30.0)
    with pytest.raises(ValueError, match="same shape"):
        gait_measures(np.zeros((10, 2)), np.zeros((11, 2)), fps=30.0)
    with pytest.raises(ValueError, match="exactly one of time_s"):
        gait_measures(np.zeros((10, 2)), np.zeros((10, 2)))
