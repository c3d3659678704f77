"""posekit.lift.pipeline: gap filling, track collection, LiftingEstimator, lifter resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.lift.pipeline import (Lifter, LiftingEstimator, build_lifter, collect_tracks, interpolate_missing,
                                  resolve_lifter)
from posekit.lift.run import lift_results_file
from posekit.models.lifters.temporal import videopose3d
from posekit.pipelines.base import PoseEstimator
from posekit.skeletons import coco17, h36m17
from posekit.threed.to_h36m import to_h36m17
from posekit.types import FrameResult, Poses


def _lifter(rf: int = 27) -> Lifter:
    torch.manual_seed(0)
    return Lifter(build_lifter({"family": "videopose3d", "receptive_field": rf, "channels": 16}), "root_scale")


def _coco_pose(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """Plausible-looking COCO-17 poses: a standing template plus noise, (n, 17, 2) pixels."""
    template = np.array([[50, 10], [53, 8], [47, 8], [56, 10], [44, 10], [60, 25], [40, 25], [65, 45], [35, 45],
                         [67, 62], [33, 62], [56, 65], [44, 65], [57, 90], [43, 90], [57, 115], [43, 115]], float)
    return template * 3 + rng.normal(0, 2, size=(n, 17, 2))


def test_interpolate_missing_is_linear_inside_and_held_at_the_ends():
    kp = np.zeros((5, 2, 2))
    kp[:, 0, 0] = [np.nan, 1.0, np.nan, 3.0, np.nan]
    kp[:, 1] = np.arange(5)[:, None]
    out = interpolate_missing(kp)
    np.testing.assert_allclose(out[:, 0, 0], [1, 1, 2, 3, 3])
    np.testing.assert_allclose(out[:, 1], kp[:, 1])
    assert np.isnan(kp[0, 0, 0])  # input untouched
    kp[:, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"joints \[1\] are missing in every frame"):
        interpolate_missing(kp)


def test_collect_tracks_spans_gaps_and_orders_by_length():
    rng = np.random.default_rng(0)

    def poses(ids):
        n = len(ids)
        return Poses(_coco_pose(rng, n), np.ones((n, 17)), np.tile([0, 0, 200, 350], (n, 1)), coco17,
                     track_ids=ids)

    frames = [(0, 0.0, poses([7])), (1, 0.1, poses([7, 3])), (3, 0.3, poses([7])), (4, 0.4, poses([3]))]
    long, short = collect_tracks(frames)
    assert long.track_id == 7 and long.frames.tolist() == [0, 1, 2, 3] and long.observed.tolist() == [1, 1, 0, 1]
    assert short.track_id == 3 and short.frames.tolist() == [1, 2, 3, 4]
    assert np.isnan(long.keypoints[2]).all() and np.isnan(long.times[2])
    np.testing.assert_allclose(long.keypoints[3], to_h36m17(frames[2][2].keypoints, frames[2][2].scores,
                                                            coco17)[0][0], rtol=1e-6)
    with pytest.raises(ValueError, match="without track_ids"):
        collect_tracks([(0, None, poses([1])), (1, None, Poses(_coco_pose(rng), np.ones((1, 17)),
                                                                [[0, 0, 1, 1]], coco17))])


def test_untracked_frames_follow_the_best_instance():
    rng = np.random.default_rng(1)
    kp = _coco_pose(rng, 2)
    scores = np.stack([np.full(17, 0.4), np.full(17, 0.9)])
    (track,) = collect_tracks([(0, None, Poses(kp, scores, [[0, 0, 1, 1]] * 2, coco17))], min_score=0.3)
    np.testing.assert_allclose(track.keypoints[0], to_h36m17(kp[1], scores[1], coco17)[0], rtol=1e-6)


class _FixedPoses(PoseEstimator):
    """A 2D estimator that returns given COCO poses whatever the image (the lifting is what is tested)."""

    skeleton = coco17

    def __init__(self, keypoints: np.ndarray) -> None:
        self.keypoints = keypoints

    def predict_rgb(self, image, *, boxes=None):
        n = len(self.keypoints)
        scores = np.ones((n, 17))
        scores[1:, coco17.index("left_hip")] = 0.0  # the second person misses a hip: no 3D for it
        return Poses(self.keypoints, scores, np.tile([0, 0, 200, 350], (n, 1)), coco17)


def test_lifting_estimator_returns_h36m17_poses_with_lifted_3d():
    kp = _coco_pose(np.random.default_rng(2), 2)
    lifter = _lifter()
    est = LiftingEstimator(_FixedPoses(kp), lifter)
    poses = est(np.zeros((480, 640, 3), np.uint8))
    assert poses.skeleton == h36m17 and poses.keypoints_3d.shape == (2, 17, 3) and poses.image_size == (640, 480)
    k2d = to_h36m17(kp[:1], None, coco17)[0]
    np.testing.assert_allclose(poses.keypoints[0], k2d[0], rtol=1e-6)
    np.testing.assert_allclose(poses.keypoints_3d[0], lifter.lift(k2d)[0], rtol=1e-5, atol=1e-3)
    assert np.all(poses.keypoints_3d[0, 0] == 0) and np.isnan(poses.keypoints_3d[1]).all()
    # a video: one sequence per track, so the temporal lifter sees the motion of the 3 frames
    frames = [Poses(kp[:1] + 5 * i, np.ones((1, 17)), [[0, 0, 1, 1]], coco17) for i in range(3)]
    lifted = est.lift_frames(frames)
    seq = lifter.lift(to_h36m17(np.concatenate([f.keypoints for f in frames]), None, coco17)[0])
    np.testing.assert_allclose(np.stack([p.keypoints_3d[0] for p in lifted]), seq, rtol=1e-5, atol=1e-3)
    with pytest.raises(TypeError, match="posekit Lifter"):
        LiftingEstimator(_FixedPoses(kp), lifter.model)



_VP = ("https://download.openmmlab.com/mmpose/body3d/videopose/"
       "videopose_h36m_{}frames_fullconv_supervised-{}_20210527.pth")


@pytest.mark.parametrize("model, rf, sha", [(None, 243, "880bea25"), ("videopose3d_27f_h36m", 27, "fe8fbba9")])
def test_resolve_lifter_without_weights_downloads_the_official_checkpoint(offline, model, rf, sha):
    # the default (or named) lifter's official file is fetched on first use; offline, the error says what to do
    with pytest.raises(RuntimeError) as info:
        resolve_lifter(model, None, progress=False)
    message = str(info.value)
    assert message.startswith(f"lifter videopose3d_{rf}f_h36m needs weights: its official checkpoint "
                              f"{_VP.format(rf, sha)} (sha256 starts with {sha}; license: ")
    assert "research use only" in message and "Download it elsewhere and pass --weights PATH" in message


def test_resolve_lifter_official_file_given_locally(tmp_path, offline):
    torch.manual_seed(0)
    source = videopose3d(receptive_field=27).eval()  # full size: the official architecture of the name
    state = {(k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k): v
             for k, v in source.state_dict().items()}  # MMPose 0.x layout, as the official files have
    path = tmp_path / "videopose_h36m_27frames.pth"
    torch.save({"meta": {"mmpose_version": "0.14.0", "epoch": np.int64(160)}, "state_dict": state}, path)
    lifter = resolve_lifter("videopose3d_27f_h36m", path)
    assert lifter.name == "videopose3d_27f_h36m" and lifter.normalization == "screen" and lifter.receptive_field == 27
    assert lifter.metadata == {"model": "videopose3d_27f_h36m", "weights": str(path)}
    x = torch.randn(1, 34, 27)
    with torch.no_grad():
        torch.testing.assert_close(lifter.model(x), source(x), rtol=0, atol=0)
    # `posekit lift` records the lifter it used, also when none was named on the command line
    rng = np.random.default_rng(3)
    lines = [FrameResult(i, Poses(_coco_pose(rng), np.ones((1, 17)), [[0, 0, 200, 350]], coco17,
                                  image_size=(640, 480))).to_json() for i in range(5)]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    report = lift_results_file(tmp_path / "r.jsonl", lifter, out=tmp_path / "out", warn=pytest.fail)
    assert report.frames == 5 and report.errors == ()
    doc = json.loads((tmp_path / "out" / "lift3d.json").read_text())
    assert doc["lifter"]["model"] == "videopose3d_27f_h36m" and doc["lifter"]["weights"] == str(path)
    assert np.array(doc["tracks"][0]["keypoints_3d"]).shape == (5, 17, 3)
    with pytest.raises(ValueError, match=r"--model is required with an official checkpoint .*: one of "
                                         "simplebaseline3d_h36m, videopose3d_243f_h36m"):
        resolve_lifter(None, path)
    with pytest.raises(ValueError, match=f"(?s){path} is not a checkpoint of videopose3d_81f_h36m: .*missing keys"):
        resolve_lifter("videopose3d_81f_h36m", path)


def test_resolve_lifter_checks_files_and_the_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        resolve_lifter(None, tmp_path / "missing.safetensors")
    (tmp_path / "x.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a safetensors file"):
        resolve_lifter(None, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="is not a lifter"):
        resolve_lifter("blazepose_full", tmp_path / "official.pth")
    with pytest.raises(ValueError, match="is not a lifter"):
        resolve_lifter("blazepose_full")  # checked before any download
    (tmp_path / "notes.pth").write_text("lifter weights: see the wiki\n")
    with pytest.raises(RuntimeError, match=r"notes.pth is not a PyTorch checkpoint \(it starts with b'lifter"):
        resolve_lifter("videopose3d_27f_h36m", tmp_path / "notes.pth")
