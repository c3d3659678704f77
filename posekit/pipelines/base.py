"""The estimator interface every pipeline implements: image in, :class:`~posekit.types.Poses` out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from posekit.io.image import load_image
from posekit.skeletons import Skeleton
from posekit.types import Poses

#: inference backends of :meth:`PoseEstimator.from_pretrained`
BACKENDS = ("torch", "onnxruntime")

if TYPE_CHECKING:
    import os

    from posekit.types import FrameResult


class PoseEstimator:
    """Image -> poses. Subclasses implement :meth:`predict_rgb`.

    ``est(image)`` accepts a path, an HxWx3 RGB uint8 array or a PIL image (see :func:`posekit.load_image`)
    and returns :class:`~posekit.types.Poses` in image pixels. ``boxes`` (N, 4) xyxy pixels, when given,
    replace the detector.

    ``PoseEstimator(model, detector, **options)`` builds the top-down pipeline
    (:class:`posekit.pipelines.topdown.TopDownEstimator`, a subclass) around a model from
    :func:`posekit.create_model`; ``PoseEstimator.from_pretrained(name)`` builds any registered pipeline.
    """

    skeleton: Skeleton

    def __new__(cls, *args: Any, **kwargs: Any) -> PoseEstimator:
        if cls is PoseEstimator and (args or kwargs):
            from posekit.pipelines.topdown import TopDownEstimator

            return super().__new__(TopDownEstimator)  # Python then runs TopDownEstimator.__init__(*args, **kwargs)
        return super().__new__(cls)

    @classmethod
    def from_pretrained(cls, name: str, *, backend: str = "torch", **kwargs: Any) -> PoseEstimator:
        """The estimator registered as ``name`` (see :func:`posekit.list_models`), with its pretrained weights.

        ``backend``: ``"torch"`` (default) or ``"onnxruntime"`` (the networks exported to ONNX once, cached, and run
        by ONNX Runtime; pre- and post-processing unchanged; see
        :func:`posekit.export.ort_pipelines.onnxruntime_estimator`). ``kwargs`` go to the model's estimator
        builder (e.g. ``device=``, ``weights=``, ``precision=``, ``compile=``, ``batch_size=``).
        """
        from posekit.models._registry import get_entry

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "onnxruntime":
            from posekit.export.ort_pipelines import onnxruntime_estimator

            return onnxruntime_estimator(name, **kwargs)
        entry = get_entry(name)
        if entry.build_estimator is None:
            raise ValueError(f"model {name!r} has no end-to-end estimator; use posekit.create_model({name!r})")
        return entry.build_estimator(**kwargs)

    def __call__(self, image: Any, *, boxes: np.ndarray | None = None) -> Poses:
        rgb = load_image(image)
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float32)
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {boxes.shape}")
        return self.predict_rgb(rgb, boxes=boxes)

    def predict_rgb(self, image: np.ndarray, *, boxes: np.ndarray | None = None) -> Poses:
        """Poses in an HxWx3 RGB uint8 image (already validated). Implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict_rgb")

    def predict(self, images: Iterable[Any]) -> list[Poses]:
        """:meth:`__call__` on each image."""
        return [self(image) for image in images]

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
