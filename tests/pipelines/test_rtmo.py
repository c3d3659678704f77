"""RTMO end to end (posekit.pipelines.rtmo) against MMPose 1.3.2's inference_bottomup on two COCO images, with the
reduced random RTMO of tests/fixtures/rtmo (made by MMPose with OpenCV 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from posekit.codecs.rtmo import (
    grid_priors,
    nms,
    pack_dcc_input,
    select_candidates,
    to_image,
)
from posekit.numerics import sigmoid
from posekit.models.rtmo import DCCNet
from posekit.models.weights import WeightsError
from posekit.pipelines.rtmo import RTMOEstimator, bottomup_resize, rtmo_estimator
from posekit.types import Poses
from tests.conftest import offline_env, shared_path
from tests.models.test_rtmo import (  # noqa: F401
    cases,
    fixture_config,
    fixture_model,
    rtmo_tiny_checkpoint,
)

CASES = ("case0", "case1")


def _image(data: dict, case: str) -> np.ndarray:
    from posekit.io.image import load_image

    return load_image(shared_path("data", "coco", "openpose_examples", str(data[f"{case}/image_name"])))


@pytest.fixture
def tiny(rtmo_tiny_checkpoint: Path) -> Callable[..., RTMOEstimator]:  # noqa: F811
    """``tiny(**options)``: an estimator around the fixture network, with the fixture's test_cfg."""
    return lambda **options: _estimator(rtmo_tiny_checkpoint, **options)


def _estimator(checkpoint: Path, **kwargs: Any) -> RTMOEstimator:
    test_cfg = fixture_config()["test_cfg"]
    options = {"input_size": test_cfg["input_size"][0], "score_threshold": test_cfg["score_thr"],
                   "nms_threshold": test_cfg["nms_thr"]}
    return rtmo_estimator("s", model=fixture_model(checkpoint), **{**options, **kwargs})


@pytest.mark.parametrize("case", CASES)
def test_bottomup_resize_is_mmpose_input(case: str) -> None:
    """BGR, fit and centred, padded with 114, OpenCV 4's bilinear warp: MMPose's network input to the grey level."""
    data = cases()
    size = fixture_config()["test_cfg"]["input_size"][0]
    net_input, center, scale = bottomup_resize(_image(data, case), size)
    np.testing.assert_array_equal(net_input, data[f"{case}/input_bgr_u8"].astype(np.float32))
    np.testing.assert_array_equal(center, data[f"{case}/input_center"])
    np.testing.assert_array_equal(scale, data[f"{case}/input_scale"])


@pytest.mark.parametrize("case", CASES)
def test_decoding_of_mmpose_raw_outputs(case: str, rtmo_tiny_checkpoint: Path) -> None:  # noqa: F811
    """MMPose's raw head outputs -> candidates, NMS, DCC, image mapping: MMPose's final poses (1e-2 px)."""
    data, cfg = cases(), fixture_config()["test_cfg"]
    size = tuple(cfg["input_size"])

    def flat(name: str) -> np.ndarray:
        maps = [data[f"{case}/head_{name}{i}"] for i in range(2)]
        return np.concatenate([m.reshape(m.shape[0], -1).T for m in maps])

    cls, deltas, vis, pose = (flat(n) for n in ("cls_scores", "bbox_preds", "kpt_vis", "pose_vecs"))
    cand = select_candidates(cls, deltas, size, (16, 32), score_threshold=cfg["score_thr"],
                             nms_threshold=cfg["nms_thr"])
    np.testing.assert_allclose(cand.bbox_cs, data[f"{case}/dcc_bbox_cs"], atol=1e-3, rtol=0)
    np.testing.assert_array_equal(cand.grids, data[f"{case}/dcc_grids"])
    with torch.no_grad():
        kpts = DCCNet(fixture_model(rtmo_tiny_checkpoint))(torch.from_numpy(pack_dcc_input(pose[cand.index], cand))).numpy()
    center, scale = data[f"{case}/input_center"], data[f"{case}/input_scale"]
    np.testing.assert_allclose(to_image(kpts, size, center, scale), data[f"{case}/keypoints"], atol=1e-2, rtol=0)
    boxes = to_image(cand.clamped_boxes(size).reshape(-1, 2, 2), size, center, scale).reshape(-1, 4)
    np.testing.assert_allclose(boxes, data[f"{case}/bboxes"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(cand.scores, data[f"{case}/bbox_scores"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(sigmoid(vis[cand.index]), data[f"{case}/keypoint_scores"], atol=1e-6, rtol=0)


def test_nms_matches_mmpose() -> None:
    data = cases()
    for case in CASES:
        boxes, scores = data[f"{case}/nms_in_bboxes"], data[f"{case}/nms_in_scores"]
        np.testing.assert_array_equal(nms(boxes, scores, fixture_config()["test_cfg"]["nms_thr"]),
                                      data[f"{case}/nms_keep"])


def test_grid_priors_are_centred_cells() -> None:
    priors, strides = grid_priors((64, 32), (16, 32))
    assert priors.shape == (8 + 2, 2) and strides.tolist() == [16] * 8 + [32] * 2
    np.testing.assert_array_equal(priors[:5], [[7.5, 7.5], [23.5, 7.5], [39.5, 7.5], [55.5, 7.5], [7.5, 23.5]])
    np.testing.assert_array_equal(priors[8:], [[15.5, 15.5], [47.5, 15.5]])


def test_end_to_end_matches_inference_bottomup(tiny: Callable[..., RTMOEstimator]) -> None:
    """Image -> Poses against MMPose's inference_bottomup. Persons, their order, scores and boxes agree tightly.
    Keypoints agree to 0.1 px: this random DCC amplifies float32 noise about 50 times (a box 5e-4 px off, from
    conv sums in another order, moves its keypoints 0.02 px), measured 0.004 and 0.05 px; the 1e-2 px check on
    MMPose's own raw outputs is test_decoding_of_mmpose_raw_outputs."""
    data, est = cases(), tiny()
    images = [_image(data, c) for c in CASES]
    batch = est.predict_batch(images)
    for case, image, poses in zip(CASES, images, batch):
        single = est(image)
        assert isinstance(poses, Poses) and poses.skeleton.name == "coco17"
        assert len(poses.keypoints) == len(data[f"{case}/keypoints"]) > 0
        np.testing.assert_allclose(poses.box_scores, data[f"{case}/bbox_scores"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(poses.scores, data[f"{case}/keypoint_scores"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(poses.boxes, data[f"{case}/bboxes"], atol=1e-2, rtol=0)
        np.testing.assert_allclose(poses.keypoints, data[f"{case}/keypoints"], atol=0.1, rtol=0)
        np.testing.assert_allclose(single.keypoints, poses.keypoints, atol=0.05, rtol=0)  # batch vs 1
        assert poses.image_size == (image.shape[1], image.shape[0])


def test_onnxruntime_backend_agrees(tmp_path: Path, tiny: Callable[..., RTMOEstimator]) -> None:
    pytest.importorskip("onnxruntime")
    data = cases()
    image = _image(data, "case0")
    ref = tiny()(image)
    ort = tiny(backend="onnxruntime", folder=str(tmp_path))(image)
    assert len(ort.keypoints) == len(ref.keypoints)
    np.testing.assert_allclose(ort.keypoints, ref.keypoints, atol=0.1, rtol=0)
    np.testing.assert_allclose(ort.box_scores, ref.box_scores, atol=1e-4, rtol=0)


def test_bad_inputs_are_refused(tiny: Callable[..., RTMOEstimator]) -> None:
    est = tiny()
    with pytest.raises(ValueError, match="dtype float32"):
        est.predict_rgb(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        est.predict_rgb(np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        est.predict_rgb(np.zeros((0, 32, 3), np.uint8))
    with pytest.raises(ValueError):
        est(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ValueError, match="boxes= is not supported"):
        est(np.zeros((32, 32, 3), np.uint8), boxes=np.zeros((1, 4)))
    for bad in ({"score_threshold": 1.5}, {"nms_threshold": -0.1}, {"input_size": 100}):
        with pytest.raises(ValueError):
            tiny(**bad)
    with pytest.raises(TypeError, match="RTMO network"):
        RTMOEstimator(torch.nn.Identity())


def test_no_person_gives_empty_poses(tiny: Callable[..., RTMOEstimator]) -> None:
    poses = tiny(score_threshold=1.0)(np.full((48, 80, 3), 114, np.uint8))
    assert poses.keypoints.shape == (0, 17, 2) and poses.image_size == (80, 48)


def test_builder_without_weights_refuses_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in offline_env(tmp_path / "cache").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(WeightsError, match=r"(?s)rtmo_s needs weights.*8db55a59.*--weights"):
        rtmo_estimator("s")
    with pytest.raises(KeyError, match="unknown RTMO variant"):
        rtmo_estimator("xl")
    with pytest.raises(TypeError, match="unexpected options flip_test"):
        rtmo_estimator("s", flip_test=True)


def test_builder_loads_weights_strictly(rtmo_tiny_checkpoint: Path) -> None:  # noqa: F811
    """The official RTMO-s network refuses the reduced checkpoint, naming the file and the mis-shaped keys."""
    with pytest.raises(ValueError, match=r"(?s)rtmo_tiny_random\.pth.*shape mismatches"):
        rtmo_estimator("s", weights=rtmo_tiny_checkpoint)


def test_from_pretrained_and_cli_run_rtmo_on_whole_images(tmp_path: Path) -> None:
    """``from_pretrained("rtmo_s", weights=...)`` and ``posekit predict --model rtmo_s --weights`` take an official-
    layout RTMO-s file (MMPose's keys and shapes, zero weights: no trained file can be downloaded here) and run on a
    whole image without a detector; boxes and detectors are refused."""
    import posekit
    from tests.models.test_rtmo import _layout, _zero_state
    from tests.test_cli import posekit as run_cli

    weights = tmp_path / "rtmo-s_official_layout.pth"
    torch.save({"meta": {}, "state_dict": _zero_state(_layout("s"))}, weights)
    image = shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000192.jpg")
    est = posekit.PoseEstimator.from_pretrained("rtmo_s", weights=str(weights))
    poses = est(image)
    assert poses.skeleton.name == "coco17" and poses.keypoints.shape[1:] == (17, 2)
    assert np.isfinite(poses.boxes).all()
    with pytest.raises(ValueError, match="finds people itself"):
        posekit.PoseEstimator.from_pretrained("rtmo_s", weights=str(weights), detector="nanodet")
    res = run_cli("predict", str(image), "--model", "rtmo_s", "--weights", str(weights), "--out",
                  str(tmp_path / "out.json"))
    assert res.returncode == 0, res.stderr
    res = run_cli("predict", str(image), "--model", "rtmo_s", "--weights", str(weights), "--boxes",
                  str(tmp_path / "out.json"))
    assert res.returncode == 2 and "rtmo_s finds people itself" in res.stderr
