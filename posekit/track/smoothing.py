"""Keypoint smoothing: an online One-Euro filter per track and an offline Savitzky-Golay smoother.

One-Euro (Casiez, Roussel and Vogel, CHI 2012): a first-order low-pass whose cutoff rises with speed,

    ``cutoff = min_cutoff + beta * |dx/dt|``,  ``alpha = 1 / (1 + 1 / (2 pi cutoff dt))``,

so slow motion is smoothed hard (jitter goes) and fast motion is followed with little lag. The speed is the norm
of a keypoint's low-passed 2D velocity (cutoff ``d_cutoff``; differences of the raw measurements, as in the
reference C++ implementation and MediaPipe, so the lag does not depend on the frame rate), measured in person
sizes per second (size = the longer side of the pose's box), so ``beta`` does not depend on the image resolution
or on how far the person is from the camera.

Defaults (``min_cutoff=0.5`` Hz, ``beta=20``, ``d_cutoff=1`` Hz) were chosen on a synthetic clip with jitter of 1 %
of the person's height at 20-45 frames/s: jitter drops ~1.9x while still, ~1.16x overall, with ~10 ms lag
(``tests/track/test_smoothing.py``). Lower ``beta`` smooths more and lags more. Timestamps are seconds and may be irregular (variable frame rate, dropped frames).

Savitzky-Golay: :func:`scipy.signal.savgol_filter` along time on every run of consecutive valid frames of each
keypoint; NaN gaps stay NaN and are never bridged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import savgol_filter

from posekit.types import Poses

__all__ = ["OneEuroSmoother", "one_euro_alpha", "savgol_smooth"]


def one_euro_alpha(cutoff_hz: np.ndarray | float, dt_s: np.ndarray | float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass with cutoff ``cutoff_hz`` (Hz) at time step ``dt_s`` (s):
    ``1 / (1 + tau / dt)`` with ``tau = 1 / (2 pi cutoff)``. Broadcasts; values in (0, 1)."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / np.asarray(dt_s, dtype=np.float64))


@dataclass
class _TrackFilter:
    """Mutable filter state of one track: per keypoint last time (K,), filtered value (K, 2), raw value
    (K, 2) and filtered derivative (K, 2)."""

    t: np.ndarray
    x: np.ndarray
    raw: np.ndarray
    dx: np.ndarray
    last_seen_s: float


class OneEuroSmoother:
    """Online One-Euro smoothing of 2D keypoints, one filter per track id and keypoint.

    Args (keyword-only):
        min_cutoff: cutoff in Hz at zero speed (lower = smoother when still, more lag).
        beta: cutoff increase in Hz per unit of speed (person sizes per second); higher = less lag when moving.
        d_cutoff: cutoff in Hz of the low-pass on the velocity.
        max_gap_s: a track not seen for longer than this restarts from its next measurement.

    ``update`` must be called with increasing ``time_s``. A keypoint that is missing (NaN) in a frame is output
    as NaN and its filter keeps its state; when it reappears the filter continues with the longer time step.
    """

    def __init__(self, *, min_cutoff: float = 0.5, beta: float = 20.0, d_cutoff: float = 1.0,
                 max_gap_s: float = 1.0) -> None:
        for name, v in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff), ("max_gap_s", max_gap_s)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be >= 0, got {beta!r}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.max_gap_s = float(max_gap_s)
        self.reset()

    def reset(self) -> None:
        """Forget every track's filter state."""
        self._filters: dict[int, _TrackFilter] = {}
        self._last_time: float | None = None

    def filter_keypoints(self, track_id: int, keypoints: np.ndarray, *, time_s: float,
                         scale: float) -> np.ndarray:
        """Filter one track's (K, 2) pixel keypoints at ``time_s`` seconds; ``scale`` is the person size in
        pixels (normalises the speed). Returns (K, 2) float64 pixels, NaN where the input is NaN."""
        x = np.asarray(keypoints, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"keypoints must have shape (K, 2), got {x.shape}")
        valid = np.isfinite(x).all(axis=1)
        state = self._filters.get(track_id)
        if state is None or state.t.shape[0] != x.shape[0] or time_s - state.last_seen_s > self.max_gap_s:
            k = x.shape[0]
            state = _TrackFilter(np.full(k, np.nan), np.full((k, 2), np.nan), np.full((k, 2), np.nan),
                                 np.zeros((k, 2)), time_s)
            self._filters[track_id] = state
        state.last_seen_s = time_s
        fresh = valid & ~np.isfinite(state.t)
        step = valid & np.isfinite(state.t)
        out = np.where(valid[:, None], x, np.nan)
        if step.any():
            dt = np.maximum(time_s - state.t[step], 1e-6)[:, None]
            dx = (x[step] - state.raw[step]) / dt
            dx_hat = state.dx[step] + one_euro_alpha(self.d_cutoff, dt) * (dx - state.dx[step])
            speed = np.linalg.norm(dx_hat, axis=1, keepdims=True) / max(float(scale), 1e-6)
            cutoff = self.min_cutoff + self.beta * speed
            out[step] = state.x[step] + one_euro_alpha(cutoff, dt) * (x[step] - state.x[step])
            state.dx[step] = dx_hat
        state.dx[fresh] = 0.0
        upd = fresh | step
        state.x[upd] = out[upd]
        state.raw[upd] = x[upd]
        state.t[upd] = time_s
        return out

    def update(self, poses: Poses, *, time_s: float) -> Poses:
        """Smoothed copy of one frame's poses (``keypoints`` replaced; everything else unchanged).

        Args:
            poses: N poses with ``track_ids`` set (see :class:`posekit.track.tracker.Tracker`); a single pose
                without ids is treated as track 0. Poses with id -1 (tentative tracks) pass through unchanged.
            time_s: the frame's presentation time in seconds, increasing between calls.

        Returns:
            A new :class:`~posekit.types.Poses` with filtered (N, K, 2) float32 pixel keypoints.
        """
        if not isinstance(poses, Poses):
            raise TypeError(f"poses must be posekit.Poses, got {type(poses).__name__}")
        time_s = float(time_s)
        if not np.isfinite(time_s):
            raise ValueError(f"time_s must be finite, got {time_s}")
        if self._last_time is not None and time_s <= self._last_time:
            raise ValueError(f"time_s must increase between updates: got {time_s} after {self._last_time}")
        if poses.track_ids is None:
            if len(poses) > 1:
                raise ValueError(f"poses.track_ids is None but there are {len(poses)} poses; "
                                 "run a posekit.track.tracker.Tracker first")
            ids = np.zeros(len(poses), np.int64)
        else:
            ids = poses.track_ids
        if len(set(ids[ids >= 0].tolist())) != int((ids >= 0).sum()):
            raise ValueError(f"poses.track_ids has duplicates: {ids.tolist()}")
        self._last_time = time_s
        kpts = poses.keypoints.astype(np.float64)  # a copy
        wh = poses.boxes[:, 2:] - poses.boxes[:, :2]
        for i, tid in enumerate(ids.tolist()):
            if tid < 0:
                continue
            scale = float(np.nanmax(wh[i])) if np.isfinite(wh[i]).any() else 1.0
            kpts[i] = self.filter_keypoints(tid, kpts[i], time_s=time_s, scale=scale)
        return replace(poses, keypoints=kpts.astype(np.float32))


def _valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the runs of True in a 1D boolean array."""
    padded = np.concatenate([[False], valid, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def savgol_smooth(keypoints: np.ndarray, *, window: int = 9, polyorder: int = 2) -> np.ndarray:
    """Offline Savitzky-Golay smoothing along time, per keypoint and coordinate, NaN gaps kept.

    Args:
        keypoints: (T, K, D) float array (e.g. D = 2 image pixels or D = 3), T frames at a constant rate;
            a keypoint is invalid in a frame when any of its D coordinates is non-finite.
        window: odd window length in frames (> polyorder).
        polyorder: polynomial order.

    Returns:
        (T, K, D) float64: each run of consecutive valid frames of each keypoint filtered by
        :func:`scipy.signal.savgol_filter` (``mode="interp"``); a run shorter than ``window`` uses the longest
        odd window that fits it, and is left as is when that is ``<= polyorder``. Invalid frames are NaN.
    """
    x = np.array(keypoints, dtype=np.float64)  # a copy
    if x.ndim != 3:
        raise ValueError(f"keypoints must have shape (T, K, D), got {x.shape}")
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive integer, got {window!r}")
    if int(polyorder) != polyorder or not 0 <= polyorder < window:
        raise ValueError(f"polyorder must be an integer in [0, window), got {polyorder!r} with window {window}")
    valid = np.isfinite(x).all(axis=2)  # (T, K)
    x[~valid] = np.nan
    for k in range(x.shape[1]):
        for start, stop in _valid_runs(valid[:, k]):
            n = stop - start
            w = min(int(window), n if n % 2 else n - 1)
            if w <= polyorder:
                continue
            x[start:stop, k] = savgol_filter(x[start:stop, k], w, int(polyorder), axis=0, mode="interp")
    return x
