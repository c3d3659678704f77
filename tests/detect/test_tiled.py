"""Tiled detection: whole-image detections stay MediaPipe's, tiles add small people, and the rules of
:func:`tile_false_positives` each drop what they should (constructed from MediaPipe's astronaut pose)."""

from __future__ import annotations

import numpy as np
import pytest

import posekit
from posekit.detect.mediapipe import blazepose_detector
from posekit.detect.tiled import TiledDetector, TileFilter, tile_false_positives, tile_windows
from posekit.pipelines.mediapipe_pose import _tile_filter_constants
from posekit.types import Detections
from tests.conftest import shared_path

OPENPOSE = ("data", "coco", "openpose_examples")


@pytest.mark.parametrize("grid, overlap", [(1, 0.0), (2, 0.25), (3, 0.5)])
def test_tiles_cover_the_image_and_overlap(grid, overlap):
    w, h = 640, 480
    tiles = tile_windows((w, h), grid=grid, overlap=overlap)
    assert len(tiles) == grid * grid
    cover = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in tiles:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    if grid > 1:  # neighbours share about `overlap` of a tile
        shared = tiles[0, 2] - tiles[1, 0]
        assert abs(shared / (tiles[0, 2] - tiles[0, 0]) - overlap) < 0.02


def test_bad_tile_options():
    with pytest.raises(ValueError, match="grid"):
        tile_windows((10, 10), grid=0, overlap=0.1)
    with pytest.raises(ValueError, match="overlap"):
        tile_windows((10, 10), grid=2, overlap=1.0)
    with pytest.raises(ValueError, match="box='model'"):
        TiledDetector(blazepose_detector(box="body"))


def test_whole_image_detections_are_kept_exactly_and_tiles_find_small_people():
    inner = blazepose_detector(box="model")
    tiled = TiledDetector(inner, grid=2)
    plain = blazepose_detector()  # box="body", MediaPipe's single pass
    crowd = posekit.load_image(shared_path(*OPENPOSE, "COCO_val2014_000000000241.jpg"))
    a, b = plain(crowd), tiled(crowd)
    assert len(a) == 3 and len(b) >= len(a)
    assert b.needs_check.tolist() == [False] * len(a) + [True] * (len(b) - len(a))  # whole-image ones first
    assert b[: len(a)].needs_check.tolist() == [False] * len(a) and "needs_check" in b.numpy()
    np.testing.assert_array_equal(b.keypoints[: len(a)], a.keypoints)
    np.testing.assert_allclose(b.boxes[: len(a)], a.boxes, rtol=0, atol=1e-3)  # rebuilt from float32 keypoints
    # Baseball players are ~1/5 of the frame: the single pass finds nobody, the tiles find the batter.
    small = posekit.load_image(shared_path(*OPENPOSE, "COCO_val2014_000000000192.jpg"))
    assert len(plain(small)) == 0
    found = tiled(small)
    assert len(found) >= 1 and found.needs_check.all()
    x1, y1, x2, y2 = found.boxes[0]
    assert 180 < (x1 + x2) / 2 < 320 and 150 < (y1 + y2) / 2 < 330  # the batter near the image centre


def test_weak_whole_image_detections_come_back_as_candidates_after_the_trusted_ones():
    """Three boys on a bench (image 328): MediaPipe's detector scores them 0.59, 0.35 and 0.30; with min_score 0.3
    and trusted_score 0.5 the first stays MediaPipe's detection and the other two come back as candidates."""
    image = posekit.load_image(shared_path(*OPENPOSE, "COCO_val2014_000000000328.jpg"))
    plain = blazepose_detector(box="model")(image)  # min_score 0.5 (mp.solutions.pose)
    weak = TiledDetector(blazepose_detector(box="model", min_score=0.3), grid=1, trusted_score=0.5, box="model")
    got = weak(image)
    assert len(plain) == 1 and len(got) == 3
    assert got.needs_check.tolist() == [False, True, True]
    np.testing.assert_array_equal(got.keypoints[:1], plain.keypoints)
    assert got.scores[0] >= 0.5 > got.scores[1] >= got.scores[2] >= 0.3  # candidates by decreasing score
    everyone = TiledDetector(blazepose_detector(box="model", min_score=0.3), grid=1, box="model")(image)
    assert everyone.needs_check.tolist() == [False] * 3  # trusted_score=None: the wrapped detector's result
    with pytest.raises(ValueError, match="trusted_score"):
        TiledDetector(blazepose_detector(box="model"), trusted_score=1.5)


# -- tile_false_positives: each rule on constructed cases built from MediaPipe's astronaut pose ---------------
def _astronaut_pose():
    """(33, 2) pixels and (33,) visibility of what mp.solutions.pose returned on the 512x512 astronaut."""
    lm = np.load(shared_path("fixtures", "blazepose", "mp_solutions_pose_landmarks_33x5.npy"))
    return lm[:, :2].astype(np.float64) * 512, lm[:, 3].astype(np.float64)


def _drop(poses, needs_check, size=(1536, 1024), **rules):
    sigmas, torso = _tile_filter_constants()
    kp = np.stack([p for p, _ in poses])
    vis = np.stack([v for _, v in poses])
    return tile_false_positives(kp, vis, np.array(needs_check), size, sigmas=sigmas, torso=torso,
                                rules=TileFilter(**rules)).tolist()


def test_a_pose_mostly_outside_the_image_is_dropped_unless_from_the_whole_image():
    kp, vis = _astronaut_pose()
    up = (kp - [0, 700], vis)  # the pose's box now lies mostly above the image
    assert _drop([up], [True]) == [True]
    assert _drop([up], [True], min_inside=None) == [False]  # it is rule (a) that drops it
    assert _drop([up], [False]) == [False]  # whole-image instances are never dropped
    assert _drop([(kp + [600, 0], vis)], [True]) == [False]  # the same pose inside the image stays


def test_a_duplicate_inside_another_pose_is_dropped():
    kp, vis = _astronaut_pose()
    vis = np.where(np.arange(33) >= 23, 0.9, vis)  # a full-body person
    hips = kp[[23, 24]].mean(0)
    part = ((kp - hips) * 0.3 + hips, vis)  # a small "person" on the first one's body
    twin = (kp + 1.5, vis)  # the same person found twice
    far = (kp + [900, 0], vis)  # a different person next to it
    assert _drop([(kp, vis), part, twin, far], [False, True, True, True]) == [False, True, True, False]
    # containment (rule b) drops the part, OKS (rule b) the twin; each alone:
    assert _drop([(kp, vis), part], [False, True], max_contained=None) == [False, False]
    assert _drop([(kp, vis), twin], [False, True], max_contained=None) == [False, True]
    assert _drop([(kp, vis), twin], [False, True], max_contained=None, max_oks=None) == [False, False]
    # between two tile instances the first one (the higher detection score) is kept
    assert _drop([twin, (kp, vis)], [True, True]) == [False, True]
    # a whole-image instance is kept even when it lies inside a tile one (which is not inside it)
    assert _drop([part, (kp, vis)], [False, True]) == [False, False]


def test_a_pose_without_a_visible_torso_is_dropped():
    kp, vis = _astronaut_pose()
    kp = kp + [600, 0]
    faint = np.where(np.isin(np.arange(33), [11, 12, 23, 24]), 0.1, vis)
    assert _drop([(kp, faint)], [True]) == [True]
    assert _drop([(kp, faint)], [True], min_torso_visibility=None) == [False]
    assert _drop([(kp, faint)], [False]) == [False]


def test_an_unsure_candidate_is_dropped_by_its_presence_score():
    kp, vis = _astronaut_pose()
    kp = kp + [600, 0]
    sigmas, torso = _tile_filter_constants()
    keep = lambda flag, check, **rules: tile_false_positives(  # noqa: E731
        kp[None], vis[None], [check], (1536, 1024), sigmas=sigmas, torso=torso, rules=TileFilter(**rules),
        presence=[flag]).tolist() == [False]
    assert keep(0.95, True) and not keep(0.7, True)  # rule (d), at TileFilter's default 0.8
    assert keep(0.7, True, min_presence=None) and keep(0.7, True, min_presence=0.6)
    assert keep(0.1, False)  # trusted instances are never dropped
    with pytest.raises(ValueError, match="presence must have shape"):
        tile_false_positives(kp[None], vis[None], [True], (512, 512), sigmas=sigmas, torso=torso, presence=[1, 1])


def test_tile_false_positives_checks_its_inputs():
    kp, vis = _astronaut_pose()
    with pytest.raises(ValueError, match="keypoints must have shape"):
        tile_false_positives(kp, vis, [True], (512, 512), sigmas=np.ones(33), torso=[11])
    with pytest.raises(ValueError, match="visibility must have shape"):
        tile_false_positives(kp[None], vis[None, :5], [True], (512, 512), sigmas=np.ones(33), torso=[11])
    with pytest.raises(ValueError, match="sigmas"):
        tile_false_positives(kp[None], vis[None], [True], (512, 512), sigmas=np.ones(17), torso=[11])
    with pytest.raises(ValueError, match="torso"):
        tile_false_positives(kp[None], vis[None], [True], (512, 512), sigmas=np.ones(33), torso=[40])
    with pytest.raises(ValueError, match="TileFilter.max_oks"):
        TileFilter(max_oks=2.0)
    with pytest.raises(ValueError, match=r"needs_check must have shape \(1,\)"):
        Detections([[0, 0, 10, 10]], [0.9], needs_check=[True, False])
