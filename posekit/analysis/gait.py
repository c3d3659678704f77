"""Gait measures from the two ankle trajectories of one person: steps, cadence, stance/swing ratio.

Steps: the distance between the ankles peaks once per step (the feet are furthest apart around each heel strike),
so the step events are the local maxima of ``|left - right|`` (smoothed over ``step_smooth_s``) found by
:func:`scipy.signal.find_peaks` with a minimum spacing (``min_step_s``) and a minimum prominence (default 30 % of
the distance's 5-95 % range); each event is the middle of the peak's flat top (the samples within 20 % of the
prominence of the maximum), which for walking is the middle of the double-support phase, just after heel strike.
Cadence (steps per minute) is ``120 / median stride time``, a stride being the time from a step event to the
next but one (robust to a missed event and to unequal left and right steps; ``60 / step time`` with 2 events).
Events that fall more than ``min_step_s / 2`` from any visible sample are dropped.

Stance/swing: a foot is in stance while its ankle is (nearly) still, i.e. its speed is below
``stance_speed_fraction`` times the ankle's 95th-percentile speed. That needs a static camera and a walk that
moves the feet across the image (a side or oblique view); it is NaN when fewer than 2 steps are found (standing,
too short a clip) or an ankle is visible in too few samples. Positions are smoothed with a short Savitzky-Golay
filter before speeds are taken, so keypoint jitter does not read as swing. The slow start and end of a swing fall
under the threshold too, so stance is over-estimated a little (by about 0.03 for a smooth swing and the default
fraction 0.2).

Works in image pixels (T, 2) or in 3D (T, 3); all measures are ratios, counts or times, so units cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from posekit.analysis.repetitions import frame_times
from posekit.skeletons import Skeleton
from posekit.track.smoothing import savgol_smooth

__all__ = ["GaitMeasures", "gait_measures", "skeleton_gait"]


@dataclass(frozen=True)
class GaitMeasures:
    """Gait measures of one walking sequence.

    Attributes:
        step_frames: (S,) int64 sample indices of the step events (ankle-distance maxima).
        step_times_s: (S,) float64 their times in seconds.
        cadence_spm: steps per minute (NaN with fewer than 2 steps).
        stance_ratio_left, stance_ratio_right: fraction of the visible time each foot is in stance, in [0, 1]
            (NaN where not measurable, see the module docstring).
    """

    step_frames: np.ndarray
    step_times_s: np.ndarray
    cadence_spm: float
    stance_ratio_left: float
    stance_ratio_right: float

    @property
    def step_count(self) -> int:
        return int(len(self.step_frames))

    @property
    def swing_ratio_left(self) -> float:
        return 1.0 - self.stance_ratio_left

    @property
    def swing_ratio_right(self) -> float:
        return 1.0 - self.stance_ratio_right


def _check_track(name: str, x: np.ndarray) -> np.ndarray:
    a = np.array(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] not in (2, 3):
        raise ValueError(f"{name} must have shape (T, 2) or (T, 3), got {a.shape}")
    return a


def _stance_ratio(pos: np.ndarray, t: np.ndarray, fraction: float, window: int, min_visible: float) -> float:
    valid = np.isfinite(pos).all(axis=1)
    if valid.mean() < min_visible or valid.sum() < max(window, 3):
        return float("nan")
    smooth = savgol_smooth(pos[:, None, :], window=window, polyorder=2)[:, 0]
    pair = valid[1:] & valid[:-1]
    speed = np.linalg.norm(np.diff(smooth, axis=0), axis=1) / np.diff(t)
    speed = speed[pair]
    if speed.size < 3:
        return float("nan")
    fast = np.percentile(speed, 95)
    if not fast > 0:
        return float("nan")
    return float(np.mean(speed < fraction * fast))


def _plateau_middle(x: np.ndarray, peak: int, prominence: float) -> int:
    """Middle index of the run around ``peak`` where ``x`` stays within 20 % of ``prominence`` of the peak value
    (a noisy flat top, e.g. double support, has its maximum anywhere on it)."""
    floor = x[peak] - 0.2 * prominence
    lo, hi = peak, peak
    while lo > 0 and x[lo - 1] >= floor:
        lo -= 1
    while hi < len(x) - 1 and x[hi + 1] >= floor:
        hi += 1
    return (lo + hi) // 2


def gait_measures(
    left_ankle: np.ndarray,
    right_ankle: np.ndarray,
    *,
    time_s: np.ndarray | None = None,
    fps: float | None = None,
    min_step_s: float = 0.25,
    step_smooth_s: float = 0.2,
    prominence: float | None = None,
    stance_speed_fraction: float = 0.2,
    smooth_window: int = 5,
    min_visible: float = 0.5,
) -> GaitMeasures:
    """Steps, cadence and stance ratios from the ankle trajectories.

    Args:
        left_ankle, right_ankle: (T, 2) image pixels (x right, y down) or (T, 3) 3D points; NaN = not visible.
        time_s: (T,) sample times in seconds, or ``fps``: constant sample rate (exactly one).
        min_step_s: minimum time between two step events.
        step_smooth_s: the ankle distance is smoothed (Savitzky-Golay, order 2) over about this many seconds
            before its peaks are taken (0 = no smoothing).
        prominence: minimum prominence of an ankle-distance peak, in the trajectories' units (default 30 % of
            the distance's 5-95 % range).
        stance_speed_fraction: stance threshold as a fraction of the ankle's 95th-percentile speed.
        smooth_window: odd Savitzky-Golay window (samples) applied before speeds are taken.
        min_visible: an ankle visible in fewer than this fraction of the samples gets a NaN stance ratio.

    Returns:
        :class:`GaitMeasures`.
    """
    left, right = _check_track("left_ankle", left_ankle), _check_track("right_ankle", right_ankle)
    if left.shape != right.shape:
        raise ValueError(f"left_ankle {left.shape} and right_ankle {right.shape} must have the same shape")
    t = frame_times(len(left), time_s=time_s, fps=fps)
    dist = np.linalg.norm(left - right, axis=1)
    ok = np.isfinite(dist)
    steps = np.zeros(0, np.int64)
    if ok.sum() >= 3:
        filled = np.interp(np.arange(len(dist)), np.flatnonzero(ok), dist[ok])
        if prominence is None:
            p5, p95 = np.percentile(dist[ok], [5, 95])
            prominence = 0.3 * (p95 - p5)
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        # smooth over ~0.2 s so a flat, noisy double-support plateau peaks near its middle
        w = int(round(step_smooth_s / dt)) // 2 * 2 + 1
        if w > 2 and len(filled) >= w:
            filled = savgol_filter(filled, w, 2)
        peaks, props = find_peaks(filled, distance=max(1, int(round(min_step_s / dt))),
                                  prominence=max(float(prominence), 1e-12))
        steps = np.array([_plateau_middle(filled, p, prom) for p, prom in zip(peaks, props["prominences"])],
                         dtype=np.int64)
        if len(steps):  # drop events that fall deep inside a gap (interpolated, not seen)
            tv = t[ok]
            j = np.clip(np.searchsorted(tv, t[steps]), 1, len(tv) - 1)
            nearest = np.minimum(np.abs(tv[j] - t[steps]), np.abs(tv[j - 1] - t[steps]))
            steps = steps[nearest <= min_step_s / 2]
    if len(steps) >= 3:  # two steps per stride; the median stride is robust to a missed step and to limping
        cadence = 120.0 / float(np.median(t[steps[2:]] - t[steps[:-2]]))
    elif len(steps) == 2:
        cadence = 60.0 / float(t[steps[1]] - t[steps[0]])
    else:
        cadence = float("nan")
    if len(steps) >= 2:
        stance = [_stance_ratio(p, t, stance_speed_fraction, smooth_window, min_visible) for p in (left, right)]
    else:  # no walking found: stance and swing are undefined
        stance = [float("nan"), float("nan")]
    return GaitMeasures(steps, t[steps].astype(np.float64), float(cadence), stance[0], stance[1])


def skeleton_gait(keypoints: np.ndarray, skeleton: Skeleton, **kwargs) -> GaitMeasures:
    """:func:`gait_measures` of one person's (T, K, 2) or (T, K, 3) keypoint trajectory, taking the ankles by
    name (``left_ankle``/``right_ankle``, or ``left_foot``/``right_foot`` in ``h36m17``). ``kwargs`` go to
    :func:`gait_measures`."""
    x = np.asarray(keypoints, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != skeleton.num_keypoints:
        raise ValueError(f"keypoints must have shape (T, {skeleton.num_keypoints}, D) for skeleton "
                         f"{skeleton.name!r}, got {x.shape}")
    idx = []
    for side in ("left", "right"):
        names = [n for n in (f"{side}_ankle", f"{side}_foot") if n in skeleton.keypoints]
        if not names:
            raise ValueError(f"skeleton {skeleton.name!r} has no {side}_ankle (or {side}_foot) keypoint")
        idx.append(skeleton.index(names[0]))
    return gait_measures(x[:, idx[0]], x[:, idx[1]], **kwargs)
