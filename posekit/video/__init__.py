"""The video runner behind ``posekit video`` and :meth:`posekit.PoseEstimator.track`, and its per-stage timing.

* :mod:`posekit.video.runner`: decode -> pose (tracking mode) -> tracker -> smoothing -> outputs
  (:func:`run_video`, :func:`iter_video`, :class:`VideoRunReport`, :data:`CSV_COLUMNS`).
* :mod:`posekit.video.timing`: wall-clock seconds per stage and per network (:class:`StageTimer`,
  :data:`STAGES`, :class:`TimedDetector`, :func:`network_hooks`).

Tracking and smoothing themselves live in :mod:`posekit.track`.
"""

from __future__ import annotations

from posekit.video.runner import CSV_COLUMNS, VideoRunReport, iter_video, run_video
from posekit.video.timing import STAGES, StageTimer, TimedDetector, network_hooks

__all__ = ["CSV_COLUMNS", "STAGES", "StageTimer", "TimedDetector", "VideoRunReport", "iter_video", "network_hooks",
           "run_video"]
