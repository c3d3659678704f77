"""Core result types: validation, NaN handling, indexing, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.skeletons import Skeleton
from posekit.types import Detections, FrameResult, Poses, Poses3D

SK3 = Skeleton("tri", ("a", "b", "c"), ((0, 1), (1, 2)), flip_pairs=((0, 2),), sigmas=(0.1, 0.2, 0.3))


def make_poses(n: int = 2, **kw) -> Poses:
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 100, (n, 3, 2))
    boxes = np.tile([0, 0, 100, 120], (n, 1))
    return Poses(kpts, rng.uniform(0.5, 1, (n, 3)), boxes, SK3, **kw)


def test_poses_shapes_dtypes_and_copy():
    kpts = np.ones((1, 3, 2))
    p = Poses(kpts, np.ones((1, 3)), [[0, 0, 5, 5]], SK3)
    assert p.keypoints.dtype == np.float32 and p.keypoints.shape == (1, 3, 2)
    kpts[0, 0, 0] = 99  # the caller's array is not aliased
    assert p.keypoints[0, 0, 0] == 1
    with pytest.raises(ValueError):
        p.keypoints[0, 0, 0] = 5  # read-only


def test_nan_keypoint_is_missing_not_an_error():
    kpts = np.ones((1, 3, 2))
    kpts[0, 1, 0] = np.nan
    p = Poses(kpts, np.full((1, 3), 0.9), [[0, 0, 5, 5]], SK3)
    assert np.isnan(p.keypoints[0, 1]).all() and p.scores[0, 1] == 0
    coco = p.to_coco(image_id=7)[0]
    assert coco["keypoints"][3:6] == [0.0, 0.0, 0.0]
    assert json.loads(p.to_json())["keypoints"][0][1] == [None, None]


@pytest.mark.parametrize(
    "kpts, scores, boxes, match",
    [
        (np.ones((2, 4, 2)), np.ones((2, 4)), np.zeros((2, 4)), r"keypoints must have shape \(\*, 3, 2\)"),
        (np.ones((2, 3, 2)), np.ones((2, 2)), np.zeros((2, 4)), r"scores must have shape \(2, 3\)"),
        (np.ones((2, 3, 2)), np.ones((2, 3)), np.zeros((3, 4)), r"boxes must have shape \(2, 4\)"),
        (np.ones((2, 3, 2)), np.full((2, 3), 1.5), np.zeros((2, 4)), r"scores must lie in \[0, 1\]"),
        (np.full((2, 3, 2), "x"), np.ones((2, 3)), np.zeros((2, 4)), "keypoints must be numeric"),
    ],
)
def test_poses_validation_errors_name_the_problem(kpts, scores, boxes, match):
    with pytest.raises(ValueError, match=match):
        Poses(kpts, scores, boxes, SK3)


def test_poses_wrong_skeleton_type():
    with pytest.raises(TypeError, match="skeleton"):
        Poses(np.ones((1, 3, 2)), np.ones((1, 3)), np.zeros((1, 4)), "coco17")


def test_indexing_len_and_empty():
    p = make_poses(3, track_ids=[5, 6, 7])
    assert len(p) == 3 and len(p[1]) == 1 and len(p[1:]) == 2 and len(p[np.array([True, False, True])]) == 2
    assert p[2].track_ids.tolist() == [7]
    e = Poses.empty(SK3)
    assert len(e) == 0 and e.keypoints.shape == (0, 3, 2) and e.to_coco(1) == []


def test_to_coco_matches_mmpose_rescoring():
    p = make_poses(1, box_scores=[0.8])
    rec = p.to_coco(image_id=3)[0]
    assert rec["image_id"] == 3 and rec["category_id"] == 1 and len(rec["keypoints"]) == 9
    s = p.scores[0]
    assert rec["score"] == pytest.approx(0.8 * s[s > 0.2].mean(), rel=1e-6)
    assert rec["bbox"] == [0.0, 0.0, 100.0, 120.0]


def test_numpy_returns_copies():
    p = make_poses(2)
    d = p.numpy()
    d["keypoints"][:] = 0
    assert not np.all(p.keypoints == 0)


def test_detections_and_frame_result():
    d = Detections([[0, 0, 10, 10], [5, 5, 9, 9]], [0.9, 0.4], keypoints=np.zeros((2, 4, 2)))
    assert len(d) == 2 and d.labels.tolist() == [0, 0] and len(d[0]) == 1
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        Detections([[0, 0, 10, 10], [5, 5, 9, 9]], [0.9])
    fr = FrameResult(3, make_poses(1), time_s=0.1)
    assert json.loads(fr.to_json())["frame"] == 3
    with pytest.raises(ValueError, match="frame index"):
        FrameResult(-1, make_poses(1))


def test_poses3d():
    k = np.zeros((1, 3, 3))
    k[0, 2] = np.nan
    p = Poses3D(k, np.ones((1, 3)), SK3, unit="m", frame="world")
    assert p.scores[0, 2] == 0 and json.loads(p.to_json())["unit"] == "m"
    with pytest.raises(ValueError, match="unit"):
        Poses3D(k, np.ones((1, 3)), SK3, unit="cm")
