"""`posekit eval` end to end on real data (LSP test images, COCO train2017 subset) with the offline BlazePose.

The CLI runs in a subprocess; metric values are re-computed here independently from the files it wrote
(``joints.mat`` read with SciPy, COCO AP with pycocotools directly).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.models.mediapipe_wheel import POSE_DETECTION, POSE_LANDMARK_FULL, load_mediapipe_module
from tests.conftest import shared_path

COCO_ANN = ("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
COCO_IMAGES = ("data", "coco", "train2017_subset")


def _need_blazepose() -> None:
    """Convert the BlazePose networks now (first use), so the subprocesses below find them cached."""
    load_mediapipe_module(POSE_LANDMARK_FULL)
    load_mediapipe_module(POSE_DETECTION)


def posekit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "posekit.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def blazepose():
    _need_blazepose()
    from posekit.eval import build_estimator

    return build_estimator("blazepose_full")[0]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------------------------------- CLI


def test_cli_lsp_subset_report_schema_and_pck(tmp_path: Path):
    _need_blazepose()
    import scipy.io

    from posekit.skeletons import BLAZEPOSE33_TO_COCO17, COCO17_TO_LSP14

    lsp = shared_path("data", "lsp")
    res = posekit("eval", "--model", "blazepose_full",
                  "--dataset", "lsp", "--ann", str(lsp), "--limit", "3", "--batch-size", "2",
                  "--out", str(tmp_path), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "PCK@0.2 torso" in res.stdout and "neck" in res.stdout and "unmapped" in res.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema"] == "posekit.eval/1"
    for key in ("model", "dataset", "boxes", "flip", "skeleton", "counts", "metrics", "load_report",
                "image_errors", "timing", "files", "min_presence"):
        assert key in report, key
    assert report["skeleton"]["mapping"] == "blazepose33 -> coco17 -> lsp14"
    assert report["skeleton"]["unmapped"] == ["neck", "head_top"]
    assert report["counts"]["images_evaluated"] == 3 and report["image_errors"] == []
    torso = report["metrics"]["pck_torso"]
    assert torso["per_joint"]["neck"] is None and torso["mean_over"] == 12
    assert report["timing"]["seconds_per_image"] > 0

    # predictions file: header + one line per image (images im1001..im1003)
    lines = _lines(tmp_path / "predictions.jsonl")
    assert lines[0]["posekit_eval_predictions"] == 1 and len(lines) == 4
    assert [Path(r["image"]).name for r in lines[1:]] == [f"im{1001 + i}.jpg" for i in range(3)]

    # independent PCK@0.2 (torso) from joints.mat and the predictions file
    joints = scipy.io.loadmat(str(lsp / "joints.mat"))["joints"]  # (3, 14, 2000)
    gt = joints[:2, :, 1000:1003].transpose(2, 1, 0)
    route = BLAZEPOSE33_TO_COCO17.then(COCO17_TO_LSP14)
    pred = np.stack([route.apply(np.array(r["instances"][0]["keypoints"], float))[0] for r in lines[1:]])
    ref = np.linalg.norm(gt[:, 9] - gt[:, 2], axis=1)  # left shoulder - right hip
    hit = np.linalg.norm(pred - gt, axis=2) / ref[:, None] < 0.2
    assert np.allclose(hit[:, :12].mean(0), [torso["per_joint"][n] for n in list(torso["per_joint"])[:12]])
    assert torso["mean"] == pytest.approx(hit[:, :12].mean())

    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["image_id"] for r in results] == [1001, 1002, 1003]
    assert all(len(r["keypoints"]) == 14 * 3 for r in results)


def test_cli_coco_subset_gt_boxes_ap_matches_pycocotools(tmp_path: Path):
    _need_blazepose()
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ann, images = shared_path(*COCO_ANN), shared_path(*COCO_IMAGES)
    res = posekit("eval", "--model", "blazepose_full",
                  "--dataset", "coco", "--ann", str(ann), "--images", str(images), "--boxes", "gt",
                  "--limit", "2", "--out", str(tmp_path), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "COCO keypoints (pycocotools): AP" in res.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["skeleton"]["mapping"] == "blazepose33 -> coco17" and report["skeleton"]["unmapped"] == []

    # pycocotools on the written results against the GT of the same 2 images
    data = json.loads(ann.read_text())
    names = {Path(r["image"]).name for r in _lines(tmp_path / "predictions.jsonl")[1:]}
    ids = {im["id"] for im in data["images"] if im["file_name"] in names}
    assert len(ids) == 2
    gt = {"images": [i for i in data["images"] if i["id"] in ids], "categories": data["categories"],
          "annotations": [dict(a, area=0.53 * a["bbox"][2] * a["bbox"][3]) for a in data["annotations"]
                          if a["image_id"] in ids]}
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["image_id"] for r in results} <= ids
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(results), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert report["metrics"]["coco"]["stats"]["AP"] == pytest.approx(ev.stats[0], abs=1e-9)
    assert report["metrics"]["coco"]["stats"]["AR"] == pytest.approx(ev.stats[5], abs=1e-9)


def test_cli_bad_annotations_and_unreadable_image_are_reported_not_fatal(tmp_path: Path):
    _need_blazepose()
    ann, images = shared_path(*COCO_ANN), shared_path(*COCO_IMAGES)
    data = json.loads(ann.read_text())
    keep = [im for im in data["images"] if any(a["image_id"] == im["id"] for a in data["annotations"])][:1]
    anns = [a for a in data["annotations"] if a["image_id"] in {im["id"] for im in keep}]
    folder = tmp_path / "images"
    folder.mkdir()
    for im in keep:
        (folder / im["file_name"]).symlink_to(images / im["file_name"])
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    base = next(a for a in anns if a["num_keypoints"] > 0)
    bad = [
        {k: v for k, v in base.items() if k != "keypoints"} | {"id": 9001},          # missing key
        base | {"id": 9002, "keypoints": base["keypoints"][:-3]},                   # wrong length
        base | {"id": 9003, "keypoints": [0] * 51, "num_keypoints": 0},             # no labelled keypoint
        base | {"id": 9004, "image_id": 777},                                       # image file missing
        base | {"id": 9005, "image_id": 778},                                       # image unreadable
    ]
    extra_images = [{"id": 777, "file_name": "nowhere.jpg", "width": 10, "height": 10},
                    {"id": 778, "file_name": "broken.jpg", "width": 10, "height": 10}]
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"images": keep + extra_images, "annotations": anns + bad,
                                    "categories": data["categories"]}))
    res = posekit("eval", "--model", "blazepose_full",
                  "--dataset", "coco", "--ann", str(bad_file), "--images", str(folder),
                  "--out", str(tmp_path / "out"), "--no-progress", "--max-missing", "0.5")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    reasons = {s["record_id"]: s["reason"] for s in report["load_report"]["skipped"]}
    assert reasons == {9001: "missing_key", 9002: "bad_shape", 9003: "too_few_keypoints", 9004: "missing_image"}
    assert [Path(e["image"]).name for e in report["image_errors"]] == ["broken.jpg"]
    assert "broken.jpg" in res.stderr and "missing_key" in res.stderr
    assert report["counts"]["images_evaluated"] == 1 and report["counts"]["images_failed"] == 1
    assert report["counts"]["samples_evaluated"] == len([a for a in anns if a["num_keypoints"] > 0])
    assert 0 <= report["metrics"]["coco"]["stats"]["AP"] <= 1


def test_cli_clear_errors(tmp_path: Path):
    res = posekit("eval", "--dataset", "lsp")
    assert res.returncode == 2 and "--ann is required" in res.stderr
    res = posekit("eval", "--dataset", "nope", "--ann", str(tmp_path))
    assert res.returncode == 2 and "dataset must be one of coco, lsp, lspet, mpii" in res.stderr
    res = posekit("eval", "--dataset", "lsp", "--ann", str(tmp_path))
    assert res.returncode == 2 and "joints.mat" in res.stderr


# ----------------------------------------------------------------------------------------------- in process


def test_resume_gives_the_same_result_as_one_run(tmp_path: Path, blazepose):
    from posekit.eval import load_eval_set, predict_to_file, read_predictions, score_predictions

    lsp = shared_path("data", "lsp")
    full = load_eval_set("lsp", ann=lsp, limit=3)

    one = tmp_path / "one.jsonl"
    predict_to_file(blazepose, full, one, model="blazepose_full", batch_size=2, progress=False)
    # "killed" after 1 image, and a line cut in half by the crash
    two = tmp_path / "two.jsonl"
    predict_to_file(blazepose, load_eval_set("lsp", ann=lsp, limit=1), two, model="blazepose_full",
                    batch_size=2, progress=False)
    with two.open("a") as fh:
        fh.write('{"image": "/cut/in/ha')
    counts = predict_to_file(blazepose, full, two, model="blazepose_full", batch_size=2, resume=True,
                             progress=False)
    assert counts == {"predicted": 2, "resumed": 1, "failed": 0}
    h1, r1, broken1 = read_predictions(one)
    h2, r2, broken2 = read_predictions(two)
    assert h1 == h2 and broken1 == broken2 == 0
    assert [r["image"] for r in r1] == [r["image"] for r in r2]
    for a, b in zip(r1, r2):
        assert np.allclose(np.array(a["instances"][0]["keypoints"], float),
                           np.array(b["instances"][0]["keypoints"], float), atol=1e-4)
    s1 = score_predictions(full, r1, model_skeleton=blazepose.skeleton)
    s2 = score_predictions(full, r2, model_skeleton=blazepose.skeleton)
    assert s1["metrics"]["pck_torso"]["mean"] == pytest.approx(s2["metrics"]["pck_torso"]["mean"])
    assert s1["counts"] == s2["counts"]

    # resuming with other settings is refused
    with pytest.raises(ValueError, match="other settings"):
        predict_to_file(blazepose, full, two, model="blazepose_full", boxes="detector", resume=True,
                        progress=False)


def test_image_flip_test_is_mirror_symmetric(tmp_path: Path, blazepose):
    """The image-level flip test on a mirrored image gives the mirrored prediction (exact by construction of the
    average; fails if the left/right swap or the mirror frame x -> W - x is wrong)."""
    from posekit.eval.predict import _predict_batch
    from posekit.io.image import load_image, save_image

    lsp = shared_path("data", "lsp")
    rgb = load_image(lsp / "images" / "im1010.jpg")
    h, w = rgb.shape[:2]
    save_image(tmp_path / "a.png", rgb)
    save_image(tmp_path / "b.png", np.ascontiguousarray(rgb[:, ::-1]))
    box = np.array([[10.0, 5.0, w - 20.0, h - 8.0]], np.float32)
    mirrored = np.array([[w - box[0, 2], box[0, 1], w - box[0, 0], box[0, 3]]], np.float32)
    boxes = {tmp_path / "a.png": box, tmp_path / "b.png": mirrored}
    out = _predict_batch(blazepose, [(p, (0,)) for p in boxes], lambda p, ix: boxes[p], True, "image")
    a = np.array(out[0]["instances"][0]["keypoints"], float)
    b = np.array(out[1]["instances"][0]["keypoints"], float)
    flip = list(blazepose.skeleton.flip_indices)
    assert np.allclose(a[:, 0], w - b[flip, 0], atol=1e-3) and np.allclose(a[:, 1], b[flip, 1], atol=1e-3)


def test_skeleton_mapping_routes():
    from posekit.eval import skeleton_mapping
    from posekit.skeletons import blazepose33, coco17, hand21, lsp14

    m, route = skeleton_mapping(blazepose33, lsp14)
    assert route == "blazepose33 -> coco17 -> lsp14"
    assert sorted(m.target.keypoints[d] for _, d in m.pairs) == sorted(n for n in lsp14.keypoints
                                                                        if n not in ("neck", "head_top"))
    assert all(blazepose33.keypoints[s] == lsp14.keypoints[d] for s, d in m.pairs)
    assert skeleton_mapping(blazepose33, coco17)[1] == "blazepose33 -> coco17"
    with pytest.raises(ValueError, match="no keypoint mapping from the model's skeleton 'hand21'"):
        skeleton_mapping(hand21, lsp14)


@pytest.mark.slow
def test_cli_coco_subset_full_with_file_boxes_matches_gt_boxes(tmp_path: Path):
    """All 28 COCO images: boxes read from the GT file (IoU-matched) give the same PCK as --boxes gt."""
    _need_blazepose()
    ann, images = shared_path(*COCO_ANN), shared_path(*COCO_IMAGES)
    reports = []
    for name, boxes in (("gt", "gt"), ("file", str(ann))):
        res = posekit("eval", "--model", "blazepose_full",
                      "--dataset", "coco", "--ann", str(ann), "--images", str(images), "--boxes", boxes,
                      "--out", str(tmp_path / name), "--no-progress", timeout=900)
        assert res.returncode == 0, res.stderr
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
    gt, file = reports
    assert gt["counts"]["images_evaluated"] == 28 and gt["counts"]["samples_evaluated"] == 86
    assert file["metrics"]["pck_bbox"]["mean"] == pytest.approx(gt["metrics"]["pck_bbox"]["mean"], abs=1e-9)
    assert file["metrics"]["coco"]["stats"] == gt["metrics"]["coco"]["stats"]
