"""Lifter training on real CMU clips (posekit.lift.train) and the posekit lifter checkpoint format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.lift.pipeline import Lifter, load_lifter, save_lifter
from posekit.lift.train import (DEFAULT_TEST_CLIPS, LiftTrainConfig, load_cmu_clips, make_eval_set, sample_batch,
                                split_clips, train_lifter)
from posekit.threed.cmu_h36m import load_amc_h36m17, load_bvh_h36m17
from posekit.threed.mocap_archive import list_members
from tests.conftest import shared_path
from tests.threed.test_pose_augment import _bones


@pytest.fixture(scope="module")
def clips(cmu_amc_dir, cmu_bvh_dir) -> dict[str, np.ndarray]:
    """Three real clips (120 fps, world mm): 02_01 walk and 39_07 walk cycle for training, 02_03 run held out."""
    asf = cmu_amc_dir / "02.asf"
    return {"02_01": load_amc_h36m17(asf, cmu_amc_dir / "02_01.amc").astype(np.float32),
            "39_07": load_bvh_h36m17(cmu_bvh_dir / "39_07.bvh").astype(np.float32),
            "02_03": load_amc_h36m17(asf, cmu_amc_dir / "02_03.amc").astype(np.float32)}


def test_default_split_holds_out_whole_clips_and_a_whole_subject():
    cmu = shared_path("data", "mocap", "cmu")
    names = list_members(cmu / "cmu_asf_amc.tar.xz") + list_members(cmu / "cmu_bvh_walkcycles.tar.xz")
    stems = [n.rsplit("/", 1)[-1][:-4] for n in names if n.endswith((".amc", ".bvh"))]
    ids = sorted(set(stems))  # 02_01 / 02_02 exist as AMC and BVH: one id each
    train, test = split_clips(ids)
    assert not set(train) & set(test) and sorted(train + test) == ids
    assert set(DEFAULT_TEST_CLIPS) <= set(test)
    assert {c for c in ids if c.startswith("16_")} <= set(test)  # unseen subject
    assert not any(c.startswith("16_") for c in train) and len(train) > 5 * len(test)
    with pytest.raises(ValueError, match="not among the clips"):
        split_clips(ids, test_clips=["99_99"])


def test_batches_are_normalised_2d_and_rigid_3d_of_the_clip(clips):
    cfg = LiftTrainConfig(model="videopose3d", receptive_field=27, windows=6, frames_per_window=5, mirror=False,
                          normalization="root_scale")
    x, y = sample_batch([clips["02_01"]], np.random.default_rng(0), cfg)
    assert x.shape == (6, 34, 5 + 26) and y.shape == (6, 5, 17, 3)
    kp = x.numpy().transpose(0, 2, 1).reshape(6, 31, 17, 2)
    np.testing.assert_allclose(kp[:, :, 0], 0, atol=1e-6)  # pelvis at the origin
    np.testing.assert_allclose(np.sqrt((kp**2).sum(-1).mean(-1)), 1, rtol=1e-5)  # RMS radius 1
    np.testing.assert_allclose(y[:, :, 0].numpy(), 0, atol=1e-7)  # root-relative
    # a camera view (and a mirror) is rigid: the bones that are rigid in the mocap (all but the spine and neck
    # segments, which bend) keep their lengths
    clip_bones = _bones(clips["02_01"])
    rigid = clip_bones.std(axis=0) < 0.01
    n = int(rigid.sum())
    assert n >= 6  # thighs, shanks, forearms at least (v1 joint placement: 13; v2 interpolates some joints)
    np.testing.assert_allclose(_bones(1000 * y.numpy())[..., rigid],
                               np.broadcast_to(clip_bones[0, rigid], (6, 5, n)), rtol=1e-4)
    # mirrored windows swap left and right: the same lengths in another order
    _, ym = sample_batch([clips["02_01"]], np.random.default_rng(0), LiftTrainConfig(windows=20, frames_per_window=2))
    np.testing.assert_allclose(np.sort(_bones(1000 * ym.numpy())[..., rigid], axis=-1),
                               np.broadcast_to(np.sort(clip_bones[0, rigid]), (20, 2, n)), rtol=1e-4)


def test_a_few_training_steps_reduce_the_loss(clips):
    train = {k: clips[k] for k in ("02_01", "39_07")}
    cfg = LiftTrainConfig(model="videopose3d", receptive_field=27, channels=64, windows=8, frames_per_window=8,
                          steps=60, lr=3e-3, eval_cameras=1, log_every=1000)
    res = train_lifter(train, {"02_03": clips["02_03"]}, cfg, log=lambda s: None)
    assert res.steps == 60 and len(res.losses) == 60
    first, last = np.mean(res.losses[:10]), np.mean(res.losses[-10:])
    assert last < 0.6 * first, (first, last)
    for cond in ("clean", "noisy", "clean_on_axis"):
        m = res.metrics[cond]
        assert m["frames"] == len(clips["02_03"][::4]) and set(m["per_clip"]) == {"02_03"}
        assert 0 < m["p_mpjpe"] < m["mpjpe"] < 1000
        assert set(m["per_motion"]) == {"02_03"} and m["per_motion"]["02_03"]["frames"] == m["frames"]
        assert len(m["bone_ratio"]) == 16 and 0 < m["bone_ratio_error"] < 1
    with pytest.raises(ValueError, match="share clips"):
        train_lifter(train, {"02_01": clips["02_01"]}, cfg)


def test_simplebaseline_training_and_checkpoint_round_trip(clips, tmp_path):
    cfg = LiftTrainConfig(model="simplebaseline3d", channels=64, windows=16, frames_per_window=4, steps=40,
                          lr=3e-3, eval_cameras=1, log_every=1000, normalization="root_scale")
    res = train_lifter({"02_01": clips["02_01"]}, {"02_03": clips["02_03"]}, cfg, out=tmp_path, log=lambda s: None)
    assert np.mean(res.losses[-8:]) < 0.7 * np.mean(res.losses[:8])
    assert res.checkpoint == tmp_path / "lifter.safetensors"
    lifter = load_lifter(res.checkpoint)
    meta = lifter.metadata
    assert meta["arch"] == {"family": "simplebaseline3d", "channels": 64, "num_blocks": 2, "dropout": 0.25}
    assert meta["normalization"]["scheme"] == "root_scale" and meta["skeleton"] == "h36m17"
    assert meta["train"]["test_clips"] == ["02_03"] and meta["train"]["train_clips"] == ["02_01"]
    assert json.loads((tmp_path / "lifter.json").read_text()) == meta
    ev = make_eval_set({"02_03": clips["02_03"]}, cameras_per_clip=1)[0]
    direct = Lifter(res.model, "root_scale").lift(ev.keypoints)
    np.testing.assert_allclose(lifter.lift(ev.keypoints), direct, rtol=1e-5, atol=1e-3)
    # strict loading: a checkpoint whose tensors do not match its arch is refused
    bad = tmp_path / "bad.safetensors"
    save_lifter(bad, res.model, {**meta, "arch": {**meta["arch"], "num_blocks": 3}})
    with pytest.raises(ValueError, match="does not match its arch"):
        load_lifter(bad)
    with pytest.raises(ValueError, match="must end with .safetensors"):
        save_lifter(tmp_path / "x.pt", res.model, meta)


def test_root_scale_lifter_ignores_image_position_and_size(clips):
    torch.manual_seed(0)
    cfg = LiftTrainConfig(model="videopose3d", receptive_field=27, channels=32, normalization="root_scale")
    from posekit.lift.pipeline import build_lifter

    lifter = Lifter(build_lifter(cfg.arch()), "root_scale")
    kp = make_eval_set({"02_03": clips["02_03"]}, cameras_per_clip=1)[0].keypoints
    a = lifter.lift(kp)
    b = lifter.lift(kp * 2.5 + np.array([300.0, -80.0]))
    assert a.shape == (len(kp), 17, 3) and np.all(a[:, 0] == 0)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-2)


@pytest.mark.slow
def test_load_cmu_clips_converts_every_clip_once(tmp_path):
    """~45 s: unpacks both archives and runs forward kinematics on every clip."""
    cache = tmp_path / "cmu.npz"
    clips = load_cmu_clips(cache=cache)
    assert len(clips) == 122 and cache.is_file()  # 28 AMC + 96 BVH - the 2 BVH copies of 02_01 / 02_02
    assert all(v.shape[1:] == (17, 3) and v.dtype == np.float32 for v in clips.values())
    again = load_cmu_clips(cache=cache)
    np.testing.assert_array_equal(again["02_01"], clips["02_01"])
