"""`posekit triangulate` run as a real subprocess on synthetic 2D poses of a 4-camera benchmark-like rig."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.cli_triangulate import parse_views, triangulate_views
from posekit.skeletons import coco17, h36m17
from posekit.threed.cameras import Camera
from posekit.types import FrameResult, Poses
from tests.threed.test_triangulate import benchmark_rig, synthetic_poses

T = 20  # frames 0..19 in every camera but cam3 (0..14); frame 20 in cam0 only
WRONG_FRAMES = (10, 11, 12)  # cam1 follows the wrong person there


def _registered() -> bool:
    from posekit.cli import app

    return any((c.name or c.callback.__name__) == "triangulate" for c in app.registered_commands)


def run(*args: str) -> subprocess.CompletedProcess:
    """The real command: ``posekit triangulate`` once registered in posekit/cli.py, else the module's own entry."""
    cmd = [sys.executable, "-m", "posekit.cli", "triangulate"] if _registered() else \
        [sys.executable, "-m", "posekit.cli_triangulate"]
    return subprocess.run([*cmd, *args], check=False, capture_output=True, text=True, timeout=300)


def _cameras() -> dict[str, Camera]:
    cams = benchmark_rig()
    cams[2] = Camera(cams[2].K, cams[2].R, cams[2].t, [-0.2, 0.05, 0.001, -0.001, 0.0], cams[2].image_size)
    return {f"cam{i}": c for i, c in enumerate(cams)}


def _write_cameras(path: Path, cams: dict[str, Camera]) -> Path:
    """posekit's camera JSON, written by hand (the format of posekit.threed.camera_io)."""
    path.write_text(json.dumps({"cameras": [
        {"name": n, "image_size": list(c.image_size), "K": c.K.tolist(), "R": c.R.tolist(), "t": c.t.tolist(),
         "dist": None if c.dist is None else c.dist.tolist()} for n, c in cams.items()]}))
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    """Per camera a JSON-lines file of two people per frame: the subject (track 0, scores 0.6-1) and a bystander 1.5 m
    away (track 1, scores 0.5); cam2 scores the subject's joint 3 at 0.1; cam1 has the bystander's keypoints as the
    subject's in WRONG_FRAMES; 2 px noise."""
    tmp = tmp_path_factory.mktemp("tri")
    cams = _cameras()
    truth = synthetic_poses(T + 1, seed=7, area=300.0)
    other = truth + [1500.0, 0.0, 0.0]
    rng = np.random.default_rng(0)
    files = {}
    for v, (name, cam) in enumerate(cams.items()):
        frames = range(T + 1) if v == 0 else range(15) if v == 3 else range(T)
        lines = []
        for f in frames:
            kp = cam.project(truth[f]) + rng.normal(scale=2.0, size=(17, 2))
            if v == 1 and f in WRONG_FRAMES:
                kp = cam.project(other[f]) + rng.normal(scale=2.0, size=(17, 2))
            sc = rng.uniform(0.6, 1.0, size=17)
            if v == 2:
                sc[3] = 0.1
            kp2 = cam.project(other[f])
            kpts = np.stack([kp2, kp])  # the subject second: chosen by its score, not its position
            poses = Poses(kpts, np.stack([np.full(17, 0.5), sc]), [[*k.min(0), *k.max(0)] for k in kpts], h36m17,
                          track_ids=[1, 0], image_size=(1000, 1000))
            lines.append(FrameResult(f, poses, time_s=f / 50).to_json() + "\n")
        files[name] = tmp / f"{name}.jsonl"
        files[name].write_text("".join(lines))
    return {"cams": cams, "truth": truth, "files": files, "camfile": _write_cameras(tmp / "cameras.json", cams),
            "tmp": tmp}


def _views(scene, names=("cam0", "cam1", "cam2", "cam3")) -> list[str]:
    return [f"{n}={scene['files'][n]}" for n in names]


def _read(out: Path) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(s) for s in (out / "triangulate3d.jsonl").read_text().splitlines()]
    with open(out / "triangulate3d.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return lines, rows


def _points(lines: list[dict]) -> np.ndarray:
    return np.array([[[np.nan] * 3 if p is None else p for p in ln["keypoints_3d"]] for ln in lines], float)


def test_triangulate_writes_world_mm_jsonl_and_csv(scene):
    out = scene["tmp"] / "out"
    res = run(*_views(scene), "--cameras", str(scene["camfile"]), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "triangulated 21 frame(s) x 17 joint(s) of h36m17 from 4 camera(s)" in res.stdout
    lines, rows = _read(out)
    assert [ln["frame"] for ln in lines] == list(range(T + 1)) and lines[3]["time_s"] == pytest.approx(0.06)
    assert lines[0]["keypoint_names"] == list(h36m17.keypoints) and lines[0]["unit"] == "mm"
    X = _points(lines)
    err = np.linalg.norm(X[:T] - scene["truth"][:T], axis=-1)
    assert err.mean() < 15.0 and err.max() < 80.0  # 2 px noise at 4-5.5 m: ~10 mm
    # the wrong person in cam1 is rejected; frames 15-19 use the three cameras left
    for f in WRONG_FRAMES:
        assert all("cam1" not in u for u in lines[f]["inlier_views"])
    assert lines[16]["views"] == ["cam0", "cam1", "cam2"] and max(lines[16]["inliers"]) == 3
    # joint 3 scored 0.1 by cam2 is not used there
    assert all("cam2" not in ln["inlier_views"][3] for ln in lines[:T])
    assert lines[0]["inlier_views"][0] == ["cam0", "cam1", "cam2", "cam3"] and lines[0]["status"][0] == "ok"
    rep = np.array([ln["reprojection_error_px"] for ln in lines[:T]], float)
    assert 0.5 < np.nanmean(rep) < 4.0
    # frame 20: cam0 only -> no 3D, with the reason
    assert lines[T]["views"] == ["cam0"] and lines[T]["keypoints_3d"] == [None] * 17
    assert set(lines[T]["status"]) == {"seen by fewer than 2 cameras (missing, NaN or weight 0)"}
    # the CSV holds the same numbers
    assert len(rows) == (T + 1) * 17 and rows[0]["joint"] == "root"
    assert list(rows[0]) == ["frame", "time_s", "joint", "x_mm", "y_mm", "z_mm", "reprojection_error_px", "inliers",
                             "inlier_views", "status"]
    xyz = np.array([[float(r[k]) for k in ("x_mm", "y_mm", "z_mm")] for r in rows[:T * 17]]).reshape(T, 17, 3)
    assert np.allclose(xyz, X[:T], atol=0.006)
    assert rows[0]["inlier_views"] == "cam0+cam1+cam2+cam3" and rows[-1]["x_mm"] == ""


def test_dlt_method_keeps_the_wrong_view(scene):
    out = scene["tmp"] / "dlt"
    res = run(*_views(scene), "-c", str(scene["camfile"]), "--out", str(out), "--method", "dlt")
    assert res.returncode == 0, res.stderr
    X = _points(_read(out)[0])
    err = np.linalg.norm(X[:T] - scene["truth"][:T], axis=-1)
    wrong = np.isin(np.arange(T), WRONG_FRAMES)
    assert err[wrong].mean() > 100.0 and err[~wrong].mean() < 15.0


def test_track_option_and_best_scoring_default(scene, tmp_path):
    """With the bystander scored above the subject, the default follows the bystander; --track 0 the subject."""
    files = {}
    for n in ("cam0", "cam2"):
        recs = [json.loads(s) for s in scene["files"][n].read_text().splitlines()]
        for r in recs:
            r["scores"][0] = [0.99] * 17
        files[n] = tmp_path / f"{n}.jsonl"
        files[n].write_text("".join(json.dumps(r) + "\n" for r in recs))
    views = [f"{n}={p}" for n, p in files.items()]
    for extra, target in (([], scene["truth"] + [1500.0, 0.0, 0.0]), (["--track", "0"], scene["truth"])):
        out = tmp_path / ("track" if extra else "best")
        res = run(*views, "-c", str(scene["camfile"]), "--out", str(out), *extra)
        assert res.returncode == 0, res.stderr
        X = _points(_read(out)[0])[:T]
        ok = np.isfinite(X[..., 0])
        assert ok.mean() > 0.9 and np.linalg.norm(X - target[:T], axis=-1)[ok].mean() < 25.0


@pytest.mark.parametrize("case", ["unknown camera", "one view", "missing file", "not json lines", "syntax",
                                  "skeletons", "image size"])
def test_clear_errors(scene, tmp_path, case):
    views = _views(scene, ("cam0", "cam1"))
    cam = str(scene["camfile"])
    if case == "unknown camera":
        views[1] = f"cam9={scene['files']['cam1']}"
        expect = "unknown camera 'cam9'"
    elif case == "one view":
        views = views[:1]
        expect = "need at least 2 views"
    elif case == "missing file":
        views[1] = f"cam1={tmp_path / 'nope.jsonl'}"
        expect = "nope.jsonl does not exist"
    elif case == "not json lines":
        (tmp_path / "bad.jsonl").write_text("this is not json\n")
        views[1] = f"cam1={tmp_path / 'bad.jsonl'}"
        expect = "no valid line"
    elif case == "syntax":
        views[1] = str(scene["files"]["cam1"])
        expect = "must be CAMERA=FILE"
    elif case == "skeletons":
        poses = Poses(np.zeros((1, 17, 2)) + 500, np.ones((1, 17)), [[0, 0, 1, 1]], coco17, image_size=(1000, 1000))
        (tmp_path / "coco.jsonl").write_text(FrameResult(0, poses).to_json() + "\n")
        views[1] = f"cam1={tmp_path / 'coco.jsonl'}"
        expect = "different skeletons"
    else:
        cams = dict(scene["cams"])
        c = cams["cam1"]
        cams["cam1"] = Camera(c.K, c.R, c.t, None, (1920, 1080))
        cam = str(_write_cameras(tmp_path / "cams.json", cams))
        expect = "in 1000x1000 images but camera 'cam1' is calibrated for 1920x1080"
    res = run(*views, "--cameras", cam, "--out", str(tmp_path / "out"))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert expect in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out" / "triangulate3d.jsonl").exists()


def test_bad_lines_are_reported_and_skipped(scene, tmp_path):
    text = scene["files"]["cam1"].read_text().splitlines()
    bad = tmp_path / "cam1.jsonl"
    bad.write_text("\n".join(text[:3] + ["{broken"] + text[3:]) + "\n")
    res = run(f"cam0={scene['files']['cam0']}", f"cam1={bad}", "-c", str(scene["camfile"]), "--out",
              str(tmp_path / "out"))
    assert res.returncode == 1 and f"{bad}:4: invalid JSON" in res.stderr
    assert len((tmp_path / "out" / "triangulate3d.jsonl").read_text().splitlines()) == T + 1


def test_parse_views_and_library_errors(scene):
    assert parse_views(["a=x.jsonl", "b=dir/y=1.jsonl"]) == {"a": Path("x.jsonl"), "b": Path("dir/y=1.jsonl")}
    with pytest.raises(ValueError, match="given twice"):
        parse_views(["a=x", "a=y"])
    from posekit.lift.io import read_results_jsonl

    recs = {n: read_results_jsonl(scene["files"][n])[0] for n in ("cam0", "cam1")}
    with pytest.raises(ValueError, match="method must be"):
        triangulate_views(recs, scene["cams"], method="svd")
    stripped = {n: [(f, t, Poses(p.keypoints, p.scores, p.boxes, p.skeleton)) for f, t, p in r] for n, r in recs.items()}
    with pytest.raises(ValueError, match="needs track ids"):
        triangulate_views(stripped, scene["cams"], track=0)
    res = triangulate_views(stripped, scene["cams"])  # no image size in the records: not checked
    assert res.keypoints_3d.shape == (T + 1, 17, 3) and res.cameras == ("cam0", "cam1")
