"""MediaPipe hand and face-mesh pipelines: decoding of LiteRT's outputs (the original .tflite run by
``ai-edge-litert``) versus the converted PyTorch modules on the same ROIs, and structure on real images.

The ``.tflite`` files come from posekit's weights cache (``.ci/run`` fills it once per run); the LiteRT comparisons
skip with a reason where the ``litert`` extra is absent. No fixtures exist for hands and faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.detect.mediapipe import face_detector, palm_detector
from posekit.io.image import load_image
from posekit.models.mediapipe_wheel import FACE_LANDMARK, HAND_LANDMARK_FULL, load_mediapipe_module
from posekit.pipelines import roi
from posekit.pipelines.mediapipe_face import MediaPipeFaceMeshEstimator
from posekit.pipelines.mediapipe_hand import MediaPipeHandEstimator
from posekit.skeletons import hand21, mediapipe_face468
from tests.conftest import shared_path
from tests.models.tflite._files import tflite_path


class _LiteRT:
    """The original .tflite as a landmark model: (B, 3, S, S) float32 -> TFLite outputs (looped over B)."""

    def __init__(self, path: Path) -> None:
        interpreter = pytest.importorskip("ai_edge_litert.interpreter",
                                          reason="ai-edge-litert is not installed (the optional `litert` extra)")
        self.it = interpreter.Interpreter(model_path=str(path))
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.outs = [d["index"] for d in self.it.get_output_details()]

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        per_sample = []
        for sample in x.permute(0, 2, 3, 1).cpu().numpy():
            self.it.set_tensor(self.inp, np.ascontiguousarray(sample[None]))
            self.it.invoke()
            per_sample.append([self.it.get_tensor(i).copy() for i in self.outs])
        return [torch.from_numpy(np.concatenate([s[k] for s in per_sample])) for k in range(len(self.outs))]


@pytest.fixture(scope="module")
def hand_image():
    # A large hand holding a banana (ROI ~330 px).
    return load_image(shared_path("data", "coco", "train2017_subset", "000000100667.jpg"))


@pytest.fixture(scope="module")
def astronaut():
    return np.load(shared_path("fixtures", "blazepose", "astronaut_rgb_uint8_512x512x3.npy"))


@pytest.fixture(scope="module")
def hand_estimator():
    return MediaPipeHandEstimator(load_mediapipe_module(HAND_LANDMARK_FULL), palm_detector(variant="full"))


@pytest.fixture(scope="module")
def face_estimator():
    return MediaPipeFaceMeshEstimator(load_mediapipe_module(FACE_LANDMARK), face_detector())


def _inside_rotated_rect(points: np.ndarray, rois: roi.Rois, i: int, margin: float = 0.0) -> np.ndarray:
    c, s = np.cos(rois.rotation[i]), np.sin(rois.rotation[i])
    d = points - rois.center_px[i]
    local = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], -1)
    return np.all(np.abs(local) <= rois.size_px[i] / 2 * (1 + margin), axis=1)


# ---------------------------------------------------------------------------------------------------- hands
def test_hand_structure_on_real_image(hand_estimator, hand_image):
    res = hand_estimator.predict_landmarks(hand_image)
    assert len(res) >= 1
    best = int(np.argmax(res.instance_scores))
    assert res.instance_scores[best] > 0.9
    poses = res.poses
    assert poses.skeleton is hand21 and poses.keypoints.shape[1:] == (21, 2)
    kp = poses.keypoints[best]
    assert _inside_rotated_rect(kp, res.rois, best).all()  # every landmark inside its crop
    h, w = hand_image.shape[:2]
    assert (kp >= 0).all() and (kp[:, 0] < w).all() and (kp[:, 1] < h).all()
    # The palm detection's rotation and the one from the landmarks (next frame's ROI) agree.
    turn = np.angle(np.exp(1j * (res.rois.rotation[best] - res.next_rois.rotation[best])))
    assert abs(np.degrees(turn)) < 25
    # Anatomy (robust to the curled fingers of a grip): the palm is narrower than long, and every finger bone
    # is shorter than the palm and shrinks from proximal to distal.
    palm = np.linalg.norm(kp[9] - kp[0])
    assert 0.3 < np.linalg.norm(kp[5] - kp[17]) / palm < 1.0
    for chain in ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)):
        bones = np.linalg.norm(np.diff(kp[list(chain)], axis=0), axis=1) / palm
        assert (bones > 0.1).all() and (bones < 0.8).all() and bones[0] > bones[2]
    np.testing.assert_allclose(poses.scores[best], res.instance_scores[best])
    assert res.handedness is not None and 0.0 <= res.handedness[best] <= 1.0
    world = poses.keypoints_3d[best]
    span = np.linalg.norm(world[9] - world[0])  # wrist -> middle-finger MCP, metres
    assert 0.05 < span < 0.15
    # The tracking ROI for the next frame encloses the palm.
    assert _inside_rotated_rect(kp[[0, 5, 9, 13, 17]], res.next_rois, best).all()


def test_hand_litert_and_converted_module_agree(hand_estimator):
    image = load_image(shared_path("data", "coco", "train2017_subset", "000000370162.jpg"))  # three hands
    ref_model = _LiteRT(tflite_path("hand_landmark_full.tflite"))
    rois = hand_estimator.predict_landmarks(image).rois
    assert len(rois) >= 2
    torch_res = hand_estimator.predict_landmarks(image, rois=rois)
    lite_res = MediaPipeHandEstimator(ref_model).predict_landmarks(image, rois=rois)
    assert len(lite_res) == len(torch_res) == len(rois)
    # Measured: 6e-5 px, world 4e-7 m, handedness 4e-7.
    np.testing.assert_allclose(torch_res.landmarks, lite_res.landmarks, atol=0.01)
    np.testing.assert_allclose(torch_res.world_landmarks, lite_res.world_landmarks, atol=1e-4)
    np.testing.assert_allclose(torch_res.instance_scores, lite_res.instance_scores, atol=1e-4)
    np.testing.assert_allclose(torch_res.handedness, lite_res.handedness, atol=1e-4)


def test_hand_builder_lite_variant():
    tflite_path("hand_landmark_lite.tflite")
    tflite_path("palm_detection_lite.tflite")
    from posekit.pipelines.mediapipe_hand import mediapipe_hand

    est = mediapipe_hand(variant="lite")
    poses = est(shared_path("data", "coco", "train2017_subset", "000000370162.jpg"))
    assert len(poses) >= 2 and poses.skeleton is hand21
    with pytest.raises(ValueError, match="variant must be"):
        mediapipe_hand(variant="heavy")


def test_hand_lite_variant_runs(hand_image):
    model = MediaPipeHandEstimator(_LiteRT(tflite_path("hand_landmark_lite.tflite")))
    box = np.array([[90.0, 190.0, 290.0, 440.0]], np.float32)  # around the hand holding the banana
    res = model.predict_landmarks(hand_image, boxes=box)
    assert len(res) == 1 and float(res.rois.rotation[0]) == 0.0 and res.instance_scores[0] > 0.5
    np.testing.assert_allclose(res.rois.size_px[0], [250 * 1.5] * 2, rtol=1e-5)
    np.testing.assert_array_equal(res.poses.boxes, box)


# ---------------------------------------------------------------------------------------------------- faces
def test_face_mesh_on_astronaut(face_estimator, astronaut):
    res = face_estimator.predict_landmarks(astronaut)
    assert len(res) == 1 and res.instance_scores[0] > 0.9
    poses = res.poses
    assert poses.skeleton is mediapipe_face468 and poses.keypoints.shape == (1, 468, 2)
    x1, y1, x2, y2 = poses.boxes[0]
    kp = poses.keypoints[0]
    # The mesh lies inside the face detection box, up to the forehead above the detector's box (15 % margin),
    # and its bounds overlap the box closely.
    mx, my = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
    assert ((kp[:, 0] > x1 - mx) & (kp[:, 0] < x2 + mx) & (kp[:, 1] > y1 - my) & (kp[:, 1] < y2 + my)).all()
    mesh = np.r_[kp.min(0), kp.max(0)]
    inter = np.prod(np.clip(np.minimum(mesh[2:], [x2, y2]) - np.maximum(mesh[:2], [x1, y1]), 0, None))
    union = np.prod(mesh[2:] - mesh[:2]) + (x2 - x1) * (y2 - y1) - inter
    assert inter / union > 0.75
    assert _inside_rotated_rect(kp, res.rois, 0).all()
    # Anatomy: the nose tip (1) lies between the eyes' outer corners (33, 263) and above the chin (152).
    assert min(kp[33, 0], kp[263, 0]) < kp[1, 0] < max(kp[33, 0], kp[263, 0])
    assert kp[1, 1] < kp[152, 1]
    np.testing.assert_allclose(poses.keypoints_3d[0, :, :2], kp, atol=1e-4)


def test_face_litert_and_converted_module_agree(face_estimator, astronaut):
    ref_model = _LiteRT(tflite_path("face_landmark.tflite"))
    rois = face_estimator.predict_landmarks(astronaut).rois
    torch_res = face_estimator.predict_landmarks(astronaut, rois=rois)
    lite_res = MediaPipeFaceMeshEstimator(ref_model).predict_landmarks(astronaut, rois=rois)
    assert len(lite_res) == len(torch_res) == 1
    np.testing.assert_allclose(torch_res.landmarks, lite_res.landmarks, atol=0.01)  # measured 9e-5 px
    np.testing.assert_allclose(torch_res.instance_scores, lite_res.instance_scores, atol=1e-4)


def test_face_stream_tracks_without_detector(face_estimator, astronaut):
    calls = []

    def counting(image):
        calls.append(1)
        return face_estimator.detector(image)

    est = MediaPipeFaceMeshEstimator(face_estimator.landmark_model, counting)
    results = list(est.stream([astronaut, astronaut, astronaut]))
    assert [len(r) for r in results] == [1, 1, 1] and len(calls) == 1
    moved = np.linalg.norm(results[2].poses.keypoints[0] - results[0].poses.keypoints[0], axis=1)
    assert np.median(moved) < 3.0


def test_no_face_or_hand_gives_empty_poses(face_estimator, hand_estimator):
    blank = np.full((200, 300, 3), 90, np.uint8)
    for est, k in ((face_estimator, 468), (hand_estimator, 21)):
        poses = est(blank)
        assert len(poses) == 0 and poses.keypoints.shape == (0, k, 2) and poses.image_size == (300, 200)
