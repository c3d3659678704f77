"""LazyDetector: built on first use, and a failed build is not retried per image."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.detect.boxes import FixedBoxes
from posekit.detect.lazy import LazyDetector


def test_built_once_on_first_use_and_a_failure_is_remembered():
    calls = []

    def good():
        calls.append("good")
        return FixedBoxes(np.array([[1.0, 2.0, 30.0, 40.0]], np.float32))

    lazy = LazyDetector(good)
    assert calls == []  # nothing built yet
    image = np.zeros((50, 60, 3), np.uint8)
    assert lazy(image).boxes.tolist() == [[1.0, 2.0, 30.0, 40.0]]
    assert len(lazy.detect_batch([image, image])) == 2 and calls == ["good"]

    def offline():
        calls.append("offline")
        raise RuntimeError("cannot download the detector's weights")

    failing = LazyDetector(offline)
    for _ in range(3):  # e.g. one call per image of a batch run: one download attempt, the same error each time
        with pytest.raises(RuntimeError, match="cannot download"):
            failing(image)
    assert calls.count("offline") == 1
