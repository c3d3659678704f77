"""Human3.6M-style data path on tiny synthetic files written here in VideoPose3D's exact public layout (posekit never
ships Human3.6M): ``data_3d_h36m.npz`` (positions_3d, 32 joints, metres), ``data_2d_h36m_gt.npz`` (positions_2d, 4
cameras, metadata) and a Martinez-layout ``cameras.h5``."""

from __future__ import annotations

import fractions
import json

import numpy as np
import pytest

from posekit.data.h36m import (
    H36M_TO_Y_UP,
    H36M_TRAIN_SUBJECTS,
    VIDEOPOSE3D_SYMMETRY,
    action_group,
    h36m_sequences,
    h36m_training_cameras,
    h36m_training_clips,
    load_h36m,
    load_h36m_2d,
    load_h36m_3d,
)
from posekit.data.npz3d import H36M32_TO_17
from posekit.skeletons import h36m17
from posekit.threed.camera_io import H36M_CAMERA_IDS, load_cameras, save_cameras
from posekit.threed.cameras import look_at

# Martinez et al. data_utils.H36M_NAMES at the 17 indices VideoPose3D keeps (the others are '' or static joints)
MARTINEZ_NAMES = {0: "Hip", 1: "RHip", 2: "RKnee", 3: "RFoot", 6: "LHip", 7: "LKnee", 8: "LFoot", 12: "Spine",
                  13: "Thorax", 14: "Neck/Nose", 15: "Head", 17: "LShoulder", 18: "LElbow", 19: "LWrist",
                  25: "RShoulder", 26: "RElbow", 27: "RWrist"}
POSEKIT_FOR_MARTINEZ = {"Hip": "root", "RHip": "right_hip", "RKnee": "right_knee", "RFoot": "right_foot",
                        "LHip": "left_hip", "LKnee": "left_knee", "LFoot": "left_foot", "Spine": "spine",
                        "Thorax": "thorax", "Neck/Nose": "neck_base", "Head": "head", "LShoulder": "left_shoulder",
                        "LElbow": "left_elbow", "LWrist": "left_wrist", "RShoulder": "right_shoulder",
                        "RElbow": "right_elbow", "RWrist": "right_wrist"}
ACTIONS = {"S1": ("Walking 1", "Eating"), "S9": ("Walking", "Walking 1", "Photo"), "S11": ("Eating 2", "WalkDog")}


def _obj(value):
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr


def h36m_cameras(seed: int = 0) -> dict:
    """Four H36M-like cameras per subject (Z-up world, ~5 m away, 1000 x 1002 / 1000 x 1000 pixels)."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in ACTIONS:
        for i, cid in enumerate(H36M_CAMERA_IDS):
            az = np.deg2rad(45 + 90 * i + rng.normal() * 3)
            eye = [5000 * np.cos(az), 5000 * np.sin(az), 1500 + rng.normal() * 50]
            size = (1000, 1002) if i in (0, 3) else (1000, 1000)
            out[f"{s}/{cid}"] = look_at(eye, [0.0, 0.0, 900.0], up=(0.0, 0.0, 1.0), focal=1145.0, image_size=size,
                                        dist=[-0.2, 0.24, 1e-3, -1e-3, -0.003])
    return out


def write_h36m_files(folder, *, seed: int = 0, extra_2d_frames: int = 3):
    """``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz`` and ``cameras.json`` in ``folder`` -> (paths, the 3D dict in
    metres (T, 32, 3), the camera dict)."""
    rng = np.random.default_rng(seed)
    cams = h36m_cameras(seed)
    positions_3d, positions_2d = {}, {}
    for s, actions in ACTIONS.items():
        positions_3d[s], positions_2d[s] = {}, {}
        for j, a in enumerate(actions):
            t = 8 + 3 * j
            pose = rng.normal(scale=0.25, size=(32, 3)) + [0.0, 0.0, 0.9]
            walk = np.linspace(0, 0.3, t)[:, None, None] * [1.0, 0.5, 0.0]
            seq = (pose + walk + rng.normal(scale=0.01, size=(t, 32, 3))).astype(np.float32)
            positions_3d[s][a] = seq
            extra = extra_2d_frames if (s, a) == ("S9", "Walking") else 0
            longer = np.concatenate([seq, seq[-1:].repeat(extra, 0)]) if extra else seq
            positions_2d[s][a] = [cams[f"{s}/{cid}"].project(1000.0 * longer[:, list(H36M32_TO_17)]).astype(np.float32)
                                  for cid in H36M_CAMERA_IDS]
    p3 = folder / "data_3d_h36m.npz"
    p2 = folder / "data_2d_h36m_gt.npz"
    np.savez_compressed(p3, positions_3d=positions_3d)
    meta = {"num_joints": 17, "keypoints_symmetry": [list(VIDEOPOSE3D_SYMMETRY[0]), list(VIDEOPOSE3D_SYMMETRY[1])]}
    np.savez_compressed(p2, positions_2d=positions_2d, metadata=meta)
    pc = save_cameras(folder / "cameras.json", cams)
    return (p3, p2, pc), positions_3d, cams


def test_h36m17_is_videopose3d_order():
    kept = [MARTINEZ_NAMES[i] for i in H36M32_TO_17]
    assert [POSEKIT_FOR_MARTINEZ[n] for n in kept] == list(h36m17.keypoints)
    left, right = VIDEOPOSE3D_SYMMETRY
    assert sorted(tuple(sorted(p)) for p in h36m17.flip_pairs) == sorted(tuple(sorted(p)) for p in zip(left, right))


def test_load_3d_and_2d(tmp_path):
    (p3, p2, _), pos3d, _ = write_h36m_files(tmp_path)
    assert np.load(p3, allow_pickle=True)["positions_3d"].dtype == object  # the public layout: a pickled dict
    d3 = load_h36m_3d(p3)
    assert sorted(d3) == ["S1", "S11", "S9"] and sorted(d3["S9"]) == sorted(ACTIONS["S9"])
    np.testing.assert_allclose(d3["S1"]["Eating"], 1000.0 * pos3d["S1"]["Eating"][:, list(H36M32_TO_17)], rtol=1e-6)
    assert d3["S1"]["Eating"].dtype == np.float64 and not d3["S1"]["Eating"].flags.writeable
    d2, meta = load_h36m_2d(p2)
    assert len(d2["S11"]["WalkDog"]) == 4 and d2["S11"]["WalkDog"][0].shape == (11, 17, 2)
    assert meta["num_joints"] == 17
    data = load_h36m(p3, p2)
    assert data.subjects == ("S1", "S9", "S11") and data.actions("S9") == ("Photo", "Walking", "Walking 1")
    with pytest.raises(KeyError, match=r"unknown subject\(s\) \['S2'\].*\['S1', 'S9', 'S11'\]"):
        data.actions("S2")


def test_sequences_camera_frame_and_trim(tmp_path):
    (p3, p2, pc), pos3d, cams = write_h36m_files(tmp_path)
    data = load_h36m(p3, p2)
    cams = load_cameras(pc)
    seqs = h36m_sequences(data, cams)  # S9, S11, 4 cameras each
    assert len(seqs) == 4 * (3 + 2)
    assert [(s.subject, s.action, s.camera_index) for s in seqs[:5]] == [
        ("S9", "Photo", 0), ("S9", "Photo", 1), ("S9", "Photo", 2), ("S9", "Photo", 3), ("S9", "Walking", 0)]
    walk = seqs[4]
    assert walk.camera_id == "54138969" and walk.action_group == "Walking"
    assert walk.keypoints2d.shape == (len(walk), 17, 2) and len(walk) == len(pos3d["S9"]["Walking"])  # 2D cut
    R, t = cams["S9/54138969"].R, cams["S9/54138969"].t
    np.testing.assert_allclose(walk.joints_camera, walk.joints_world @ R.T + t, atol=1e-9)
    np.testing.assert_allclose(cams["S9/54138969"].project(walk.joints_world), walk.keypoints2d, atol=0.05)
    only = h36m_sequences(data, cams, subjects=["S1"], camera_indices=[2])
    assert [(s.subject, s.camera_id) for s in only] == [("S1", "58860488")] * 2


def test_sequence_errors(tmp_path):
    (p3, p2, _), _, cams = write_h36m_files(tmp_path)
    data = load_h36m(p3, p2)
    with pytest.raises(KeyError, match=r"unknown subject\(s\) \['S7'\]"):
        h36m_sequences(data, cams, subjects=["S7"])
    with pytest.raises(KeyError, match="cameras of S9 missing"):
        h36m_sequences(data, {k: v for k, v in cams.items() if k != "S9/58860488"})
    with pytest.raises(ValueError, match="camera_indices"):
        h36m_sequences(data, cams, camera_indices=[4])
    # 2D shorter than 3D, and a missing action in the 2D file
    d2 = {s: {a: [v[:2] for v in views] for a, views in acts.items()} for s, acts in load_h36m_2d(p2)[0].items()}
    np.savez_compressed(tmp_path / "short.npz", positions_2d=d2)
    with pytest.raises(ValueError, match=r"S9/'Photo' camera 0: 2 2D frames for \d+ 3D frames"):
        h36m_sequences(load_h36m(p3, tmp_path / "short.npz"), cams)
    d2 = {s: {a: list(views) for a, views in acts.items()} for s, acts in load_h36m_2d(p2)[0].items()}
    del d2["S11"]["WalkDog"]
    np.savez_compressed(tmp_path / "missing.npz", positions_2d=d2)
    with pytest.raises(ValueError, match=r"2D file has no S11/'WalkDog'"):
        h36m_sequences(load_h36m(p3, tmp_path / "missing.npz"), cams, subjects=["S11"])


def test_malformed_files_are_refused(tmp_path):
    good = np.zeros((4, 32, 3), np.float32)
    cases = {
        "nokey": ({"positions": _obj({"S1": {"A": good}})}, "no 'positions_3d' member"),
        "shape": ({"positions_3d": _obj({"S1": {"A": np.zeros((4, 20, 3))}})}, r"\['S1'\]\['A'\] must have shape"),
        "notdict": ({"positions_3d": _obj({"S1": [good]})}, r"positions_3d\['S1'\] must map actions"),
        "evil": ({"positions_3d": _obj({"S1": {"A": fractions.Fraction(1, 2)}})}, "refusing to load fractions"),
    }
    for name, (members, msg) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **members)
        with pytest.raises(ValueError, match=msg):
            load_h36m_3d(tmp_path / f"{name}.npz")
    with pytest.raises(FileNotFoundError):
        load_h36m_3d(tmp_path / "absent.npz")
    kp = [np.zeros((4, 17, 2), np.float32)] * 4
    bad_meta = {
        "coco": ({"layout_name": "coco", "num_joints": 17}, "layout_name is 'coco'"),
        "sym": ({"keypoints_symmetry": [[1, 2, 3, 14, 15, 16], [4, 5, 6, 11, 12, 13]]}, "joint order differs"),
        "joints": ({"num_joints": 16}, "num_joints is 16"),
    }
    for name, (meta, msg) in bad_meta.items():
        np.savez(tmp_path / f"{name}.npz", positions_2d=_obj({"S9": {"A": kp}}), metadata=_obj(meta))
        with pytest.raises(ValueError, match=msg):
            load_h36m_2d(tmp_path / f"{name}.npz")
    np.savez(tmp_path / "k16.npz", positions_2d=_obj({"S9": {"A": [np.zeros((4, 16, 2))]}}))
    with pytest.raises(ValueError, match=r"\['S9'\]\['A'\]\[0\] must have shape \(T, 17, 2\)"):
        load_h36m_2d(tmp_path / "k16.npz")


def test_action_groups():
    assert [action_group(a) for a in ("Walking 1", "Walking", "WalkDog 1", "TakingPhoto", "WalkingDog 1",
                                      "Photo 1", "SittingDown 2")] == [
        "Walking", "Walking", "WalkDog", "Photo", "WalkDog", "Photo", "SittingDown"]


def test_training_clips_and_cameras(tmp_path):
    (p3, _, _), pos3d, cams = write_h36m_files(tmp_path)
    data = load_h36m(p3)
    clips = h36m_training_clips(data, ["S1"], fps=None, y_up=False)
    assert sorted(clips) == ["S1/Eating", "S1/Walking 1"]
    np.testing.assert_allclose(clips["S1/Eating"], 1000.0 * pos3d["S1"]["Eating"][:, list(H36M32_TO_17)], rtol=1e-6)
    up = h36m_training_clips(data, ["S1"], fps=None)
    np.testing.assert_allclose(up["S1/Eating"], clips["S1/Eating"] @ H36M_TO_Y_UP.T, atol=1e-3)
    assert up["S1/Eating"][..., 1].mean() > 500  # H36M's height (z ~ 900 mm) is now +Y
    fast = h36m_training_clips(data, ["S1"])  # 50 -> 120 fps
    n = len(clips["S1/Eating"])
    assert len(fast["S1/Eating"]) == int(np.floor((n - 1) / 50 * 120 + 1e-6)) + 1
    assert fast["S1/Eating"].dtype == np.float32
    np.testing.assert_allclose(fast["S1/Eating"][::12], up["S1/Eating"][::5][: len(fast["S1/Eating"][::12])], atol=1e-3)
    tcams = h36m_training_cameras(cams, ["S1"])
    for cid, cam in zip(H36M_CAMERA_IDS, tcams["S1"]):
        np.testing.assert_allclose(cam.project(up["S1/Eating"]), cams[f"S1/{cid}"].project(clips["S1/Eating"]),
                                   atol=1e-6)
    with pytest.raises(KeyError, match=r"unknown subject\(s\) \['S5', 'S6', 'S7', 'S8'\]"):
        h36m_training_clips(data, H36M_TRAIN_SUBJECTS)
    json.dumps(sorted(clips))
