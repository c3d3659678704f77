"""BlazePose on any detector's boxes: box ROIs refined once from the first landmarks
(:mod:`posekit.pipelines.blazepose_boxes`), against COCO ground truth; ``detector=None`` unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.detect import FixedBoxes
from posekit.io.image import load_image
from posekit.models.mediapipe_wheel import POSE_LANDMARK_FULL, load_mediapipe_module
from posekit.pipelines.blazepose_boxes import plan_rois, refined_rois
from posekit.pipelines.mediapipe_pose import MEDIAPIPE_EXACT, BlazePoseEstimator, blazepose_full
from posekit.pipelines.roi import Rois
from posekit.skeletons import blazepose33, coco17, mapping
from posekit.types import Detections
from tests.conftest import shared_path

COCO = ("data", "coco")
#: COCO train2017 images with several fully annotated people (crowded, partly occluded) and single people
IMAGES = ("000000000790.jpg", "000000174375.jpg", "000000211325.jpg", "000000538113.jpg",
          "000000442450.jpg")
_SRC = np.array([s for s, _ in sorted(mapping(blazepose33, coco17).pairs, key=lambda p: p[1])])
_HIPS = [coco17.keypoints.index("left_hip"), coco17.keypoints.index("right_hip")]


@pytest.fixture(scope="module")
def landmark_model():
    return load_mediapipe_module(POSE_LANDMARK_FULL)


@pytest.fixture(scope="module")
def coco_people():
    """[(rgb, (N, 4) float32 xyxy GT boxes, (N, 17, 3) GT keypoints)] for :data:`IMAGES` (persons with keypoints)."""
    ann = json.loads(shared_path(*COCO, "person_keypoints_train2017_fullgt_subset.json").read_text())
    ids = {i["file_name"]: i["id"] for i in ann["images"]}
    out = []
    for name in IMAGES:
        people = [a for a in ann["annotations"] if a["image_id"] == ids[name] and sum(a["keypoints"][2::3]) > 0]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in people)], np.float32)
        kp = np.array([a["keypoints"] for a in people], np.float64).reshape(-1, 17, 3)
        out.append((load_image(shared_path(*COCO, "train2017_subset", name)), boxes, kp))
    return out


def _oks(pred: np.ndarray, gt: np.ndarray, box: np.ndarray) -> float:
    sig = np.asarray(coco17.sigmas)
    area = float((box[2] - box[0]) * (box[3] - box[1]))
    d2 = ((pred - gt[:, :2]) ** 2).sum(1)
    return float(np.exp(-d2 / (2 * area * (2 * sig) ** 2))[gt[:, 2] > 0].mean())


def test_refined_rois_takes_tracked_rois_unless_degenerate():
    first = Rois([[0.5, 0.5], [0.2, 0.3]], [[0.4, 0.4], [0.1, 0.1]], [0.0, 0.0], (100, 80))
    tracked = Rois([[0.45, 0.6], [0.25, 0.35]], [[0.5, 0.625], [0.0, 0.0]], [0.3, 0.1], (100, 80))
    got = refined_rois(first, tracked)
    np.testing.assert_array_equal(got.center, np.array([[0.45, 0.6], [0.2, 0.3]], np.float32))
    np.testing.assert_array_equal(got.size, np.array([[0.5, 0.625], [0.1, 0.1]], np.float32))
    np.testing.assert_array_equal(got.rotation, np.array([0.3, 0.0], np.float32))
    with pytest.raises(ValueError, match="one ROI per instance"):
        refined_rois(first, tracked[:1])
    with pytest.raises(ValueError, match="different images"):
        refined_rois(first, Rois(tracked.center, tracked.size, tracked.rotation, (80, 100)))


def test_plan_rois_routes_box_detections_and_refines_only_them():
    image = np.zeros((80, 100, 3), np.uint8)
    seen = []

    def plan(rgb, boxes, dets):
        seen.append("boxes" if boxes is not None else "detections")
        return Rois.empty((100, 80)) if boxes is None else Rois([[0.5, 0.5]], [[0.2, 0.2]], [0.0], (100, 80)), \
            np.zeros((1, 4), np.float32)

    refine = lambda rgb, rois: Rois(rois.center, rois.size * 2, rois.rotation, rois.image_size)
    box_dets = Detections(np.array([[10.0, 10.0, 30.0, 40.0]]), np.array([0.9]))
    rois, _ = plan_rois(image, None, box_dets, plan=plan, detect=None, refine=refine,
                        refine_only_box_detections=True)
    assert seen == ["boxes"] and np.allclose(rois.size, 0.4)
    rois, _ = plan_rois(image, np.array([[1.0, 1, 5, 5]]), None, plan=plan, detect=None, refine=refine,
                        refine_only_box_detections=True)
    assert np.allclose(rois.size, 0.2)  # caller boxes are not refined in the default mode
    rois, _ = plan_rois(image, np.array([[1.0, 1, 5, 5]]), None, plan=plan, detect=None, refine=refine)
    assert np.allclose(rois.size, 0.4)  # refine=True refines them too


def test_box_detector_gives_33_landmarks_for_every_found_person(landmark_model, coco_people):
    rgb, boxes, _ = coco_people[0]
    est = blazepose_full(landmark_model=landmark_model, detector=FixedBoxes(boxes))
    assert est.refine is None
    result = est.predict_landmarks(rgb)
    poses = result.poses
    assert len(poses) == len(boxes) == 4
    assert poses.keypoints.shape == (4, 33, 2) and poses.keypoints_3d.shape == (4, 33, 3)
    np.testing.assert_array_equal(poses.boxes, boxes)  # reported boxes are the detector's
    assert not np.allclose(result.rois.rotation, 0)  # refined: rotated, hip-centred ROIs, not square box ROIs
    # the same as caller boxes with refine=True
    same = BlazePoseEstimator(landmark_model, refine=True).predict_landmarks(rgb, boxes=boxes)
    np.testing.assert_array_equal(same.poses.keypoints, poses.keypoints)


def test_refinement_moves_rois_to_the_person_and_improves_landmarks(landmark_model, coco_people):
    """On GT boxes: the refined ROI's centre is closer to the GT hip centre than the box ROI's, the landmarks
    match the GT better (OKS), and no person found on the box ROI is lost."""
    plain = BlazePoseEstimator(landmark_model, refine=False)
    refined = BlazePoseEstimator(landmark_model, refine=True)
    before, after, oks_before, oks_after, found = [], [], [], [], [0, 0]
    for rgb, boxes, gt in coco_people:
        a = plain.predict_landmarks(rgb, boxes=boxes)
        b = refined.predict_landmarks(rgb, boxes=boxes)
        found[0] += len(a)
        found[1] += len(b)
        for res, dist, oks in ((a, before, oks_before), (b, after, oks_after)):
            for i in range(len(boxes)):
                j = np.flatnonzero(np.all(res.poses.boxes == boxes[i], axis=1))
                oks.append(_oks(res.poses.keypoints[j[0], _SRC], gt[i], boxes[i]) if len(j) else 0.0)
                if len(j) and (gt[i, _HIPS, 2] > 0).all():
                    hip = gt[i, _HIPS, :2].mean(0)
                    dist.append(np.linalg.norm(res.rois.center_px[j[0]] - hip) / np.sqrt(
                        (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])))
    assert found[1] >= found[0] >= 10
    print(f"hip distance / box size: median {np.median(before):.3f} -> {np.median(after):.3f}; "
          f"mean OKS {np.mean(oks_before):.3f} -> {np.mean(oks_after):.3f}; found {found[0]} -> {found[1]}")
    assert np.median(after) < 0.5 * np.median(before) and np.mean(after) < np.mean(before)
    assert np.mean(oks_after) > np.mean(oks_before) + 0.01


def test_detector_none_path_unchanged(landmark_model, coco_people):
    """``refine=None`` (the builders' default) changes nothing for MediaPipe detections (alignment keypoints) and
    caller boxes: the results equal ``refine=False``."""
    meta = json.loads(shared_path("fixtures", "blazepose", "meta.json").read_text())
    image = np.load(shared_path("fixtures", "blazepose", "astronaut_rgb_uint8_512x512x3.npy"))
    kp = np.asarray(meta["detection_keypoints"], np.float32)[None] * 512
    dets = Detections(np.array([[100.0, 0.0, 400.0, 512.0]]), np.array([meta["detection_score"]]), keypoints=kp)
    default = BlazePoseEstimator(landmark_model, duplicate_filter=MEDIAPIPE_EXACT["duplicate_filter"])
    off = BlazePoseEstimator(landmark_model, refine=False, duplicate_filter=None)
    np.testing.assert_array_equal(default.predict_landmarks(image, detections=dets).landmarks,
                                  off.predict_landmarks(image, detections=dets).landmarks)
    rgb, boxes, _ = coco_people[0]
    np.testing.assert_array_equal(default.predict_landmarks(rgb, boxes=boxes).landmarks,
                                  off.predict_landmarks(rgb, boxes=boxes).landmarks)
    with pytest.raises(TypeError, match="refine must be True, False or None"):
        BlazePoseEstimator(landmark_model, refine="yes")


def test_stream_with_box_detector(landmark_model, coco_people):
    rgb, boxes, _ = coco_people[-1]
    est = blazepose_full(landmark_model=landmark_model, detector=FixedBoxes(boxes))
    results = list(est.stream([rgb, rgb]))
    assert len(results[0]) == len(boxes) and len(results[1]) == len(results[0])
    np.testing.assert_array_equal(results[1].track_ids, results[0].track_ids)
