"""Rotated-ROI geometry against MediaPipe's numbers (BlazePose fixture) and against itself (round trips)."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from posekit.warps import warp_perspective_exact
from posekit.pipelines import roi
from posekit.pipelines.mediapipe_pose import refine_landmarks_from_heatmap
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def fixture_meta():
    meta = json.loads(shared_path("fixtures", "blazepose", "meta.json").read_text())
    image = np.load(shared_path("fixtures", "blazepose", "astronaut_rgb_uint8_512x512x3.npy"))
    return meta, image


def _pose_roi(meta) -> roi.Rois:
    kp = np.asarray(meta["detection_keypoints"], np.float64) * 512  # normalised -> pixels of the 512 image
    raw = roi.rois_from_alignment_points(kp[None, 0], kp[None, 1], (512, 512), target_angle_deg=90.0)
    return roi.transform_rois(raw, scale=(1.25, 1.25), square_long=True)


def test_pose_roi_from_detection_keypoints_matches_mediapipe(fixture_meta):
    meta, _ = fixture_meta
    rois = _pose_roi(meta)
    ref = meta["roi"]
    np.testing.assert_allclose(rois.center[0], [ref["xc"], ref["yc"]], atol=1e-6, rtol=0)
    np.testing.assert_allclose(rois.size[0], [ref["w"], ref["h"]], atol=1e-6, rtol=0)
    assert abs(float(rois.rotation[0]) - ref["rot"]) < 1e-6
    assert abs(math.degrees(float(rois.rotation[0])) - meta["roi_rotation_deg"]) < 1e-4


def test_crop_matrix_matches_mediapipe(fixture_meta):
    meta, _ = fixture_meta
    m = roi.crop_matrices(_pose_roi(meta), (256, 256))
    assert m.shape == (1, 3, 3)
    np.testing.assert_allclose(m[0], np.asarray(meta["crop_matrix_image_to_tensor"]), rtol=0, atol=1e-9)


def test_crop_equals_mediapipe_landmark_input(fixture_meta):
    meta, image = fixture_meta
    rois = _pose_roi(meta)
    crops = warp_perspective_exact(image, roi.crop_matrices(rois, (256, 256)), (256, 256))
    tensor = crops.astype(np.float32) * np.float32(1 / 255)  # MediaPipe's convertTo(scale = 1/255)
    ref = np.load(shared_path("fixtures", "blazepose", "pose_landmark_full_input_1x256x256x3.npy"))
    assert tensor.shape == ref.shape
    # Bit-exact: OpenCV 4's fixed-point warp (MediaPipe's) reproduced whatever OpenCV is installed.
    assert float(np.abs(tensor - ref).max()) == 0.0


def test_warp_crops_equals_opencv_for_integer_translation():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    m = np.array([[[1.0, 0.0, -7.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]]])
    got = warp_perspective_exact(image, m, (20, 30))[0]
    want = cv2.warpAffine(image, m[0, :2], (20, 30), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(got, want)
    # Border replicate: sampling far outside repeats the edge pixels.
    far = warp_perspective_exact(image, np.array([[[1.0, 0, 100.0], [0, 1.0, 100.0]]]), (4, 4))[0]
    np.testing.assert_array_equal(far, np.broadcast_to(image[0, 0], (4, 4, 3)))


def test_corners_map_to_crop_corners_and_projection_inverts_the_crop(fixture_meta):
    meta, _ = fixture_meta
    rois = _pose_roi(meta)
    m = roi.crop_matrices(rois, (256, 256))[0]
    corners = rois.corners_px()[0]
    mapped = cv2.perspectiveTransform(corners[None], m)[0]
    np.testing.assert_allclose(mapped, [[0, 256], [0, 0], [256, 0], [256, 256]], atol=1e-3)
    # A point in crop pixels, projected to the image and mapped back through the crop matrix.
    crop_pts = np.array([[[10.0, 20.0], [128.0, 128.0], [250.0, 3.0]]])
    img_pts = roi.project_landmarks(crop_pts / 256.0, rois)
    back = cv2.perspectiveTransform(img_pts.astype(np.float64), m)
    np.testing.assert_allclose(back, crop_pts, atol=2e-3)
    np.testing.assert_allclose(img_pts[0, 1], rois.center_px[0], atol=1e-3)


def test_transform_rois_shift_follows_rotation():
    # An upright-rotated (90 deg) rect: shifting along its own y axis moves the centre along image +x.
    rois = roi.Rois([[0.5, 0.5]], [[0.2, 0.1]], [math.pi / 2], (100, 200))
    out = roi.transform_rois(rois, scale=(2.0, 2.0), shift=(0.0, -0.5), square_long=True)
    # y_shift: (W*w*sx*sin + H*h*sy*cos)/H ~ 0; x_shift: -(H*h*sy*sin)/W = 200*0.1*0.5/100 = +0.1
    np.testing.assert_allclose(out.center[0], [0.6, 0.5], atol=1e-6)
    long_side = max(0.2 * 100, 0.1 * 200)
    np.testing.assert_allclose(out.size_px[0], [2 * long_side, 2 * long_side], atol=1e-4)
    assert out.rotation[0] == rois.rotation[0]
    with pytest.raises(ValueError, match="mutually exclusive"):
        roi.transform_rois(rois, square_long=True, square_short=True)


def test_rotation_conventions():
    # Alignment point straight above the centre -> rotation 0; to the right -> +90 deg (clockwise on screen).
    up = roi.rois_from_alignment_points([[50.0, 50.0]], [[50.0, 30.0]], (100, 100))
    right = roi.rois_from_alignment_points([[50.0, 50.0]], [[70.0, 50.0]], (100, 100))
    assert abs(float(up.rotation[0])) < 1e-7
    assert abs(float(right.rotation[0]) - math.pi / 2) < 1e-6
    np.testing.assert_allclose(up.size_px[0], [40.0, 40.0], atol=1e-4)
    # Eyes on a horizontal line (target 0 deg) -> no rotation; box centre kept.
    face = roi.rois_from_boxes([[10.0, 20.0, 30.0, 60.0]], (100, 100), rotation_points=[[[12, 30], [28, 30]]])
    np.testing.assert_allclose(face.center_px[0], [20.0, 40.0], atol=1e-4)
    assert abs(float(face.rotation[0])) < 1e-7


def test_hand_rois_from_landmarks_recover_rotation():
    # A synthetic upright hand (wrist below, fingers up), rotated by 30 deg about its wrist.
    rng = np.random.default_rng(1)
    pts = np.zeros((21, 2))
    pts[0] = (0, 0)
    pts[1:] = np.c_[rng.uniform(-30, 30, 20), rng.uniform(-100, -20, 20)]
    pts[[5, 9, 13], 0], pts[[5, 9, 13], 1] = (-10.0, 0.0, 10.0), -60.0
    a = math.radians(30)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    lm = (pts @ rot.T + (200, 300))[None]
    rois = roi.hand_rois_from_landmarks(lm, (400, 400))
    assert abs(float(rois.rotation[0]) - a) < 1e-5
    # In the ROI frame the tight box encloses every palm landmark.
    partial = lm[0, list(roi._HAND_PARTIAL)] - rois.center_px[0]
    local = partial @ rot  # undo the rotation
    assert np.all(np.abs(local) <= rois.size_px[0] / 2 + 1e-3)


def test_landmark_bounds_roi_and_bounds_px():
    lm = np.zeros((1, 300, 2))
    lm[0, :, 0] = np.linspace(10, 110, 300)
    lm[0, :, 1] = np.linspace(50, 90, 300)
    lm[0, 33], lm[0, 263] = (40, 70), (80, 70)
    rois = roi.rois_from_landmark_bounds(lm, (200, 200), start=33, end=263)
    np.testing.assert_allclose(rois.center_px[0], [60.0, 70.0], atol=1e-3)
    np.testing.assert_allclose(rois.size_px[0], [100.0, 40.0], atol=1e-3)
    np.testing.assert_allclose(rois.bounds_px()[0], [10, 50, 110, 90], atol=1e-3)
    with pytest.raises(ValueError, match="landmarks must have shape"):
        roi.rois_from_landmark_bounds(np.zeros((1, 10, 2)), (200, 200), start=33, end=263)


def test_refine_landmarks_from_heatmap():
    hm = np.full((1, 64, 64, 3), -20.0, np.float32)
    hm[0, 20, 30, 0] = 20.0  # a confident peak near landmark 0
    hm[0, 40:43, 10, 2] = 20.0  # landmark 2: peak spread over rows 40..42 -> mean row 41
    xy = np.array([[[31.5 / 64, 22.2 / 64], [0.5, 0.5], [10.2 / 64, 39.9 / 64]]], np.float32)
    out = refine_landmarks_from_heatmap(xy, hm, kernel_size=9)
    np.testing.assert_allclose(out[0, 0], [30 / 64, 20 / 64], atol=1e-5)
    np.testing.assert_allclose(out[0, 1], xy[0, 1])  # no confident cell: unchanged
    np.testing.assert_allclose(out[0, 2], [10 / 64, 41 / 64], atol=1e-5)
    # The kernel size matters: a 3x3 window around row 39 only sees row 40 of landmark 2's peak.
    out3 = refine_landmarks_from_heatmap(xy, hm, kernel_size=3)
    np.testing.assert_allclose(out3[0, 2], [10 / 64, 40 / 64], atol=1e-5)
    # Outside the heatmap (x < 0 beyond truncation): untouched; the input is never modified.
    far = np.array([[[-0.1, 0.3], [0.5, 0.5], [0.5, 0.5]]], np.float32)
    np.testing.assert_array_equal(refine_landmarks_from_heatmap(far, hm)[0, 0], far[0, 0])
    assert xy[0, 0, 0] == np.float32(31.5 / 64)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="image must be an \\(H, W, C\\) uint8"):
        warp_perspective_exact(np.zeros((10, 10), np.uint8), np.eye(3)[None], (4, 4))
    with pytest.raises(ValueError, match="boxes must have shape \\(N, 4\\)"):
        roi.rois_from_boxes(np.zeros((3,)), (10, 10))
    with pytest.raises(ValueError, match="image_size must be positive"):
        roi.Rois(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), (0, 10))
    with pytest.raises(ValueError, match="disagree on N"):
        roi.Rois(np.zeros((2, 2)), np.zeros((1, 2)), np.zeros(2), (10, 10))
