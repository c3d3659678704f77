"""The estimator interface every pipeline implements: image in, :class:`~posekit.types.Poses` out."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from posekit.io.image import load_image
from posekit.skeletons import Skeleton
from posekit.types import Poses

if TYPE_CHECKING:
    import os

    from posekit.types import FrameResult


class PoseEstimator(abc.ABC):
    """The estimator interface: image -> :class:`~posekit.types.Poses`. Subclasses implement :meth:`predict_rgb`.

    ``est(image)`` accepts a path, an HxWx3 RGB uint8 array or a PIL image (see :func:`posekit.load_image`)
    and returns :class:`~posekit.types.Poses` in image pixels. ``boxes`` (N, 4) xyxy pixels, when given,
    replace the detector. :meth:`predict_batch` runs several images (pipelines override it to batch their
    networks), :meth:`track_frames` is the tracking mode the video runner uses, :meth:`track` runs a video.

    Build one by name with :meth:`from_pretrained` (the registry of :mod:`posekit.pipelines.registry`), or
    explicitly: :class:`posekit.pipelines.topdown.TopDownEstimator` around a network of
    :func:`posekit.create_model`, the MediaPipe pipelines' builders.
    """

    skeleton: Skeleton

    @classmethod
    def from_pretrained(cls, name: str, *, backend: str = "torch", **kwargs: Any) -> PoseEstimator:
        """The estimator registered as ``name`` (see :func:`posekit.list_models`), with its pretrained weights.

        ``backend``: ``"torch"`` (default) or ``"onnxruntime"`` (the networks exported to ONNX once, cached, and run
        by ONNX Runtime; pre- and post-processing unchanged), a name of :data:`posekit.runtime.runner.BACKENDS`: the
        same pipeline classes with their networks in runners of that back end
        (:func:`posekit.runtime.runner.make_runner`). ``kwargs`` go to the model's estimator builder (e.g.
        ``device=``, ``weights=``, ``precision=``, ``compile=``, ``batch_size=``, and the back end's own options
        such as ``intra_op_num_threads=``, ``providers=``, ``folder=``); see
        :func:`posekit.pipelines.registry.build_estimator`.
        """
        from posekit.pipelines.registry import build_estimator  # the registry imports every pipeline

        return build_estimator(name, backend=backend, **kwargs)

    def __call__(self, image: Any, *, boxes: np.ndarray | None = None) -> Poses:
        rgb = load_image(image)
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float32)
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {boxes.shape}")
        return self.predict_rgb(rgb, boxes=boxes)

    @abc.abstractmethod
    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        """Poses in an HxWx3 RGB uint8 image (already validated); ``boxes`` (N, 4) xyxy pixels or ``None``."""

    def predict(self, images: Iterable[Any]) -> list[Poses]:
        """:meth:`__call__` on each image."""
        return [self(image) for image in images]

    def predict_batch(self, images: Sequence[Any], *, boxes: Sequence[np.ndarray | None] | None = None
                      ) -> list[Poses]:
        """Poses of several images (paths, arrays or PIL images); ``boxes``: one (N, 4) array or ``None`` per
        image. The base class runs :meth:`predict_rgb` per image; pipelines override it to batch their networks."""
        rgbs = [load_image(image) for image in images]
        if boxes is not None and len(boxes) != len(rgbs):
            raise ValueError(f"boxes must hold one entry per image ({len(rgbs)}), got {len(boxes)}")
        return [self.predict_rgb(rgb, boxes=None if boxes is None else boxes[i]) for i, rgb in enumerate(rgbs)]

    def track_frames(self, frames: Iterable[np.ndarray], *, redetect_every: int | None = None
                     ) -> Iterator[Poses]:
        """The tracking mode of the video runner: one :class:`~posekit.types.Poses` per frame (HxWx3 RGB uint8),
        in order. The base class runs :meth:`predict_rgb` per frame; the MediaPipe pipelines place each frame's
        ROIs from the previous frame's landmarks and run the detector only when nobody is tracked or every
        ``redetect_every`` frames."""
        for rgb in frames:
            yield self.predict_rgb(rgb)

    def track(
        self, video: str | os.PathLike | int, *, start: int = 0, end: int | None = None, every: int = 1,
        smooth: str | None = None, redetect_every: int | None = 30,
    ) -> Iterator[FrameResult]:
        """Poses with persistent ids in every selected frame of a video file (or ``int`` camera index).

        The estimator runs in its tracking mode (MediaPipe pipelines reuse the previous frame's landmarks to place
        the next ROIs and run the detector only when nobody is tracked, or every ``redetect_every`` frames;
        other estimators run per frame with all persons batched), then :class:`posekit.track.tracker.Tracker`
        sets ``poses.track_ids`` (-1 while a track is tentative) and ``smooth`` (``"one-euro"`` or ``"savgol"``,
        the latter delayed by 4 frames) smooths the keypoints. See :mod:`posekit.video`.

        Args:
            video: path of a video file, or a camera index.
            start, end, every: frames ``start <= index < end``, every ``every``-th.

        Yields:
            :class:`~posekit.types.FrameResult` (``index``, ``time_s`` = index / fps seconds, ``poses`` in image
            pixels).

        Raises:
            posekit.io.VideoReadError: after the last good frame of a truncated or corrupt file.

        Example::

            for result in est.track("clip.mp4", smooth="one-euro"):
                print(result.index, result.poses.track_ids)
        """
        from posekit.video import iter_video

        return iter_video(self, video, start=start, end=end, every=every, track=True, smooth=smooth,
                          redetect_every=redetect_every)
