"""A detector built on first use: a pipeline can hold its default detector without loading its weights, so caller
boxes never need them (e.g. a top-down estimator run on ground-truth boxes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from posekit.types import Detections

__all__ = ["LazyDetector"]


class LazyDetector:
    """The :class:`~posekit.detect.Detector` that ``factory()`` returns, built on the first call.

    A failed build is remembered and raised again on every later call: a run over many images does not retry a
    download (and wait for its timeout) once per image.

    Args:
        factory: ``() -> detector`` (``detector(image) -> Detections`` and ``detector.detect_batch(images)``).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._detector: Any = None
        self._error: Exception | None = None

    @property
    def detector(self) -> Any:
        """The detector, built now if it was not yet (the first build's error, if it failed)."""
        if self._error is not None:
            raise self._error
        if self._detector is None:
            try:
                self._detector = self._factory()
            except Exception as exc:
                self._error = exc
                raise
        return self._detector

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detector(image)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        return self.detector.detect_batch(images)
