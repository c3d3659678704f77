"""The peer scripts under the peers' own Pythons (slow; skipped where a peer's environment is absent).

Looked up as ``posekit bench`` does (``$POSEKIT_<PEER>_PYTHON``, ``~/venvs/<peer>/bin/python``), then in the
development machine's folders ``/tmp/mpvenv`` and ``/tmp/peers/<peer>``."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.bench.command import run_bench
from posekit.bench.peers import MEDIAPIPE, MMPOSE, RTMLIB, Peer, find_python
from tests.conftest import shared_path

pytestmark = pytest.mark.slow


def _python(peer: Peer, *fallbacks: str) -> Path:
    found = find_python(peer)
    if found.path is not None:
        return found.path
    for candidate in map(Path, fallbacks):
        if candidate.is_file():
            return candidate
    pytest.skip(f"{found.reason}; none of {', '.join(fallbacks)} either")


def test_rtmlib_runs_the_same_onnx_file_and_finds_the_same_keypoints():
    python = _python(RTMLIB, "/tmp/peers/rtmlib/bin/python")
    shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy")
    report = run_bench(suite="topdown", models=["rtmpose_t"], backends=["onnxruntime"], repeats=1, warmup=1,
                       rtmlib_python=python, mmpose_python="/absent")
    peer, ort = report.rows[0], report.rows[1]
    assert peer.backend == "rtmlib" and peer.timed and peer.runner.startswith("rtmlib 0.") and peer.count == 3
    assert ort.backend == "onnxruntime" and ort.flip is False and ort.timed and ort.ratio is not None
    # the same network on the same boxes: crops and decoding agree to a small fraction of a pixel
    assert ort.max_shift_px is not None and ort.max_shift_px < 0.1


def test_mediapipe_runs_on_the_same_images_and_landmarks_agree():
    python = _python(MEDIAPIPE, "/tmp/mpvenv/bin/python")
    image = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000294.jpg")
    report = run_bench(suite="mediapipe", backends=["onnxruntime"], repeats=1, warmup=1, image=image,
                       mediapipe_python=python)
    peer, ort = report.rows
    assert peer.timed and peer.runner.startswith("MediaPipe 0.10.14") and peer.count == 1
    assert ort.timed and ort.ratio is not None
    assert ort.max_shift_px is not None and ort.max_shift_px < 5.0  # same models; TFLite vs ONNX Runtime kernels


def test_mmpose_inference_topdown_is_timed():
    python = _python(MMPOSE, "/tmp/peers/mmpose/bin/python")
    shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy")
    report = run_bench(suite="topdown", models=["rtmpose_t"], backends=["eager"], repeats=1, warmup=1,
                       mmpose_python=python, rtmlib_python="/absent")
    peer = next(r for r in report.rows if r.backend == "mmpose")
    assert peer.timed, peer.reason
    assert peer.runner.startswith("MMPose 1.3.2") and peer.flip is True
    eager = next(r for r in report.rows if r.backend == "eager" and r.flip)
    assert eager.ratio is not None and eager.goal == 0.6
