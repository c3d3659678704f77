"""posekit.boxes: box area, intersection and IoU on hand-computed cases and edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.boxes import box_area, box_intersection, box_iou


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0], [2, 2, 4, 6]])
    # [5, 0, 15, 10]: intersection 5 x 10 = 50, union 100 + 100 - 50 = 150; [2, 2, 4, 6] lies inside: 8 / 100
    iou = box_iou(a, b)
    assert iou.shape == (1, 5) and iou.dtype == np.float64
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 0.0, 0.08]])


def test_box_iou_one_against_many_in_float32():
    """MediaPipe's OverlapSimilarity in float32, one box against many (``box_iou(box, boxes)[0]``)."""
    box = np.array([0, 0, 2, 2])
    others = np.array([[1, 1, 3, 3], [2, 2, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]])
    iou = box_iou(box, others, dtype=np.float32)[0]
    assert iou.dtype == np.float32
    np.testing.assert_allclose(iou, [1 / 7, 0, 1, 0, 0], rtol=1e-6)


@pytest.mark.parametrize("shape_a,shape_b", [((0, 4), (3, 4)), ((3, 4), (0, 4)), ((0, 4), (0, 4))])
def test_box_iou_empty_inputs(shape_a, shape_b):
    rng = np.random.default_rng(0)
    iou = box_iou(rng.uniform(0, 10, shape_a), rng.uniform(0, 10, shape_b))
    assert iou.shape == (shape_a[0], shape_b[0]) and iou.dtype == np.float64
    assert (box_iou(np.zeros((0, 4)), np.zeros((2, 4))) <= 0.3).all(1).shape == (0,)


def test_zero_area_and_inverted_boxes_overlap_nothing():
    point = np.array([5.0, 5.0, 5.0, 5.0])  # zero-area box inside the other
    line = np.array([0.0, 5.0, 10.0, 5.0])  # zero height
    inverted = np.array([10.0, 10.0, 0.0, 0.0])  # x2 < x1, y2 < y1: empty, although w * h > 0
    full = np.array([0.0, 0.0, 10.0, 10.0])
    boxes = np.stack([point, line, inverted])
    np.testing.assert_array_equal(box_iou(boxes, full)[:, 0], 0.0)
    np.testing.assert_array_equal(np.diag(box_iou(boxes, boxes)), 0.0)  # not even with itself
    np.testing.assert_array_equal(box_area(boxes), 0.0)


def test_non_finite_boxes_give_zero():
    bad = np.array([[np.nan, 0, 10, 10], [0, 0, np.inf, 10], [-np.inf, 0, np.inf, 10]])
    iou = box_iou(bad, [[0, 0, 10, 10]])
    np.testing.assert_array_equal(iou, 0.0)


def test_box_iou_is_symmetric_and_in_unit_range():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (2, 20, 2))
    wh = rng.uniform(-5, 50, (2, 20, 2))
    a, b = np.concatenate([xy, xy + wh], -1)
    for dtype in (np.float64, np.float32):
        ab, ba = box_iou(a, b, dtype=dtype), box_iou(b, a, dtype=dtype)
        np.testing.assert_array_equal(ab, ba.T)
        assert ab.dtype == dtype and (ab >= 0).all() and (ab <= 1).all()


def test_box_area_and_intersection_broadcast():
    boxes = np.array([[0, 0, 4, 3], [1, 1, 1, 9], [3, 3, 1, 1]])
    np.testing.assert_array_equal(box_area(boxes), [12, 0, 0])
    image = np.array([0.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(box_intersection(boxes, image), [4.0, 0.0, 0.0])
    pairwise = box_intersection(boxes[:, None], boxes[None])
    assert pairwise.shape == (3, 3)
    assert pairwise[0, 0] == 12 and pairwise[0, 1] == 0
