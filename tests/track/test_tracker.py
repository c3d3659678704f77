"""Tracker on synthetic trajectories: crossing people, occlusion, newcomers, empty frames."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import blazepose33, coco17
from posekit.track.tracker import Tracker
from posekit.types import Poses

# A rough standing person in a unit box (x, y in [0, 1], y down), COCO-17 order.
_UNIT = np.array([
    [0.5, 0.08], [0.55, 0.06], [0.45, 0.06], [0.6, 0.08], [0.4, 0.08],
    [0.7, 0.22], [0.3, 0.22], [0.78, 0.4], [0.22, 0.4], [0.8, 0.55], [0.2, 0.55],
    [0.62, 0.55], [0.38, 0.55], [0.62, 0.75], [0.38, 0.75], [0.62, 0.95], [0.38, 0.95],
])


def _person(cx: float, cy: float, *, w: float = 80.0, h: float = 200.0, rng=None, noise: float = 0.0):
    kpts = np.array([cx - w / 2, cy - h / 2]) + _UNIT * [w, h]
    if rng is not None and noise:
        kpts = kpts + rng.normal(0, noise, kpts.shape)
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    return kpts, box


def _frame(people: list[tuple[np.ndarray, list[float]]], skeleton=coco17) -> Poses:
    if not people:
        return Poses.empty(skeleton)
    kpts = np.stack([p[0] for p in people])
    boxes = np.array([p[1] for p in people])
    return Poses(kpts, np.full(kpts.shape[:2], 0.9), boxes, skeleton)


def _run(tracker: Tracker, frames: list[Poses]) -> list[np.ndarray]:
    return [tracker.update(p, frame_index=i).track_ids for i, p in enumerate(frames)]


@pytest.mark.parametrize("dy", [40.0, 0.0], ids=["offset", "collinear"])
def test_crossing_people_keep_their_ids(dy):
    """A walks right, B walks left; they cross mid-clip (fully overlapping at one moment when dy = 0).
    The order of detections is shuffled every frame, so ids can only come from the tracker."""
    rng = np.random.default_rng(0)
    frames, who = [], []
    for i in range(61):
        a = _person(100 + 10 * i + 5, 300, rng=rng, noise=1.0)  # +5: the crossing falls between frames
        b = _person(700 - 10 * i, 300 + dy, rng=rng, noise=1.0)
        order = rng.permutation(2)
        frames.append(_frame([(a, b)[j] for j in order]))
        who.append(order)
    ids = _run(Tracker(min_hits=1), frames)
    by_person = np.array([[ids_f[list(order).index(p)] for p in (0, 1)] for ids_f, order in zip(ids, who)])
    assert (by_person[:, 0] == by_person[0, 0]).all(), by_person[:, 0]
    assert (by_person[:, 1] == by_person[0, 1]).all(), by_person[:, 1]
    assert by_person[0, 0] != by_person[0, 1]


def test_occluded_person_keeps_id_and_newcomer_gets_new_id():
    rng = np.random.default_rng(1)
    frames = []
    for i in range(50):
        people = [_person(900, 250, rng=rng, noise=1.0)]  # a standing person
        if not 20 <= i < 28:  # the walker is hidden for 8 frames and reappears 135 px on, where its motion leads
            people.append(_person(20 + 15 * i, 300, rng=rng, noise=1.0))
        if i >= 35:
            people.append(_person(300, 150, w=60, h=150, rng=rng, noise=1.0))  # a newcomer
        frames.append(_frame(people))
    ids = _run(Tracker(min_hits=3, max_age=10), frames)
    assert ids[0].tolist() == [0, 1]  # confirmed at once at the start of the stream
    assert all(f[0] == 0 for f in ids)
    walker = [f[1] for i, f in enumerate(ids) if not 20 <= i < 28]
    assert walker == [1] * len(walker)
    assert ids[35][2] == -1 and ids[36][2] == -1  # tentative for min_hits - 1 frames
    assert all(f[2] == 2 for f in ids[37:])


def test_track_expires_after_max_age():
    frames = [_frame([_person(200, 200)]) for _ in range(5)] + [_frame([])] * 4 + [_frame([_person(200, 200)])]
    assert _run(Tracker(max_age=5, min_hits=1), frames)[-1].tolist() == [0]
    assert _run(Tracker(max_age=3, min_hits=1), frames)[-1].tolist() == [1]


def test_empty_frames_and_gaps_in_frame_index():
    tracker = Tracker(min_hits=1)
    out = tracker.update(_frame([]), frame_index=0)
    assert out.track_ids is not None and out.track_ids.shape == (0,)
    for i in range(1, 6):
        assert tracker.update(_frame([_person(100 + 20 * i, 200)]), frame_index=i).track_ids.tolist() == [0]
    assert tracker.update(_frame([]), frame_index=6).track_ids.shape == (0,)
    # sampled every 3rd frame: the prediction uses the index gap (9 - 5 = 4 frames of 20 px)
    assert tracker.update(_frame([_person(100 + 20 * 9, 200)]), frame_index=9).track_ids.tolist() == [0]
    assert tracker.active_ids == (0,)


def test_input_not_mutated_and_fields_kept():
    poses = _frame([_person(100, 100), _person(400, 100)])
    before = poses.keypoints.copy()
    out = Tracker().update(poses, frame_index=0)
    assert poses.track_ids is None
    np.testing.assert_array_equal(poses.keypoints, before)
    np.testing.assert_array_equal(out.keypoints, poses.keypoints)
    np.testing.assert_array_equal(out.boxes, poses.boxes)
    assert out.track_ids.dtype == np.int64


def test_skeleton_without_sigmas_and_missing_keypoints():
    """BlazePose-33 has no OKS sigmas (the default is used); NaN keypoints are left out of the OKS."""
    tracker = Tracker(min_hits=1)
    for i in range(10):
        kpts = np.stack([
            np.array([100 + 5 * i, 100]) + np.linspace(0, 150, 33)[:, None],
            np.array([400 - 5 * i, 100]) + np.linspace(0, 150, 33)[:, None],
        ])
        kpts[:, : i % 5] = np.nan
        boxes = np.array([[90 + 5 * i, 90, 260 + 5 * i, 260], [390 - 5 * i, 90, 560 - 5 * i, 260]])
        poses = Poses(kpts, np.full((2, 33), 0.9), boxes, blazepose33)
        assert tracker.update(poses, frame_index=i).track_ids.tolist() == [0, 1]


def test_bad_inputs():
    tracker = Tracker()
    tracker.update(_frame([_person(100, 100)]), frame_index=3)
    with pytest.raises(ValueError, match="frame_index must increase"):
        tracker.update(_frame([_person(100, 100)]), frame_index=3)
    with pytest.raises(ValueError, match="skeleton changed"):
        tracker.update(Poses.empty(blazepose33), frame_index=4)
    with pytest.raises(TypeError, match="posekit.Poses"):
        tracker.update(np.zeros((1, 17, 2)), frame_index=5)
    with pytest.raises(ValueError, match="iou_weight"):
        Tracker(iou_weight=1.5)
    with pytest.raises(ValueError, match="min_hits"):
        Tracker(min_hits=0)
    with pytest.raises(ValueError, match=r"sigmas must have shape \(17,\)"):
        t = Tracker(sigmas=np.ones(5))
        t.update(_frame([_person(100, 100)]), frame_index=0)
        t.update(_frame([_person(100, 100)]), frame_index=1)


def test_min_oks_keeps_a_track_off_a_neighbour_with_an_overlapping_box():
    """A pose whose box overlaps the track's but whose keypoints lie 60 px (0.75 box widths) away is another
    person: it is not given the track's id (with ``min_oks=0`` the box IoU alone would hand it over)."""
    frames = [_frame([_person(300, 300)]) for _ in range(5)]
    kpts, box = _person(300, 300)
    frames.append(Poses((kpts + [60, 0])[None], np.full((1, 17), 0.9), [box], coco17))
    assert _run(Tracker(), frames)[-1].tolist() == [-1]
    assert _run(Tracker(min_oks=0.0), frames)[-1].tolist() == [0]
