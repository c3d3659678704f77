"""``PoseEstimator.from_pretrained(name, backend="onnxruntime")``: the same pipelines with their networks in ONNX
Runtime runners, against the torch backend on real inputs; and the NumPy-only path (no torch op between ONNX
Runtime calls)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posekit
from posekit.runtime.onnxruntime_runner import OrtRunner
from tests.conftest import shared_path
from tests.runtime.test_onnx_export import _astronaut, pose_files  # noqa: F401  (module-scoped export fixture)
from tests.models.test_zoo import RTMPOSE_T

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the optional `onnx` extra)")


def test_blazepose_backend_onnxruntime_gives_torch_poses(pose_files):  # noqa: F811
    image = _astronaut()
    est = posekit.PoseEstimator.from_pretrained("blazepose_full", backend="onnxruntime", folder=pose_files[0],
                                                intra_op_num_threads=2)
    assert isinstance(est.runner, OrtRunner) and isinstance(est.detector.detector.runner, OrtRunner)  # tiled
    ref = posekit.PoseEstimator.from_pretrained("blazepose_full")(image)
    got = est(image)
    assert len(got) == len(ref) == 1
    err = np.linalg.norm(got.keypoints - ref.keypoints, axis=-1)
    assert np.median(err) <= 0.05 and err.max() <= 0.25  # see test_blazepose_onnx_pipeline_gives_torch_landmarks
    np.testing.assert_allclose(got.scores, ref.scores, atol=1e-3)


def test_blazepose_onnxruntime_candidates_as_torch(pose_files):  # noqa: F811
    """BlazePose's default detection settings (2x2 tiles, weak detections checked), given explicitly, on ONNX
    Runtime: the three boys of image 328 (one trusted detection, two weak ones), as with torch."""
    from posekit.detect.tiled import TiledDetector

    image = posekit.load_image(shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000328.jpg"))
    options = {"tiles": 2, "min_detection_score": 0.3}
    est = posekit.PoseEstimator.from_pretrained("blazepose_full", backend="onnxruntime", folder=pose_files[0],
                                                **options)
    assert isinstance(est.detector, TiledDetector) and est.detector.trusted_score == 0.5
    got, ref = est(image), posekit.PoseEstimator.from_pretrained("blazepose_full", **options)(image)
    assert len(got) == len(ref) == 3
    err = np.linalg.norm(got.keypoints - ref.keypoints, axis=-1)
    assert np.median(err) <= 0.05


def test_onnxruntime_networks_run_without_any_torch_operation(pose_files):  # noqa: F811
    """The ONNX Runtime path is NumPy only: torch ops would wake torch's OpenMP threads, which then spin on the
    cores ONNX Runtime's threads need (70 ms instead of ~26 ms per BlazePose image on 2 cores)."""
    from posekit.pipelines.mediapipe_pose import BlazePoseEstimator

    est = BlazePoseEstimator(pose_files[2], backend="onnxruntime")  # the landmark network's file
    crops = np.random.default_rng(0).integers(0, 256, size=(2, 256, 256, 3), dtype=np.uint8)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        out = est._run_model(crops)  # the pipeline's crops -> runner -> outputs step
    assert [e.key for e in prof.key_averages()] == []
    x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), np.float32) * np.float32(1 / 255)
    ref = OrtRunner(pose_files[2])(x)
    assert all(o.dtype == np.float32 and o.shape[0] == 2 for o in out)
    for o, r in zip(out, ref):
        np.testing.assert_array_equal(o, r)
    assert crops.flags.writeable and crops.dtype == np.uint8  # input untouched
    # the whole pipeline, detector included
    full = posekit.PoseEstimator.from_pretrained("blazepose_full", backend="onnxruntime", folder=pose_files[0])
    image = _astronaut()
    full(image)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        poses = full(image)
    assert [e.key for e in prof.key_averages()] == [] and len(poses) == 1


def test_topdown_backend_onnxruntime_matches_torch_on_an_official_checkpoint(tmp_path):
    weights = shared_path(*RTMPOSE_T)
    image = posekit.load_image(shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg"))
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    ref = posekit.PoseEstimator.from_pretrained("rtmpose_t_coco_256x192", weights=weights)(image, boxes=boxes)
    est = posekit.PoseEstimator.from_pretrained("rtmpose_t_coco_256x192", weights=weights, backend="onnxruntime",
                                                folder=tmp_path, intra_op_num_threads=2)
    got = est(image, boxes=boxes)
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=0.05)
    np.testing.assert_allclose(got.scores, ref.scores, atol=1e-3)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:  # flip test: 6 crops
        est(image, boxes=boxes)
    no_kernel = {"aten::permute", "aten::slice", "aten::as_strided", "aten::alias", "aten::view", "aten::to",
                 "aten::detach", "detach", "aten::lift_fresh", "aten::resolve_conj", "aten::resolve_neg"}
    assert {e.key for e in prof.key_averages()} <= no_kernel  # views and no-op casts only: no torch kernel runs
    files = sorted(tmp_path.glob("rtmpose_t_coco_256x192-*-opset17.onnx"))
    assert len(files) == 1  # exported once with a fingerprint of the weights, then reused
    stamp = files[0].stat().st_mtime_ns
    posekit.PoseEstimator.from_pretrained("rtmpose_t_coco_256x192", weights=weights, backend="onnxruntime",
                                          folder=tmp_path)
    assert files[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "tensorrt"}, "backend must be one of torch, onnxruntime"),
    ({"backend": "onnxruntime", "precision": "bf16"}, "precision='bf16' is a torch backend option"),
    ({"backend": "onnxruntime", "compile": True}, "compile=True is a torch backend option"),
    ({"backend": "onnxruntime", "device": "cuda"}, "not torch devices"),
    ({"backend": "onnxruntime", "weights": "x.pth"}, "uses the MediaPipe weights it fetches itself"),
])
def test_backend_errors_are_clear(kwargs, match):
    with pytest.raises(ValueError, match=match):
        posekit.PoseEstimator.from_pretrained("blazepose_full", **kwargs)


def test_cli_predict_backend_onnxruntime(tmp_path):
    import json
    import os
    import subprocess
    import sys

    weights = shared_path(*RTMPOSE_T)
    image = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    dets = [{"image_id": 197388, "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
            for b in boxes]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "posekit.cli", "predict", str(image), "--model", "rtmpose_t_coco_256x192",
           "--weights", str(weights), "--boxes", str(tmp_path / "dets.json"), "--out", str(out),
           "--backend", "onnxruntime"]
    env = {**os.environ, "POSEKIT_HOME": str(tmp_path / "home")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "home" / "onnx").glob("rtmpose_t_coco_256x192-*.onnx"))) == 1
    got = np.array([r["keypoints"] for r in json.loads(out.read_text())]).reshape(3, 17, 3)
    ref = posekit.PoseEstimator.from_pretrained("rtmpose_t_coco_256x192", weights=weights)(
        posekit.load_image(image), boxes=boxes)
    np.testing.assert_allclose(got[..., :2], ref.keypoints, atol=0.05)
    bad = subprocess.run(cmd[:-1] + ["tensorrt"], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "--backend must be one of torch, onnxruntime, got 'tensorrt'" in bad.stderr


def test_shared_thread_pool_and_later_sessions_coexist(pose_files):  # noqa: F811
    """MediaPipe pipelines on ONNX Runtime share the process-wide pool; once it exists, sessions asking for their
    own pool are opened on it instead of failing (ONNX Runtime's rule)."""
    x = np.random.default_rng(1).random((1, 3, 256, 256), dtype=np.float32)
    shared = OrtRunner(pose_files[2], shared_threads=True, intra_op_num_threads=2)
    own = OrtRunner(pose_files[2], intra_op_num_threads=1)
    for a, b in zip(shared(x), own(x)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
