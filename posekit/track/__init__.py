"""Tracking and smoothing of 2D poses across video frames.

- :mod:`posekit.track.tracker`: :class:`~posekit.track.tracker.Tracker`, persistent ids by Hungarian matching on
  a blend of box IoU and OKS with a constant-velocity motion model and a track lifetime.
- :mod:`posekit.track.smoothing`: :class:`~posekit.track.smoothing.OneEuroSmoother` (online, per track, per
  keypoint, time-aware) and :func:`~posekit.track.smoothing.savgol_smooth` (offline Savitzky-Golay with NaN gaps).
"""
