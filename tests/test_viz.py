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
