"""BlazePose pipeline against MediaPipe 0.10.14's numbers (``../shared/fixtures/blazepose``).

The model tests use the converted MediaPipe models (fetched and converted on first use into posekit's weights
cache by :func:`posekit.models.mediapipe_wheel.load_mediapipe_module`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.detect.mediapipe import blazepose_detector
from posekit.io.image import load_image
from posekit.models.mediapipe_wheel import POSE_LANDMARK_FULL, load_mediapipe_module
from posekit.pipelines import roi
from posekit.pipelines.mediapipe import LandmarkResult
from posekit.pipelines.mediapipe_pose import BlazePoseEstimator, decode_pose_outputs
from posekit.skeletons import blazepose33
from posekit.types import Detections
from tests.conftest import shared_path

FIX = ("fixtures", "blazepose")
OUTPUTS = ("landmarks_1x195", "pose_flag_1x1", "segmentation_1x256x256x1", "heatmap_1x64x64x39",
           "world_landmarks_1x117")


class _CountingModel:
    """Forwards to the real landmark model and records the batch size of every call."""

    def __init__(self, model) -> None:
        self.model, self.batches = model, []

    def __call__(self, x):
        self.batches.append(int(x.shape[0]))
        return self.model(x)


class _CountingDetector:
    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def __call__(self, image):
        self.calls += 1
        return self.detector(image)


@pytest.fixture(scope="module")
def astronaut():
    meta = json.loads(shared_path(*FIX, "meta.json").read_text())
    image = np.load(shared_path(*FIX, "astronaut_rgb_uint8_512x512x3.npy"))
    kp = np.asarray(meta["detection_keypoints"], np.float32)[None] * 512
    dets = Detections(np.array([[100.0, 0.0, 400.0, 512.0]]), np.array([meta["detection_score"]]), keypoints=kp)
    return image, dets


@pytest.fixture(scope="module")
def reference():
    load = lambda name: np.load(shared_path(*FIX, name))  # noqa: E731
    return {"image": load("decoded_image_landmarks_39x5.npy"), "world": load("decoded_world_landmarks_39x3.npy"),
            "mp": load("mp_solutions_pose_landmarks_33x5.npy"),
            "mp_world": load("mp_solutions_pose_world_landmarks_33x5.npy")}


@pytest.fixture(scope="module")
def landmark_model():
    return load_mediapipe_module(POSE_LANDMARK_FULL)


@pytest.fixture(scope="module")
def detector():
    return blazepose_detector(box="body")


def _roi_of(dets: Detections) -> roi.Rois:
    est = BlazePoseEstimator(lambda x: None)
    return est._rois_from_detections(dets, (512, 512))


def _check_against_reference(norm: np.ndarray, world: np.ndarray, reference, *, px: float, m: float) -> None:
    ref = reference["image"]
    assert norm.shape == (39, 5) and world.shape == (39, 3)
    assert np.abs(norm[:, :2] - ref[:, :2]).max() * 512 <= px  # x, y in pixels of the 512 image
    assert np.abs(norm[:, 2] - ref[:, 2]).max() <= 1e-3
    assert np.abs(norm[:, 3:] - ref[:, 3:]).max() <= 1e-3  # visibility, presence
    assert np.abs(world - reference["world"]).max() <= m


def test_decode_reference_outputs_matches_mediapipe(astronaut, reference):
    _, dets = astronaut
    outputs = [np.load(shared_path(*FIX, f"pose_landmark_full_out_{name}_ref.npy")) for name in OUTPUTS]
    dec = decode_pose_outputs(outputs, _roi_of(dets))
    _check_against_reference(dec.normalized[0], dec.world_landmarks[0], reference, px=0.05, m=1e-3)
    # Tighter than required: the decode is the same arithmetic as MediaPipe's.
    assert np.abs(dec.normalized[0, :, :2] - reference["image"][:, :2]).max() * 512 < 1e-3
    assert abs(float(dec.instance_scores[0]) - float(outputs[1].ravel()[0])) == 0


def test_heatmap_kernel_size_changes_the_result(astronaut, reference):
    _, dets = astronaut
    outputs = [np.load(shared_path(*FIX, f"pose_landmark_full_out_{name}_ref.npy")) for name in OUTPUTS]
    dec7 = decode_pose_outputs(outputs, _roi_of(dets), kernel_size=7)
    # MediaPipe's wheel refines with the option default 9; the .pbtxt's 7 moves landmarks by pixels.
    assert np.abs(dec7.normalized[0, :, :2] - reference["image"][:, :2]).max() * 512 > 1.0


def test_full_pipeline_matches_mediapipe(astronaut, reference, landmark_model):
    image, dets = astronaut
    est = BlazePoseEstimator(landmark_model, duplicate_filter=None)  # mp.solutions.pose-exact (MEDIAPIPE_EXACT)
    res = est.predict_landmarks(image, detections=dets)
    assert isinstance(res, LandmarkResult) and len(res) == 1
    norm = np.concatenate([res.landmarks[0] / np.array([512, 512, 512]), res.visibility[0][:, None],
                           res.presence[0][:, None]], 1)
    _check_against_reference(norm, res.world_landmarks[0], reference, px=0.05, m=1e-3)
    poses = res.poses
    assert poses.skeleton is blazepose33 and poses.keypoints.shape == (1, 33, 2)
    assert np.abs(poses.keypoints[0] - reference["mp"][:, :2] * 512).max() <= 0.1
    np.testing.assert_allclose(poses.scores[0], reference["mp"][:, 3], atol=1e-3)  # scores = visibility
    np.testing.assert_allclose(poses.keypoints_3d[0], reference["mp_world"][:, :3], atol=1e-3)
    np.testing.assert_array_equal(poses.boxes, dets.boxes)
    assert poses.image_size == (512, 512) and float(poses.box_scores[0]) > 0.9


def test_pipeline_with_detector_matches_mp_solutions(astronaut, reference, landmark_model, detector):
    image, _ = astronaut
    # the single detector pass at 0.5 and no duplicate filter: blazepose_full(**MEDIAPIPE_EXACT)
    poses = BlazePoseEstimator(landmark_model, detector, duplicate_filter=None)(image)
    assert len(poses) == 1
    # The converted detector's keypoints equal MediaPipe's to ~2e-7 (normalised); that ROI difference still flips
    # the rounding of ~50 crop pixels by up to 3 levels, which moves the hand landmarks by ~0.13 px (the fixture's
    # own detection keypoints give 0.03 px, see test_full_pipeline_matches_mediapipe).
    err = np.abs(poses.keypoints[0] - reference["mp"][:, :2] * 512).max(1)
    assert np.median(err) <= 0.02 and err.max() <= 0.25
    np.testing.assert_allclose(poses.keypoints_3d[0], reference["mp_world"][:, :3], atol=1e-3)


def test_multi_person_all_crops_in_one_batch(landmark_model, detector):
    image_path = shared_path("data", "coco", "train2017_subset", "000000227000.jpg")
    counting = _CountingModel(landmark_model)
    est = BlazePoseEstimator(counting, detector)
    image = load_image(image_path)
    n_det = len(detector(image))
    res = est.predict_landmarks(image)
    assert n_det >= 2 and len(res) >= 2
    assert counting.batches == [n_det]  # one landmark-model call holding every person's crop
    h, w = image.shape[:2]
    inside = (res.poses.keypoints[..., 0] > -0.05 * w) & (res.poses.keypoints[..., 0] < 1.05 * w)
    assert inside.mean() > 0.9
    # Different people: hip centres far apart.
    hips = res.poses.keypoints[:, 23:25].mean(1)
    assert np.linalg.norm(hips[0] - hips[1]) > 50


def test_predict_batch_runs_one_model_call_for_several_images(astronaut, landmark_model):
    image, dets = astronaut
    counting = _CountingModel(landmark_model)
    est = BlazePoseEstimator(counting)
    flipped = np.ascontiguousarray(image[:, ::-1])
    kp_f = dets.keypoints.copy()
    kp_f[..., 0] = 512 - kp_f[..., 0]
    dets_f = Detections(dets.boxes, dets.scores, keypoints=kp_f)
    results = est.predict_landmarks_batch([image, flipped], detections=[dets, dets_f])
    assert counting.batches == [2] and [len(r) for r in results] == [1, 1]
    single = est.predict_landmarks(image, detections=dets)
    np.testing.assert_allclose(results[0].landmarks, single.landmarks, atol=1e-2)  # batched conv rounding
    chunked = _CountingModel(landmark_model)
    results_1 = BlazePoseEstimator(chunked, batch_size=1).predict_landmarks_batch([image, flipped],
                                                                            detections=[dets, dets_f])
    assert chunked.batches == [1, 1]
    np.testing.assert_allclose(results_1[1].landmarks, results[1].landmarks, atol=1e-2)


def test_boxes_give_unrotated_roi_and_close_landmarks(astronaut, landmark_model):
    image, dets = astronaut
    est = BlazePoseEstimator(landmark_model)
    ref = est.predict_landmarks(image, detections=dets)
    box = np.array([[130.0, 20.0, 330.0, 512.0]], np.float32)
    res = est.predict_landmarks(image, boxes=box)
    assert len(res) == 1 and float(res.rois.rotation[0]) == 0.0
    np.testing.assert_allclose(res.rois.size_px[0], [492 * 1.25] * 2, rtol=1e-5)
    np.testing.assert_array_equal(res.poses.boxes, box)
    visible = ref.poses.scores[0] > 0.9
    assert np.median(np.linalg.norm(res.poses.keypoints[0] - ref.poses.keypoints[0], axis=1)[visible]) < 8.0


def test_stream_tracks_from_auxiliary_landmarks(astronaut, landmark_model, detector):
    image, _ = astronaut
    counting = _CountingDetector(detector)
    est = BlazePoseEstimator(landmark_model, counting)
    blank = np.full_like(image, 127)
    results = list(est.stream([image, image, image, blank, image]))
    assert [len(r) for r in results] == [1, 1, 1, 0, 1]
    # As MediaPipe: detector on frame 0; frames 1-3 reuse the ROI from the auxiliary landmarks (on the blank
    # frame 3 the landmark model's presence rejects it, without a detector run); frame 4 detects again.
    assert counting.calls == 2
    assert [r.track_ids.tolist() for r in results] == [[0], [0], [0], [], [1]]
    assert results[1].poses.track_ids.tolist() == [0]
    expected = roi.transform_rois(roi.rois_from_alignment_points(
        results[0].landmarks[:, 33, :2], results[0].landmarks[:, 34, :2], (512, 512)), scale=(1.25, 1.25),
        square_long=True)
    np.testing.assert_allclose(results[1].rois.center, expected.center, atol=1e-6)
    # A different (tracked) crop of the same image: visible landmarks stay within a few pixels (the astronaut's
    # legs are outside the image, so the ROI itself drifts by ~30 px between frames).
    moved = np.linalg.norm(results[1].poses.keypoints[0] - results[0].poses.keypoints[0], axis=1)
    assert np.median(moved[results[0].poses.scores[0] > 0.9]) < 10.0


def test_nobody_gives_empty_poses(landmark_model, detector):
    est = BlazePoseEstimator(landmark_model, detector)
    blank = np.full((240, 320, 3), 127, np.uint8)
    poses = est(blank)
    assert len(poses) == 0 and poses.keypoints.shape == (0, 33, 2) and poses.image_size == (320, 240)
    res = est.predict_landmarks(blank)
    assert res.landmarks.shape == (0, 39, 3) and res.visibility.shape == (0, 39)
    assert res.world_landmarks.shape == (0, 39, 3) and len(res.next_rois) == 0


def test_bad_images_raise_clear_errors(landmark_model):
    est = BlazePoseEstimator(landmark_model, lambda image: Detections(np.zeros((0, 4)), np.zeros(0)))
    with pytest.raises(ValueError, match="(?i)shape|channel"):
        est(np.zeros((32, 32, 5), np.uint8))
    with pytest.raises(ValueError, match="(?i)dtype"):
        est(np.zeros((32, 32, 3), np.int32))
    assert len(est(np.zeros((32, 32, 3), np.uint8))) == 0
    with pytest.raises(ValueError, match="boxes must have shape"):
        est(np.zeros((32, 32, 3), np.uint8), boxes=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no detector"):
        BlazePoseEstimator(landmark_model)(np.zeros((32, 32, 3), np.uint8))
