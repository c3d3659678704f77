"""Where the tests find MediaPipe ``.tflite`` files.

Pinned assets come from posekit's own cache (``posekit.models._weights.fetch_tflite``: the wheel is read or
downloaded once; ``.ci/run`` warms the cache before the tests). ``$POSEKIT_TFLITE_DIR`` overrides it and also
provides the extra models that posekit does not pin (iris landmark, hand re-crop), which skip otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posekit.models import _weights


def tflite_path(filename: str) -> Path:
    """Path of ``filename`` (e.g. ``"pose_detection.tflite"``); skips only for unpinned extra models."""
    folder = os.environ.get("POSEKIT_TFLITE_DIR")
    if folder and (Path(folder) / filename).is_file():
        return Path(folder) / filename
    for asset in _weights.MEDIAPIPE_ASSETS:
        if asset.filename == filename:
            return _weights.fetch_tflite(asset)
    pytest.skip(f"{filename} is not a pinned posekit asset; set POSEKIT_TFLITE_DIR to a folder that holds it")
