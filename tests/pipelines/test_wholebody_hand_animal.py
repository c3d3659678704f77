"""Whole-body, hand and animal top-down models end to end, each behind the detector of its task
(:data:`posekit.detect.tasks.TASK_DETECTORS`) or on caller boxes.

The pose networks are the real architectures with random weights saved as official checkpoints (``weights=``); the
detectors are real: NanoDet (npm, offline) finds the people of a COCO image and the animals of MMPose's AP-10K test
images; the RTMDet-nano hand detector runs on a checkpoint made here whose head puts one box over the whole image
(its official weights are not downloaded in the tests), and without it the error says what to pass instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import posekit
from posekit.boxes import box_iou
from posekit.detect import NanoDetDetector, RTMDetDetector, create_detector
from posekit.detect.tasks import (
    COCO_ANIMALS,
    TASK_DETECTORS,
    MergedClasses,
    class_ids,
    detector_for_task,
)
from posekit.io.image import load_image
from posekit.models.detector_zoo import COCO_CLASSES
from posekit.models.weights import WeightsError
from tests.conftest import shared_path

TESTDATA = ("data", "mmpose_testdata", "tests", "data")
PEOPLE = (*TESTDATA, "coco", "000000196141.jpg")


def _checkpoint(folder: Path, name: str) -> Path:
    """The network of ``name`` with seeded random weights, saved as an official MMPose checkpoint."""
    torch.manual_seed(0)
    path = folder / f"{name}.pth"
    torch.save({"meta": {}, "state_dict": posekit.create_model(name).state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("random_checkpoints")


@pytest.fixture(scope="module")
def hand_checkpoint(folder: Path) -> Path:
    return _checkpoint(folder, "rtmpose_m_hand5_256x256")


@pytest.fixture(scope="module")
def animal_checkpoint(folder: Path) -> Path:
    return _checkpoint(folder, "rtmpose_m_ap10k_256x256")


@pytest.fixture(scope="module")
def whole_image_hand_detector(folder: Path) -> Path:
    """An ``rtmdet_nano_hand`` checkpoint whose head scores every cell 0.99 with a box 4000 px wide around it: after
    NMS one box remains, clipped to the whole image (the real loading path and detector, a known answer)."""
    state = posekit.create_model("rtmdet_nano_hand").state_dict()
    for level, stride in enumerate((8, 16, 32)):
        for head, bias in (("rtm_cls", 5.0), ("rtm_reg", 2000.0 / stride)):  # distances = reg * stride
            state[f"bbox_head.{head}.{level}.weight"] = torch.zeros_like(state[f"bbox_head.{head}.{level}.weight"])
            state[f"bbox_head.{head}.{level}.bias"] = torch.full_like(state[f"bbox_head.{head}.{level}.bias"], bias)
    path = folder / "rtmdet_nano_hand_whole_image.pth"
    torch.save({"meta": {}, "state_dict": state}, path)
    return path


def _gt_boxes(dataset: str, annotations: str, file_name: str) -> np.ndarray:
    """(N, 4) float32 xyxy ground-truth boxes of ``file_name`` in an MMPose test-data COCO file."""
    data = json.loads(shared_path(*TESTDATA, dataset, annotations).read_text())
    (image_id,) = [im["id"] for im in data["images"] if im["file_name"] == file_name]
    boxes = [a["bbox"] for a in data["annotations"] if a["image_id"] == image_id]
    return np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32)


def _inside_crops(poses: posekit.Poses, padding: float = 1.25) -> bool:
    """Every keypoint finite and inside its box grown by the crop padding (both sides at the larger aspect)."""
    kp = poses.keypoints
    size = (poses.boxes[:, 2:] - poses.boxes[:, :2]).max(axis=1, keepdims=True) * padding
    centre = (poses.boxes[:, :2] + poses.boxes[:, 2:]) / 2
    lo, hi = (centre - size)[:, None], (centre + size)[:, None]
    return bool(np.isfinite(kp).all() and (kp >= lo).all() and (kp <= hi).all())


def _same_as_on_caller_boxes(est: posekit.PoseEstimator, image: np.ndarray, poses: posekit.Poses) -> None:
    """The detector path places keypoints exactly as the caller-box path on the same boxes (which
    tests/models/test_rtmw.py pins to MMPose's inference_topdown)."""
    given = est(image, boxes=poses.boxes)
    np.testing.assert_array_equal(given.keypoints, poses.keypoints)
    np.testing.assert_array_equal(given.scores, poses.scores)


def test_task_table_and_class_ids() -> None:
    assert {t: (d.detector, d.classes) for t, d in TASK_DETECTORS.items()} == {
        "body": ("nanodet", ("person",)), "wholebody": ("nanodet", ("person",)),
        "hand": ("rtmdet_nano_hand", ("hand",)), "animal": ("nanodet", COCO_ANIMALS)}
    assert [COCO_CLASSES[i] for i in class_ids("rtmdet_tiny", "animal")] == list(COCO_ANIMALS)
    assert class_ids("nanodet", "animal") == tuple(range(15, 24))  # MMPose's det_cat_ids of its animal models
    assert class_ids("yolox_s", "body") == (0,) and class_ids("rtmdet_nano_hand", "hand") == (0,)
    with pytest.raises(ValueError, match="detector rtmdet_nano_person finds person, no animals .* use nanodet, "
                                         "rtmdet_tiny"):
        class_ids("rtmdet_nano_person", "animal")
    with pytest.raises(ValueError, match="finds COCO's 80 classes, no hands .* use rtmdet_nano_hand or pass boxes"):
        class_ids("nanodet", "hand")
    with pytest.raises(ValueError, match="no default detector for 'face' models"):
        detector_for_task("face")


def test_wholebody_model_behind_the_person_detector(folder: Path) -> None:
    weights = _checkpoint(folder, "rtmw_l_wholebody_384x288")
    image = load_image(shared_path(*PEOPLE))
    est = posekit.PoseEstimator.from_pretrained("rtmw_l_wholebody_384x288", weights=weights, min_box_score=0.8)
    poses = est(image)
    people = create_detector("nanodet")(image)
    people = people[people.scores >= 0.8]
    assert len(people) == 2 and isinstance(est.detector.detector, NanoDetDetector)
    assert est.detector.detector.classes == (0,)
    assert poses.skeleton.name == "coco_wholebody133" and poses.keypoints.shape == (2, 133, 2)
    np.testing.assert_allclose(poses.boxes, people.boxes)
    np.testing.assert_allclose(poses.box_scores, people.scores)
    assert _inside_crops(poses)
    _same_as_on_caller_boxes(est, image, poses)


def test_hand_model_on_caller_boxes(hand_checkpoint: Path, offline: Path) -> None:
    """Caller boxes never need the hand detector (offline, no checkpoint of it anywhere)."""
    image = load_image(shared_path(*TESTDATA, "onehand10k", "9.jpg"))
    boxes = _gt_boxes("onehand10k", "test_onehand10k.json", "9.jpg")
    est = posekit.PoseEstimator.from_pretrained("rtmpose_m_hand5_256x256", weights=hand_checkpoint)
    poses = est(image, boxes=boxes)
    assert poses.skeleton.name == "hand21" and poses.keypoints.shape == (1, 21, 2)
    np.testing.assert_array_equal(poses.boxes, boxes)
    assert _inside_crops(poses)


def test_hand_model_without_boxes_or_detector_weights_says_what_to_pass(hand_checkpoint: Path,
                                                                         offline: Path) -> None:
    image = load_image(shared_path(*TESTDATA, "onehand10k", "9.jpg"))
    est = posekit.PoseEstimator.from_pretrained("rtmpose_m_hand5_256x256", weights=hand_checkpoint)
    with pytest.raises(WeightsError) as err:
        est(image)
    message = str(err.value)
    for part in ("rtmpose_m_hand5_256x256 runs on hand boxes", "default detector rtmdet_nano_hand",
                 "rtmdet_nano_8xb32-300e_hand-267f9c8f.pth", "boxes=", "--boxes FILE",
                 "--detector rtmdet_nano_hand --detector-weights PATH", "detector_weights=PATH"):
        assert part in message, (part, message)


def test_hand_model_behind_the_hand_detector(hand_checkpoint: Path, animal_checkpoint: Path,
                                             whole_image_hand_detector: Path, offline: Path) -> None:
    image = load_image(shared_path(*TESTDATA, "onehand10k", "9.jpg"))
    h, w = image.shape[:2]
    for options in ({}, {"detector": "rtmdet_nano_hand"}):  # detector_weights= alone: the task's default detector
        est = posekit.PoseEstimator.from_pretrained("rtmpose_m_wholebody_hand_256x256", weights=hand_checkpoint,
                                                    detector_weights=whole_image_hand_detector, **options)
        assert isinstance(est.detector, RTMDetDetector) and est.detector.size == 320
        poses = est(image)
        assert poses.skeleton.name == "hand21" and poses.keypoints.shape == (1, 21, 2)
        np.testing.assert_allclose(poses.boxes, [[0, 0, w, h]], atol=1e-3)
        assert poses.box_scores[0] == pytest.approx(1 / (1 + np.exp(-5.0)), abs=1e-5)
        assert _inside_crops(poses)
        _same_as_on_caller_boxes(est, image, poses)
    with pytest.raises(ValueError, match="detector nanodet finds COCO's 80 classes, no hands"):
        posekit.PoseEstimator.from_pretrained("rtmpose_m_hand5_256x256", weights=hand_checkpoint, detector="nanodet")
    with pytest.raises(ValueError, match="detector_weights= .* needs detector="):  # nanodet takes no checkpoint
        posekit.PoseEstimator.from_pretrained("rtmpose_m_ap10k_256x256", weights=animal_checkpoint,
                                              detector_weights=whole_image_hand_detector)


@pytest.mark.parametrize("file_name", ["000000037516.jpg", "000000000004.jpg"])
def test_animal_model_behind_the_animal_detector(file_name: str, animal_checkpoint: Path) -> None:
    """NanoDet's animal classes find the one animal of each AP-10K test image; the boxes it gives the animal under
    several COCO classes (zebra, giraffe, elephant, ...) become one."""
    image = load_image(shared_path(*TESTDATA, "ap10k", file_name))
    gt = _gt_boxes("ap10k", "test_ap10k.json", file_name)
    est = posekit.PoseEstimator.from_pretrained("rtmpose_m_ap10k_256x256", weights=animal_checkpoint)
    poses = est(image)
    merged = est.detector.detector
    assert isinstance(merged, MergedClasses) and merged.detector.classes == tuple(range(15, 24))
    assert len(merged.detector(image)) > 1  # per-class NMS alone keeps one box per animal class
    assert poses.skeleton.name == "ap10k17" and poses.keypoints.shape == (1, 17, 2)
    assert box_iou(gt, poses.boxes)[0, 0] > 0.8
    assert _inside_crops(poses)
    _same_as_on_caller_boxes(est, image, poses)
    given = est(image, boxes=gt)
    np.testing.assert_array_equal(given.boxes, gt)
    assert given.keypoints.shape == (1, 17, 2) and _inside_crops(given)


def test_cli_predict_animal_model_uses_the_animal_detector(animal_checkpoint: Path, tmp_path: Path) -> None:
    from posekit.cli import app

    image = shared_path(*TESTDATA, "ap10k", "000000037516.jpg")
    out = tmp_path / "results.json"
    result = CliRunner().invoke(app, ["predict", str(image), "--model", "rtmpose_m_ap10k_256x256", "--weights",
                                      str(animal_checkpoint), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 pose(s), ap10k17" in result.output
    (record,) = json.loads(out.read_text())
    x, y, bw, bh = record["bbox"]
    gt = _gt_boxes("ap10k", "test_ap10k.json", "000000037516.jpg")
    assert box_iou(gt, np.array([[x, y, x + bw, y + bh]]))[0, 0] > 0.8 and len(record["keypoints"]) == 17 * 3


def test_cli_predict_hand_model_without_detector_weights_exits_2_with_the_advice(hand_checkpoint: Path,
                                                                                  offline: Path) -> None:
    """The CLI builds the default hand detector before reading images: no traceback, exit 2 and what to pass."""
    from posekit.cli import app

    image = shared_path(*TESTDATA, "onehand10k", "9.jpg")
    result = CliRunner().invoke(app, ["predict", str(image), "--model", "rtmpose_m_hand5_256x256", "--weights",
                                      str(hand_checkpoint)])
    assert result.exit_code == 2, result.output
    assert "default detector rtmdet_nano_hand" in result.output and "--boxes FILE" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_video_hand_model_without_detector_weights_exits_2_before_reading(hand_checkpoint: Path, offline: Path,
                                                                               tmp_path: Path) -> None:
    from posekit.cli import app

    video = shared_path(*TESTDATA[:-2], "demo", "resources", "demo.mp4")
    out = tmp_path / "hands.jsonl"
    result = CliRunner().invoke(app, ["video", str(video), "--model", "rtmpose_m_hand5_256x256", "--weights",
                                      str(hand_checkpoint), "--json", str(out)])
    assert result.exit_code == 2, result.output
    assert "default detector rtmdet_nano_hand" in result.output and "--boxes FILE" in result.output
    assert not out.exists()


def test_cli_video_runs_a_wholebody_model_from_a_checkpoint(folder: Path, tmp_path: Path) -> None:
    """`posekit video --weights` (official-format checkpoint) with the person detector: 133 keypoints per person."""
    from posekit.cli import app

    weights = _checkpoint(folder, "dwpose_m_wholebody_256x192")
    video = shared_path(*TESTDATA[:-2], "demo", "resources", "demo.mp4")
    out = tmp_path / "wholebody.jsonl"
    result = CliRunner().invoke(app, ["video", str(video), "--model", "dwpose_m_wholebody_256x192", "--weights",
                                      str(weights), "--end", "2", "--no-progress", "--json", str(out)])
    assert result.exit_code == 0, result.output
    frames = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(frames) == 2 and all(f["skeleton"] == "coco_wholebody133" for f in frames)
    assert sum(len(f["keypoints"]) for f in frames) > 0 and all(f["track_ids"] for f in frames)
    assert all(len(k) == 133 for f in frames for k in f["keypoints"])
