"""The public API contract of ../shared/README.md (names are checked from outside)."""

from __future__ import annotations

import subprocess
import sys

import posekit


def test_public_names():
    for name in ("PoseEstimator", "Poses", "create_model", "list_models", "load_image", "draw"):
        assert name in posekit.__all__ and hasattr(posekit, name)


def test_import_is_light_and_side_effect_free(tmp_path):
    # Importing posekit must not import the TFLite parser, pycocotools or matplotlib, nor create the cache.
    code = (
        "import os, sys; os.environ['POSEKIT_HOME'] = sys.argv[1] + '/cache'; import posekit; "
        "heavy = [m for m in ('tflite', 'pycocotools', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy; assert not os.path.exists(sys.argv[1] + '/cache')"
    )
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
