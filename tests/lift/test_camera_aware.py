"""Camera-aware lifting (issue #18): the root_scale_ray normalisation, CameraIntrinsics, off-axis virtual cameras,
Lifter / LiftingEstimator / `posekit lift` intrinsics, and old root_scale lifter files still loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.lift.pipeline import Lifter, build_lifter, load_lifter, save_lifter
from posekit.lift.train import EVAL_CAMERAS, TRAIN_CAMERAS, LiftTrainConfig, make_eval_set
from posekit.models.lifters.normalize import (DEFAULT_FOV_DEG, CameraIntrinsics, camera_normalize,
                                              root_scale_normalize, root_scale_ray_normalize)
from posekit.skeletons import h36m17
from posekit.types import FrameResult, Poses
from tests.test_cli import posekit


@pytest.fixture(scope="module")
def walk(cmu_amc_dir) -> np.ndarray:
    from posekit.threed.cmu_h36m import load_amc_h36m17

    return load_amc_h36m17(cmu_amc_dir / "02.asf", cmu_amc_dir / "02_01.amc", stride=8)


def _root_angles(camera, joints) -> np.ndarray:
    p = camera.world_to_camera(joints)[:, 0]
    return np.degrees(np.arctan(np.linalg.norm(p[:, :2] / p[:, 2:], axis=-1)))


def test_root_scale_ray_keeps_the_shape_and_the_root_ray():
    rng = np.random.default_rng(0)
    kp = rng.uniform(200, 800, (5, 17, 2))
    f, c = np.array([1150.0, 1140.0]), np.array([512.0, 498.0])
    out, root, scale = root_scale_ray_normalize(kp, focal_length=f, principal_point=c)
    np.testing.assert_allclose(out[:, 0], (kp[:, 0] - c) / f, rtol=1e-5)  # the root slot: its ray
    np.testing.assert_allclose(root, (kp[:, 0] - c) / f, rtol=1e-5)
    shape = root_scale_normalize(camera_normalize(kp, focal_length=f, principal_point=c))[0]
    np.testing.assert_allclose(out[:, 1:], shape[:, 1:], atol=1e-6)
    # the same scene in an image 2.5x larger (pixels, focal and principal point scaled) gives the same input
    big = root_scale_ray_normalize(kp * 2.5, focal_length=f * 2.5, principal_point=c * 2.5)[0]
    np.testing.assert_allclose(big, out, atol=1e-6)
    # moving the person in the image changes only the root slot
    moved = root_scale_ray_normalize(kp + [300.0, -100.0], focal_length=f, principal_point=c)[0]
    np.testing.assert_allclose(moved[:, 1:], out[:, 1:], atol=1e-5)
    np.testing.assert_allclose(moved[:, 0] - out[:, 0], np.broadcast_to([300.0, -100.0] / f, (5, 2)), rtol=1e-5)
    assert scale.shape == (5,)


def test_camera_intrinsics_defaults_fov_and_errors():
    f, c = CameraIntrinsics().resolve((1920, 1080))
    np.testing.assert_allclose(f, 960.0 / np.tan(np.deg2rad(DEFAULT_FOV_DEG) / 2))
    np.testing.assert_allclose(c, [960.0, 540.0])
    f, _ = CameraIntrinsics(fov_deg=90.0).resolve((1080, 1920))  # the longer side: 1920
    np.testing.assert_allclose(f, [960.0, 960.0])
    f, c = CameraIntrinsics(focal_length=1150.0, principal_point=(500.0, 510.0)).resolve(None)
    assert f.tolist() == [1150.0, 1150.0] and c.tolist() == [500.0, 510.0]
    with pytest.raises(ValueError, match="either focal_length or fov_deg"):
        CameraIntrinsics(focal_length=1000.0, fov_deg=60.0)
    with pytest.raises(ValueError, match="fov_deg must be"):
        CameraIntrinsics(fov_deg=0.0)
    with pytest.raises(ValueError, match="focal_length must be positive"):
        CameraIntrinsics(focal_length=-3.0)
    with pytest.raises(ValueError, match="principal_point must be"):
        CameraIntrinsics(principal_point=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="need image_size"):
        CameraIntrinsics(focal_length=1000.0).resolve(None)


def test_off_axis_cameras_put_the_person_off_the_optical_axis_inside_the_image(walk):
    rng = np.random.default_rng(3)
    angles, sizes, focals = [], set(), []
    for _ in range(12):
        cam = EVAL_CAMERAS.sample(rng, walk[:10])
        angles.append(_root_angles(cam, walk[:10]).mean())
        px = cam.project(walk[:10])
        assert px.min() >= 0 and np.all(px.max(axis=(0, 1)) <= cam.image_size)
        sizes.add(cam.image_size)
        fov = np.degrees(2 * np.arctan(max(cam.image_size) / 2 / cam.K[0, 0]))
        assert 45.0 - 1e-6 <= fov <= 70.0 + 1e-6
        focals.append(cam.K[0, 0])
    assert 4.0 <= min(angles) and max(angles) <= 18.5 and np.ptp(angles) > 5.0, angles
    assert len(sizes) > 1
    # the old cameras aim at the mean root: the person is near the principal point
    from posekit.threed.pairs import VirtualCameras

    cam = VirtualCameras().sample(rng, walk[:10])
    assert _root_angles(cam, walk[:10]).mean() < 2.0
    assert TRAIN_CAMERAS.off_axis_deg[1] >= 18.0 and TRAIN_CAMERAS.keep_in_image


def _tiny_lifter(normalization: str) -> Lifter:
    torch.manual_seed(0)
    model = build_lifter(LiftTrainConfig(model="simplebaseline3d", channels=16).arch())
    meta = {"normalization": {"scheme": normalization, "per_sequence": False}}
    return Lifter(model.eval(), normalization, name="tiny", metadata=meta)


def test_camera_aware_lifter_uses_the_intrinsics(walk):
    ev = make_eval_set({"02_01": walk}, cameras_per_clip=1)[0]
    lifter = _tiny_lifter("root_scale_ray")
    assert lifter.camera_aware and not _tiny_lifter("root_scale").camera_aware
    cam = ev.camera
    size = cam.image_size
    a = lifter.lift(ev.keypoints, focal_length=cam.K[0, 0], principal_point=tuple(cam.K[:2, 2]))
    fov = float(np.degrees(2 * np.arctan(max(size) / 2 / cam.K[0, 0])))
    b = lifter.lift(ev.keypoints, image_size=size, fov_deg=fov)
    np.testing.assert_allclose(a, b, atol=1e-3)
    c = lifter.lift(ev.keypoints, image_size=size, intrinsics=CameraIntrinsics(fov_deg=fov))
    np.testing.assert_allclose(a, c, atol=1e-3)
    d = lifter.lift(ev.keypoints, image_size=size, focal_length=cam.K[0, 0] * 2)  # another camera: another input
    assert np.abs(a - d).max() > 1e-3
    with pytest.raises(ValueError, match="camera-aware.*image_size"):
        lifter.lift(ev.keypoints)
    with pytest.raises(ValueError, match="not both"):
        lifter.lift(ev.keypoints, image_size=size, fov_deg=50.0, intrinsics=CameraIntrinsics())
    # a root_scale lifter ignores the camera
    old = _tiny_lifter("root_scale")
    np.testing.assert_array_equal(old.lift(ev.keypoints), old.lift(ev.keypoints, focal_length=10.0,
                                                                   image_size=(5, 5)))


def test_old_root_scale_lifter_files_still_load(tmp_path, walk):
    lifter = _tiny_lifter("root_scale")
    meta = {"arch": LiftTrainConfig(model="simplebaseline3d", channels=16).arch(), "skeleton": "h36m17",
            "normalization": {"scheme": "root_scale", "root_index": 0, "per_sequence": False}}
    path = save_lifter(tmp_path / "old.safetensors", lifter.model, meta)
    loaded = load_lifter(path)
    assert loaded.normalization == "root_scale" and not loaded.camera_aware
    kp = make_eval_set({"02_01": walk}, cameras_per_clip=1)[0].keypoints
    np.testing.assert_allclose(loaded.lift(kp), lifter.lift(kp), atol=1e-3)
    new = save_lifter(tmp_path / "new.safetensors", lifter.model,
                      {**meta, "normalization": {"scheme": "root_scale_ray", "root_index": 0}})
    assert load_lifter(new).camera_aware


def test_lift_cli_camera_options(tmp_path, walk):
    lifter = _tiny_lifter("root_scale_ray")
    meta = {"arch": LiftTrainConfig(model="simplebaseline3d", channels=16).arch(), "skeleton": "h36m17",
            "normalization": {"scheme": "root_scale_ray", "root_index": 0, "per_sequence": False}}
    ckpt = save_lifter(tmp_path / "l.safetensors", lifter.model, meta)
    ev = make_eval_set({"02_01": walk}, cameras_per_clip=1)[0]
    kp = ev.keypoints[:12]
    lines = []
    for i, k in enumerate(kp):
        poses = Poses(k[None], np.ones((1, 17)), [[*k.min(0), *k.max(0)]], h36m17, image_size=(1920, 1080))
        lines.append(FrameResult(i, poses, time_s=i / 30).to_json())
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join(lines) + "\n")
    res = posekit("lift", str(results), "--weights", str(ckpt), "--out", str(tmp_path / "o"), "--focal", "1500",
                  "--principal-point", "950", "530")
    assert res.returncode == 0, res.stderr
    info = json.loads((tmp_path / "o" / "lift3d.json").read_text())["lifter"]
    assert info["camera"]["focal_length"] == [1500.0, 1500.0] and info["camera"]["principal_point"] == [950, 530]
    got = np.array(json.loads((tmp_path / "o" / "lift3d.json").read_text())["tracks"][0]["keypoints_3d"])
    want = lifter.lift(kp, focal_length=1500.0, principal_point=(950.0, 530.0))
    np.testing.assert_allclose(got, want, atol=0.05)
    res = posekit("lift", str(results), "--weights", str(ckpt), "--out", str(tmp_path / "o2"), "--fov", "60",
                  "--focal", "1000")
    assert res.returncode == 2 and "--fov or --focal, not both" in res.stderr and "Traceback" not in res.stderr
