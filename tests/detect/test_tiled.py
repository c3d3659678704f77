"""Tiled detection: whole-image detections stay MediaPipe's, tiles add small people."""

from __future__ import annotations

import numpy as np
import pytest

import posekit
from posekit.detect.mediapipe import blazepose_detector
from posekit.detect.tiled import TiledDetector, tile_windows
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
    np.testing.assert_array_equal(b.keypoints[: len(a)], a.keypoints)
    np.testing.assert_allclose(b.boxes[: len(a)], a.boxes, rtol=0, atol=1e-3)  # rebuilt from float32 keypoints
    # Baseball players are ~1/5 of the frame: the single pass finds nobody, the tiles find the batter.
    small = posekit.load_image(shared_path(*OPENPOSE, "COCO_val2014_000000000192.jpg"))
    assert len(plain(small)) == 0
    found = tiled(small)
    assert len(found) >= 1
    x1, y1, x2, y2 = found.boxes[0]
    assert 180 < (x1 + x2) / 2 < 320 and 150 < (y1 + y2) / 2 < 330  # the batter near the image centre
