"""MediaPipe detectors end to end with the converted networks, on real images.

The networks are converted on first use into posekit's weights cache
(:func:`posekit.models.mediapipe_wheel.load_mediapipe_module`). With ``ai-edge-litert`` installed, the decoded
LiteRT outputs are compared too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.optimize import linear_sum_assignment

from posekit.detect.mediapipe import (
    FACE_DETECTION_SHORT_RANGE_CONFIG, PALM_DETECTION_FULL_CONFIG, PALM_DETECTION_LITE_CONFIG, POSE_DETECTION_CONFIG,
    MediaPipeDetector, MediaPipeDetectorConfig, letterbox, mediapipe_detector, palm_detector, postprocess,
)
from posekit.models.mediapipe_wheel import FACE_DETECTION_SHORT_RANGE, POSE_DETECTION, load_mediapipe_module
from posekit.types import Detections
from tests.models.tflite._files import tflite_path
from tests.conftest import shared_path

FIX = ("fixtures", "blazepose")
MMPOSE = ("data", "mmpose_testdata", "tests", "data")


def _litert(config: MediaPipeDetectorConfig, image: np.ndarray) -> Detections | None:
    """LiteRT's outputs for ``image`` decoded by posekit (None when the ``litert`` extra is missing)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    path = tflite_path(f"{config.name}.tflite")
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    tensor, pad = letterbox(image, config.input_size, value_range=config.value_range)
    it.set_tensor(it.get_input_details()[0]["index"], tensor[None])
    it.invoke()
    raw = [it.get_tensor(o["index"]) for o in it.get_output_details()]
    return postprocess(raw[0], raw[1], config=config, image_size=(image.shape[1], image.shape[0]), padding=pad)


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def pose_module():
    return load_mediapipe_module(POSE_DETECTION)


def _astronaut() -> np.ndarray:
    return np.load(shared_path(*FIX, "astronaut_rgb_uint8_512x512x3.npy"))


def test_blazepose_astronaut_matches_mediapipe(pose_module):
    meta = json.loads(shared_path(*FIX, "meta.json").read_text())
    det = MediaPipeDetector(pose_module, POSE_DETECTION_CONFIG)(_astronaut())
    assert len(det) == 1
    assert abs(float(det.scores[0]) - meta["detection_score"]) < 1e-3
    np.testing.assert_allclose(det.keypoints[0] / 512.0, meta["detection_keypoints"], atol=1e-3)


def _crowd(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image, GT mid-hip points (P, 2) and GT box heights (P,) of persons with both hips labelled."""
    coco = shared_path("data", "coco")
    gt = json.loads((coco / "openpose_examples_keypoints.json").read_text())
    image_id = next(im["id"] for im in gt["images"] if im["file_name"] == name)
    hips, heights = [], []
    for ann in gt["annotations"]:
        kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
        if ann["image_id"] == image_id and (kp[11:13, 2] > 0).all():
            hips.append(kp[11:13, :2].mean(0))
            heights.append(ann["bbox"][3])
    return _rgb(coco / "openpose_examples" / name), np.array(hips), np.array(heights)


@pytest.mark.parametrize("name", ["COCO_val2014_000000000536.jpg", "COCO_val2014_000000000241.jpg"])
def test_blazepose_keeps_every_person(pose_module, name):
    """MediaPipe's pose graph keeps one detection; posekit keeps all: each person's hip centre is found."""
    image, hips, heights = _crowd(name)
    assert len(hips) == 3
    full = MediaPipeDetector(pose_module, POSE_DETECTION_CONFIG, box="body")(image)
    assert len(full) >= 3 and (full.scores >= 0.5).all() and (np.diff(full.scores) <= 0).all()
    dist = np.linalg.norm(hips[:, None] - full.keypoints[None, :, 0], axis=-1)
    rows, cols = linear_sum_assignment(dist)
    assert (dist[rows, cols] < 0.25 * heights[rows]).all(), dist[rows, cols]
    # body boxes: square around the hip centre reaching the full-body scale point
    half = np.linalg.norm(full.keypoints[:, 1] - full.keypoints[:, 0], axis=-1)
    np.testing.assert_allclose(full.boxes[:, 2] - full.boxes[:, 0], 2 * half, rtol=1e-5)
    top1 = MediaPipeDetector(pose_module, POSE_DETECTION_CONFIG, box="body", max_detections=1)(image)
    assert len(top1) == 1
    np.testing.assert_allclose(top1.keypoints[0], full.keypoints[0])


def test_detect_batch_equals_single_calls(pose_module):
    images = [_astronaut(), _crowd("COCO_val2014_000000000536.jpg")[0], _crowd("COCO_val2014_000000000241.jpg")[0]]
    det = MediaPipeDetector(pose_module, POSE_DETECTION_CONFIG)
    calls: list[int] = []
    hook = pose_module.register_forward_hook(lambda module, inputs, outputs: calls.append(inputs[0].shape[0]))
    try:
        batch = det.detect_batch(images)
    finally:
        hook.remove()
    assert calls == [3]
    for image, got in zip(images, batch):
        single = det(image)
        assert len(single) == len(got)
        np.testing.assert_allclose(got.keypoints, single.keypoints, atol=1e-2)
        np.testing.assert_allclose(got.scores, single.scores, atol=1e-4)


def _hands() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, GT 21 hand keypoints (21, 3) with visibility, GT box xywh) from MMPose's hand test data."""
    out = []
    for folder in ("onehand10k", "freihand"):
        root = shared_path(*MMPOSE, folder)
        gt = json.loads((root / f"test_{folder}.json").read_text())
        names = {im["id"]: im["file_name"] for im in gt["images"]}
        for ann in gt["annotations"]:
            out.append((_rgb(root / names[ann["image_id"]]), np.asarray(ann["keypoints"], float).reshape(21, 3),
                        np.asarray(ann["bbox"], float)))
    return out


@pytest.mark.parametrize("variant, config", [("full", PALM_DETECTION_FULL_CONFIG),
                                             ("lite", PALM_DETECTION_LITE_CONFIG)])
def test_palm_detector_finds_the_hand(variant, config):
    det = palm_detector(variant=variant)
    assert det.config is config
    hands = _hands()
    results = det.detect_batch([image for image, _, _ in hands])
    found = 0
    for (image, kp, (x, y, w, h)), palms in zip(hands, results):
        ref = _litert(config, image)
        if ref is not None:
            assert len(ref) == len(palms)
            np.testing.assert_allclose(palms.keypoints, ref.keypoints, atol=0.05)
        if not len(palms):
            continue
        found += 1
        diag = np.hypot(w, h)
        cx, cy = (palms.boxes[0, :2] + palms.boxes[0, 2:]) / 2
        assert x <= cx <= x + w and y <= cy <= y + h
        for ours, theirs in ((0, 0), (2, 9)):  # wrist centre, middle-finger MCP
            if kp[theirs, 2] > 0:
                assert np.linalg.norm(palms.keypoints[0, ours] - kp[theirs, :2]) < 0.3 * diag
    assert found >= len(hands) // 2


def _faces() -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, GT 68 face landmarks (68, 2)) from MMPose's 300W and 300W-LP test data."""
    out = []
    for folder, js in (("300w", "test_300w.json"), ("300wlp", "test_300wlp.json")):
        root = shared_path(*MMPOSE, folder)
        gt = json.loads((root / js).read_text())
        names = {im["id"]: im["file_name"] for im in gt["images"]}
        for ann in gt["annotations"]:
            out.append((_rgb(root / names[ann["image_id"]]), np.asarray(ann["keypoints"], float).reshape(68, 3)[:, :2]))
    return out


def _inside(box: np.ndarray, points: np.ndarray) -> bool:
    return bool(((points >= box[:2]) & (points <= box[2:])).all())


def test_face_detector_finds_eyes():
    det = MediaPipeDetector(load_mediapipe_module(FACE_DETECTION_SHORT_RANGE), FACE_DETECTION_SHORT_RANGE_CONFIG)
    for image, lm in _faces():
        faces = det(image)
        assert len(faces) == 1
        ref = _litert(FACE_DETECTION_SHORT_RANGE_CONFIG, image)
        if ref is not None:
            np.testing.assert_allclose(faces.keypoints, ref.keypoints, atol=0.05)
            np.testing.assert_allclose(faces.scores, ref.scores, atol=1e-4)
        right_eye, left_eye = lm[36:42].mean(0), lm[42:48].mean(0)  # the subject's right eye is kp 0
        iod = np.linalg.norm(left_eye - right_eye)
        assert np.linalg.norm(faces.keypoints[0, 0] - right_eye) < 0.25 * iod
        assert np.linalg.norm(faces.keypoints[0, 1] - left_eye) < 0.25 * iod
        assert _inside(faces.boxes[0], faces.keypoints[0, :4])  # eyes, nose tip, mouth
        assert _inside(faces.boxes[0], np.stack([right_eye, left_eye]))
        # mirrored image: the same face, eyes swapped
        flipped = det(np.ascontiguousarray(image[:, ::-1]))
        assert len(flipped) == 1
        width = image.shape[1]
        mirrored = np.array([width - flipped.keypoints[0, 1, 0], flipped.keypoints[0, 1, 1]])
        assert np.linalg.norm(mirrored - faces.keypoints[0, 0]) < 0.15 * iod


def test_face_detector_on_astronaut():
    det = MediaPipeDetector(load_mediapipe_module(FACE_DETECTION_SHORT_RANGE), FACE_DETECTION_SHORT_RANGE_CONFIG)
    faces = det(_astronaut())
    assert len(faces) == 1 and faces.scores[0] > 0.8
    assert _inside(faces.boxes[0], faces.keypoints[0, :4])
    assert faces.keypoints[0, 0, 0] < faces.keypoints[0, 1, 0]  # frontal face: right eye on the image's left
    w, h = faces.boxes[0, 2:] - faces.boxes[0, :2]
    assert 60 < w < 160 and abs(w - h) < 0.1 * w


def test_mediapipe_detector_takes_matching_asset_and_config_objects():
    with pytest.raises(ValueError, match="config 'palm_detection_full' does not describe the network 'pose_detection'"):
        mediapipe_detector(POSE_DETECTION, PALM_DETECTION_FULL_CONFIG)
    with pytest.raises(TypeError, match="asset must be a posekit.models.mediapipe_wheel.TFLiteAsset, got str"):
        mediapipe_detector("POSE_DETECTION", POSE_DETECTION_CONFIG)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must be a MediaPipeDetectorConfig, got str"):
        mediapipe_detector(POSE_DETECTION, "POSE_DETECTION_CONFIG")  # type: ignore[arg-type]
    det = mediapipe_detector(FACE_DETECTION_SHORT_RANGE, FACE_DETECTION_SHORT_RANGE_CONFIG, min_score=0.7,
                             max_detections=1)
    assert det.config is FACE_DETECTION_SHORT_RANGE_CONFIG and det.min_score == 0.7 and det.max_detections == 1
    ref = MediaPipeDetector(load_mediapipe_module(FACE_DETECTION_SHORT_RANGE), FACE_DETECTION_SHORT_RANGE_CONFIG,
                            min_score=0.7, max_detections=1)
    image = _astronaut()
    ours, theirs = det(image), ref(image)
    assert len(ours) == len(theirs) == 1
    np.testing.assert_array_equal(ours.keypoints, theirs.keypoints)
    np.testing.assert_array_equal(ours.boxes, theirs.boxes)
