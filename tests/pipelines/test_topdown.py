"""The top-down pipeline against MMPose 1.3.2: ``inference_topdown`` on a real image with given boxes and flip
test (e2e fixtures), predictions from the stored model inputs (parity fixtures), and pipeline behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posekit
from posekit.crops import crop_to_image
from posekit.detect.boxes import BoxesFromFile, FixedBoxes
from posekit.models.mmpose_cfg import from_mmpose_cfg
from posekit.models.topdown import load_weights
from posekit.pipelines.topdown import TopDownEstimator
from tests.conftest import shared_path

E2E = ("hrnet_tiny", "rtmpose_t", "vitpose_tiny_classic")
PARITY = ("simplebaseline_res50_tiny", "hrnet_tiny", "vitpose_tiny_classic", "vitpose_tiny_simple", "rtmpose_t")
WELL_CONDITIONED = 0.01  # px: keypoints whose decode moves less than this under 1e-5 relative noise


def _estimator(name: str, **options) -> TopDownEstimator:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    info = json.loads((folder / "info.json").read_text())
    model, spec = from_mmpose_cfg(info["model_cfg"])
    load_weights(model, folder / "model.pth")
    est = posekit.TopDownEstimator(model, None, spec=spec, **options)
    assert type(est) is TopDownEstimator and isinstance(est, posekit.PoseEstimator)
    return est


@pytest.fixture(scope="module", params=E2E)
def e2e(request):
    name = request.param
    folder = shared_path("fixtures", "mmpose", "e2e")
    image = np.load(folder / "000000197388_bgr.npy")[..., ::-1].copy()  # BGR -> RGB
    boxes = np.load(folder / "bboxes_xyxy.npy")
    return name, _estimator(name), image, boxes, np.load(folder / f"{name}.npz")


@pytest.fixture(scope="module")
def rtm():
    folder = shared_path("fixtures", "mmpose", "e2e")
    image = np.load(folder / "000000197388_bgr.npy")[..., ::-1].copy()
    return _estimator("rtmpose_t"), image, np.load(folder / "bboxes_xyxy.npy")


def _well(ref, shape) -> np.ndarray:
    return ref["keypoint_sensitivity"] < WELL_CONDITIONED if "keypoint_sensitivity" in ref else np.ones(shape, bool)


def test_e2e_pipeline_matches_inference_topdown(e2e):
    name, est, image, boxes, ref = e2e
    original = image.copy()
    out = est.estimate(image, boxes=boxes)
    np.testing.assert_array_equal(image, original)  # input untouched
    np.testing.assert_array_equal(out.center, ref["input_center"])
    np.testing.assert_array_equal(out.scale, ref["input_scale"])
    np.testing.assert_array_equal(out.boxes, ref["pred_bboxes"])
    well = _well(ref, out.scores.shape)
    assert well.sum() >= 40, f"{name}: only {well.sum()} well-conditioned keypoints"
    err = np.abs(out.keypoints - ref["keypoints"]).max(-1)
    assert err[well].max() <= 1e-2, f"{name}: max keypoint error {err[well].max()} px"
    # This OpenCV build rounds 3 values of crop 2 differently from MMPose's (see tests/test_crops.py); scores of
    # crops that are identical must match to 1e-4, the other crop's to 1 % of the largest score.
    from posekit.crops import warp_crops, warp_matrix

    crops = warp_crops(image[..., ::-1].copy(), warp_matrix(out.center, out.scale, (192, 256), udp=est.spec.udp),
                       (192, 256))
    same = (crops == ref["crops_uint8_bgr"].transpose(0, 2, 3, 1)).all(axis=(1, 2, 3))
    assert same.sum() >= 2
    score_err = np.abs(out.scores - ref["keypoint_scores"])
    assert score_err[same].max() <= 1e-4, f"{name}: max score error {score_err[same].max()}"
    assert score_err.max() <= 1e-2 * np.abs(ref["keypoint_scores"]).max()


def test_e2e_from_mmpose_crops_all_instances(e2e):
    """Same stages after the crop, fed MMPose's own crops: every instance to the tight tolerances."""
    name, est, _, _, ref = e2e
    crops = np.ascontiguousarray(ref["crops_uint8_bgr"].transpose(0, 2, 3, 1)[..., ::-1])
    keypoints, scores = est.predict_crops(crops, ref["input_center"], ref["input_scale"])
    well = _well(ref, scores.shape)
    assert np.abs(keypoints - ref["keypoints"]).max(-1)[well].max() <= 1e-2
    np.testing.assert_allclose(scores, ref["keypoint_scores"], rtol=0, atol=1e-4)


def test_e2e_poses_clip_scores(e2e):
    name, est, image, boxes, ref = e2e
    poses = est(image, boxes=boxes)
    raw = est.estimate(image, boxes=boxes)
    assert isinstance(poses, posekit.Poses) and len(poses) == 3 and poses.skeleton.name == "coco17"
    np.testing.assert_array_equal(poses.keypoints, raw.keypoints)
    np.testing.assert_array_equal(poses.scores, np.clip(raw.scores, 0, 1))
    np.testing.assert_array_equal(poses.boxes, boxes)
    assert poses.image_size == (640, 392)
    if name == "rtmpose_t":  # SimCC logits exceed 1: the raw maxima are kept by estimate()
        assert raw.scores.max() > 1 and poses.scores.max() == 1


@pytest.mark.parametrize("name", PARITY)
def test_parity_predictions_from_stored_inputs(name: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    est = _estimator(name)
    x = torch.from_numpy(np.load(folder / "input.npy"))
    center, scale = np.load(folder / "input_center.npy"), np.load(folder / "input_scale.npy")
    keypoints, scores = est.predict_inputs(x, center, scale)
    well = np.load(folder / "pred_keypoint_sensitivity.npy") < WELL_CONDITIONED
    err = np.abs(keypoints - np.load(folder / "pred_keypoints.npy")).max(-1)
    assert err[well].max() <= 1e-3, f"{name}: {err[well].max()} px"
    ref_scores = np.load(folder / "pred_scores.npy")
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=5e-5 * np.abs(ref_scores).max())
    # the uint8 crops through the normalisation give the same keypoints
    crops = np.ascontiguousarray(np.load(folder / "input_uint8_bgr.npy").transpose(0, 2, 3, 1)[..., ::-1])
    kp2, _ = est.predict_crops(crops, center, scale)
    assert np.abs(kp2 - keypoints).max(-1)[well].max() <= 1e-3


@pytest.mark.parametrize("name", ["hrnet_tiny", "rtmpose_t"])
def test_parity_without_flip_test(name: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    est = _estimator(name, flip_test=False)
    center, scale = np.load(folder / "input_center.npy"), np.load(folder / "input_scale.npy")
    keypoints, scores = est.predict_inputs(torch.from_numpy(np.load(folder / "input.npy")), center, scale)
    expect = crop_to_image(np.load(folder / "noflip_keypoints_input.npy"), center, scale, (192, 256))
    np.testing.assert_allclose(keypoints, expect, rtol=0, atol=1e-3)
    ref = np.load(folder / "noflip_scores.npy")
    np.testing.assert_allclose(scores, ref, rtol=0, atol=5e-5 * np.abs(ref).max())


def test_batch_size_does_not_change_results(rtm):
    est, image, boxes = rtm
    one = TopDownEstimator(est.model, None, spec=est.spec, batch_size=1).estimate(image, boxes=boxes)
    full = est.estimate(image, boxes=boxes)
    np.testing.assert_array_equal(one.keypoints, full.keypoints)
    np.testing.assert_allclose(one.scores, full.scores, rtol=0, atol=1e-4)


def test_empty_boxes_and_detectors(rtm):
    est, image, boxes = rtm
    empty = est(image, boxes=np.zeros((0, 4), np.float32))
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2) and empty.scores.shape == (0, 17)
    no_dets = TopDownEstimator(est.model, FixedBoxes(np.zeros((0, 4))), spec=est.spec)(image)
    assert len(no_dets) == 0
    fixed = TopDownEstimator(est.model, FixedBoxes(boxes, scores=[0.9, 0.8, 0.7]), spec=est.spec)(image)
    np.testing.assert_array_equal(fixed.keypoints, est(image, boxes=boxes).keypoints)
    np.testing.assert_allclose(fixed.box_scores, [0.9, 0.8, 0.7])
    whole = est(image)  # no detector, no boxes: the whole image is one box (as MMPose)
    np.testing.assert_array_equal(whole.boxes, [[0, 0, 640, 392]])


def test_boxes_from_coco_detections_file(rtm, tmp_path):
    est, image, boxes = rtm
    records = [{"image_id": 197388, "category_id": 1, "score": s, "bbox": [float(b[0]), float(b[1]),
                float(b[2] - b[0]), float(b[3] - b[1])]} for b, s in zip(boxes, (0.95, 0.5, 0.2))]
    records.append({"image_id": 1, "category_id": 1, "score": 1.0, "bbox": [0, 0, 10, 10]})
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(records))
    from_file = TopDownEstimator(est.model, BoxesFromFile(path), spec=est.spec, min_box_score=0.3)
    poses = from_file(image, key=197388)
    assert len(poses) == 2  # the 0.2 box is below min_box_score
    np.testing.assert_allclose(poses.boxes, boxes[:2], atol=1e-4)
    np.testing.assert_allclose(poses.keypoints, est(image, boxes=poses.boxes).keypoints, atol=1e-3)
    np.testing.assert_allclose(poses.box_scores, [0.95, 0.5])
    with pytest.raises(ValueError, match="key="):
        from_file.predict_rgb(image)


def test_bad_arguments(rtm):
    est, image, _ = rtm
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        est(image, boxes=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="TopdownSpec"):
        TopDownEstimator(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="batch_size"):
        TopDownEstimator(est.model, spec=est.spec, batch_size=0)
    with pytest.raises(ValueError, match=r"\(N, 256, 192, 3\)"):
        est.predict_crops(np.zeros((1, 192, 256, 3), np.uint8), np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="RGB uint8"):
        est.estimate(image.astype(np.float32))
