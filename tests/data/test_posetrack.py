"""PoseTrack18 loader on MMPose's PoseTrack18 samples (per-video files and the merged file)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.data.posetrack import load_posetrack18
from tests.conftest import shared_path

ROOT = ("data", "mmpose_testdata", "tests", "data", "posetrack18")


def test_per_video_folder_matches_merged_file():
    root = shared_path(*ROOT)
    per_video, report = load_posetrack18(root / "annotations" / "val", image_dir=root)
    merged, merged_report = load_posetrack18(root / "annotations" / "test_posetrack18_val.json", image_dir=root)
    assert len(per_video) == len(merged) == 14 and report.skipped == merged_report.skipped == ()
    key = lambda s: (s.meta["video_id"], s.meta["track_id"])  # noqa: E731
    assert sorted(map(key, per_video)) == sorted(map(key, merged))
    merged_by_key = {key(s): s for s in merged}
    for s in per_video:
        np.testing.assert_array_equal(s.keypoints, merged_by_key[key(s)].keypoints)
        assert s.image_path.is_file() and s.image_path.parent.name.startswith(s.meta["video_id"])
    assert {s.meta["video_id"] for s in per_video} == {"003418", "009473", "012834"}


def test_posetrack_fields_against_the_json():
    root = shared_path(*ROOT)
    path = root / "annotations" / "val" / "012834_mpii_test.json"
    data = json.loads(path.read_text())
    samples, _ = load_posetrack18(path, image_dir=root)
    cat = data["categories"][0]
    s0 = samples[0]
    assert s0.skeleton.name == "posetrack18" and list(s0.skeleton.keypoints) == cat["keypoints"]
    assert len(s0.skeleton.links) == 19 and len(s0.skeleton.flip_pairs) == 7
    image = data["images"][0]
    for s, ann in zip(samples, data["annotations"]):
        raw = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
        np.testing.assert_array_equal(np.isfinite(s.keypoints[:, 0]), raw[:, 2] > 0)
        np.testing.assert_array_equal(s.visible, (raw[:, 2] > 0).astype(np.float32))  # no visibility in PoseTrack
        np.testing.assert_array_equal(s.keypoints[raw[:, 2] > 0], raw[raw[:, 2] > 0, :2])
        x, y, w, h = ann["bbox_head"]
        np.testing.assert_allclose(s.meta["head_box"], [x, y, x + w, y + h])
        assert s.meta["head_size"] == pytest.approx(0.6 * np.hypot(w, h))
        assert s.meta["track_id"] == ann["track_id"] and s.meta["frame_id"] == image["frame_id"]
        assert s.meta["frame_index"] == 0 and s.meta["num_frames"] == 140 and s.image_id == image["id"]
        assert len(s.meta["ignore_regions"]) == len(image["ignore_regions_x"]) == 4
        assert s.meta["ignore_regions"][1].shape == (len(image["ignore_regions_x"][1]), 2)
    assert [s.meta["track_id"] for s in samples] == list(range(11))


def test_posetrack_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_posetrack18(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no PoseTrack18 .json"):
        load_posetrack18(tmp_path)
    (tmp_path / "broken.json").write_text("[")
    with pytest.raises(ValueError, match="broken.json.*not valid JSON"):
        load_posetrack18(tmp_path)


def test_posetrack_missing_images_are_reported(tmp_path):
    root = shared_path(*ROOT)
    samples, report = load_posetrack18(root / "annotations" / "val", image_dir=tmp_path)
    assert samples == [] and report.counts() == {"missing_image": 14}
    assert report.skipped[0].index == "003418_mpii_test.json[0]"
