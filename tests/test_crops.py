"""posekit.crops against MMPose 1.3.2 fixtures (e2e crops, parity back-projection) and geometric properties."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.crops import (
    box_to_center_scale,
    crop_to_image,
    fix_aspect_ratio,
    invert_affine,
    transform_points,
    warp_crops,
    warp_matrix,
)
from tests.conftest import shared_path

INPUT_SIZE = (192, 256)  # (w, h) of every 2D fixture
E2E_MODELS = {"hrnet_tiny": False, "rtmpose_t": False, "vitpose_tiny_classic": True}  # name -> UDP affine
PARITY_2D = {
    "simplebaseline_res50_tiny": False,
    "hrnet_tiny": False,
    "vitpose_tiny_classic": True,
    "vitpose_tiny_simple": True,
    "rtmpose_t": False,
}
# posekit.warps reproduces OpenCV 5.0's warpAffine (the fixtures' OpenCV) in NumPy: 38 of the 39 fixture crops
# are identical. The third e2e box of the non-UDP models keeps 3 values one grey level off (of 147456): they sit
# within 6e-4 of a .5 rounding tie and no float32 evaluation order reproduces all crops at once (fixtures made on
# another CPU). The budget names exactly that crop; every other crop must be identical.
KNOWN_OFF_BY_ONE = {("e2e", "hrnet_tiny", 2): 3, ("e2e", "rtmpose_t", 2): 3}


def _assert_crops_identical(crops: np.ndarray, ref_nhwc: np.ndarray, case: tuple[str, str]) -> None:
    diff = np.abs(crops.astype(np.int16) - ref_nhwc.astype(np.int16))
    for i in range(len(crops)):
        allowed = KNOWN_OFF_BY_ONE.get((*case, i), 0)
        assert diff[i].max() <= min(allowed, 1), f"{case} crop {i}: max |diff| {diff[i].max()}"
        assert int((diff[i] > 0).sum()) <= allowed, f"{case} crop {i}: {(diff[i] > 0).sum()} values differ"


def _mmpose_input_cs(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center, scale = box_to_center_scale(boxes, padding=1.25)
    return center, fix_aspect_ratio(scale, aspect_ratio=INPUT_SIZE[0] / INPUT_SIZE[1])


# ------------------------------------------------------------------------------------ MMPose fixtures


@pytest.mark.parametrize("name", sorted(E2E_MODELS))
def test_e2e_center_scale_exact(name: str) -> None:
    ref = np.load(shared_path("fixtures", "mmpose", "e2e", f"{name}.npz"))
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    center, scale = _mmpose_input_cs(boxes)
    assert center.dtype == np.float32 and scale.dtype == np.float32
    np.testing.assert_array_equal(center, ref["input_center"])
    np.testing.assert_array_equal(scale, ref["input_scale"])


@pytest.mark.parametrize("name", sorted(E2E_MODELS))
def test_e2e_crops_match_mmpose(name: str) -> None:
    ref = np.load(shared_path("fixtures", "mmpose", "e2e", f"{name}.npz"))
    image = np.load(shared_path("fixtures", "mmpose", "e2e", "000000197388_bgr.npy"))
    original = image.copy()
    center, scale = _mmpose_input_cs(np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy")))
    matrices = warp_matrix(center, scale, INPUT_SIZE, udp=E2E_MODELS[name])
    crops = warp_crops(image, matrices, INPUT_SIZE)
    np.testing.assert_array_equal(image, original)
    assert crops.shape == (3, 256, 192, 3) and crops.dtype == np.uint8
    _assert_crops_identical(crops, ref["crops_uint8_bgr"].transpose(0, 2, 3, 1), ("e2e", name))


@pytest.mark.parametrize("name", sorted(PARITY_2D))
def test_parity_center_scale_and_crops(name: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    center, scale = _mmpose_input_cs(np.load(folder / "bboxes.npy"))
    np.testing.assert_array_equal(center, np.load(folder / "input_center.npy"))
    np.testing.assert_array_equal(scale, np.load(folder / "input_scale.npy"))
    # The parity crops were cut from MMPose's tests/data/coco/000000196141.jpg decoded by cv2.imread.
    image = cv2.imread(str(shared_path("data", "mmpose_testdata", "tests", "data", "coco", "000000196141.jpg")))
    assert image is not None
    crops = warp_crops(image, warp_matrix(center, scale, INPUT_SIZE, udp=PARITY_2D[name]), INPUT_SIZE)
    _assert_crops_identical(crops, np.load(folder / "input_uint8_bgr.npy").transpose(0, 2, 3, 1), ("parity", name))
    m = warp_matrix(center, scale, INPUT_SIZE, udp=PARITY_2D[name])
    m_inv = warp_matrix(center, scale, INPUT_SIZE, udp=PARITY_2D[name], inverse=True)
    np.testing.assert_allclose(m_inv, invert_affine(m), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(PARITY_2D))
def test_parity_back_projection_exact(name: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    kpts_input = np.load(folder / "pred_keypoints_input.npy")
    expected = np.load(folder / "pred_keypoints.npy")
    out = crop_to_image(
        kpts_input, np.load(folder / "input_center.npy"), np.load(folder / "input_scale.npy"),
        tuple(np.load(folder / "input_size.npy")),
    )
    assert out.dtype == expected.dtype  # float32 (MSRA, SimCC) or float64 (UDP decode)
    np.testing.assert_array_equal(out, expected)


def _mmpose_get_warp_matrix(center, scale, rot, output_size, shift=(0.0, 0.0), inv=False):
    """Scalar transcription of MMPose 1.3.2 ``get_warp_matrix`` (the reference the vectorised code must match)."""
    shift = np.array(shift)
    rot_rad = np.deg2rad(rot)
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    src_dir = np.array([[cs, -sn], [sn, cs]]) @ np.array([0.0, scale[0] * -0.5])
    dst_w, dst_h = output_size

    def third(a, b):
        d = a - b
        return b + np.r_[-d[1], d[0]]

    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center + scale * shift
    src[1] = center + src_dir + scale * shift
    src[2] = third(src[0], src[1])
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([0.0, dst_w * -0.5])
    dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def _mmpose_get_udp_warp_matrix(center, scale, rot, output_size):
    """Scalar transcription of MMPose 1.3.2 ``get_udp_warp_matrix``."""
    input_size = center * 2
    rot_rad = np.deg2rad(rot)
    m = np.zeros((2, 3), dtype=np.float32)
    sx = (output_size[0] - 1) / scale[0]
    sy = (output_size[1] - 1) / scale[1]
    m[0, 0] = math.cos(rot_rad) * sx
    m[0, 1] = -math.sin(rot_rad) * sx
    m[0, 2] = sx * (-0.5 * input_size[0] * math.cos(rot_rad) + 0.5 * input_size[1] * math.sin(rot_rad) + 0.5 * scale[0])
    m[1, 0] = math.sin(rot_rad) * sy
    m[1, 1] = math.cos(rot_rad) * sy
    m[1, 2] = sy * (-0.5 * input_size[0] * math.sin(rot_rad) - 0.5 * input_size[1] * math.cos(rot_rad) + 0.5 * scale[1])
    return m


def test_matrices_match_mmpose_reference() -> None:
    rng = np.random.default_rng(0)
    n = 64
    center = rng.uniform(-50, 1500, (n, 2)).astype(np.float32)
    scale = rng.uniform(5, 900, (n, 2)).astype(np.float32)
    rot = rng.uniform(-180, 180, n)
    for size, shift in [((192, 256), (0.0, 0.0)), ((288, 384), (0.13, -0.07)), ((64, 48), (0.0, 0.2))]:
        std = warp_matrix(center, scale, size, rotation=rot, shift=shift)
        std_inv = warp_matrix(center, scale, size, rotation=rot, shift=shift, inverse=True)
        for i in range(n):
            ref = _mmpose_get_warp_matrix(center[i], scale[i], rot[i], size, shift)
            ref_inv = _mmpose_get_warp_matrix(center[i], scale[i], rot[i], size, shift, inv=True)
            np.testing.assert_allclose(std[i], ref, rtol=0, atol=1e-9 * (1 + np.abs(ref).max()))
            np.testing.assert_allclose(std_inv[i], ref_inv, rtol=0, atol=1e-9 * (1 + np.abs(ref_inv).max()))
        udp = warp_matrix(center, scale, size, rotation=rot, udp=True)
        ref_udp = np.stack([_mmpose_get_udp_warp_matrix(center[i], scale[i], rot[i], size) for i in range(n)])
        np.testing.assert_array_equal(udp, ref_udp)  # bit for bit: float32 evaluation as in MMPose


# ------------------------------------------------------------------------------------ properties

_boxes = st.tuples(
    st.floats(-500, 2000), st.floats(-500, 2000), st.floats(2, 1500), st.floats(2, 1500)
).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(_boxes, min_size=1, max_size=4),
    rotation=st.floats(-180, 180),
    out_w=st.integers(8, 400),
    out_h=st.integers(8, 400),
    udp=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_crop_then_invert_roundtrip(boxes, rotation, out_w, out_h, udp, seed) -> None:
    boxes = np.asarray(boxes, dtype=np.float64)
    center, scale = box_to_center_scale(boxes)
    scale = fix_aspect_ratio(scale, aspect_ratio=out_w / out_h)
    rng = np.random.default_rng(seed)
    pts = boxes[:, None, :2] + rng.uniform(-0.2, 1.2, (len(boxes), 9, 2)) * (boxes[:, None, 2:] - boxes[:, None, :2])
    m = warp_matrix(center, scale, (out_w, out_h), rotation=rotation, udp=udp)
    crop_pts = transform_points(pts, m)
    np.testing.assert_allclose(transform_points(crop_pts, invert_affine(m)), pts, rtol=0, atol=1e-4)
    m_inv = warp_matrix(center, scale, (out_w, out_h), rotation=rotation, udp=udp, inverse=True)
    np.testing.assert_allclose(transform_points(crop_pts, m_inv), pts, rtol=0, atol=1e-4)
    # The box centre lands on the crop centre: (w/2, h/2), or ((w-1)/2, (h-1)/2) for UDP's pixel-centre grid,
    # up to MMPose's float32 rounding of the centre (relative 2**-24 in image pixels, times the zoom).
    expected_c = (np.array([out_w, out_h]) - (1 if udp else 0)) / 2
    zoom = (np.array([out_w, out_h]) / scale).max(axis=1, keepdims=True)
    err = np.abs(transform_points(center[:, None], m)[:, 0] - expected_c)
    assert np.all(err <= 1e-6 + 2.4e-7 * zoom * (np.abs(center) + scale).max(axis=1, keepdims=True)), err


@settings(max_examples=40, deadline=None)
@given(boxes=st.lists(_boxes, min_size=1, max_size=4), out_w=st.integers(8, 400), out_h=st.integers(8, 400))
def test_crop_to_image_inverts_standard_warp(boxes, out_w, out_h) -> None:
    boxes = np.asarray(boxes, dtype=np.float64)
    center, scale = box_to_center_scale(boxes)
    scale = fix_aspect_ratio(scale, aspect_ratio=out_w / out_h)
    pts = np.stack([boxes[:, :2], boxes[:, 2:], (boxes[:, :2] + boxes[:, 2:]) / 2], axis=1)
    crop_pts = transform_points(pts, warp_matrix(center, scale, (out_w, out_h)))
    # MMPose's float32 rounding of the matrix's source points perturbs the zoom by ~2**-24 |centre| / width.
    tol = 1e-6 + 5e-7 * (np.abs(center) + scale).max(axis=1) * (1 + scale[:, 1] / scale[:, 0])
    err = np.abs(crop_to_image(crop_pts, center, scale, (out_w, out_h)) - pts).max(axis=(1, 2))
    assert np.all(err <= tol), (err, tol)


def test_udp_maps_box_edges_to_pixel_centres() -> None:
    center, scale = np.array([[100.0, 50.0]]), np.array([[40.0, 80.0]])
    m = warp_matrix(center, scale, (192, 256), udp=True)
    corners = np.array([[[80.0, 10.0], [120.0, 90.0]]])
    np.testing.assert_allclose(transform_points(corners, m), [[[0.0, 0.0], [191.0, 255.0]]], atol=1e-4)


def test_rotation_directions_follow_mmpose() -> None:
    # A point right of the centre, rotation +90: standard turns the content anticlockwise on screen (point goes
    # up in the crop), MMPose's UDP matrix turns it clockwise (point goes down).
    center, scale, right = np.array([[100.0, 100.0]]), np.array([[50.0, 50.0]]), np.array([[[110.0, 100.0]]])
    std = transform_points(right, warp_matrix(center, scale, (50, 50), rotation=90.0))
    udp = transform_points(right, warp_matrix(center, scale, (50, 50), rotation=90.0, udp=True))
    np.testing.assert_allclose(std, [[[25.0, 15.0]]], atol=1e-4)
    np.testing.assert_allclose(udp, [[[24.5, 24.5 + 10 * 49 / 50]]], atol=1e-4)


def test_fix_aspect_ratio_grows_short_side() -> None:
    out = fix_aspect_ratio(np.array([[30.0, 100.0], [300.0, 100.0]]), aspect_ratio=0.75)
    np.testing.assert_allclose(out, [[75.0, 100.0], [300.0, 400.0]])


def test_warp_crops_single_channel_and_border() -> None:
    image = np.full((20, 30, 1), 200, dtype=np.uint8)
    m = warp_matrix(np.array([[0.0, 0.0]]), np.array([[20.0, 20.0]]), (10, 10))  # half the crop is outside
    crop = warp_crops(image, m, (10, 10))
    assert crop.shape == (1, 10, 10, 1)
    assert crop[0, 0, 0, 0] == 0 and crop[0, -1, -1, 0] == 200


def test_crop_to_image_keeps_nan() -> None:
    kpts = np.array([[[np.nan, 10.0], [5.0, 5.0]]], dtype=np.float32)
    out = crop_to_image(kpts, np.array([[50.0, 50.0]], np.float32), np.array([[96.0, 128.0]], np.float32), (192, 256))
    assert np.isnan(out[0, 0, 0]) and np.all(np.isfinite(out[0, 1]))


# ------------------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ([10.0, 10.0, 10.0, 50.0], r"boxes\[1\] = \[10.0, 10.0, 10.0, 50.0\]"),  # zero width
        ([10.0, 10.0, 5.0, 50.0], r"boxes\[1\]"),  # negative width
        ([10.0, np.nan, 20.0, 50.0], r"boxes\[1\] = \[10.0, nan"),
        ([10.0, 10.0, np.inf, 50.0], r"boxes\[1\]"),
    ],
)
def test_bad_boxes_name_the_index(box, match) -> None:
    with pytest.raises(ValueError, match=match):
        box_to_center_scale(np.array([[0.0, 0.0, 5.0, 5.0], box]))


def test_bad_shapes_and_types() -> None:
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        box_to_center_scale(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"scale must have 2 rows"):
        warp_matrix(np.zeros((2, 2)), np.ones((3, 2)), (192, 256))
    with pytest.raises(ValueError, match="scale must be positive"):
        warp_matrix(np.zeros((1, 2)), np.array([[0.0, 5.0]]), (192, 256))
    with pytest.raises(ValueError, match="output_size"):
        warp_matrix(np.zeros((1, 2)), np.ones((1, 2)), (192, 0))
    with pytest.raises(ValueError, match=r"rotation must be a scalar or have shape \(1,\)"):
        warp_matrix(np.zeros((1, 2)), np.ones((1, 2)), (192, 256), rotation=np.zeros(3))
    with pytest.raises(ValueError, match=r"points must have shape \(N, K, 2\)"):
        transform_points(np.zeros((3, 17)), np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match=r"matrices must have shape \(N, 2, 3\)"):
        transform_points(np.zeros((3, 17, 2)), np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="singular"):
        invert_affine(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"keypoints_input must have shape \(N, K, 2\)"):
        crop_to_image(np.zeros((2, 17)), np.zeros((2, 2)), np.ones((2, 2)), (192, 256))
    m = np.tile(np.eye(2, 3), (1, 1, 1))
    with pytest.raises(ValueError, match="image must be uint8, got dtype float32"):
        warp_crops(np.zeros((10, 10, 3), np.float32), m, (5, 5))
    with pytest.raises(ValueError, match=r"image must have shape \(H, W, C\)"):
        warp_crops(np.zeros((10, 10), np.uint8), m, (5, 5))
    with pytest.raises(TypeError, match="numpy array"):
        warp_crops([[0]], m, (5, 5))
