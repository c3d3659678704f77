"""Options of the lifter training (posekit.lift.train): the 3D pose augmentation (--pose-aug) and its record in
the checkpoint; real CMU clips (subject 02 walk and run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.lift.train import (TRAIN_CAMERAS, TRAIN_CAMERAS_ON_AXIS, LiftTrainConfig, parse_args, sample_batch,
                                train_lifter)
from posekit.threed.pose_augment import VARIETY, PoseAugment, knee_angles
from tests.test_cli_lift import mocap  # noqa: F401  (module-scoped CMU fixture)
from tests.threed.test_pose_augment import _bones


@pytest.fixture(scope="module")
def clips(mocap) -> dict[str, np.ndarray]:  # noqa: F811
    """CMU 02_01 (walk) and 02_03 (run), h36m17 world mm at 120 fps, float32."""
    return {c: joints.astype(np.float32) for c, joints in mocap.items()}


def test_pose_aug_bends_the_training_targets_and_keeps_bone_lengths(clips):
    walk = clips["02_01"]
    base = dict(model="videopose3d", receptive_field=27, windows=24, frames_per_window=4, mirror=False,
                cameras=TRAIN_CAMERAS_ON_AXIS)
    _, y0 = sample_batch([walk], np.random.default_rng(0), LiftTrainConfig(**base, pose_aug=0.0))
    squat = LiftTrainConfig(**base, pose_aug=1.0, pose_augment=PoseAugment(squat_prob=1.0, ramp_prob=0.0))
    x1, y1 = sample_batch([walk], np.random.default_rng(0), squat)
    assert x1.shape == (24, 34, 4 + 26) and y1.shape == (24, 4, 17, 3)
    k0, k1 = (knee_angles(y.numpy().reshape(-1, 17, 3)) for y in (y0, y1))
    assert np.median(k0) > 135 and np.median(k1) < 110, (np.median(k0), np.median(k1))
    assert np.mean(k1 < 120) > 0.8
    # the walk's rigid bones keep their lengths (spine/neck segments bend in the mocap itself)
    clip_bones = _bones(walk)
    rigid = clip_bones.std(axis=0) < 0.01
    np.testing.assert_allclose(_bones(1000 * y1.numpy())[..., rigid],
                               np.broadcast_to(clip_bones[0, rigid], (24, 4, int(rigid.sum()))), rtol=1e-4)


def test_pose_aug_probability_is_validated():
    with pytest.raises(ValueError, match="pose_aug must be a probability"):
        LiftTrainConfig(pose_aug=1.5)
    with pytest.raises(ValueError, match="squat_prob"):
        parse_args(["--model", "videopose3d", "--out", "x", "--squat-prob", "2"])


def test_command_line_options_reach_the_config(tmp_path):
    cfg, a = parse_args(["--model", "simplebaseline3d", "--out", str(tmp_path), "--noise", "--pose-aug", "0.3",
                         "--squat-prob", "0.7", "--max-minutes", "2", "--threads", "1", "--no-pose-variety",
                         "--no-mirror", "--cameras", "on-axis", "--normalization", "root_scale", "--steps", "77"])
    assert cfg.model == "simplebaseline3d" and cfg.noise and cfg.max_minutes == 2.0 and a.threads == 1
    assert cfg.pose_aug == 0.3 and cfg.pose_augment == PoseAugment(squat_prob=0.7)
    assert not cfg.mirror and cfg.cameras == TRAIN_CAMERAS_ON_AXIS and cfg.normalization == "root_scale"
    assert cfg.steps == 77
    cfg, _ = parse_args(["--model", "videopose3d", "--out", str(tmp_path)])
    assert cfg.pose_aug == 0.5 and cfg.pose_augment == VARIETY and cfg.mirror and cfg.max_minutes is None
    assert cfg.cameras == TRAIN_CAMERAS and cfg.normalization == "root_scale_ray"
    with pytest.raises(SystemExit):  # the wall-clock budget is gone: steps are the budget
        parse_args(["--model", "videopose3d", "--out", str(tmp_path), "--minutes", "3"])
    with pytest.raises(ValueError, match="normalization must be"):
        LiftTrainConfig(normalization="screen")


def test_the_checkpoint_records_the_pose_augmentation(tmp_path, clips):
    cfg = LiftTrainConfig(model="simplebaseline3d", channels=32, windows=4, frames_per_window=4, steps=3,
                          eval_cameras=1, eval_stride=16, pose_aug=0.8,
                          pose_augment=PoseAugment(squat_prob=0.25, hip_abduction_deg=(0.0, 5.0)))
    res = train_lifter({"02_01": clips["02_01"]}, {"02_03": clips["02_03"]}, cfg, out=tmp_path, log=lambda s: None)
    train = json.loads((tmp_path / "lifter.json").read_text())["train"]
    assert res.steps == 3 and train["pose_aug"] == 0.8
    assert train["pose_augment"]["squat_prob"] == 0.25 and train["pose_augment"]["hip_abduction_deg"] == [0.0, 5.0]
    assert train["pose_augment"]["squat_knee_flexion_deg"] == [60.0, 130.0]


def test_training_is_reproducible_from_the_seed_and_the_schedule_follows_steps(clips):
    cfg = LiftTrainConfig(model="simplebaseline3d", channels=16, windows=4, frames_per_window=2, steps=4,
                          eval_cameras=1, eval_stride=64, pose_augment=VARIETY, log_every=1)
    logs: list[str] = []
    a = train_lifter({"02_01": clips["02_01"]}, {"02_03": clips["02_03"]}, cfg, log=logs.append)
    b = train_lifter({"02_01": clips["02_01"]}, {"02_03": clips["02_03"]}, cfg, log=lambda s: None)
    assert a.losses == b.losses and a.metrics["clean"]["mpjpe"] == b.metrics["clean"]["mpjpe"]
    c = train_lifter({"02_01": clips["02_01"]}, {"02_03": clips["02_03"]},
                     LiftTrainConfig(**{**cfg.__dict__, "seed": 1}), log=lambda s: None)
    assert c.losses != a.losses
    lrs = [float(line.split("lr ")[1].split()[0]) for line in logs if line.startswith("step")]
    assert len(lrs) == 4 and all(x > y for x, y in zip(lrs, lrs[1:]))  # cosine over the 4 steps, not over minutes


@pytest.mark.slow
def test_h36m_training_input_is_added_to_the_cmu_clips(tmp_path, capsys):
    """~30 s: --h36m-3d (a small synthetic data_3d_h36m.npz) reaches the training clips; needs the CMU cache."""
    from posekit.lift.train import main
    from tests.data.test_h36m import ACTIONS, write_h36m_files

    (p3, _, _), _, _ = write_h36m_files(tmp_path)
    subject = sorted(ACTIONS)[0]
    assert main(["--model", "simplebaseline3d", "--channels", "16", "--steps", "2", "--windows", "4",
                 "--frames-per-window", "2", "--out", str(tmp_path / "run"), "--h36m-3d", str(p3),
                 "--h36m-subjects", subject, "--test-clips", "02_04", "--test-subjects", "", "--threads", "1"]) == 0
    train = json.loads((tmp_path / "run" / "lifter.json").read_text())["train"]
    assert {f"{subject}/{a}" for a in ACTIONS[subject]} <= set(train["train_clips"])
    assert train["test_clips"] == ["02_04"] and any(c.startswith("01_") for c in train["train_clips"])
