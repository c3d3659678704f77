"""The real `posekit` command, run in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

VERBS = ("predict", "video", "eval", "train", "export", "bench", "models", "lift", "weights")


def posekit(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "posekit.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_help_lists_every_verb_with_help_text():
    res = posekit("--help")
    assert res.returncode == 0, res.stderr
    for verb in VERBS:
        assert verb in res.stdout
        sub = posekit(verb, "--help")
        assert sub.returncode == 0, (verb, sub.stderr)
        assert "Usage" in sub.stdout and len(sub.stdout) > 200


def test_models_lists_the_default():
    res = posekit("models")
    assert res.returncode == 0, res.stderr
    assert "blazepose_full" in res.stdout and "offline" in res.stdout


def test_predict_unknown_model_is_a_clear_error(tmp_path: Path):
    img = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    res = posekit("predict", str(img), "--model", "blazepose_fulll")
    assert res.returncode == 2
    assert "unknown model 'blazepose_fulll'" in res.stderr and "did you mean blazepose_full" in res.stderr


def test_predict_no_images_is_a_clear_error(tmp_path: Path):
    res = posekit("predict", str(tmp_path))
    assert res.returncode == 2 and "no images given" in res.stderr


def test_unimplemented_verbs_fail_clearly():
    res = posekit("bench")
    assert res.returncode == 2 and "not available in this version yet" in res.stderr
