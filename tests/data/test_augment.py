"""Augmentation tests: keypoints drawn as dots must stay on their dots through every geometric transform."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap
from posekit.crops import box_to_center_scale, fix_aspect_ratio, transform_points, warp_crops, warp_matrix
from posekit.data.augment import (
    AugmentOptions,
    Instance,
    TopdownAugment,
    affine_crop,
    body_halves,
    crop_instance,
    flip_instance,
    half_body_region,
    random_box_transform,
    random_half_body,
)
from posekit.data.photometric import coarse_dropout, photometric_distortion
from posekit.skeletons import coco17, lsp14

SIGMA = 1.5  # dot radius (Gaussian sigma) in image pixels
IMAGE_HW = (240, 320)


def _dot_image(point: np.ndarray, shape: tuple[int, int] = IMAGE_HW) -> np.ndarray:
    """(H, W, 3) uint8 black image with a Gaussian dot centred at ``point`` (image frame: pixel centres at +0.5)."""
    image = np.zeros((*shape, 3), np.uint8)
    x0, y0 = (max(int(v) - 8, 0) for v in point)
    ys, xs = np.mgrid[y0 : min(y0 + 17, shape[0]), x0 : min(x0 + 17, shape[1])] + 0.5
    g = 200.0 * np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * SIGMA**2))
    image[ys.astype(int), xs.astype(int)] = np.round(g).astype(np.uint8)[:, :, None]
    return image


def _dot_centre(image: np.ndarray, guess: np.ndarray, radius: float) -> np.ndarray | None:
    """Intensity-weighted centre (pixel centres at integers) of the dot near ``guess``; None when the window is
    not wholly inside the image or holds no dot."""
    h, w = image.shape[:2]
    x0, y0 = int(np.floor(guess[0] - radius)), int(np.floor(guess[1] - radius))
    x1, y1 = int(np.ceil(guess[0] + radius)) + 1, int(np.ceil(guess[1] + radius)) + 1
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        return None
    patch = image[y0:y1, x0:x1].astype(np.float64).mean(axis=2)
    border = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]])
    patch = patch - np.median(border)  # photometric jitter lifts the background
    if patch.max() < 40:
        return None
    patch = np.where(patch > 0.2 * patch.max(), patch - 0.2 * patch.max(), 0.0)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return np.array([(xs * patch).sum(), (ys * patch).sum()]) / patch.sum()


def _random_person(rng: np.random.Generator, k: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints spread >= 12 px apart inside the image, all visible, and their box."""
    pts: list[np.ndarray] = []
    while len(pts) < k:
        p = rng.uniform([90, 50], [230, 190])
        if all(np.hypot(*(p - q)) > 12 for q in pts):
            pts.append(p)
    kpts = np.array(pts)
    box = np.concatenate([kpts.min(0) - 5, kpts.max(0) + 5])
    return kpts, np.ones(k, np.float32), box


def _check_dots(run, kpts: np.ndarray, flip_indices: tuple[int, ...], tol: float) -> int:
    """Run ``run(image) -> Crop`` once per keypoint on its own dot image; check each dot sits on its keypoint.

    Returns the number of keypoints checked (inside the crop and not erased by dropout)."""
    checked = 0
    for k in range(len(kpts)):
        crop = run(_dot_image(kpts[k]))
        j = flip_indices.index(k) if crop.flipped else k  # where keypoint k went
        zoom = float(np.sqrt(abs(np.linalg.det(crop.matrix[:, :2]))))
        radius = 4 * SIGMA * zoom + 2
        target = crop.keypoints[j].astype(np.float64)
        holes = crop.holes
        if any(x1 - radius <= target[0] <= x2 + radius and y1 - radius <= target[1] <= y2 + radius
               for x1, y1, x2, y2 in holes):
            continue
        centre = _dot_centre(crop.image, target, radius)
        if centre is None:
            continue
        assert np.hypot(*(centre - target)) < tol, (k, centre, target, zoom)
        checked += 1
    return checked


def test_flip_keeps_dots_on_keypoints_and_twice_is_identity():
    rng = np.random.default_rng(1)
    kpts, vis, box = _random_person(rng)
    flips = lsp14.flip_indices
    for k in range(len(kpts)):
        inst = Instance.from_box(_dot_image(kpts[k]), kpts, vis, box)
        flipped = flip_instance(inst, flip_indices=flips)
        j = flips.index(k)
        centre = _dot_centre(flipped.image, flipped.keypoints[j] - 0.5, 4 * SIGMA) + 0.5  # to the image frame
        np.testing.assert_allclose(centre, flipped.keypoints[j], atol=0.05)
        back = flip_instance(flipped, flip_indices=flips)
        for name in ("image", "visible", "scale"):
            np.testing.assert_array_equal(getattr(back, name), getattr(inst, name))
        np.testing.assert_allclose(back.keypoints, inst.keypoints, rtol=0, atol=1e-12)  # W - (W - x): rounding
        np.testing.assert_allclose(back.center, inst.center, rtol=0, atol=1e-12)
        assert back.rotation == inst.rotation and back.flipped is False and flipped.flipped is True


def test_flip_convention_is_corner_frame():
    """x -> W - x on corner-origin coordinates: the centre of the first pixel column (0.5) maps to W - 0.5."""
    image = np.zeros((4, 10, 3), np.uint8)
    inst = Instance(image, [[0.5, 1.0], [3.0, 2.0]], [1, 0.5], center=[2.0, 2.0], scale=[4.0, 4.0], rotation=10)
    out = flip_instance(inst, flip_indices=(1, 0))
    np.testing.assert_array_equal(out.keypoints, [[7.0, 2.0], [9.5, 1.0]])
    np.testing.assert_array_equal(out.visible, [0.5, 1.0])
    np.testing.assert_array_equal(out.center, [8.0, 2.0])
    assert out.rotation == -10


@pytest.mark.parametrize("udp", [False, True])
@pytest.mark.parametrize("zoom_box", [0.5, 1.0, 3.0])
def test_affine_crop_keeps_dots_on_keypoints(udp, zoom_box):
    """Plain crops at several zooms (a small box is magnified) and rotations."""
    rng = np.random.default_rng(2)
    kpts, vis, box = _random_person(rng)
    checked = 0
    for i, rotation in enumerate((0.0, 30.0, -75.0)):
        inst_kw = dict(center=kpts[i] + rng.uniform(-5, 5, 2), scale=np.array([150.0, 200.0]) / zoom_box,
                       rotation=rotation)

        def run(image):
            return affine_crop(Instance(image, kpts, vis, **inst_kw), input_size=(192, 256), udp=udp,
                               half_pixel=True)

        checked += _check_dots(run, kpts, lsp14.flip_indices, tol=0.2)
    assert checked >= 3


def test_half_pixel_shift_is_needed():
    """The test has teeth: at a 6x zoom, MMPose's unshifted keypoints would miss the dot by ~3 px."""
    kpts = np.array([[160.3, 120.7]])
    inst = Instance(_dot_image(kpts[0]), kpts, [1.0], center=kpts[0], scale=[32.0, 40.0])
    crop = affine_crop(inst, input_size=(192, 256), half_pixel=True)
    centre = _dot_centre(crop.image, crop.keypoints[0], 4 * SIGMA * 6 + 2)
    np.testing.assert_allclose(centre, crop.keypoints[0], atol=0.1)
    m = warp_matrix(inst.center[None] - 0.5, crop.scale[None], (192, 256))
    unshifted = transform_points(kpts[None], m)[0, 0]
    assert np.hypot(*(unshifted - centre)) > 2.5


@pytest.mark.parametrize("udp", [False, True])
def test_half_pixel_false_is_mmpose_arithmetic(udp):
    """The crop an unshifted (MMPose-parity) inference pipeline cuts, and MMPose's keypoint transform."""
    rng = np.random.default_rng(11)
    image = rng.integers(0, 255, (*IMAGE_HW, 3), dtype=np.uint8)
    kpts, vis, box = _random_person(rng)
    inst = Instance(image, kpts, vis, center=[150.2, 120.7], scale=[90.0, 100.0], rotation=25.0)
    crop = affine_crop(inst, input_size=(48, 64), udp=udp, half_pixel=False)
    m = warp_matrix(inst.center[None], crop.scale[None], (48, 64), rotation=25.0, udp=udp)
    np.testing.assert_array_equal(crop.image, warp_crops(image, m, (48, 64))[0])
    np.testing.assert_allclose(crop.keypoints, transform_points(kpts[None], m)[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(crop.matrix, m[0])
    exact = affine_crop(inst, input_size=(48, 64), udp=udp, half_pixel=True)  # same labels; the image moves
    np.testing.assert_allclose(crop.keypoints, exact.keypoints, rtol=0, atol=1e-4)
    np.testing.assert_allclose(exact.matrix, crop.matrix, rtol=0, atol=1e-4)
    m_exact = warp_matrix(inst.center[None] - 0.5, crop.scale[None], (48, 64), rotation=25.0, udp=udp)
    np.testing.assert_array_equal(exact.image, warp_crops(image, m_exact, (48, 64))[0])
    assert not np.array_equal(crop.image, exact.image)


@pytest.mark.parametrize("udp", [False, True])
def test_default_is_the_inference_crop(udp):
    """Training crops default to MMPose's (unshifted) arithmetic, the crop the inference pipeline cuts, so a model
    learns the convention it is run with; the labels then sit about half a pixel (times the zoom) off the dot."""
    rng = np.random.default_rng(12)
    image = rng.integers(0, 255, (*IMAGE_HW, 3), dtype=np.uint8)
    kpts, vis, box = _random_person(rng)
    inst = Instance(image, kpts, vis, center=[150.2, 120.7], scale=[90.0, 100.0])
    default = affine_crop(inst, input_size=(48, 64), udp=udp)
    m = warp_matrix(inst.center[None], default.scale[None], (48, 64), udp=udp)
    np.testing.assert_array_equal(default.image, warp_crops(image, m, (48, 64))[0])
    crop = crop_instance(image, kpts, vis, box, input_size=(48, 64), udp=udp)
    center, scale = box_to_center_scale(np.asarray(box, np.float64)[None], padding=1.25)
    scale = fix_aspect_ratio(scale, aspect_ratio=48 / 64)
    np.testing.assert_array_equal(crop.image, warp_crops(image, warp_matrix(center, scale, (48, 64), udp=udp),
                                                         (48, 64))[0])
    aug = TopdownAugment.for_skeleton(lsp14, input_size=(48, 64), udp=udp)
    assert aug.half_pixel is False
    kpts1 = np.array([[160.3, 120.7]])
    dot = Instance(_dot_image(kpts1[0]), kpts1, [1.0], center=kpts1[0], scale=[32.0, 40.0])
    zoomed = affine_crop(dot, input_size=(192, 256), udp=udp)
    centre = _dot_centre(zoomed.image, zoomed.keypoints[0], 4 * SIGMA * 6 + 2)
    assert np.hypot(*(zoomed.keypoints[0] - centre)) > 2.5  # 0.5 image px * 6x zoom, on each axis


@pytest.mark.parametrize("udp", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        AugmentOptions(flip_prob=1.0, half_body_prob=0, shift_prob=0, scale_prob=0, rotate_prob=0),
        AugmentOptions(flip_prob=0, half_body_prob=1.0, half_body_min_total=1, shift_prob=0, rotate_prob=0),
        AugmentOptions(flip_prob=0, half_body_prob=0, shift_prob=1.0, scale_prob=1.0, rotate_prob=1.0),
        AugmentOptions(photometric_prob=1.0, dropout_prob=1.0),
        AugmentOptions(flip_prob=0.5, half_body_prob=0.5, shift_prob=1, rotate_prob=1, scale_range=(0.3, 2.5),
                       rotate_factor=180.0),
    ],
    ids=["flip", "half_body", "box_shift_scale_rotate", "defaults+photometric+dropout", "all_wide"],
)
def test_pipeline_keeps_dots_on_keypoints(options, udp):
    """Every transform and their compositions, with random parameters over several seeds (geometric errors are
    < 0.08 px; photometric clipping and uint8 truncation deform the dot a little more)."""
    rng = np.random.default_rng(3)
    aug = TopdownAugment.for_skeleton(lsp14, input_size=(192, 256), options=options, udp=udp, half_pixel=True)
    checked = 0
    for seed in range(6):
        kpts, vis, box = _random_person(rng)
        checked += _check_dots(lambda image: aug(image, kpts, vis, box, rng=np.random.default_rng(seed)),
                               kpts, lsp14.flip_indices, tol=0.4 if options.photometric_prob else 0.15)
    assert checked >= 30


def test_pipeline_is_reproducible_and_uses_no_global_rng():
    rng = np.random.default_rng(4)
    kpts, vis, box = _random_person(rng)
    image = rng.integers(0, 255, (*IMAGE_HW, 3), dtype=np.uint8)
    before = (image.copy(), kpts.copy(), vis.copy(), box.copy())
    aug = TopdownAugment.for_skeleton(lsp14, input_size=(96, 128),
                                      options=AugmentOptions(photometric_prob=0.5, dropout_prob=0.5))
    state = np.random.get_state()[1].copy()
    a = [aug(image, kpts, vis, box, rng=np.random.default_rng(s)) for s in range(8)]
    b = [aug(image, kpts, vis, box, rng=np.random.default_rng(s)) for s in range(8)]
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.keypoints, y.keypoints)
    assert len({x.keypoints.tobytes() for x in a}) == 8
    for arr, orig in zip((image, kpts, vis, box), before):
        np.testing.assert_array_equal(arr, orig)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        aug(image, kpts, vis, box, rng=0)
    with pytest.raises(ValueError, match="built for 14 keypoints"):
        aug(image, kpts[:5], vis[:5], box, rng=np.random.default_rng(0))


def test_keypoints_outside_the_crop_keep_visibility_and_encoders_drop_them():
    kpts = np.array([[150.0, 100.0], [300.0, 20.0], [np.nan, np.nan]])
    crop = crop_instance(np.zeros((*IMAGE_HW, 3), np.uint8), kpts, [1.0, 1.0, 0.0], [130, 80, 170, 140],
                         input_size=(48, 64))
    np.testing.assert_array_equal(crop.visible, [1.0, 1.0, 0.0])
    assert crop.keypoints[1, 0] > 48 and np.isnan(crop.keypoints[2]).all()
    weights = MSRAHeatmap((48, 64), (12, 16), sigma=2.0).encode(crop.keypoints[None], crop.visible[None])
    np.testing.assert_array_equal(weights.keypoint_weights, [[1.0, 0.0, 0.0]])


def test_half_body_follows_mmpose_rules():
    upper, lower = body_halves(coco17)
    assert upper == tuple(range(11)) and lower == tuple(range(11, 17))
    assert body_halves(lsp14) == ((6, 7, 8, 9, 10, 11, 12, 13), (0, 1, 2, 3, 4, 5))
    rng = np.random.default_rng(5)
    kpts = rng.uniform(0, 100, (17, 2))
    inst = Instance(np.zeros((120, 120, 3), np.uint8), kpts, np.ones(17), center=[50, 50], scale=[100, 100])
    kw = dict(upper_ids=upper, lower_ids=lower, prob=1.0)
    out = random_half_body(inst, rng, upper_prob=1.0, **kw)
    np.testing.assert_allclose(out.center, kpts[:11].mean(0))
    np.testing.assert_allclose(out.scale, (kpts[:11].max(0) - kpts[:11].min(0)) * 1.5)
    out = random_half_body(inst, rng, upper_prob=0.0, **kw)
    np.testing.assert_allclose(out.center, kpts[11:].mean(0))
    few_upper = kpts.copy()
    few_upper[1:11] = np.nan  # one labelled upper point: the lower half is taken even when upper is preferred
    out = random_half_body(replace_kpts(inst, few_upper), rng, upper_prob=1.0, min_total=5, **kw)
    np.testing.assert_allclose(out.center, kpts[11:].mean(0))
    assert random_half_body(replace_kpts(inst, few_upper), rng, **kw) is not None
    assert random_half_body(replace_kpts(inst, few_upper), rng, **kw).center.tolist() == [50, 50]  # < 9 labelled
    assert half_body_region(np.array([[3.0, 4.0], [3.0, 4.0]])) is None


def replace_kpts(inst: Instance, kpts: np.ndarray) -> Instance:
    return Instance(inst.image, kpts, inst.visible, inst.center, inst.scale)


def test_box_transform_ranges_and_off_switch():
    inst = Instance(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 2)), [1.0], center=[100.0, 50.0], scale=[40, 80])
    rng = np.random.default_rng(6)
    outs = [random_box_transform(inst, rng, shift_prob=1, scale_prob=1, rotate_prob=1) for _ in range(300)]
    shift = np.array([(o.center - inst.center) / inst.scale for o in outs])
    factor = np.array([o.scale / inst.scale for o in outs])
    rot = np.array([o.rotation for o in outs])
    assert np.abs(shift).max() <= 0.16 and np.abs(shift).max() > 0.12
    np.testing.assert_allclose(factor[:, 0], factor[:, 1])
    assert 0.5 <= factor.min() < 0.6 and 1.4 < factor.max() <= 1.5
    assert np.abs(rot).max() <= 80 and np.abs(rot).max() > 70
    assert abs(rot.mean()) < 8 and abs(factor.mean() - 1.0) < 0.05
    assert 0.50 < np.std(rot / 80) < 0.58  # N(0, 1) truncated to [-1, 1] has std 0.5396
    same = random_box_transform(inst, rng, shift_prob=0, scale_prob=0, rotate_prob=0)
    np.testing.assert_array_equal(same.center, inst.center)
    np.testing.assert_array_equal(same.scale, inst.scale)
    assert same.rotation == 0.0


def test_photometric_distortion_keeps_gray_gray_and_input_intact():
    gray = np.repeat(np.arange(0, 256, 2, dtype=np.uint8)[None, :, None], 3, axis=2)  # (1, 128, 3) ramp
    original = gray.copy()
    rng = np.random.default_rng(7)
    outs = [photometric_distortion(gray, rng) for _ in range(40)]
    np.testing.assert_array_equal(gray, original)
    for out in outs:
        assert out.shape == gray.shape and out.dtype == np.uint8
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # hue/sat/swap keep gray
        assert (np.diff(out[0, :, 0].astype(int)) >= 0).all()  # brightness and contrast are monotone
    assert len({o.tobytes() for o in outs}) > 10
    color = np.random.default_rng(8).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    same = photometric_distortion(color, np.random.default_rng(9), brightness_delta=0, contrast_range=(1, 1),
                                  saturation_range=(1, 1), hue_delta=0, channel_swap=False)
    assert np.abs(same.astype(int) - color).max() <= 4  # only the uint8 HSV round trip remains


def _ref_photometric(img, rng):
    """MMPose 1.3.2 PhotometricDistortion.transform with its draws in order (RGB image, contrast applied once
    before or after the HSV steps, hue modulo 180: the two documented fixes)."""
    mode, b_flag, c_flag, hsv_mode, swap = (rng.integers(2), rng.integers(2), rng.integers(2), rng.integers(4),
                                            rng.integers(2))
    beta, alpha, sat = rng.uniform(-32, 32), rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)
    hue, order = rng.integers(-18, 18), rng.permutation(3)

    def convert(x, a=1.0, b=0.0):
        return np.clip(x.astype(np.float32) * a + b, 0, 255).astype(np.uint8)

    if b_flag:
        img = convert(img, b=beta)
    if c_flag and mode == 0:
        img = convert(img, a=alpha)
    if hsv_mode:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        if hsv_mode in (1, 3):
            hsv[:, :, 1] = convert(hsv[:, :, 1], a=sat)
        if hsv_mode in (2, 3):
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + hue) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if c_flag and mode == 1:
        img = convert(img, a=alpha)
    return img[..., order] if swap else img


def test_photometric_distortion_matches_the_mmpose_formula():
    image = np.random.default_rng(12).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for seed in range(30):
        out = photometric_distortion(image, np.random.default_rng(seed))
        np.testing.assert_array_equal(out, _ref_photometric(image.copy(), np.random.default_rng(seed)))


def test_coarse_dropout_erases_only_its_holes():
    image = np.full((64, 48, 3), 255, np.uint8)
    out, holes = coarse_dropout(image, np.random.default_rng(10), num_holes=(2, 3))
    assert image.min() == 255 and 2 <= len(holes) <= 3
    mask = np.zeros((64, 48), bool)
    for x1, y1, x2, y2 in holes:
        assert 0 <= x1 < x2 <= 48 and 0 <= y1 < y2 <= 64
        assert int(48 * 0.2) <= x2 - x1 <= int(48 * 0.4) and int(64 * 0.2) <= y2 - y1 <= int(64 * 0.4)
        mask[y1:y2, x1:x2] = True
    assert (out[mask] == 0).all() and (out[~mask] == 255).all()


def test_bad_inputs_raise_clear_errors():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="image must be an"):
        Instance(image.astype(np.float32), np.zeros((1, 2)), [1.0], [4, 4], [4, 4])
    with pytest.raises(ValueError, match="visible must have shape"):
        Instance(image, np.zeros((2, 2)), [1.0], [4, 4], [4, 4])
    with pytest.raises(ValueError, match="scale positive"):
        Instance(image, np.zeros((1, 2)), [1.0], [4, 4], [0, 4])
    with pytest.raises(ValueError, match="permutation"):
        flip_instance(Instance(image, np.zeros((2, 2)), [1, 1], [4, 4], [4, 4]), flip_indices=(0, 0))
    with pytest.raises(ValueError, match="scale_range"):
        AugmentOptions(scale_range=(1.5, 0.5))
    with pytest.raises(ValueError, match="flip_prob"):
        AugmentOptions(flip_prob=2.0)
