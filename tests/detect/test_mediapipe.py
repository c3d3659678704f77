"""MediaPipe detector pre- and post-processing against the BlazePose fixture (no network needed)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from posekit.detect.mediapipe import (
    FACE_DETECTION_SHORT_RANGE_CONFIG, POSE_DETECTION_CONFIG, MediaPipeDetector, letterbox, postprocess, rect_matrix,
)
from posekit.warps import warp_perspective_exact
from tests.conftest import shared_path

FIX = ("fixtures", "blazepose")


def _astronaut() -> np.ndarray:
    return np.load(shared_path(*FIX, "astronaut_rgb_uint8_512x512x3.npy"))


def _meta() -> dict:
    return json.loads(shared_path(*FIX, "meta.json").read_text())


def test_letterbox_reproduces_detector_input_exactly():
    expected = np.load(shared_path(*FIX, "pose_detection_input_1x224x224x3.npy"))[0]
    tensor, padding = letterbox(_astronaut(), (224, 224), value_range=(-1.0, 1.0))
    assert tensor.dtype == np.float32 and tensor.shape == (224, 224, 3)
    assert padding == (0.0, 0.0, 0.0, 0.0) == tuple(_meta()["letterbox_detector"])
    assert np.abs(tensor - expected).max() == 0.0  # bit-exact (OpenCV-4 fixed-point warp, x * 2/255 - 1)


def test_warp_matches_rotated_landmark_crop_with_replicate_border():
    """The same warp with the fixture's rotated ROI matrix gives the landmark model's input bit for bit."""
    expected = np.load(shared_path(*FIX, "pose_landmark_full_input_1x256x256x3.npy"))[0]
    matrix = np.array(_meta()["crop_matrix_image_to_tensor"])
    crop = warp_perspective_exact(_astronaut(), np.asarray(matrix)[None], (256, 256), border="replicate")[0]
    assert np.abs(crop.astype(np.float32) / np.float32(255) - expected).max() < 1e-7


def test_warp_agrees_with_opencv_within_rounding():
    """Independent check: OpenCV (any version) differs only by sub-pixel rounding of the sample positions."""
    img = _astronaut()
    matrix = rect_matrix((256.0, 256.0), (512.0, 512.0), 0.3, (160, 120))
    ours = warp_perspective_exact(img, np.asarray(matrix)[None], (160, 120), border="zero")[0].astype(int)
    ref = cv2.warpPerspective(img, matrix, (160, 120), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    ref = ref.astype(int)
    assert np.abs(ours - ref).max() <= 4 and np.mean(ours == ref) > 0.85


@pytest.mark.parametrize("shape, padding", [((336, 448), (0.0, 0.125, 0.0, 0.125)),
                                            ((640, 480), (0.125, 0.0, 0.125, 0.0))])
def test_letterbox_padding_and_zero_border(shape, padding):
    rng = np.random.default_rng(0)
    img = rng.integers(1, 256, size=shape + (3,), dtype=np.uint8)
    tensor, pad = letterbox(img, (128, 128), value_range=(0.0, 1.0))
    np.testing.assert_allclose(pad, padding, atol=1e-7)
    band = int(round(128 * max(padding)))
    edge = tensor[:band - 1] if padding[1] else tensor[:, :band - 1]
    inner = tensor[band + 1:-band - 1] if padding[1] else tensor[:, band + 1:-band - 1]
    assert (edge == 0).all()  # padded with zeros = value_range[0]
    assert (inner > 0).all()  # the image itself has no zero pixel


def test_postprocess_fixture_raw_outputs_match_meta():
    raw_boxes = np.load(shared_path(*FIX, "pose_detection_out_boxes_1x2254x12_ref.npy"))
    raw_scores = np.load(shared_path(*FIX, "pose_detection_out_scores_1x2254x1_ref.npy"))
    meta = _meta()
    det = postprocess(raw_boxes, raw_scores, config=POSE_DETECTION_CONFIG, image_size=(512, 512))
    assert len(det) == 1
    assert abs(float(det.scores[0]) - meta["detection_score"]) < 1e-6
    np.testing.assert_allclose(det.keypoints[0] / 512.0, meta["detection_keypoints"], atol=1e-5)
    body = postprocess(raw_boxes, raw_scores, config=POSE_DETECTION_CONFIG, image_size=(512, 512), box="body")
    centre, top = body.keypoints[0, 0], body.keypoints[0, 1]
    half = np.linalg.norm(top - centre)
    np.testing.assert_allclose(body.boxes[0], [*(centre - half), *(centre + half)], rtol=1e-5)
    xnn = postprocess(np.load(shared_path(*FIX, "pose_detection_out_boxes_1x2254x12_xnnpack.npy")),
                      np.load(shared_path(*FIX, "pose_detection_out_scores_1x2254x1_xnnpack.npy")),
                      config=POSE_DETECTION_CONFIG, image_size=(512, 512))
    np.testing.assert_allclose(xnn.keypoints, det.keypoints, atol=1e-3)


def test_postprocess_min_score_and_graph_default():
    """min_score 0.5 (mp.solutions.pose) is what the fixture used; the graph's own 0.2 averages more boxes in."""
    raw_boxes = np.load(shared_path(*FIX, "pose_detection_out_boxes_1x2254x12_ref.npy"))
    raw_scores = np.load(shared_path(*FIX, "pose_detection_out_scores_1x2254x1_ref.npy"))
    loose = postprocess(raw_boxes, raw_scores, config=POSE_DETECTION_CONFIG, image_size=(512, 512), min_score=0.2)
    assert abs(np.abs(loose.keypoints[0] / 512 - _meta()["detection_keypoints"]).max()) > 1e-4
    none = postprocess(raw_boxes, raw_scores, config=POSE_DETECTION_CONFIG, image_size=(512, 512), min_score=0.9)
    assert len(none) == 0 and none.keypoints.shape == (0, 4, 2)


def test_letterbox_removal_maps_back_to_image_pixels():
    """A detection decoded at tensor position (x, y) lands at the corresponding original-image pixel."""
    anchors_n = POSE_DETECTION_CONFIG.num_anchors
    raw_boxes = np.zeros((anchors_n, 12), np.float32)
    raw_scores = np.full((anchors_n, 1), -50.0, np.float32)
    raw_scores[0] = 5.0  # anchor 0: centre (4, 4) of the 224 input
    raw_boxes[0, :4] = [108, 108, 16, 16]  # box centre (112, 112) input px, 16 px wide
    raw_boxes[0, 4:6] = [-4, 220]  # keypoint 0 at (0, 224) input px
    det = postprocess(raw_boxes, raw_scores, config=POSE_DETECTION_CONFIG, image_size=(400, 200),
                      padding=(0.0, 0.25, 0.0, 0.25))
    # 400x200 image in a 224 square: scale 224/400, vertical band of 56 px; (112, 112) -> image centre
    np.testing.assert_allclose(det.boxes[0], [200 - 400 * 8 / 224, 100 - 400 * 8 / 224,
                                              200 + 400 * 8 / 224, 100 + 400 * 8 / 224], rtol=1e-5)
    np.testing.assert_allclose(det.keypoints[0, 0], [0.0, 300.0], atol=1e-3)


class _Recorder(torch.nn.Module):
    """Returns fixed raw outputs for any batch and records the inputs (the network is not under test here)."""

    def __init__(self, raw_boxes: np.ndarray, raw_scores: np.ndarray) -> None:
        super().__init__()
        self.raw_boxes, self.raw_scores = torch.from_numpy(raw_boxes), torch.from_numpy(raw_scores)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.inputs.append(x)
        b = x.shape[0]
        return self.raw_boxes.expand(b, -1, -1), self.raw_scores.expand(b, -1, -1)


def test_detector_feeds_fixture_input_and_decodes():
    raw_boxes = np.load(shared_path(*FIX, "pose_detection_out_boxes_1x2254x12_ref.npy"))
    raw_scores = np.load(shared_path(*FIX, "pose_detection_out_scores_1x2254x1_ref.npy"))
    module = _Recorder(raw_boxes, raw_scores)
    det = MediaPipeDetector(module, POSE_DETECTION_CONFIG, max_detections=5)
    img = _astronaut()
    out = det.detect_batch([img, img[:, :256].copy()])
    x = module.inputs[0]
    assert x.shape == (2, 3, 224, 224) and x.dtype == torch.float32
    expected = np.load(shared_path(*FIX, "pose_detection_input_1x224x224x3.npy"))[0]
    assert np.abs(x[0].permute(1, 2, 0).numpy() - expected).max() == 0.0
    np.testing.assert_allclose(out[0].keypoints[0] / 512, _meta()["detection_keypoints"], atol=1e-5)
    assert out[1].boxes.shape == (1, 4)  # same raw outputs, different letterbox -> different pixels
    assert not np.allclose(out[1].keypoints, out[0].keypoints)


@pytest.mark.parametrize("bad, err, match", [
    (np.zeros((10, 10, 3), np.float32), ValueError, "uint8"),
    (np.zeros((0, 10, 3), np.uint8), ValueError, "empty"),
    (np.zeros((10, 10, 4), np.uint8), ValueError, r"\(H, W, 3\)"),
    (np.zeros((10, 10), np.uint8), ValueError, r"\(H, W, 3\)"),
    ([[0, 0, 0]], TypeError, "numpy array"),
])
def test_detector_rejects_bad_images(bad, err, match):
    module = _Recorder(np.zeros((1, 896, 16), np.float32), np.zeros((1, 896, 1), np.float32))
    det = MediaPipeDetector(module, FACE_DETECTION_SHORT_RANGE_CONFIG)
    with pytest.raises(err, match=match):
        det(bad)
    assert det.detect_batch([]) == []


def test_detector_option_errors():
    module = _Recorder(np.zeros((1, 896, 16), np.float32), np.zeros((1, 896, 1), np.float32))
    with pytest.raises(ValueError, match="body"):
        MediaPipeDetector(module, FACE_DETECTION_SHORT_RANGE_CONFIG, box="body")
    with pytest.raises(ValueError, match="min_score"):
        MediaPipeDetector(module, FACE_DETECTION_SHORT_RANGE_CONFIG, min_score=1.5)
    with pytest.raises(ValueError, match="max_detections"):
        MediaPipeDetector(module, FACE_DETECTION_SHORT_RANGE_CONFIG, max_detections=0)
    wrong = MediaPipeDetector(module, POSE_DETECTION_CONFIG)  # face-sized outputs for the pose config
    with pytest.raises(ValueError, match=r"expected \(1, 2254, 12\)"):
        wrong(np.zeros((8, 8, 3), np.uint8))
