"""Drawing never modifies its input and draws where the keypoints are."""

from __future__ import annotations

import numpy as np
import pytest

import posekit
from posekit.skeletons import Skeleton
from posekit.types import Poses

SK = Skeleton("pair", ("a", "b"), ((0, 1),), link_colors=((255, 0, 0),), keypoint_colors=((0, 255, 0), (0, 0, 255)))


def test_draw_returns_new_image_and_marks_keypoints():
    image = np.zeros((100, 120, 3), np.uint8)
    before = image.copy()
    poses = Poses([[[20.5, 30.5], [90.5, 70.5]]], [[0.9, 0.9]], [[10, 10, 100, 90]], SK, track_ids=[4])
    out = posekit.draw(image, poses, radius=3, thickness=2, draw_boxes=True)
    assert np.array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    assert tuple(out[30, 20]) == (0, 255, 0)  # keypoint a's dot colour at its pixel
    assert tuple(out[70, 90]) == (0, 0, 255)
    mid = out[50, 55]  # the link between them (red)
    assert mid[0] > 200 and mid[1] < 60


def test_low_score_and_nan_keypoints_are_not_drawn():
    image = np.zeros((60, 60, 3), np.uint8)
    poses = Poses([[[10, 10], [np.nan, 40]]], [[0.1, 0.9]], [[0, 0, 50, 50]], SK)
    out = posekit.draw(image, poses, kpt_thr=0.3)
    assert out.sum() == 0


def test_draw_rejects_bad_image():
    poses = Poses.empty(SK)
    with pytest.raises(ValueError):
        posekit.draw(np.zeros((10, 10, 3), np.complex64), poses)


def _wholebody_segments(segments: dict[tuple[int, int], float], size=(120, 100)) -> Poses:
    """One coco_wholebody133 pose holding only the given links, each horizontal from x=20.5 to x=80.5 at its y."""
    from posekit.skeletons import coco_wholebody133

    kpts = np.full((1, 133, 2), np.nan)
    scores = np.zeros((1, 133))
    for (a, b), y in segments.items():
        kpts[0, a], kpts[0, b] = (20.5, y), (80.5, y)
        scores[0, [a, b]] = 1.0
    return Poses(kpts, scores, [[0, 0, size[1] - 1, size[0] - 1]], coco_wholebody133)


def _ink(pixels: np.ndarray) -> float:
    """Drawn width across a run of pixels: the sum of each pixel's brightest channel, in pixel units."""
    return float(pixels.max(axis=-1).sum() / 255.0)


def test_wholebody_face_thin_hands_thinner_and_finger_coloured():
    from posekit.skeletons import FINGER_COLORS, coco_wholebody133

    wb = coco_wholebody133
    assert (23, 24) in wb.links and (96, 97) in wb.links  # face_0-face_1 (jaw), left index finger mcp-pip
    poses = _wholebody_segments({(5, 7): 20.5, (23, 24): 60.5, (96, 97): 100.5})  # left upper arm, jaw, finger
    image = np.zeros((120, 100, 3), np.uint8)
    out = posekit.draw(image, poses, radius=4, thickness=4)
    body, face, hand = (_ink(out[y - 8:y + 9, 50]) for y in (20, 60, 100))  # across each link's middle
    assert face < hand < body
    assert body == pytest.approx(5.44, abs=0.3) and face == pytest.approx(1.35, abs=0.3)  # widths 4 and 1
    # Colours at each line's centre: body left limb green, face white, the index finger its MMPose colour.
    assert tuple(out[20, 50]) == (0, 255, 0)
    assert len(set(out[60, 50])) == 1 and out[60, 50, 0] > 200  # white (a 1 px anti-aliased line: not full)
    assert tuple(out[100, 50]) == dict(FINGER_COLORS)["index"]
    # Dots: face radius 2, hand 3, body 4 (vertical ink through each left end point).
    dots = [_ink(out[y - 10:y + 11, 20]) for y in (20, 60, 100)]
    assert dots[1] < dots[2] < dots[0]
    # part_styles=False draws every part like the body.
    flat = posekit.draw(image, poses, radius=4, thickness=4, part_styles=False)
    widths = [_ink(flat[y - 8:y + 9, 50]) for y in (20, 60, 100)]
    assert widths == pytest.approx([body] * 3)


def test_wholebody_body_drawn_like_coco17():
    """The body part of a WholeBody pose is drawn exactly as the same 17 points of a COCO pose."""
    from posekit.skeletons import COCO_WHOLEBODY133_TO_COCO17, coco17

    rng = np.random.default_rng(0)
    kpts = np.full((1, 133, 2), np.nan)
    kpts[0, :17] = rng.uniform(10, 190, size=(17, 2))
    scores = np.isfinite(kpts[..., 0]).astype(np.float32)
    wb = _wholebody_segments({})
    wb = Poses(kpts, scores, [[0, 0, 199, 199]], wb.skeleton)
    body = Poses(*COCO_WHOLEBODY133_TO_COCO17.apply(kpts, scores), [[0, 0, 199, 199]], coco17)
    image = np.full((200, 200, 3), 40, np.uint8)
    np.testing.assert_array_equal(posekit.draw(image, wb), posekit.draw(image, body))


def test_hand21_alone_keeps_full_size():
    """A hand skeleton's finger parts are not "hand" parts of a body: drawn at full size."""
    from posekit.skeletons import FINGER_COLORS, hand21

    kpts = np.full((1, 21, 2), np.nan)
    kpts[0, 1], kpts[0, 2] = (20.5, 30.5), (80.5, 30.5)  # thumb cmc -> mcp
    poses = Poses(kpts, np.isfinite(kpts[..., 0]), [[0, 0, 99, 59]], hand21)
    image = np.zeros((60, 100, 3), np.uint8)
    out = posekit.draw(image, poses, radius=4, thickness=4)
    assert _ink(out[22:39, 50]) == pytest.approx(_ink(posekit.draw(image, poses, radius=4, thickness=4,
                                                                    part_styles=False)[22:39, 50]))
    assert _ink(out[22:39, 50]) == pytest.approx(5.44, abs=0.3)
    assert tuple(out[30, 50]) == dict(FINGER_COLORS)["thumb"]
