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


def mediapipe_module(asset_name: str):
    """The converted network of the pinned asset ``asset_name`` (e.g. ``"POSE_DETECTION"``), converted from the
    cached/fetched ``.tflite`` on first use (``$POSEKIT_TFLITE_DIR`` honoured, as the pipelines do)."""
    from posekit.pipelines.mediapipe import load_landmark_module

    return load_landmark_module(asset_name, getattr(_weights, asset_name).filename)


def tflite_path(filename: str) -> Path:
    """Path of ``filename`` (e.g. ``"pose_detection.tflite"``); skips only for unpinned extra models."""
    folder = os.environ.get("POSEKIT_TFLITE_DIR")
    if folder and (Path(folder) / filename).is_file():
        return Path(folder) / filename
    for asset in _weights.MEDIAPIPE_ASSETS:
        if asset.filename == filename:
            return _weights.fetch_tflite(asset)
    wheel = os.environ.get("POSEKIT_MEDIAPIPE_WHEEL")  # .ci/run sets it: the extra models come from the same wheel
    if wheel and Path(wheel).is_file():
        return _extract_extra(Path(wheel), filename)
    pytest.skip(f"{filename} is not a pinned posekit asset; set POSEKIT_MEDIAPIPE_WHEEL (or POSEKIT_TFLITE_DIR)")


def _extract_extra(wheel: Path, filename: str) -> Path:
    """Extract an unpinned model (test-only) from the wheel into the session's temporary folder."""
    import tempfile
    import zipfile

    dest = Path(tempfile.gettempdir()) / "posekit-test-tflite" / filename
    if not dest.is_file():
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith("mediapipe/modules/") and m.endswith("/" + filename)]
            if not members:
                pytest.skip(f"{filename} is not in {wheel.name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_suffix(".part")
            part.write_bytes(zf.read(members[0]))
            part.replace(dest)
    return dest
