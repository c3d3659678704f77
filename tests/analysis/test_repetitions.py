"""Repetition counting on synthetic squat-like knee-angle signals with noise, and on noise alone."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.analysis.repetitions import count_repetitions, frame_times, repetition_thresholds


def _squats(n_reps: int, *, fps: float = 30.0, period_s: float = 2.2, rest_s: float = 0.8, depth: float = 80.0,
            noise: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Knee angle (degrees): standing at 170, each squat a raised-cosine dip of ``depth`` lasting ``period_s``,
    separated by ``rest_s`` of standing; Gaussian noise. Returns (t, angle, [(dip start, dip end) seconds])."""
    rng = np.random.default_rng(seed)
    total = rest_s + n_reps * (period_s + rest_s)
    t = np.arange(0, total, 1 / fps)
    angle = np.full_like(t, 170.0)
    dips = []
    for r in range(n_reps):
        t0 = rest_s + r * (period_s + rest_s)
        inside = (t >= t0) & (t < t0 + period_s)
        angle[inside] -= depth * (1 - np.cos(2 * np.pi * (t[inside] - t0) / period_s)) / 2
        dips.append((t0, t0 + period_s))
    return t, angle + rng.normal(0, noise, t.shape), dips


@pytest.mark.parametrize("seed", range(5))
def test_counts_noisy_squats_exactly(seed):
    n = 3 + seed  # 3..7 repetitions
    t, angle, dips = _squats(n, noise=4.0, seed=seed)
    reps = count_repetitions(angle, fps=30.0)
    assert len(reps) == n
    for rep, (d0, d1) in zip(reps, dips):
        assert d0 - 0.1 <= rep.start_s < rep.end_s <= d1 + 0.1  # the interval sits inside the dip
        assert abs(t[rep.extreme] - (d0 + d1) / 2) < 0.35  # the bottom is near the dip's middle
        assert rep.depth < 110
        assert rep.duration_s > 0.5 * (d1 - d0)


def test_variable_timestamps_and_nan_samples():
    t, angle, dips = _squats(4, seed=7)
    angle[::7] = np.nan  # dropped detections
    keep = np.ones(len(t), bool)
    keep[5::11] = False  # dropped frames: irregular timestamps
    reps = count_repetitions(angle[keep], time_s=t[keep])
    assert len(reps) == 4
    assert all(d0 - 0.1 <= r.start_s and r.end_s <= d1 + 0.1 for r, (d0, d1) in zip(reps, dips))


def test_no_false_reps_on_noise_only():
    rng = np.random.default_rng(1)
    for noise in (2.0, 5.0):
        angle = 170 + rng.normal(0, noise, 600)
        assert count_repetitions(angle, fps=30.0) == []  # auto: the range is below min_amplitude
        assert count_repetitions(angle, fps=30.0, low=120, high=150) == []
    # even with thresholds inside the noise band, the hysteresis gap and min_duration reject chatter
    angle = 170 + rng.normal(0, 2.0, 600)
    assert count_repetitions(angle, fps=30.0, low=164, high=172, min_duration_s=0.5) == []


def test_hysteresis_counts_one_rep_despite_chatter_at_the_bottom():
    """A single dip whose bottom oscillates across ``low`` counts once."""
    fps = 30.0
    t = np.arange(0, 4, 1 / fps)
    angle = np.where((t > 1) & (t < 3), 100 + 15 * np.sin(2 * np.pi * 5 * t), 170.0)
    reps = count_repetitions(angle, fps=fps, low=110, high=150)
    assert len(reps) == 1
    assert reps[0].start == 30 and reps[0].end == 90


def test_direction_up_and_min_duration():
    t, angle, _ = _squats(3, seed=2)
    mirrored = 200 - angle  # e.g. a jumping jack's shoulder angle rises during the movement
    assert len(count_repetitions(mirrored, fps=30.0, direction="up")) == 3
    # the wrong direction counts the rests between the movements instead (2 gaps between 3 peaks)
    assert len(count_repetitions(mirrored, fps=30.0, direction="down")) == 2
    assert len(count_repetitions(angle, fps=30.0, min_duration_s=3.0)) == 0  # every dip lasts 2.2 s


def test_open_excursions_are_not_counted():
    t, angle, dips = _squats(3, noise=0.0)
    cut = int(np.searchsorted(t, (dips[2][0] + dips[2][1]) / 2))  # stop in the middle of the third squat
    assert len(count_repetitions(angle[:cut], fps=30.0, low=120, high=150)) == 2
    start = int(np.searchsorted(t, (dips[0][0] + dips[0][1]) / 2))  # start in the middle of the first
    assert len(count_repetitions(angle[start:], fps=30.0, low=120, high=150)) == 2


def test_thresholds_and_errors():
    _, angle, _ = _squats(3, noise=0.0)
    low, high = repetition_thresholds(angle)
    assert 90 < low < high < 170
    assert repetition_thresholds(np.full(50, 170.0)) is None
    with pytest.raises(ValueError, match="exactly one of time_s"):
        count_repetitions(angle)
    with pytest.raises(ValueError, match="both low and high"):
        count_repetitions(angle, fps=30.0, low=100)
    with pytest.raises(ValueError, match="low must be below high"):
        count_repetitions(angle, fps=30.0, low=150, high=100)
    with pytest.raises(ValueError, match=r"signal must have shape \(T,\)"):
        count_repetitions(angle[None], fps=30.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        frame_times(3, time_s=np.array([0.0, 0.0, 1.0]))
