"""Where the tests find MediaPipe ``.tflite`` files.

Pinned assets come from posekit's own cache (``posekit.models.mediapipe_wheel.fetch_tflite``: the wheel is read
or downloaded once; ``.ci/run`` warms the cache before the tests). The extra models that posekit does not pin
(iris landmark, hand re-crop) are extracted from ``$POSEKIT_MEDIAPIPE_WHEEL`` and skip without it. The converted
networks themselves come from :func:`posekit.models.mediapipe_wheel.load_mediapipe_module`, as in the pipelines.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posekit.models import mediapipe_wheel


def tflite_path(filename: str) -> Path:
    """Path of the ``.tflite`` file ``filename`` (e.g. ``"pose_detection.tflite"``); skips only for unpinned extra
    models when ``$POSEKIT_MEDIAPIPE_WHEEL`` is not set."""
    for asset in mediapipe_wheel.MEDIAPIPE_ASSETS:
        if asset.filename == filename:
            return mediapipe_wheel.fetch_tflite(asset)
    wheel = os.environ.get("POSEKIT_MEDIAPIPE_WHEEL")  # .ci/run sets it: the extra models come from the same wheel
    if wheel and Path(wheel).is_file():
        return _extract_extra(Path(wheel), filename)
    pytest.skip(f"{filename} is not a pinned posekit asset; set POSEKIT_MEDIAPIPE_WHEEL to extract it from the wheel")


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
