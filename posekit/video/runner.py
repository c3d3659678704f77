"""The video runner behind ``posekit video`` and :meth:`posekit.PoseEstimator.track`.

Data flow per frame: decode (:class:`~posekit.io.video.VideoReader`, RGB uint8) -> the estimator's tracking mode
(:meth:`posekit.PoseEstimator.track_frames`: MediaPipe pipelines place each frame's ROIs from the previous frame's
landmarks and run the detector only when nobody is tracked or every ``redetect_every`` frames; other estimators
run ``predict_rgb`` per frame with all persons in one batch) ->
:class:`~posekit.track.tracker.Tracker` (persistent ids) -> optional smoothing (One-Euro online, or
Savitzky-Golay over a sliding window, ``window // 2`` frames late) -> outputs: annotated video, JSON lines
(:meth:`~posekit.types.FrameResult.to_json`, one per frame, flushed per frame), CSV of keypoints.

Coordinates in every output are image pixels of the source frame (x right, y down, origin at the top-left
pixel's corner). Frame times are ``index / fps`` seconds (the container's fps), or wall-clock seconds since the
start for cameras that report no fps.

A truncated or corrupt file (:class:`~posekit.io.video.VideoReadError`) stops the run after the last good frame;
:func:`run_video` then finalises every output (the video is closed and renamed into place, JSON and CSV are
flushed) and returns the error message in :attr:`VideoRunReport.error`.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from posekit.detect.boxes import BoxesFromFile
from posekit.io.video import VideoReader, VideoReadError, VideoWriter
from posekit.types import FrameResult, Poses
from posekit.video.timing import StageTimer, TimedDetector, network_hooks
from posekit.viz import draw as draw_poses

__all__ = ["CSV_COLUMNS", "VideoRunReport", "iter_video", "run_video"]

CSV_COLUMNS = ("frame", "time_s", "instance", "track_id", "keypoint", "x", "y", "score")
"""Columns of the keypoint CSV: one row per frame, instance and keypoint; ``x``, ``y`` image pixels (empty when
missing), ``track_id`` empty without tracking."""


@dataclass(frozen=True)
class VideoRunReport:
    """What :func:`run_video` did.

    Attributes:
        frames: frames processed (and written to every output).
        persons: total poses over all frames.
        track_ids: the confirmed track ids seen, sorted.
        timing: :meth:`StageTimer.summary` of the run.
        outputs: paths written (video, JSON lines, CSV), only those that were asked for and hold data.
        error: the message of the decoding error that ended the run early (truncated/corrupt file), else None.
    """

    frames: int
    persons: int
    track_ids: tuple[int, ...]
    timing: dict[str, Any]
    outputs: tuple[Path, ...]
    error: str | None = None


# ---------------------------------------------------------------------------------------------- frame pipeline


def _pose_stream(estimator: Any, frames: Iterable[np.ndarray], *, redetect_every: int | None) -> Iterator[Poses]:
    """The estimator's tracking mode (:meth:`posekit.PoseEstimator.track_frames`): one
    :class:`~posekit.types.Poses` per frame, in order."""
    return estimator.track_frames(frames, redetect_every=redetect_every)


class _SavgolDelay:
    """Savitzky-Golay smoothing of a stream: the last ``window`` frames are buffered and each frame is output from
    :func:`~posekit.track.smoothing.savgol_smooth` over the buffer, per track id (poses with id -1 pass through).
    Frames come out in order, ``window // 2`` frames late (the first ``window // 2 + 1`` together once ``window``
    frames are in; the rest at :meth:`flush`), with the values the offline smoother gives on the whole
    sequence, except within ``window // 2`` frames of a gap in a track (the fit then uses the frames available in
    the buffer)."""

    def __init__(self, window: int, polyorder: int) -> None:
        if int(window) != window or window < 3 or window % 2 == 0:
            raise ValueError(f"savgol window must be an odd integer >= 3, got {window!r}")
        self.window, self.polyorder = int(window), int(polyorder)
        self._buffer: deque[tuple[Any, FrameResult]] = deque()
        self._next = 0  # buffer position of the next frame to output

    def push(self, item: Any, result: FrameResult) -> list[tuple[Any, FrameResult]]:
        """Add one frame (``item`` travels with it, e.g. the image); returns the ``(item, result)`` pairs ready."""
        self._buffer.append((item, result))
        if len(self._buffer) > self.window:
            self._buffer.popleft()
            self._next -= 1
        if len(self._buffer) < self.window:
            return []
        out = [self._smoothed(p) for p in range(self._next, self.window // 2 + 1)]
        self._next = self.window // 2 + 1
        return out

    def flush(self) -> list[tuple[Any, FrameResult]]:
        """The frames still held, at the end of the stream."""
        out = [self._smoothed(p) for p in range(self._next, len(self._buffer))]
        self._buffer.clear()
        self._next = 0
        return out

    def _smoothed(self, position: int) -> tuple[Any, FrameResult]:
        from posekit.track.smoothing import savgol_smooth

        item, result = self._buffer[position]
        poses = result.poses
        if len(poses) == 0 or poses.track_ids is None:
            return item, result
        kpts = poses.keypoints.copy()
        for i, tid in enumerate(poses.track_ids.tolist()):
            if tid < 0:
                continue
            series = np.full((len(self._buffer), poses.skeleton.num_keypoints, 2), np.nan)
            for j, (_, r) in enumerate(self._buffer):
                ids = r.poses.track_ids
                hit = np.flatnonzero(ids == tid) if ids is not None else []
                if len(hit):
                    series[j] = r.poses.keypoints[hit[0]]
            window = min(self.window, len(self._buffer) if len(self._buffer) % 2 else len(self._buffer) - 1)
            if window > self.polyorder:
                kpts[i] = savgol_smooth(series, window=window, polyorder=self.polyorder)[position]
        return item, replace(result, poses=replace(poses, keypoints=kpts))


def _check_options(smooth: str | None, redetect_every: int | None) -> None:
    if smooth not in (None, "one-euro", "savgol"):
        raise ValueError(f"smooth must be None, 'one-euro' or 'savgol', got {smooth!r}")
    if redetect_every is not None and (isinstance(redetect_every, bool) or int(redetect_every) != redetect_every
                                       or redetect_every < 1):
        raise ValueError(f"redetect_every must be None or an integer >= 1, got {redetect_every!r}")


def _frames_with_results(
    estimator: Any, reader: VideoReader, *, camera: bool, track: bool, smooth: str | None,
    redetect_every: int | None, timer: StageTimer, profile: bool,
) -> Iterator[tuple[np.ndarray, FrameResult]]:
    """``(rgb, FrameResult)`` per processed frame of ``reader`` (closed at the end); raises
    :class:`VideoReadError` after the last good frame of a truncated file (the smoother's delayed frames are
    yielded first)."""
    from posekit.track.smoothing import OneEuroSmoother
    from posekit.track.tracker import Tracker

    track = track or smooth is not None  # smoothing is per track
    tracker = Tracker() if track else None
    one_euro = OneEuroSmoother() if smooth == "one-euro" else None
    savgol = _SavgolDelay(9, 2) if smooth == "savgol" else None

    with ExitStack() as stack:
        stack.enter_context(reader)
        fps = reader.fps
        t_start = time.monotonic()
        runner = estimator
        if profile:
            detector = getattr(estimator, "detector", None)
            if callable(detector) and not isinstance(detector, BoxesFromFile):
                runner = copy.copy(estimator)  # a shallow copy, so the caller's estimator is left as it was
                runner.detector = TimedDetector(detector, timer)
            stack.enter_context(network_hooks(estimator, timer))
        pending: deque[tuple[int, float, np.ndarray]] = deque()
        decode_in_step = [0.0]

        def frames() -> Iterator[np.ndarray]:
            it = iter(reader)
            while True:
                t0 = time.perf_counter()
                try:
                    index, rgb = next(it)
                except StopIteration:
                    return
                finally:
                    dt = time.perf_counter() - t0
                    timer.add("decode", dt)
                    decode_in_step[0] += dt
                t = (time.monotonic() - t_start) if (camera and fps is None) else index / (fps or 30.0)
                pending.append((index, t, rgb))
                yield rgb

        stream = _pose_stream(runner, frames(), redetect_every=redetect_every)
        last_t = -math.inf
        try:
            while True:
                decode_in_step[0] = 0.0
                det_before = timer.seconds["detection"]
                t0 = time.perf_counter()
                try:
                    poses = next(stream)
                except StopIteration:
                    break
                step = time.perf_counter() - t0
                timer.add("pose", step - decode_in_step[0] - (timer.seconds["detection"] - det_before))
                index, t, rgb = pending.popleft()
                t = max(t, last_t + 1e-6)  # strictly increasing, also for cameras with coarse clocks
                last_t = t
                if tracker is not None:
                    with timer.stage("tracking"):
                        poses = tracker.update(poses, frame_index=index)
                elif poses.track_ids is not None:
                    poses = replace(poses, track_ids=None)
                if one_euro is not None:
                    with timer.stage("smoothing"):
                        poses = one_euro.update(poses, time_s=t)
                result = FrameResult(index, poses, time_s=t)
                timer.frames += 1
                if savgol is None:
                    yield rgb, result
                else:
                    with timer.stage("smoothing"):
                        ready = savgol.push(rgb, result)
                    yield from ready
        except VideoReadError:
            if savgol is not None:  # the delayed frames before the bad one still go out
                yield from savgol.flush()
            raise
        if savgol is not None:
            yield from savgol.flush()


def iter_video(
    estimator: Any, source: str | os.PathLike | int, *, start: int = 0, end: int | None = None, every: int = 1,
    track: bool = True, smooth: str | None = None, redetect_every: int | None = 30,
    timer: StageTimer | None = None,
) -> Iterator[FrameResult]:
    """:class:`~posekit.types.FrameResult` per processed frame of ``source`` (see the module docstring).

    Args:
        estimator: a :class:`~posekit.PoseEstimator`.
        source: a video file path or an ``int`` camera index.
        start, end, every: frames ``start <= index < end``, every ``every``-th (see :class:`VideoReader`).
        track: set ``poses.track_ids`` with a :class:`~posekit.track.tracker.Tracker` (ids >= 0; -1 while a track
            is tentative); ``False`` leaves them ``None``.
        smooth: ``None``, ``"one-euro"`` (online) or ``"savgol"`` (window 9, order 2: results come 4 frames late,
            the first ones 8); smoothing implies ``track``.
        redetect_every: MediaPipe tracking mode: also run the person detector every this many processed frames to
            pick up people who enter (``None``: only when nobody is tracked, as MediaPipe does).
        timer: optional :class:`StageTimer` to accumulate per-stage seconds into.

    Raises:
        VideoReadError: after the last good frame of a truncated or corrupt file.
    """
    _check_options(smooth, redetect_every)
    reader = VideoReader(source, start=start, end=end, every=every)  # bad paths and options raise here
    items = _frames_with_results(estimator, reader, camera=_is_camera(source), track=track, smooth=smooth,
                                 redetect_every=redetect_every, timer=StageTimer() if timer is None else timer,
                                 profile=False)
    return (result for _, result in items)


def _is_camera(source: Any) -> bool:
    return isinstance(source, int) and not isinstance(source, bool)


def _csv_rows(result: FrameResult) -> Iterator[list[Any]]:
    poses = result.poses
    names = poses.skeleton.keypoints
    for i in range(len(poses)):
        tid = "" if poses.track_ids is None else int(poses.track_ids[i])
        for k, name in enumerate(names):
            x, y = poses.keypoints[i, k]
            ok = bool(np.isfinite(x) and np.isfinite(y))
            yield [result.index, f"{result.time_s:.6f}" if result.time_s is not None else "", i, tid, name,
                   f"{x:.3f}" if ok else "", f"{y:.3f}" if ok else "", f"{poses.scores[i, k]:.4f}"]


def run_video(
    estimator: Any, source: str | os.PathLike | int, *, out: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None, csv_path: str | os.PathLike | None = None, start: int = 0,
    end: int | None = None, every: int = 1, track: bool = True, smooth: str | None = None,
    redetect_every: int | None = 30, kpt_thr: float = 0.3, codec: str = "mp4v", progress: bool = True,
    profile: bool = False, draw: bool | None = None,
    on_frame: Callable[[int, int | None], None] | None = None,
) -> VideoRunReport:
    """Run ``estimator`` over a video and write the requested outputs (see the module docstring).

    Args:
        estimator, source, start, end, every, track, smooth, redetect_every: as :func:`iter_video`.
        out: annotated video (poses drawn with :func:`posekit.draw`, ids drawn when tracking); the frame rate is
            the source's divided by ``every`` (30 when unknown).
        json_path: JSON lines, one :meth:`~posekit.types.FrameResult.to_json` object per frame, flushed per frame.
        csv_path: keypoint CSV with the columns :data:`CSV_COLUMNS`, flushed per frame.
        kpt_thr: keypoints scoring below this are not drawn.
        codec: FourCC of the output video.
        progress: show a tqdm progress bar (frames/s) on stderr.
        profile: also split detection from pose and time the networks' forward passes (for the benchmark).
        draw: draw the annotated frames even without ``out`` (times drawing alone, for the benchmark); frames are
            always drawn when ``out`` is given.
        on_frame: called after each frame is written with ``(frames written, frames expected or None)``; an
            exception it raises stops the run (e.g. a cancelled service job): every output is finalised with the
            frames written so far and the exception propagates.

    Returns:
        :class:`VideoRunReport`; a truncated or corrupt file ends the run early with ``error`` set and every
        output finalised with the frames processed so far.
    """
    _check_options(smooth, redetect_every)
    reader = VideoReader(source, start=start, end=end, every=every)  # bad paths and options raise here
    frame_count, source_fps = reader.frame_count, reader.fps
    draw = out is not None or bool(draw)
    timer = StageTimer()
    frames = persons = 0
    ids: set[int] = set()
    error: str | None = None
    paths = [Path(p) for p in (out, json_path, csv_path) if p is not None]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    writer: VideoWriter | None = None
    with ExitStack() as stack:
        stack.enter_context(reader)  # also closed when an output cannot be opened
        jf = stack.enter_context(open(json_path, "w", encoding="utf-8")) if json_path is not None else None
        cf = stack.enter_context(open(csv_path, "w", encoding="utf-8", newline="")) if csv_path is not None else None
        cw = csv.writer(cf) if cf is not None else None
        if cw is not None:
            cw.writerow(CSV_COLUMNS)
        items = _frames_with_results(estimator, reader, camera=_is_camera(source), track=track, smooth=smooth,
                                     redetect_every=redetect_every, timer=timer, profile=profile)
        bar = None
        try:
            for rgb, result in items:
                if bar is None:
                    total = _expected_frames(frame_count, start, end, every)
                    bar = stack.enter_context(tqdm(total=total, unit="frame", disable=not progress,
                                                   dynamic_ncols=True, desc=_source_name(source)))
                if draw:
                    with timer.stage("drawing"):
                        canvas = draw_poses(rgb, result.poses, kpt_thr=kpt_thr, draw_ids=True)
                with timer.stage("writing"):
                    if out is not None:
                        if writer is None:
                            fps = (source_fps or 30.0) / every
                            writer = stack.enter_context(VideoWriter(out, fps=fps, codec=codec))
                        writer.write(canvas)
                    if jf is not None:
                        jf.write(result.to_json() + "\n")
                        jf.flush()
                    if cw is not None:
                        cw.writerows(_csv_rows(result))
                        cf.flush()
                frames += 1
                persons += len(result.poses)
                if result.poses.track_ids is not None:
                    ids.update(int(i) for i in result.poses.track_ids if i >= 0)
                bar.update(1)
                if on_frame is not None:
                    on_frame(frames, bar.total)
        except VideoReadError as exc:
            error = str(exc)
        finally:
            items.close()
    written = tuple(p for p in paths if p.exists())
    return VideoRunReport(frames, persons, tuple(sorted(ids)), timer.summary(), written, error)


def _expected_frames(count: int | None, start: int, end: int | None, every: int) -> int | None:
    if count is None and end is None:
        return None
    stop = end if count is None else (count if end is None else min(count, end))
    return max(0, -(-(stop - start) // every))


def _source_name(source: Any) -> str:
    return f"camera {source}" if isinstance(source, int) else Path(source).name
