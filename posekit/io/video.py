"""Video in and out with OpenCV (FFmpeg backend): RGB uint8 frames, truncation detection, atomic writes.

Truncation rule of :class:`VideoReader`: OpenCV's ``CAP_PROP_FRAME_COUNT`` comes from the container header and can
be approximate (it is estimated from duration x fps for some formats).  When decoding stops before the end the
caller asked for, the shortfall ``frame_count - frames_decoded`` is compared with a tolerance: a shortfall of more
than 1 frame **and** more than 1 % of ``frame_count`` is a truncated or corrupt file and raises
:class:`VideoReadError` after the good frames have been yielded; a smaller shortfall, or an unknown frame count
(webcams, some streams), is a normal end.  Corruption that FFmpeg conceals (damaged but decodable frames) cannot be
detected here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from posekit.io.atomic import reserve_temp_path

__all__ = ["VIDEO_SUFFIXES", "VideoReadError", "VideoReader", "VideoWriter", "read_video_frames"]

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})
"""File suffixes (lower case) that folder searches take for videos (``posekit batch``)."""


class VideoReadError(ValueError):
    """Decoding stopped early: the video is truncated or corrupt after ``frames_read`` good frames.

    Attributes:
        path: the video file.
        frames_read: number of frames decoded from the start of the file (the last good index is
            ``frames_read - 1``; -1 means no frame could be decoded).
        expected: the frame count the container reports.
    """

    def __init__(self, path: str, frames_read: int, expected: int) -> None:
        self.path = path
        self.frames_read = frames_read
        self.expected = expected
        super().__init__(
            f"video {path!r} is truncated or corrupt: decoding stopped after {frames_read} frames "
            f"(last good frame index {frames_read - 1}) but the container reports {expected} frames"
        )

    def __reduce__(self):  # keep the exception picklable (multiprocessing data loaders)
        return (type(self), (self.path, self.frames_read, self.expected))


def _shortfall_is_truncation(decoded: int, expected: int | None) -> bool:
    """True when ``decoded`` frames fall short of the reported ``expected`` by > 1 frame and > 1 % (see module doc)."""
    if expected is None:
        return False
    shortfall = expected - decoded
    return shortfall > 1 and shortfall > 0.01 * expected


def _backend() -> int:
    return cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


class VideoReader:
    """Iterate over ``(index, frame)`` pairs of a video file or a camera.

    ``frame`` is an ``(H, W, 3)`` ``uint8`` RGB array (a new array per frame); ``index`` is the 0-based frame number
    in the file.  Frames ``start <= index < end`` with ``(index - start) % every == 0`` are yielded; skipped frames are
    grabbed, not seeked, so indices are exact for every codec (at the cost of demuxing/decoding them).

    Iterating again re-opens a file and starts from ``start``; a camera just continues.  Use it as a context manager
    (or call :meth:`close`) to release the file or device.

    Args:
        source: a video file path, or an ``int`` camera index.
        start: first frame index (>= 0).
        end: stop before this index (``None``: to the end).
        every: yield every ``every``-th frame (>= 1).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty or not a video OpenCV can open, or bad options.
        VideoReadError: (during iteration) the file ends early; see the module docstring.

    Example::

        with VideoReader("clip.mp4", end=30) as video:
            for index, frame in video:
                ...
    """

    def __init__(self, source: str | os.PathLike | int, *, start: int = 0, end: int | None = None, every: int = 1):
        if isinstance(source, bool) or not isinstance(source, (str, os.PathLike, int)):
            raise TypeError(f"source must be a video path or an int camera index, got {type(source).__name__}")
        for name, value, low in (("start", start, 0), ("every", every, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if end is not None and (isinstance(end, bool) or not isinstance(end, (int, np.integer)) or end < start):
            raise ValueError(f"end must be None or an int >= start ({start}), got {end!r}")
        self._camera = isinstance(source, int)
        self._source: int | str = int(source) if self._camera else os.fspath(source)
        self.start, self.end, self.every = int(start), (None if end is None else int(end)), int(every)
        if not self._camera:
            path = Path(self._source)
            if not path.exists():
                raise FileNotFoundError(f"video file not found: {self._source!r}")
            if path.is_file() and path.stat().st_size == 0:
                raise ValueError(f"video file is empty (0 bytes): {self._source!r}")
        self._capture: cv2.VideoCapture | None = None
        self._used = False
        self._open()

    @property
    def _name(self) -> str:
        return f"camera {self._source}" if self._camera else f"video file {self._source!r}"

    def _open(self) -> cv2.VideoCapture:
        if self._capture is not None:
            self._capture.release()
        capture = cv2.VideoCapture(self._source, cv2.CAP_ANY if self._camera else _backend())
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"cannot open {self._name}: not a readable video (or no such device)")
        if capture.get(cv2.CAP_PROP_FRAME_WIDTH) <= 0 or capture.get(cv2.CAP_PROP_FRAME_HEIGHT) <= 0:
            capture.release()
            raise ValueError(f"cannot open {self._name}: no video stream with a frame size")
        self._capture = capture
        self._used = False
        return capture

    def _require_open(self) -> cv2.VideoCapture:
        if self._capture is None:
            raise ValueError(f"{self._name} is closed")
        return self._capture

    @property
    def fps(self) -> float | None:
        """Frames per second reported by the container (``None`` when unknown or 0)."""
        fps = self._require_open().get(cv2.CAP_PROP_FPS)
        return float(fps) if math.isfinite(fps) and fps > 0 else None

    @property
    def frame_count(self) -> int | None:
        """Frame count reported by the container (may be approximate; ``None`` when unknown, e.g. cameras)."""
        if self._camera:
            return None
        count = self._require_open().get(cv2.CAP_PROP_FRAME_COUNT)
        return int(round(count)) if math.isfinite(count) and count > 0 else None

    @property
    def size(self) -> tuple[int, int]:
        """Frame size ``(width, height)`` in pixels, as reported by the container."""
        capture = self._require_open()
        return int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        capture = self._require_open()
        if self._used and not self._camera:
            capture = self._open()
        self._used = True
        return self._frames(capture)

    def _frames(self, capture: cv2.VideoCapture) -> Iterator[tuple[int, np.ndarray]]:
        expected = self.frame_count
        index = 0
        while self.end is None or index < self.end:
            keep = index >= self.start and (index - self.start) % self.every == 0
            if keep:
                ok, frame = capture.read()
            else:
                ok, frame = capture.grab(), None
            if not ok or (keep and frame is None):
                closed_meanwhile = self._capture is not capture
                if not closed_meanwhile and not self._camera and _shortfall_is_truncation(index, expected):
                    raise VideoReadError(str(self._source), index, expected)
                return
            if keep:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1

    def close(self) -> None:
        """Release the file or camera (idempotent)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoReader({self._source!r}, start={self.start}, end={self.end}, every={self.every})"


def read_video_frames(
    path: str | os.PathLike, *, start: int = 0, end: int | None = None, every: int = 1
) -> list[np.ndarray]:
    """Read the selected frames of a video file into a list of ``(H, W, 3)`` ``uint8`` RGB arrays.

    Same options and errors as :class:`VideoReader`; mind the memory for long videos (use ``end`` / ``every``).
    """
    with VideoReader(path, start=start, end=end, every=every) as video:
        return [frame for _, frame in video]


class VideoWriter:
    """Write ``(H, W, 3)`` ``uint8`` RGB frames to a video file with OpenCV.

    Frames go to a hidden temporary file in the destination folder, which is renamed onto ``path`` by
    :meth:`close`; a crash (process killed) therefore never leaves a half-written file at ``path``.  When the
    ``with`` body raises, the writer still finalises the file and renames it, so the frames written so far are
    kept.  When no frame was written, no file is created.  Always close the writer (or use ``with``): a writer that
    is never closed leaves its hidden ``.posekit-tmp-*`` file behind and nothing at ``path``.  Missing parent folders are created; an existing file
    at ``path`` is replaced.

    Args:
        path: destination; the suffix picks the container (``.mp4``, ``.avi``, ...).
        fps: frames per second (> 0).
        size: ``(width, height)``; ``None`` takes it from the first frame.
        codec: FourCC code, e.g. ``"mp4v"`` (MPEG-4 Part 2, in any OpenCV build), ``"MJPG"``, ``"XVID"``.

    Raises:
        ValueError: bad options, a frame of the wrong size or dtype (naming the frame number), or a codec/container
            combination OpenCV cannot open.
    """

    def __init__(
        self, path: str | os.PathLike, *, fps: float, size: tuple[int, int] | None = None, codec: str = "mp4v"
    ):
        self.path = Path(path)
        if not self.path.suffix:
            raise ValueError(f"video path {str(self.path)!r} needs a suffix that names the container, e.g. .mp4")
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
        if not (isinstance(codec, str) and len(codec) == 4):
            raise ValueError(f"codec must be a 4-character FourCC string such as 'mp4v', got {codec!r}")
        if size is not None:
            size = self._check_size(size)
        self.fps, self.size, self.codec = float(fps), size, codec
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._tmp: Path | None = None
        self._closed = False

    @staticmethod
    def _check_size(size) -> tuple[int, int]:
        try:
            width, height = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"size must be (width, height), got {size!r}") from None
        if width <= 0 or height <= 0:
            raise ValueError(f"size must be positive (width, height), got {size!r}")
        return width, height

    def _open(self) -> cv2.VideoWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = reserve_temp_path(self.path)
        fourcc = cv2.VideoWriter_fourcc(*self.codec)
        writer = cv2.VideoWriter(str(self._tmp), _backend(), fourcc, self.fps, self.size)
        if not writer.isOpened():
            writer.release()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
            raise ValueError(
                f"OpenCV cannot write codec {self.codec!r} into {self.path.suffix!r} files ({str(self.path)!r})"
            )
        self._writer = writer
        return writer

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` ``uint8`` RGB frame (``frame`` is not modified)."""
        if self._closed:
            raise ValueError(f"video writer for {str(self.path)!r} is closed")
        number = self.frames_written
        if not isinstance(frame, np.ndarray):
            raise ValueError(f"frame {number} must be a numpy array, got {type(frame).__name__}")
        if frame.dtype != np.uint8:
            raise ValueError(f"frame {number} must have dtype uint8, got {frame.dtype}")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {number} must have shape (H, W, 3) (RGB), got {frame.shape}")
        if self.size is None:
            self.size = self._check_size((frame.shape[1], frame.shape[0]))
        width, height = self.size
        if frame.shape[:2] != (height, width):
            raise ValueError(
                f"frame {number} has shape {frame.shape}, expected ({height}, {width}, 3) for size "
                f"(width, height) = {self.size}"
            )
        writer = self._writer if self._writer is not None else self._open()
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> Path | None:
        """Finalise the file and move it to ``path`` (idempotent).  Returns ``path``, or ``None`` if no frame
        was written (then no file is created)."""
        if self._closed:
            return self.path if self.frames_written else None
        self._closed = True
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        tmp, self._tmp = self._tmp, None
        try:
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self.path

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoWriter({str(self.path)!r}, fps={self.fps}, size={self.size}, codec={self.codec!r})"
