"""Human3.6M lifter evaluation (VideoPose3D protocol) on tiny synthetic files in the public layout, with lifters whose
errors are known by construction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.data.h36m import load_h36m, load_h36m_2d
from posekit.data.npz3d import H36M32_TO_17
from posekit.eval.lift3d import (
    evaluate_lifter_on_h36m,
    format_h36m_report,
    run_h36m_evaluation,
)
from posekit.lift.pipeline import Lifter, build_lifter, save_lifter
from posekit.threed.camera_io import H36M_CAMERA_IDS, load_cameras
from tests.data.test_h36m import write_h36m_files


class OracleLifter:
    """Looks the 2D up in a table of ground truth built straight from the raw files; ``transform(action, gt)``
    perturbs the answer. Records the keyword arguments it was called with."""

    def __init__(self, pos3d, d2, cams, transform=None):
        self.table, self.calls = {}, []
        for s, acts in pos3d.items():
            for a, world_m in acts.items():
                world = 1000.0 * world_m[:, list(H36M32_TO_17)].astype(np.float64)
                for cid, kp in zip(H36M_CAMERA_IDS, d2[s][a]):
                    cam_pts = cams[f"{s}/{cid}"].world_to_camera(world)
                    self.table[np.asarray(kp[: len(world)], np.float32).tobytes()] = (a, cam_pts)
        self.transform = transform or (lambda action, gt: gt)

    def lift(self, keypoints, **kwargs):
        self.calls.append(kwargs)
        action, gt = self.table[np.asarray(keypoints, np.float32).tobytes()]
        rel = gt - gt[:, :1]
        return self.transform(action, rel)


@pytest.fixture()
def h36m(tmp_path):
    (p3, p2, pc), pos3d, _ = write_h36m_files(tmp_path)
    return load_h36m(p3, p2), load_cameras(pc), pos3d, load_h36m_2d(p2)[0]


def test_exact_lifter_scores_zero(h36m):
    data, cams, pos3d, d2 = h36m
    lifter = OracleLifter(pos3d, d2, cams)
    rep = evaluate_lifter_on_h36m(lifter, data, cameras=cams)
    assert rep["subjects"] == ["S9", "S11"] and rep["num_sequences"] == 20
    assert sorted(rep["per_action"]) == ["Eating", "Photo", "WalkDog", "Walking"]
    assert rep["per_action"]["Walking"]["sequences"] == 8  # "Walking" and "Walking 1" pool
    for block in [*rep["per_action"].values(), rep["action_average"], rep["all_frames"]]:
        for key in ("mpjpe", "p_mpjpe", "n_mpjpe"):
            assert block[key] == pytest.approx(0.0, abs=1e-6)
    assert rep["frames"] == 4 * sum(len(pos3d[s][a]) for s in ("S9", "S11") for a in pos3d[s])
    json.dumps(rep)
    sizes = [c["image_size"] for c in lifter.calls]
    assert sizes[:4] == [(1000, 1002), (1000, 1000), (1000, 1000), (1000, 1002)]


def test_camera_keyword_arguments(h36m):
    data, cams, pos3d, d2 = h36m
    oracle = OracleLifter(pos3d, d2, cams)

    class CameraAware:
        def __init__(self):
            self.seen = []

        def lift(self, keypoints, *, image_size=None, focal_length=None, principal_point=None):
            self.seen.append((image_size, focal_length, principal_point))
            return oracle.lift(keypoints)

    lifter = CameraAware()
    evaluate_lifter_on_h36m(lifter, data, cameras=cams, subjects=["S11"], camera_indices=[3])
    K = cams["S11/60457274"].K
    assert lifter.seen[0] == ((1000, 1002), (K[0, 0], K[1, 1]), (K[0, 2], K[1, 2]))
    rep = evaluate_lifter_on_h36m(oracle, data, cameras=cams, lift_kwargs=lambda cam: {"tag": cam.image_size})
    assert oracle.calls[-1] == {"tag": (1000, 1002)} and rep["all_frames"]["mpjpe"] == pytest.approx(0, abs=1e-6)


def test_known_errors_per_action_and_averages(h36m):
    data, cams, pos3d, d2 = h36m

    def offset_walking(action, gt):
        out = gt.copy()
        if action.startswith("Walking"):
            out[:, 1:, 0] += 10.0  # every joint but the root 10 mm off
        return out

    rep = evaluate_lifter_on_h36m(OracleLifter(pos3d, d2, cams, offset_walking), data, cameras=cams)
    walk = 10.0 * 16 / 17
    assert rep["per_action"]["Walking"]["mpjpe"] == pytest.approx(walk)
    for a in ("Eating", "Photo", "WalkDog"):
        assert rep["per_action"][a]["mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert rep["action_average"]["mpjpe"] == pytest.approx(walk / 4)
    frames = rep["per_action"]["Walking"]["frames"]
    assert rep["all_frames"]["mpjpe"] == pytest.approx(walk * frames / rep["frames"])

    scaled = evaluate_lifter_on_h36m(OracleLifter(pos3d, d2, cams, lambda a, g: 1.2 * g), data, cameras=cams,
                                     subjects=["S11"], camera_indices=[1])
    assert scaled["num_sequences"] == 2 and scaled["cameras"] == [1]
    assert scaled["all_frames"]["p_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert scaled["all_frames"]["n_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    gt = np.concatenate([cams[f"S11/{H36M_CAMERA_IDS[1]}"].world_to_camera(
        1000.0 * pos3d["S11"][a][:, list(H36M32_TO_17)].astype(np.float64)) for a in sorted(pos3d["S11"])])
    rel = gt - gt[:, :1]
    assert scaled["all_frames"]["mpjpe"] == pytest.approx(0.2 * np.linalg.norm(rel, axis=-1).mean(), rel=1e-6)
    table = format_h36m_report(rep)
    assert "Walking" in table and "action avg" in table and f"{walk:.1f}" in table


def test_posekit_lifter_runs_and_errors(h36m, tmp_path):
    data, cams, _, _ = h36m
    torch.manual_seed(0)
    torch.set_num_threads(1)
    arch = {"family": "simplebaseline3d", "channels": 32, "num_blocks": 1}
    lifter = Lifter(build_lifter(arch), "root_scale")
    rep = evaluate_lifter_on_h36m(lifter, data, cameras=cams)  # the real Lifter.lift signature, camera kwargs
    assert all(np.isfinite(v) for v in rep["all_frames"].values()) and rep["all_frames"]["mpjpe"] > 0
    json.loads(json.dumps(rep))
    # the `posekit eval --dataset h36m` entry point: files in, report.json out
    ckpt = save_lifter(tmp_path / "lifter" / "lifter.safetensors", lifter.model, {
        "arch": arch, "skeleton": "h36m17", "output_unit": "m",
        "normalization": {"scheme": "root_scale", "root_index": 0, "per_sequence": False}})
    full = run_h36m_evaluation(ann=tmp_path / "data_3d_h36m.npz", keypoints2d=tmp_path / "data_2d_h36m_gt.npz",
                               cameras=tmp_path / "cameras.json", weights=ckpt, out=tmp_path / "out")
    assert full["all_frames"] == pytest.approx(rep["all_frames"], rel=1e-5)
    assert json.loads((tmp_path / "out" / "report.json").read_text())["per_action"].keys() == rep["per_action"].keys()
    # the same through the command line
    from tests.test_cli import posekit as run_cli

    files = ["--ann", str(tmp_path / "data_3d_h36m.npz"), "--keypoints2d", str(tmp_path / "data_2d_h36m_gt.npz"),
             "--cameras", str(tmp_path / "cameras.json")]
    res = run_cli("eval", "--dataset", "h36m", *files, "--weights", str(ckpt), "--out", str(tmp_path / "cli"),
                  "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "action avg" in res.stdout and (tmp_path / "cli" / "report.json").is_file()
    res = run_cli("eval", "--dataset", "h36m", *files[:2], "--weights", str(ckpt))
    assert res.returncode == 2 and "--dataset h36m needs --keypoints2d, --cameras" in res.stderr

    class Wrong:
        def lift(self, keypoints, **kwargs):
            return np.zeros((len(keypoints), 16, 3))

    with pytest.raises(ValueError, match=r"S9/Photo/camera 0: the lifter returned shape \(\d+, 16, 3\)"):
        evaluate_lifter_on_h36m(Wrong(), data, cameras=cams)
    with pytest.raises(ValueError, match="no 2D keypoints"):
        evaluate_lifter_on_h36m(Wrong(), load_h36m(tmp_path / "data_3d_h36m.npz"), cameras=cams)
    with pytest.raises(KeyError, match=r"unknown subject\(s\) \['S5'\]"):
        evaluate_lifter_on_h36m(Wrong(), data, cameras=cams, subjects=["S5"])
