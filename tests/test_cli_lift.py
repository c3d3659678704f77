"""`posekit lift` run as a real subprocess on JSON lines of 2D results, with a tiny lifter trained in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posekit.lift.pipeline import load_lifter
from posekit.skeletons import h36m17
from posekit.types import FrameResult, Poses
from tests.conftest import offline_env, shared_path
from tests.test_cli import posekit


@pytest.fixture(scope="module")
def mocap(tmp_path_factory) -> dict[str, np.ndarray]:
    """CMU 02_01 (walk, training) and 02_03 (run, lifted by the tests), h36m17 world mm at 120 fps."""
    from posekit.threed.cmu_h36m import load_amc_h36m17
    from posekit.threed.mocap_archive import extract_members

    dest = tmp_path_factory.mktemp("cmu")
    extract_members(shared_path("data", "mocap", "cmu", "cmu_asf_amc.tar.xz"),
                    [f"asf_amc/subjects/02/{m}" for m in ("02.asf", "02_01.amc", "02_03.amc")], dest)
    d = dest / "asf_amc" / "subjects" / "02"
    return {c: load_amc_h36m17(d / "02.asf", d / f"{c}.amc") for c in ("02_01", "02_03")}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, mocap) -> Path:
    """A tiny VideoPose3D-27 trained for 15 steps (its accuracy does not matter here)."""
    from posekit.lift.train import LiftTrainConfig, train_lifter

    out = tmp_path_factory.mktemp("lifter")
    cfg = LiftTrainConfig(model="videopose3d", receptive_field=27, channels=32, windows=4, frames_per_window=8,
                          steps=15, eval_cameras=1)
    res = train_lifter({"02_01": mocap["02_01"]}, {"02_03": mocap["02_03"]}, cfg, out=out, log=lambda s: None)
    return res.checkpoint


def _pixels(mocap, n: int = 40) -> np.ndarray:
    from posekit.lift.train import make_eval_set

    return make_eval_set({"02_03": mocap["02_03"]}, stride=2, cameras_per_clip=1)[0].keypoints[:n]


def _line(i: int, kp: np.ndarray) -> str:
    poses = Poses(kp[None], np.ones((1, 17)), [[*kp.min(0), *kp.max(0)]], h36m17, image_size=(1000, 1000))
    return FrameResult(i, poses, time_s=i / 30).to_json()


def test_lift_writes_3d_json_csv_and_figure(tmp_path, mocap, checkpoint):
    kp = _pixels(mocap)
    results = tmp_path / "walk.jsonl"
    results.write_text("".join(_line(i, k) + "\n" for i, k in enumerate(kp)))
    out = tmp_path / "out"
    res = posekit("lift", str(results), "--weights", str(checkpoint), "--model", "videopose3d_27f_h36m",
                  "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "lift3d.json").read_text())
    assert doc["skeleton"] == "h36m17" and doc["unit"] == "mm" and doc["keypoint_names"] == list(h36m17.keypoints)
    (track,) = doc["tracks"]
    k3d = np.array(track["keypoints_3d"], dtype=np.float64)
    assert k3d.shape == (40, 17, 3) and track["frames"] == list(range(40)) and all(track["observed"])
    np.testing.assert_array_equal(k3d[:, 0], 0)
    np.testing.assert_allclose(k3d, load_lifter(checkpoint).lift(kp, image_size=(1000, 1000)), atol=0.006)  # JSON keeps 0.01 mm
    with open(out / "lift3d.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 * 17 and rows[17]["frame"] == "1" and rows[17]["joint"] == "root"
    assert float(rows[3]["x_mm"]) == pytest.approx(k3d[0, 3, 0], abs=0.006)
    with Image.open(out / "lift3d.png") as im:
        assert im.width > 600 and im.height > 400


def test_bad_lines_are_reported_with_their_line_number(tmp_path, mocap, checkpoint):
    kp = _pixels(mocap, 6)
    lines = [_line(0, kp[0]), "{not json", _line(2, kp[2]),
             _line(3, kp[3]).replace('"skeleton": "h36m17"', '"skeleton": "blazepose33"'), "", _line(5, kp[5]),
             _line(2, kp[4])]
    results = tmp_path / "bad.jsonl"
    results.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    res = posekit("lift", str(results), "--weights", str(checkpoint), "--out", str(out))
    assert res.returncode == 1, res.stderr
    assert f"{results}:2: invalid JSON" in res.stderr
    assert f"{results}:4: 'keypoints' must have shape (N, 33, 2) for blazepose33" in res.stderr
    assert f"{results}:7: frame 2 appears twice" in res.stderr
    (track,) = json.loads((out / "lift3d.json").read_text())["tracks"]
    assert track["frames"] == [0, 1, 2, 3, 4, 5]  # one sequence; missing frames interpolated and flagged
    assert track["observed"] == [True, False, True, False, False, True]
    assert np.array(track["keypoints_3d"]).shape == (6, 17, 3)


def test_lift_errors_are_clear(tmp_path, checkpoint):
    results = tmp_path / "r.jsonl"
    results.write_text("")
    # no --weights: the lifter's official checkpoint is downloaded on first use; here every request goes to a
    # closed local port (offline), so the message must say where the file is and what to pass instead
    offline = offline_env(tmp_path / "cache")
    url = ("https://download.openmmlab.com/mmpose/body3d/videopose/"
           "videopose_h36m_{}frames_fullconv_supervised-{}_20210527.pth")
    for args, rf, sha in ((["--model", "videopose3d_27f_h36m"], 27, "fe8fbba9"), ([], 243, "880bea25")):
        res = posekit("lift", str(results), *args, "--out", str(tmp_path / "o"), env=offline)
        assert res.returncode == 2 and f"lifter videopose3d_{rf}f_h36m needs weights" in res.stderr, res.stderr
        assert url.format(rf, sha) in res.stderr and "pass --weights PATH" in res.stderr
        assert "research use only" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()
    res = posekit("lift", str(results), "--weights", str(checkpoint), "--model", "simplebaseline3d_h36m")
    assert res.returncode == 2 and "does not match the checkpoint" in res.stderr


@pytest.mark.slow
def test_lift_blazepose_squat_frames(tmp_path, checkpoint):
    """BlazePose on 40 frames of the squat clip (~3 frames/s), then `posekit lift` with a GIF: 4 min on the loaded
    2-core development CPU."""
    import posekit as pk
    from posekit.io import VideoReader

    est = pk.PoseEstimator.from_pretrained("blazepose_full")
    results = tmp_path / "squat.jsonl"
    with VideoReader(shared_path("data", "videos", "squat_1.mp4"), end=40) as reader, open(results, "w") as fh:
        for index, rgb in reader:
            fh.write(FrameResult(index, est(rgb), time_s=index / 30).to_json() + "\n")
    out = tmp_path / "out"
    res = posekit("lift", str(results), "--weights", str(checkpoint), "--out", str(out), "--animation")
    assert res.returncode == 0, res.stderr
    (track,) = json.loads((out / "lift3d.json").read_text())["tracks"]
    k2d, k3d = np.array(track["keypoints_2d"], float), np.array(track["keypoints_3d"], float)
    assert k3d.shape == (40, 17, 3) and np.isfinite(k3d).all() and all(track["observed"])
    # the synthesised h36m17 2D joints sit where the documented rules put them: pelvis between the hips, head
    # above the thorax (image y down), feet below the knees
    np.testing.assert_allclose(k2d[:, 0], (k2d[:, 1] + k2d[:, 4]) / 2, atol=0.02)
    assert np.all(k2d[:, 10, 1] < k2d[:, 8, 1]) and np.all(k2d[:, 3, 1] > k2d[:, 2, 1])
    assert (out / "lift3d.png").is_file() and (any(out.glob("lift3d.gif")) or any(out.glob("lift3d.mp4")))
