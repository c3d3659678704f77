"""Where the tests find MediaPipe ``.tflite`` files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def tflite_path(filename: str) -> Path:
    """``$POSEKIT_TFLITE_DIR/filename``; skips the calling test with a reason when it is unavailable."""
    folder = os.environ.get("POSEKIT_TFLITE_DIR")
    if not folder:
        pytest.skip(f"{filename}: set POSEKIT_TFLITE_DIR to a folder with the MediaPipe .tflite files")
    path = Path(folder) / filename
    if not path.is_file():
        pytest.skip(f"{path} is absent (POSEKIT_TFLITE_DIR={folder})")
    return path
