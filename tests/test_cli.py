"""The real `posekit` command, run in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

VERBS = ("predict", "video", "analyze", "eval", "train", "export", "bench", "models", "lift", "weights",
         "triangulate")


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


def test_bench_verb_is_wired_and_rejects_a_bad_suite():  # the command itself: tests/bench
    res = posekit("bench", "--suite", "nope")
    assert res.returncode == 2 and "suite must be one of all, topdown, mediapipe" in res.stderr


def test_predict_default_model_writes_results_and_drawings(tmp_path: Path):
    """The main job: the default (NanoDet + MoveNet Thunder) on real images; an unreadable file is reported and
    skipped."""
    good = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000241.jpg")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    out = tmp_path / "results.json"
    res = posekit("predict", str(good), str(bad), "--out", str(out), "--save-vis", str(tmp_path / "vis"))
    assert res.returncode == 1, res.stderr  # one image failed
    assert "broken.jpg" in res.stderr and "4 pose(s), coco17" in res.stdout  # BlazePose found 3 of the 5 people
    results = json.loads(out.read_text())
    assert len(results) == 4 and {r["image_id"] for r in results} == {241}
    assert all(len(r["keypoints"]) == 17 * 3 and r["file_name"] == good.name for r in results)
    drawn = tmp_path / "vis" / "COCO_val2014_000000000241.png"
    assert drawn.is_file() and drawn.stat().st_size > 10_000


def test_predict_coco17_conversion(tmp_path: Path):
    img = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000294.jpg")
    out = tmp_path / "r.json"
    res = posekit("predict", str(img), "--model", "blazepose_full", "--coco17", "--tiles", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    (rec,) = json.loads(out.read_text())
    assert len(rec["keypoints"]) == 17 * 3


def test_blazepose_finds_people_mediapipe_misses():
    """BlazePose runs with 2x2 tiles and detections down to 0.3 by default: in image 192 it finds the batter (too
    small for the whole-image pass) and the umpire (turned away, detector score < 0.5); MediaPipe's single pass at
    0.5 (`--tiles 1 --min-detection-score 0.5`) finds nobody."""
    img = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000192.jpg")
    default = posekit("predict", str(img), "--model", "blazepose_full")
    single = posekit("predict", str(img), "--model", "blazepose_full", "--tiles", "1", "--min-detection-score", "0.5")
    assert default.returncode == single.returncode == 0, default.stderr + single.stderr
    assert "2 pose(s)" in default.stdout and "0 pose(s)" in single.stdout


def test_predict_tiles_is_a_blazepose_option():
    img = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000241.jpg")
    res = posekit("predict", str(img), "--model", "mediapipe_hand_full", "--tiles", "2")
    assert res.returncode == 2 and "--tiles is a BlazePose option" in res.stderr
