"""`posekit video` and `posekit analyze` run as real subprocesses on the squat clip; PoseEstimator.track; the
analysis report on synthetic poses; the delayed Savitzky-Golay smoother against the offline one.

squat_1.mp4 (leowsimin/Term7_ComputerVision_Project, MIT): 65 frames at 30 frames/s, 720x1280 portrait, one man
facing the camera who squats once (see tests/analysis/test_real_video.py).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path


def posekit(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "posekit.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def _video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def squat_run(tmp_path_factory):
    """`posekit video` on frames 0, 2, ..., 28 of the squat clip with every output, tracking and One-Euro."""
    clip = shared_path("data", "videos", "squat_1.mp4")
    tmp = tmp_path_factory.mktemp("squat")
    out, js, cs = tmp / "out.mp4", tmp / "out.jsonl", tmp / "out.csv"
    res = posekit("video", str(clip), "--model", "blazepose_full", "--end", "30", "--every", "2", "--out", str(out),
                  "--json", str(js), "--csv", str(cs), "--track", "--smooth", "one-euro", "--no-progress", "--profile")
    return res, out, js, cs


def test_video_writes_video_json_and_csv_with_ids(squat_run):
    res, out, js, cs = squat_run
    assert res.returncode == 0, res.stderr
    assert "15 frame(s), 15 pose(s), track ids [0]" in res.stdout
    for stage in ("decode", "detection", "pose", "tracking", "drawing", "writing"):
        assert stage in res.stdout  # --profile table
    assert _video_frames(out) == 15
    cap = cv2.VideoCapture(str(out))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (720, 1280)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(15.0)  # 30 frames/s source, every 2nd frame
    cap.release()
    lines = _jsonl(js)
    assert [d["frame"] for d in lines] == list(range(0, 30, 2))
    assert [d["time_s"] for d in lines] == pytest.approx([i / 30 for i in range(0, 30, 2)])
    assert all(d["skeleton"] == "blazepose33" and d["track_ids"] == [0] for d in lines)
    kp = np.array([d["keypoints"][0] for d in lines], dtype=float)  # (15, 33, 2) pixels
    assert np.isfinite(kp).all() and (kp[..., 0] > 0).all() and (kp[..., 0] < 720).all()
    assert np.abs(np.diff(kp, axis=0)).max() < 80  # smoothed and tracked: no jumps between sampled frames
    with open(cs, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 * 33
    assert {r["track_id"] for r in rows} == {"0"}
    first = [r for r in rows if r["frame"] == "0"]
    assert [r["keypoint"] for r in first][:3] == ["nose", "left_eye_inner", "left_eye"]
    np.testing.assert_allclose([[float(r["x"]), float(r["y"])] for r in first], lines[0]["keypoints"][0],
                               atol=1e-3)


def test_drawn_frame_differs_from_the_source_only_around_the_person(squat_run):
    _, out, js, _ = squat_run
    src = cv2.VideoCapture(str(shared_path("data", "videos", "squat_1.mp4")))
    ok, original = src.read()
    src.release()
    cap = cv2.VideoCapture(str(out))
    ok2, drawn = cap.read()
    cap.release()
    assert ok and ok2
    diff = np.abs(drawn.astype(int) - original.astype(int)).sum(-1) > 120  # strokes, not codec noise
    ys, xs = np.nonzero(diff)
    kp = np.array(_jsonl(js)[0]["keypoints"][0], dtype=float)
    assert diff.sum() > 500  # the skeleton was drawn
    # the changed pixels lie around the keypoints, apart from the "id 0" label at the box corner
    (x0, y0), (x1, y1) = kp.min(0) - 30, kp.max(0) + 30
    inside = (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)
    assert inside.mean() > 0.8


def test_analyze_writes_tables_and_plots(squat_run, tmp_path):
    _, _, js, _ = squat_run
    res = posekit("analyze", str(js), "--out", str(tmp_path / "a"))
    assert res.returncode == 0, res.stderr
    names = ("angles.csv", "repetitions.csv", "summary.json", "angles.png", "gait.png")
    for name in names:
        assert (tmp_path / "a" / name).stat().st_size > 0, name
    with open(tmp_path / "a" / "angles.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["frame"]) for r in rows] == list(range(0, 30, 2))
    knee = np.array([float(r["knee_deg"]) for r in rows])
    assert knee[0] > 165 and knee[-1] < knee[0] - 10  # standing at frame 0, going down by frame 28
    png = cv2.imread(str(tmp_path / "a" / "angles.png"))
    assert png is not None and png.shape[0] > 300 and png.shape[1] > 600
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["track_id"] == 0 and summary["frames"] == 15
    assert summary["repetitions"] == 0  # the clip is cut at the bottom of the squat: an open rep is not counted


def test_truncated_video_keeps_partial_outputs_and_fails_clearly(tmp_path):
    data = shared_path("data", "videos", "squat_1.mp4").read_bytes()  # 'moov' index at the front: opens when cut
    cut = tmp_path / "squat_cut.mp4"
    cut.write_bytes(data[: len(data) // 4])  # 7 decodable frames of 65
    out, js, cs = tmp_path / "o.mp4", tmp_path / "o.jsonl", tmp_path / "o.csv"
    res = posekit("video", str(cut), "--model", "blazepose_full", "--out", str(out), "--json", str(js), "--csv",
                  str(cs), "--no-progress")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "squat_cut.mp4" in res.stderr and "truncated or corrupt" in res.stderr
    assert "last good frame index 6" in res.stderr and "processed 7 frame(s)" in res.stderr
    assert [d["frame"] for d in _jsonl(js)] == list(range(7))
    assert _video_frames(out) == 7
    with open(cs, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 7 * 33
    assert not list(tmp_path.glob(".posekit-tmp*"))  # the writer's temporary file was renamed into place


def test_video_bad_inputs_fail_clearly(tmp_path):
    res = posekit("video", str(tmp_path / "missing.mp4"))
    assert res.returncode == 2 and "video file not found" in res.stderr
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    res = posekit("video", str(text), "--json", str(tmp_path / "x.jsonl"))
    assert res.returncode == 2 and "notes.mp4" in res.stderr
    assert not (tmp_path / "x.jsonl").exists()
    res = posekit("video", str(text), "--smooth", "kalman")
    assert res.returncode == 2 and "--smooth must be one-euro or savgol" in res.stderr


def test_track_uses_the_mediapipe_tracking_mode():
    """PoseEstimator.track on the BlazePose estimator gives the keypoints of its stream mode (ROIs from the previous
    frame's landmarks), with Tracker ids."""
    import posekit
    from posekit.io.video import read_video_frames

    clip = shared_path("data", "videos", "squat_1.mp4")
    est = posekit.PoseEstimator.from_pretrained("blazepose_full")
    results = list(est.track(clip, end=5))
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.poses.track_ids.tolist() for r in results] == [[0]] * 5
    stream = list(est.stream(read_video_frames(clip, end=5)))
    for r, s in zip(results, stream):
        np.testing.assert_array_equal(r.poses.keypoints, s.poses.keypoints)
    direct = est(read_video_frames(clip, start=4, end=5)[0])  # detector ROI, not the tracked one: differs a bit
    assert not np.array_equal(direct.keypoints, results[4].poses.keypoints)
    assert np.abs(direct.keypoints - results[4].poses.keypoints).max() < 20


# ------------------------------------------------------------------------------------------ no model needed


def _synthetic_squats(reps: int, fps: float = 30.0) -> list:
    """A frontal stick figure (blazepose33 pixels) whose knees bend ``reps`` times: hip drops, knees go out."""
    from posekit.skeletons import blazepose33
    from posekit.types import FrameResult, Poses

    t = np.arange(int(reps * 2.0 * fps + 30)) / fps
    depth = np.clip(np.sin(np.pi * np.maximum(t - 0.5, 0) / 1.0), 0, None) ** 2  # 0 standing .. 1 bottom
    depth[t > 0.5 + reps * 2.0] = 0
    names = blazepose33.keypoints
    out = []
    for i, d in enumerate(depth):
        k = np.full((33, 2), np.nan)
        for side, sx in (("left", 1), ("right", -1)):
            k[names.index(f"{side}_ankle")] = (300 + sx * 40, 900)
            k[names.index(f"{side}_knee")] = (300 + sx * (40 + 60 * d), 750 + 40 * d)
            k[names.index(f"{side}_hip")] = (300 + sx * 35, 600 + 120 * d)
            k[names.index(f"{side}_shoulder")] = (300 + sx * 60, 350 + 120 * d)
            k[names.index(f"{side}_elbow")] = (300 + sx * 70, 470 + 120 * d)
            k[names.index(f"{side}_wrist")] = (300 + sx * 75, 580 + 120 * d)
        scores = np.where(np.isfinite(k[:, 0]), 0.9, 0.0)
        poses = Poses(k[None], scores[None], [[200, 300, 400, 920]], blazepose33, track_ids=[0],
                      image_size=(600, 1000))
        out.append(FrameResult(i, poses, time_s=float(t[i])))
    return out


def test_analyze_results_counts_synthetic_squats(tmp_path):
    from posekit.analysis.report import analyze_results, write_analysis

    path = tmp_path / "squats.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in _synthetic_squats(3)))
    analysis = analyze_results(path)
    assert analysis.track_id == 0 and analysis.signal == "knee"
    assert analysis.repetition_count == 3
    bottoms = [analysis.time_s[r.extreme] for r in analysis.repetitions["knee"]]
    np.testing.assert_allclose(bottoms, [1.0, 3.0, 5.0], atol=0.05)  # depth peaks at t = 0.5 + 0.5 + 2 n
    assert analysis.gait.step_count == 0  # the feet never move
    files = write_analysis(analysis, tmp_path / "report")
    assert [f.name for f in files] == ["angles.csv", "repetitions.csv", "summary.json", "angles.png", "gait.png"]
    with open(files[1], newline="") as fh:
        reported = [r for r in csv.DictReader(fh) if r["reported"] == "1"]
    assert [int(r["extreme_frame"]) for r in reported] == [30, 90, 150]


def test_analyze_cli_errors(tmp_path):
    res = posekit("analyze", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"frame": 0}\nnot json\n')
    res = posekit("analyze", str(bad))
    assert res.returncode == 2 and "bad.jsonl:1" in res.stderr and "missing key 'skeleton'" in res.stderr
    good = tmp_path / "good.jsonl"
    good.write_text("".join(r.to_json() + "\n" for r in _synthetic_squats(1)))
    res = posekit("analyze", str(good), "--track-id", "7")
    assert res.returncode == 2 and "track id 7 is not in" in res.stderr and "[0]" in res.stderr


def test_delayed_savgol_matches_the_offline_smoother():
    from posekit.skeletons import blazepose33
    from posekit.track.smoothing import savgol_smooth
    from posekit.types import FrameResult, Poses
    from posekit.video.runner import _SavgolDelay

    rng = np.random.default_rng(0)
    n = 40
    kpts = np.cumsum(rng.normal(0, 3, (n, 33, 2)), axis=0) + 300
    frames = [FrameResult(i, Poses(kpts[i][None], np.ones((1, 33)), [[0, 0, 600, 600]], blazepose33,
                                   track_ids=[0]), time_s=i / 30) for i in range(n)]
    smoother = _SavgolDelay(9, 2)
    out = []
    for i, f in enumerate(frames):
        ready = smoother.push(i, f)
        assert [j for j, _ in ready] == ([] if i < 8 else list(range(5)) if i == 8 else [i - 4])  # 4 frames late
        out.extend(ready)
    out.extend(smoother.flush())
    assert [j for j, _ in out] == list(range(n))
    got = np.stack([r.poses.keypoints[0] for _, r in out])
    want = savgol_smooth(kpts, window=9, polyorder=2)
    np.testing.assert_allclose(got, want, atol=1e-3)  # float32 keypoints
    assert np.abs(got - kpts).max() > 1  # it did smooth


@pytest.mark.slow
def test_full_squat_clip_counts_one_repetition(tmp_path):
    """The Done-when check: `posekit video squat_1.mp4 --json` then `posekit analyze`. A person watching the clip
    counts **1 repetition** (he stands for ~10 frames, squats to the bottom around frame 32, is up again by frame
    ~45 and stands to the end); the command must report the same."""
    human_count = 1
    clip = shared_path("data", "videos", "squat_1.mp4")
    js = tmp_path / "squat.jsonl"
    res = posekit("video", str(clip), "--model", "blazepose_full", "--json", str(js), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert len(_jsonl(js)) == 65
    res = posekit("analyze", str(js), "--out", str(tmp_path / "analysis"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert summary["repetitions"] == human_count, res.stdout
    assert f"repetitions: {human_count} " in res.stdout
    assert summary["repetitions_per_signal"]["knee"] == human_count
    with open(tmp_path / "analysis" / "repetitions.csv", newline="") as fh:
        reported = [r for r in csv.DictReader(fh) if r["reported"] == "1"]
    assert 25 <= int(reported[0]["extreme_frame"]) <= 40  # the bottom of the squat, ~frame 32 by eye
