"""One-Euro and Savitzky-Golay smoothing on jittered synthetic trajectories with known clean values."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import coco17
from posekit.track.smoothing import OneEuroSmoother, one_euro_alpha, savgol_smooth
from posekit.types import Poses

_OFFSETS = np.linspace(-80, 80, 17)[:, None] * [0.3, 1.0]  # 17 keypoints spread over a 200 px tall person


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _clean(t: np.ndarray) -> np.ndarray:
    """(T, 17, 2) pixels: a person holds still 1 s, moves (134 px in 0.6 s, peak 335 px/s), holds, moves back."""
    ph = np.mod(t, 3.2)
    move = _smoothstep((ph - 1.0) / 0.6) - _smoothstep((ph - 2.6) / 0.6)
    centre = np.stack([300 + 120 * move, 240 + 60 * move], axis=-1)
    return centre[:, None, :] + _OFFSETS[None]


def _holding(t: np.ndarray) -> np.ndarray:
    ph = np.mod(t, 3.2)
    return ((ph > 0.2) & (ph < 1.0)) | ((ph > 1.8) & (ph < 2.6))


def _smooth_one_euro(t: np.ndarray, kpts: np.ndarray, **kwargs) -> np.ndarray:
    sm = OneEuroSmoother(**kwargs)
    out = []
    for ti, k in zip(t, kpts):
        c = np.nanmean(k, axis=0)
        box = [[c[0] - 50, c[1] - 100, c[0] + 50, c[1] + 100]]
        poses = Poses(k[None], np.ones((1, 17)), box, coco17, track_ids=[7])
        out.append(sm.update(poses, time_s=ti).keypoints[0])
    return np.array(out, dtype=np.float64)


def _rms(a, b, mask=None):
    d = np.sum((a - b) ** 2, axis=-1)
    return float(np.sqrt(np.nanmean(d if mask is None else d[mask])))


def _best_lag(t, filtered, taus=np.arange(0.0, 0.2, 0.002)) -> float:
    """The delay tau (s) for which ``filtered(t)`` best matches ``clean(t - tau)`` (a cross-correlation peak)."""
    errs = [_rms(filtered, _clean(t - tau)) for tau in taus]
    return float(taus[int(np.argmin(errs))])


@pytest.fixture(scope="module")
def jittered():
    """Irregular timestamps (20-45 frames/s) and 2 px (1 % of the person's height) Gaussian jitter."""
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(1 / 45, 1 / 20, 400))
    clean = _clean(t)
    return t, clean, clean + rng.normal(0, 2.0, clean.shape)


def test_one_euro_alpha_matches_formula():
    # tau = 1 / (2 pi fc); alpha = 1 / (1 + tau / dt)
    np.testing.assert_allclose(one_euro_alpha(1.0, 1 / 30), 1 / (1 + 30 / (2 * np.pi)))
    fc = np.array([1.0, 2.0])
    np.testing.assert_allclose(one_euro_alpha(fc, 0.5), 1 / (1 + 1 / (2 * np.pi * fc * 0.5)))


def test_one_euro_reduces_jitter_with_bounded_lag(jittered):
    t, clean, noisy = jittered
    smooth = _smooth_one_euro(t, noisy)
    hold = _holding(t)
    # still phases: jitter drops by >= 1.7x (measured 1.87x with the defaults)
    assert _rms(noisy, clean, hold) / _rms(smooth, clean, hold) >= 1.7
    # over the whole clip, fast moves included, the error drops by >= 1.1x (measured 1.16x)
    assert _rms(noisy, clean) / _rms(smooth, clean) >= 1.1
    # lag: best-matching delay of the filtered track against the clean one is <= 20 ms (measured 10 ms)
    assert _best_lag(t, smooth) <= 0.020
    # a heavier filter (beta=2) smooths still phases more but lags more: the trade-off is real
    heavy = _smooth_one_euro(t, noisy, beta=2.0)
    assert _rms(heavy, clean, hold) < _rms(smooth, clean, hold)
    assert _best_lag(t, heavy) > 2 * _best_lag(t, smooth)


def test_one_euro_step_response():
    """Step response at 30 frames/s: a big jump (100 px, half the person's height) is followed at once, a small
    one (5 px, jitter-sized) is smoothed: 90 % of it is reached only after >= 0.1 s, but within 0.2 s."""
    t = np.arange(0, 2, 1 / 30)
    rise = {}
    for step in (100.0, 5.0):
        kpts = np.zeros((len(t), 17, 2)) + _OFFSETS[None] + 300
        kpts[t >= 1.0] += step
        out = (_smooth_one_euro(t, kpts)[:, 0, 0] - kpts[0, 0, 0]) / step
        assert np.all(out <= 1 + 1e-6) and np.all(out >= -1e-6)  # no overshoot (first-order low-pass)
        rise[step] = t[np.argmax(out >= 0.9)] - 1.0
    assert rise[100.0] <= 1 / 30 + 1e-9  # measured: 94 % on the jump frame
    assert 0.1 <= rise[5.0] <= 0.2  # measured 0.133 s


def test_one_euro_is_time_aware():
    """A constant-speed ramp sampled at 30 frames/s, at 120 frames/s and at irregular times lags by the same
    distance: the lag of a first-order low-pass is a time constant, not a number of frames."""
    speed = 60.0  # px/s: slow, so the cutoff stays near min_cutoff
    rng = np.random.default_rng(3)
    lags = []
    for t in (np.arange(0, 4, 1 / 30), np.arange(0, 4, 1 / 120), np.cumsum(rng.uniform(1 / 60, 1 / 15, 150))):
        kpts = _OFFSETS[None] + 300 + (speed * t)[:, None, None] * [1.0, 0.0]
        out = _smooth_one_euro(t, kpts)
        steady = t > 3.0
        lags.append(np.mean(kpts[steady, :, 0] - out[steady, :, 0]))
    assert lags[0] > 1.0  # it does lag
    np.testing.assert_allclose(lags[1:], lags[0], rtol=0.1)


def test_one_euro_tracks_missing_keypoints_and_ids(jittered):
    """Track 4 is smoothed (keypoint 3 missing for 5 frames stays NaN, then resumes); track -1 passes through."""
    t, clean, noisy = jittered
    sm = OneEuroSmoother()
    outs, ins = [], []
    for i in range(30):  # the first second: the person holds still
        k = noisy[i].copy()
        if 10 <= i < 15:
            k[3] = np.nan
        poses = Poses(np.stack([k, k + 500]), np.ones((2, 17)), [[0, 0, 100, 200], [500, 500, 600, 700]], coco17,
                      track_ids=[4, -1])
        out = sm.update(poses, time_s=t[i])
        assert np.isnan(out.keypoints[0, 3]).all() == (10 <= i < 15)
        np.testing.assert_array_equal(out.keypoints[1], poses.keypoints[1])  # tentative track: unchanged
        assert poses.track_ids.tolist() == [4, -1] and out.track_ids.tolist() == [4, -1]
        outs.append(out.keypoints[0])
        ins.append(poses.keypoints[0])
    outs, ins = np.array(outs, np.float64), np.array(ins, np.float64)
    assert _rms(outs, clean[:30]) < 0.7 * _rms(ins, clean[:30])
    assert _rms(outs[15:, 3], clean[15:30, 3]) < _rms(ins[15:, 3], clean[15:30, 3])  # resumed keypoint


def test_one_euro_bad_inputs():
    sm = OneEuroSmoother()
    p = Poses(np.zeros((2, 17, 2)), np.ones((2, 17)), np.zeros((2, 4)), coco17)
    with pytest.raises(ValueError, match="track_ids is None"):
        sm.update(p, time_s=0.0)
    sm.update(p[0], time_s=0.0)  # a single untracked pose is allowed
    with pytest.raises(ValueError, match="time_s must increase"):
        sm.update(p[0], time_s=0.0)
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroSmoother(min_cutoff=0)


def test_savgol_reduces_jitter_without_lag_and_keeps_gaps():
    rng = np.random.default_rng(5)
    t = np.arange(0, 8, 1 / 30)
    clean = _clean(t)
    noisy = clean + rng.normal(0, 2.0, clean.shape)
    noisy[50:60, 2] = np.nan  # a 10-frame gap of one keypoint
    noisy[100:103, :] = np.nan  # 3 frames with nothing
    noisy[200, 5, 1] = np.nan  # one coordinate missing -> the keypoint is missing
    before = noisy.copy()
    smooth = savgol_smooth(noisy, window=9, polyorder=2)
    np.testing.assert_array_equal(noisy, before)  # input untouched
    gaps = ~np.isfinite(noisy).all(-1)
    assert np.array_equal(~np.isfinite(smooth).all(-1), gaps)
    # jitter drops by >= 1.6x overall (measured 1.9x); the symmetric window has no lag
    assert _rms(noisy, clean) / _rms(smooth, clean) >= 1.6
    assert _best_lag(t, np.where(np.isnan(smooth), clean, smooth)) == 0.0


def test_savgol_short_runs_and_errors():
    from scipy.signal import savgol_filter

    x = np.random.default_rng(0).normal(size=(10, 2, 2))
    x[3] = np.nan  # runs of 3 and 6 frames
    x[8:, 1] = np.nan  # keypoint 1: runs of 3, 4
    out = savgol_smooth(x, window=5, polyorder=1)
    np.testing.assert_allclose(out[:3], savgol_filter(x[:3], 3, 1, axis=0))  # window shrunk to the run
    np.testing.assert_allclose(out[4:, 0], savgol_filter(x[4:, 0], 5, 1, axis=0))
    np.testing.assert_allclose(out[4:8, 1], savgol_filter(x[4:8, 1], 3, 1, axis=0))
    assert np.isnan(out[3]).all() and np.isnan(out[8:, 1]).all()
    out2 = savgol_smooth(x[4:6], window=5, polyorder=1)  # a 2-frame run is too short: left as is
    np.testing.assert_array_equal(out2, x[4:6])
    with pytest.raises(ValueError, match="odd"):
        savgol_smooth(x, window=4)
    with pytest.raises(ValueError, match=r"\(T, K, D\)"):
        savgol_smooth(x[:, 0])
