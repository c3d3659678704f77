"""Pose NMS of the person search (``posekit.detect.duplicates``) on hand-made COCO-17 stick figures: a tangled second
skeleton on one person lies on its limbs whatever its labels, people side by side do not, and only unstable
overlapping poses (or the same pose twice) are dropped."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.detect.duplicates import (
    DuplicateFilter,
    duplicate_poses,
    limb_overlap,
    pose_conflicts,
    pose_oks,
    pose_stability,
    visible_boxes,
)
from posekit.skeletons import coco17

SIGMAS = np.asarray(coco17.sigmas)
LINKS = coco17.links

#: a standing person, COCO-17 order, pixels (about 60 x 200)
PERSON = np.array([
    [30, 10], [34, 6], [26, 6], [38, 8], [22, 8],          # nose, eyes, ears
    [45, 40], [15, 40], [50, 75], [10, 75], [52, 105], [8, 105],  # shoulders, elbows, wrists
    [40, 110], [20, 110], [42, 155], [18, 155], [44, 200], [16, 200],  # hips, knees, ankles
], np.float64)
#: the same body read wrongly: arms and legs swapped, left and right swapped (same points, other labels)
TANGLED_ORDER = [0, 2, 1, 4, 3, 12, 11, 14, 13, 16, 15, 6, 5, 8, 7, 10, 9]


def _poses(*figures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kp = np.stack(figures)
    return kp, np.ones(kp.shape[:2])


def test_a_tangled_skeleton_lies_on_the_limbs_of_the_person_while_its_oks_is_low():
    kp, vis = _poses(PERSON, PERSON[TANGLED_ORDER], PERSON + [80, 0])
    overlap = limb_overlap(kp, vis, LINKS)
    oks = pose_oks(kp, vis, SIGMAS)
    assert overlap.shape == oks.shape == (3, 3) and np.all(np.diag(overlap) == 0) and np.all(np.diag(oks) == 0)
    assert overlap[1, 0] == overlap[0, 1] == 1.0  # every keypoint of each is on a limb of the other
    assert oks[0, 1] < 0.2  # ... but the labels disagree
    assert overlap[2, 0] == overlap[0, 2] == 0.0 and oks[0, 2] < 1e-3  # the neighbour 80 px to the right
    assert pose_conflicts(kp, vis, sigmas=SIGMAS, links=LINKS).tolist() == [True, True, False]


def test_hidden_keypoints_do_not_count():
    kp, vis = _poses(PERSON, PERSON + [80, 0])
    kp[1, :5] = PERSON[5:10]  # the neighbour's head keypoints drawn on the first person's arms ...
    assert limb_overlap(kp, vis, LINKS)[1, 0] == pytest.approx(5 / 17)
    vis[1, :5] = 0.1  # ... but hidden
    assert limb_overlap(kp, vis, LINKS)[1, 0] == 0.0


def test_stability_is_the_oks_of_the_second_look():
    kp, vis = _poses(PERSON, PERSON[TANGLED_ORDER])
    again = kp.copy()
    again[1] = PERSON  # the second look at the tangled pose finds the person's real pose
    stab = pose_stability(kp, vis, again, SIGMAS)
    assert stab[0] == pytest.approx(1.0) and stab[1] < 0.2
    with pytest.raises(ValueError, match="second must have the shape of first"):
        pose_stability(kp, vis, again[:1], SIGMAS)


def test_unstable_overlapping_pose_is_dropped_and_stable_neighbours_are_kept():
    kp, vis = _poses(PERSON, PERSON[TANGLED_ORDER], PERSON + [80, 0])
    before = kp.copy()
    stability = np.array([1.0, 0.3, 1.0])
    scores = np.array([0.9, 1.0, 0.8]) * stability  # BlazePose's score: presence flag x stability
    drop = duplicate_poses(kp, vis, scores, stability=stability, sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [False, True, False]
    np.testing.assert_array_equal(kp, before)
    # a stable pose that overlaps (a person half hidden behind another) stays
    drop = duplicate_poses(kp, vis, scores, stability=np.array([1.0, 0.9, 1.0]), sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [False, False, False]
    # visited by score: a pose kept first is never dropped, whatever its stability
    drop = duplicate_poses(kp, vis, np.array([0.9, 1.0, 0.8]), stability=stability, sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [False, False, False]
    # the overlap rule alone (every pose unstable): the higher score wins
    drop = duplicate_poses(kp, vis, np.array([0.9, 1.0, 0.8]), stability=np.zeros(3), sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [True, False, False]


def test_the_same_person_twice_keeps_the_higher_score_whatever_the_stability():
    kp, vis = _poses(PERSON, PERSON + [2, 1])
    drop = duplicate_poses(kp, vis, np.array([0.5, 0.9]), stability=np.ones(2), sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [True, False]
    off = DuplicateFilter(max_oks=None, max_overlap=None)
    assert not duplicate_poses(kp, vis, np.array([0.5, 0.9]), stability=np.zeros(2), sigmas=SIGMAS, links=LINKS,
                               rules=off).any()
    assert not pose_conflicts(kp, vis, sigmas=SIGMAS, links=LINKS, rules=off).any()


def test_dropped_poses_suppress_nothing():
    """C overlaps only B; B is dropped by A, so C stays."""
    kp, vis = _poses(PERSON, PERSON[TANGLED_ORDER] + [25, 0], PERSON + [55, 0])
    overlap = np.maximum(limb_overlap(kp, vis, LINKS), limb_overlap(kp, vis, LINKS).T)
    assert overlap[0, 1] > 0.15 and overlap[1, 2] > 0.15 and overlap[0, 2] <= 0.15
    drop = duplicate_poses(kp, vis, np.array([1.0, 0.9, 0.8]), stability=np.array([1.0, 0.2, 0.2]),
                           sigmas=SIGMAS, links=LINKS)
    assert drop.tolist() == [False, True, False]


def test_edge_cases_and_bad_input():
    kp, vis = _poses(PERSON)
    assert duplicate_poses(kp, vis, np.ones(1), stability=np.ones(1), sigmas=SIGMAS, links=LINKS).tolist() == [False]
    empty = np.zeros((0, 17, 2))
    assert duplicate_poses(empty, np.zeros((0, 17)), np.zeros(0), stability=np.zeros(0), sigmas=SIGMAS,
                           links=LINKS).shape == (0,)
    assert limb_overlap(empty, np.zeros((0, 17)), LINKS).shape == (0, 0)
    boxes = visible_boxes(np.stack([PERSON, np.full_like(PERSON, np.nan)]), np.ones((2, 17), bool))
    np.testing.assert_array_equal(boxes[0], [8, 6, 52, 200])
    assert np.isnan(boxes[1]).all()
    with pytest.raises(ValueError, match="keypoints must have shape"):
        limb_overlap(PERSON, np.ones(17), LINKS)
    with pytest.raises(ValueError, match="visibility must have shape"):
        pose_oks(kp, np.ones((1, 16)), SIGMAS)
    with pytest.raises(ValueError, match="scores and stability must have shape"):
        duplicate_poses(kp, vis, np.ones(2), stability=np.ones(1), sigmas=SIGMAS, links=LINKS)
    with pytest.raises(ValueError, match="DuplicateFilter.max_overlap must lie in"):
        DuplicateFilter(max_overlap=1.5)
