"""Camera files: posekit JSON round trip, Human3.6M-style JSON, Martinez' cameras.h5, and projection parity with
the public H36M projection code (Martinez' ``project_point_radial``, VideoPose3D's ``project_to_2d``), transcribed
below as references."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from posekit.threed.camera_io import (
    H36M_CAMERA_IDS,
    camera_from_h36m,
    h36m_to_opencv_dist,
    load_cameras,
    project_h36m,
    quaternion_to_matrix,
    save_cameras,
    subject_cameras,
)
from posekit.threed.cameras import Camera, look_at


def martinez_project_point_radial(P, R, T, f, c, k, p):
    """3d-pose-baseline src/cameras.py ``project_point_radial`` (R world->camera, T (3, 1) centre; f, c, k, p
    columns)."""
    N = P.shape[0]
    X = R.dot(P.T - T)
    XX = X[:2, :] / X[2, :]
    r2 = XX[0, :] ** 2 + XX[1, :] ** 2
    radial = 1 + np.einsum("ij,ij->j", np.tile(k, (1, N)), np.array([r2, r2**2, r2**3]))
    tan = p[0] * XX[1, :] + p[1] * XX[0, :]
    XXX = XX * np.tile(radial + tan, (2, 1)) + np.outer(np.array([p[1], p[0]]).reshape(-1), r2)
    return ((f * XXX) + c).T


def videopose3d_project_to_2d(X_cam, f, c, k, p):
    """VideoPose3D common/camera.py ``project_to_2d`` (NumPy, pixels instead of its normalised units)."""
    XX = np.clip(X_cam[..., :2] / X_cam[..., 2:], -1, 1)
    r2 = np.sum(XX**2, axis=-1, keepdims=True)
    radial = 1 + np.sum(k * np.concatenate((r2, r2**2, r2**3), axis=-1), axis=-1, keepdims=True)
    tan = np.sum(p * XX, axis=-1, keepdims=True)
    return f * (XX * (radial + tan) + p * r2) + c


def videopose3d_world_to_camera(X, q, t):
    """VideoPose3D ``world_to_camera``: rotate X - t by the inverse of the quaternion q (w, x, y, z)."""
    return (X - t) @ quaternion_to_matrix(q)  # qrot(qinverse(q), v) = M(q)^T v


def _h36m_params(rng, p_scale=2.5e-3):
    """Synthetic H36M-like camera 5 m from the origin looking at it (magnitudes of the real calibration)."""
    cam = look_at(rng.normal(size=3) * 300 + [4000.0, 3000.0, 1500.0], [0.0, 0.0, 900.0], up=(0.0, 0.0, 1.0))
    return {"R": cam.R, "T": cam.center, "f": np.array([1145.0, 1143.8]) + rng.normal(size=2),
            "c": np.array([512.5, 515.4]) + rng.normal(size=2) * 3,
            "k": np.array([-0.207, 0.248, -0.003]) + rng.normal(size=3) * 0.01,
            "p": rng.uniform(-p_scale, p_scale, 2)}


def _points_in_view(rng, prm, n=500, size=(1000, 1002)):
    u, v, z = rng.uniform(0, size[0], n), rng.uniform(0, size[1], n), rng.uniform(2000, 8000, n)
    xc = np.stack([(u - prm["c"][0]) / prm["f"][0] * z, (v - prm["c"][1]) / prm["f"][1] * z, z], axis=1)
    return xc @ prm["R"] + prm["T"]


def test_project_h36m_equals_martinez_and_videopose3d_formulas():
    rng = np.random.default_rng(0)
    prm = _h36m_params(rng)
    P = _points_in_view(rng, prm)
    ours = project_h36m(P, prm["R"], prm["T"], prm["f"], prm["c"], prm["k"], prm["p"])
    ref = martinez_project_point_radial(P, prm["R"], prm["T"][:, None], prm["f"][:, None], prm["c"][:, None],
                                        prm["k"][:, None], prm["p"][:, None])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
    # VideoPose3D's tangential_distortion is Martinez' p reversed: same pixels.
    vp = videopose3d_project_to_2d((P - prm["T"]) @ prm["R"].T, prm["f"], prm["c"], prm["k"], prm["p"][::-1])
    np.testing.assert_allclose(vp, ref, rtol=0, atol=1e-9)
    vp_same_order = videopose3d_project_to_2d((P - prm["T"]) @ prm["R"].T, prm["f"], prm["c"], prm["k"], prm["p"])
    assert np.abs(vp_same_order - ref).max() > 0.5  # the order matters


def test_opencv_camera_matches_h36m_projection():
    rng = np.random.default_rng(1)
    worst = []
    for _ in range(5):
        prm = _h36m_params(rng)
        cam = camera_from_h36m(**prm, image_size=(1000, 1002))
        np.testing.assert_allclose(cam.dist[[0, 1, 4]], prm["k"])
        P = _points_in_view(rng, prm)
        exact = project_h36m(P, **prm)
        err = np.linalg.norm(cam.project(P) - exact, axis=1)
        worst.append(err.max())
        assert err.mean() < 0.2
        # the camera frame is Martinez' X = R (P - T) exactly
        np.testing.assert_allclose(cam.world_to_camera(P), (P - prm["T"]) @ prm["R"].T, atol=1e-9)
    assert max(worst) < 0.5, worst
    # no tangential distortion: OpenCV's radial model is H36M's, exactly
    prm = {**_h36m_params(rng), "p": np.zeros(2)}
    cam = camera_from_h36m(**prm, image_size=(1000, 1002))
    P = _points_in_view(rng, prm)
    np.testing.assert_allclose(cam.project(P), project_h36m(P, **prm), rtol=0, atol=1e-9)
    assert np.all(h36m_to_opencv_dist(prm["k"], [0, 0], cam.K, (1000, 1002))[2:4] == 0)


def test_fit_beats_naive_coefficient_copy():
    rng = np.random.default_rng(2)
    prm = _h36m_params(rng)
    cam = camera_from_h36m(**prm, image_size=(1000, 1002))
    P = _points_in_view(rng, prm)
    exact = project_h36m(P, **prm)
    naive = Camera(cam.K, cam.R, cam.t, [*prm["k"][:2], prm["p"][0], prm["p"][1], prm["k"][2]], (1000, 1002))
    assert np.abs(cam.project(P) - exact).max() < np.abs(naive.project(P) - exact).max()


def test_posekit_json_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    cams = {"a": look_at([3000.0, 0, 0], [0, 0, 0], focal=900.0, image_size=(640, 480)),
            "S9/54138969": camera_from_h36m(**_h36m_params(rng), image_size=(1000, 1002))}
    path = save_cameras(tmp_path / "cams.json", cams)
    doc = json.loads(path.read_text())
    assert [c["name"] for c in doc["cameras"]] == ["a", "S9/54138969"] and doc["cameras"][0]["dist"] is None
    back = load_cameras(path)
    assert list(back) == list(cams)
    for name, cam in cams.items():
        for attr in ("K", "R", "t"):
            np.testing.assert_array_equal(getattr(back[name], attr), getattr(cam, attr))
        assert back[name].image_size == cam.image_size
    np.testing.assert_array_equal(back["S9/54138969"].dist, cams["S9/54138969"].dist)


def _h36m_json_cam(prm, *, vp3d=False):
    if vp3d:
        return {"center": prm["c"].tolist(), "focal_length": prm["f"].tolist(),
                "radial_distortion": prm["k"].tolist(), "tangential_distortion": prm["p"][::-1].tolist()}
    return {"R": prm["R"].tolist(), "T": prm["T"][:, None].tolist(), "f": prm["f"][:, None].tolist(),
            "c": prm["c"].tolist(), "k": prm["k"].tolist(), "p": prm["p"].tolist(), "res_w": 1000, "res_h": 1002}


def test_h36m_json_nested_and_flat(tmp_path):
    rng = np.random.default_rng(4)
    prms = {s: [_h36m_params(rng) for _ in range(4)] for s in ("S9", "S11")}
    doc = {s: {cid: _h36m_json_cam(p) for cid, p in zip(H36M_CAMERA_IDS, ps)} for s, ps in prms.items()}
    (tmp_path / "h36m.json").write_text(json.dumps(doc))
    cams = load_cameras(tmp_path / "h36m.json")
    assert sorted(cams) == sorted(f"{s}/{c}" for s in prms for c in H36M_CAMERA_IDS)
    P = _points_in_view(rng, prms["S11"][2])
    got = subject_cameras(cams, "S11")[2]
    assert got.image_size == (1000, 1002)
    np.testing.assert_allclose(got.world_to_camera(P), (P - prms["S11"][2]["T"]) @ prms["S11"][2]["R"].T, atol=1e-9)
    assert np.abs(got.project(P) - project_h36m(P, **prms["S11"][2])).max() < 0.5
    # flat {id: cam} with 't' (X_cam = R X + t, Moon et al.'s convention), metres, size from the known id
    prm = prms["S9"][0]
    flat = {"unit": "m", "54138969": {"R": prm["R"].tolist(), "t": (-prm["R"] @ prm["T"] / 1000).tolist(),
                                      "f": prm["f"].tolist(), "c": prm["c"].tolist()}}
    (tmp_path / "flat.json").write_text(json.dumps(flat))
    cam = load_cameras(tmp_path / "flat.json")["54138969"]
    assert cam.dist is None and cam.image_size == (1000, 1002)
    np.testing.assert_allclose(cam.world_to_camera(P), (P - prm["T"]) @ prm["R"].T, atol=1e-6)
    # one file per subject, cameras "1".."4" (Moon et al.'s Human36M_subject9_camera.json layout)
    moon = {str(i + 1): {"R": p["R"].tolist(), "t": (-p["R"] @ p["T"]).tolist(), "f": p["f"].tolist(),
                         "c": p["c"].tolist()} for i, p in enumerate(prms["S9"])}
    (tmp_path / "Human36M_subject9_camera.json").write_text(json.dumps(moon))
    cams9 = load_cameras(tmp_path / "Human36M_subject9_camera.json", subject="S9")
    assert sorted(cams9) == ["S9/1", "S9/2", "S9/3", "S9/4"]
    four = subject_cameras(cams9, "S9")
    assert [c.image_size for c in four] == [(1000, 1002), (1000, 1000), (1000, 1000), (1000, 1002)]
    np.testing.assert_allclose(four[3].world_to_camera(P), (P - prms["S9"][3]["T"]) @ prms["S9"][3]["R"].T, atol=1e-6)


def test_videopose3d_tables(tmp_path):
    rng = np.random.default_rng(5)
    prms = [_h36m_params(rng) for _ in range(4)]
    quats = []
    for prm in prms:  # quaternion of the camera -> world rotation R^T
        Rc2w = prm["R"].T
        w = np.sqrt(max(0.0, 1 + np.trace(Rc2w))) / 2
        q = np.array([w, (Rc2w[2, 1] - Rc2w[1, 2]) / (4 * w), (Rc2w[0, 2] - Rc2w[2, 0]) / (4 * w),
                      (Rc2w[1, 0] - Rc2w[0, 1]) / (4 * w)])
        quats.append(-q)  # either sign is the same rotation
    intrinsic = [{"id": cid, **_h36m_json_cam(p, vp3d=True), "res_w": 1000, "res_h": 1002 if i in (0, 3) else 1000,
                  "azimuth": 70} for i, (cid, p) in enumerate(zip(H36M_CAMERA_IDS, prms))]
    extrinsic = {"S1": [{"orientation": q.tolist(), "translation": p["T"].tolist()} for q, p in zip(quats, prms)],
                 "S2": [{}, {}, {}, {}]}
    (tmp_path / "vp3d.json").write_text(json.dumps({"intrinsic": intrinsic, "extrinsic": extrinsic}))
    cams = load_cameras(tmp_path / "vp3d.json")
    assert sorted(cams) == sorted(f"S1/{c}" for c in H36M_CAMERA_IDS)
    for i, cam in enumerate(subject_cameras(cams, "S1")):
        P = _points_in_view(rng, prms[i], size=cam.image_size)
        np.testing.assert_allclose(cam.world_to_camera(P), videopose3d_world_to_camera(P, quats[i], prms[i]["T"]),
                                   atol=1e-6)
        ref = videopose3d_project_to_2d(cam.world_to_camera(P), prms[i]["f"], prms[i]["c"], prms[i]["k"],
                                        prms[i]["p"][::-1])
        assert np.abs(cam.project(P) - ref).max() < 0.5


def _write_martinez_h5(path, prms_by_subject):
    with h5py.File(path, "w") as hf:
        for s, prms in prms_by_subject.items():
            for c, prm in enumerate(prms, start=1):
                g = hf.create_group(f"subject{s}/camera{c}")
                g["R"] = prm["R"].T  # stored transposed: Martinez' loader does R = R.T
                g["T"] = prm["T"][:, None]
                g["f"], g["c"] = prm["f"][:, None], prm["c"][:, None]
                g["k"], g["p"] = prm["k"][:, None], prm["p"][:, None]
                g["Name"] = np.array([ord(ch) for ch in H36M_CAMERA_IDS[c - 1]], np.uint8)[:, None]


def test_martinez_cameras_h5(tmp_path):
    rng = np.random.default_rng(6)
    prms = {9: [_h36m_params(rng) for _ in range(4)], 11: [_h36m_params(rng) for _ in range(4)]}
    _write_martinez_h5(tmp_path / "cameras.h5", prms)
    cams = load_cameras(tmp_path / "cameras.h5")
    assert sorted(cams) == sorted(f"S{s}/{c}" for s in (9, 11) for c in H36M_CAMERA_IDS)
    cam = cams["S11/60457274"]
    prm = prms[11][3]
    assert cam.image_size == (1000, 1002) and cams["S9/55011271"].image_size == (1000, 1000)
    P = _points_in_view(rng, prm)
    ref = martinez_project_point_radial(P, prm["R"], prm["T"][:, None], prm["f"][:, None], prm["c"][:, None],
                                        prm["k"][:, None], prm["p"][:, None])
    np.testing.assert_allclose(cam.world_to_camera(P), (P - prm["T"]) @ prm["R"].T, atol=1e-9)
    assert np.abs(cam.project(P) - ref).max() < 0.5


def test_errors_name_file_camera_and_key(tmp_path):
    rng = np.random.default_rng(7)
    prm = _h36m_params(rng)
    bad = _h36m_json_cam(prm)
    del bad["f"]
    (tmp_path / "nof.json").write_text(json.dumps({"S9": {"54138969": bad}}))
    with pytest.raises(ValueError, match=r"nof\.json.*S9/54138969.*'f'"):
        load_cameras(tmp_path / "nof.json")
    bad = {**_h36m_json_cam(prm), "T": [1.0, 2.0]}
    (tmp_path / "shape.json").write_text(json.dumps({"S9": [bad]}))
    with pytest.raises(ValueError, match=r"S9/1.*T must hold 3"):
        load_cameras(tmp_path / "shape.json")
    (tmp_path / "pk.json").write_text(json.dumps({"cameras": [{"name": "x", "K": np.eye(3).tolist()}]}))
    with pytest.raises(ValueError, match=r"camera 'x'.*missing key\(s\) \['image_size', 'R', 't'\]"):
        load_cameras(tmp_path / "pk.json")
    (tmp_path / "nosize.json").write_text(json.dumps({"S1": {"cam9": {k: v for k, v in _h36m_json_cam(prm).items()
                                                                     if k not in ("res_w", "res_h")}}}))
    with pytest.raises(ValueError, match="image size"):
        load_cameras(tmp_path / "nosize.json")
    with pytest.raises(FileNotFoundError):
        load_cameras(tmp_path / "missing.json")
    with h5py.File(tmp_path / "bad.h5", "w") as hf:
        hf.create_group("subject1/camera1")["R"] = np.eye(3)
    with pytest.raises(ValueError, match=r"subject1/camera1: missing dataset\(s\) \['T'"):
        load_cameras(tmp_path / "bad.h5")
    with pytest.raises(KeyError, match="cameras of S5 missing"):
        subject_cameras({"S9/1": look_at([1.0, 0, 0], [0, 0, 0])}, "S5")
