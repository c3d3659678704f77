"""MoveNet pipelines (Thunder / Lightning top-down on boxes, MultiPose one-stage) against real references: the
TensorFlow.js outputs of ``../shared/fixtures/tfjs`` mapped to pixels by hand, COCO ground-truth keypoints (OKS),
per-frame estimates on a real video. The networks' own parity with TF.js is ``tests/models/tfjs/test_parity.py``."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from posekit.detect.boxes import FixedBoxes
from posekit.io.image import load_image
from posekit.pipelines.movenet import (
    MoveNetEstimator,
    movenet_lightning,
    movenet_thunder,
)
from posekit.pipelines.movenet_crops import (
    cut_regions,
    region_to_image,
    snap_regions,
    square_regions,
    tracking_region,
    whole_image_region,
)
from posekit.pipelines.movenet_multipose import (
    MoveNetMultiPoseEstimator,
    decode_multipose,
    movenet_multipose,
)
from posekit.skeletons import coco17
from posekit.types import Detections
from tests.conftest import shared_path
from tests.models.tfjs._files import model_json

IMAGE_328 = ("data", "coco", "openpose_examples", "COCO_val2014_000000000328.jpg")
# full-GT train2017 images whose persons are well visible (>= 15 annotated keypoints each)
OKS_IMAGES = ("000000030752.jpg", "000000037666.jpg", "000000084533.jpg", "000000183872.jpg", "000000442450.jpg",
              "000000463557.jpg")


@functools.cache
def _estimator(variant: str, backend: str = "torch"):
    model_json(f"movenet-{variant}")  # skips without the npm package
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    build = {"thunder": movenet_thunder, "lightning": movenet_lightning, "multipose": movenet_multipose}[variant]
    options = {} if variant == "multipose" else {"detector": None}
    return build(backend=backend, **options)


def _image_328() -> np.ndarray:
    return load_image(shared_path(*IMAGE_328))


def _gt(annotations: str, image_id: int | None = None, file_name: str | None = None
        ) -> tuple[np.ndarray, np.ndarray]:
    """GT boxes (N, 4) xyxy and keypoints (N, 17, 3) of one image of a COCO keypoint file."""
    data = json.loads(shared_path("data", "coco", annotations).read_text())
    if image_id is None:
        image_id = next(im["id"] for im in data["images"] if im["file_name"] == file_name)
    anns = [a for a in data["annotations"] if a["image_id"] == image_id]
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
    return boxes, np.array([a["keypoints"] for a in anns], np.float64).reshape(-1, 17, 3)


def _oks(pred: np.ndarray, gt: np.ndarray, box: np.ndarray) -> float:
    """COCO OKS of one pose (17, 2) against GT (17, 3), area 0.53 x box area (as pycocotools without ``area``)."""
    visible = gt[:, 2] > 0
    area = 0.53 * (box[2] - box[0]) * (box[3] - box[1])
    k = 2 * np.asarray(coco17.sigmas_array())
    d2 = ((pred - gt[:, :2]) ** 2).sum(-1)
    return float(np.exp(-d2 / (2 * area * k**2))[visible].mean())


def _hand_mapped(variant: str) -> np.ndarray:
    """The fixture's raw output on image 328 (padded right/bottom to 640 x 640) mapped by hand: (17, 3) x, y, score."""
    out = np.load(shared_path("fixtures", "tfjs", f"movenet-{variant}", "coco328.npz"))["out:Identity"]
    out = out.reshape(-1, 56)[:, :51] if variant == "multipose" else out.reshape(1, 51)
    kps = out.reshape(len(out), 17, 3)
    return np.concatenate([kps[..., 1:2] * 640, kps[..., 0:1] * 640, kps[..., 2:]], axis=-1)


# ------------------------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize("variant", ["thunder", "lightning"])
def test_the_padded_image_as_box_reproduces_the_tfjs_output_mapped_by_hand(variant: str) -> None:
    est = _estimator(variant)
    image = _image_328()  # 640 x 491: the fixture pads it to 640 x 640 (right/bottom) and resizes with INTER_AREA
    ref = np.load(shared_path("fixtures", "tfjs", f"movenet-{variant}", "coco328.npz"))
    crop = cut_regions(image, whole_image_region((640, 491))[None], est.input_size)
    np.testing.assert_array_equal(crop[0], ref["input"][0])  # the same pixels as TF.js's input
    old = est.margin
    try:
        est.margin = 1.0
        poses = est(image, boxes=np.array([[0, 0, 640, 640]], np.float32))
    finally:
        est.margin = old
    want = _hand_mapped(variant)[0]
    np.testing.assert_allclose(poses.keypoints[0], want[:, :2], atol=0.05)
    np.testing.assert_allclose(poses.scores[0], want[:, 2], atol=1e-4)


def test_thunder_on_gt_boxes_finds_the_fixture_person_within_a_few_pixels() -> None:
    # TF.js ran Thunder on the whole image (2.5 image px per network px) and found the middle person; our crop of
    # that person's GT box sees them at 1.5 px per network px, so the two agree to a few network pixels
    est = _estimator("thunder")
    boxes, _ = _gt("openpose_examples_keypoints.json", image_id=328)
    poses = est(_image_328(), boxes=boxes)
    want = _hand_mapped("thunder")[0]
    confident = want[:, 2] > 0.3
    dist = np.linalg.norm(poses.keypoints[:, confident] - want[None, confident, :2], axis=-1)
    median = np.median(dist, axis=1)
    assert confident.sum() >= 10
    assert np.argmin(median) == 1 and median[1] < 12.0, np.round(dist, 1)  # measured 9.1 px
    assert np.all(np.delete(median, 1) > 50)  # the other boxes hold other persons
    head = np.linalg.norm(poses.keypoints[1, :5] - want[:5, :2], axis=-1)
    assert np.all(head < 12.0), np.round(head, 1)  # measured 2.4-9.2 px


def test_multipose_reproduces_the_tfjs_output_mapped_by_hand() -> None:
    est = _estimator("multipose")
    poses = est(_image_328())
    want = _hand_mapped("multipose")
    raw = np.load(shared_path("fixtures", "tfjs", "movenet-multipose", "coco328.npz"))["out:Identity"]
    kept = np.argsort(-raw[0, :, 55], kind="stable")[: len(poses)]
    np.testing.assert_allclose(poses.keypoints, want[kept, :, :2], atol=0.05)
    np.testing.assert_allclose(poses.box_scores, raw[0, kept, 55], atol=1e-4)
    np.testing.assert_allclose(poses.boxes, raw[0, kept][:, [52, 51, 54, 53]] * 640, atol=0.05)


def test_decode_multipose_reads_the_56_values_per_person() -> None:
    out = np.zeros((6, 56), np.float32)
    out[2, :51] = np.tile([0.25, 0.5, 0.9], 17)  # y, x, score
    out[2, 51:56] = [0.1, 0.2, 0.3, 0.4, 0.8]  # ymin, xmin, ymax, xmax, score
    out[4, 55] = 0.1
    yx, scores, boxes, person = decode_multipose(out[None], min_score=0.25)
    np.testing.assert_allclose(yx, np.tile([0.25, 0.5], (1, 17, 1)))
    np.testing.assert_allclose(scores, np.full((1, 17), 0.9))
    np.testing.assert_allclose(boxes, [[0.2, 0.1, 0.4, 0.3]])
    np.testing.assert_allclose(person, [0.8])


def test_crop_geometry_by_hand() -> None:
    np.testing.assert_allclose(square_regions([[10, 20, 30, 60]], margin=1.5), [[-10, 10, 50, 70]])
    np.testing.assert_allclose(snap_regions([[0.4, 1.6, 10.3, 11.5]]), [[0, 2, 10, 12]])
    np.testing.assert_allclose(region_to_image(np.array([[[0.25, 0.5]]]), np.array([[-10, 10, 50, 70]])), [[[20, 25]]])
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    crop = cut_regions(image, np.array([[-2.0, 1.0, 2.0, 5.0]]), 4)[0]  # 4x4 region, no resize: an exact copy
    np.testing.assert_array_equal(crop[:, :2], 0)  # left of the image
    np.testing.assert_array_equal(crop[:3, 2:], image[1:4, 0:2])
    np.testing.assert_array_equal(crop[3], 0)  # below the image
    with pytest.raises(ValueError, match="snap_regions"):
        cut_regions(image, np.array([[0.5, 0.0, 4.5, 4.0]]), 4)


def test_tracking_region_is_movenets_determine_crop_region() -> None:
    kp = np.full((17, 2), 100.0)
    scores = np.full(17, 0.9)
    kp[[5, 6, 11, 12]] = [[90, 60], [110, 60], [95, 100], [105, 100]]  # shoulders, hips: centre (100, 100)
    kp[15] = [100, 160]  # an ankle 60 px below the hip centre
    # torso: max(|dx|, |dy|) = 40 -> 1.9 * 40 = 76; body: 60 -> 1.2 * 60 = 72 -> half side 76
    np.testing.assert_allclose(tracking_region(kp, scores, (400, 400)), [24, 24, 176, 176])
    scores[15] = 0.1  # the ankle no longer counts
    np.testing.assert_allclose(tracking_region(kp, scores, (400, 400)), [24, 24, 176, 176])
    kp[0], scores[15] = [100, -10], 0.9  # the nose 110 px above: body 1.2 * 110 = 132 > 76
    np.testing.assert_allclose(tracking_region(kp, scores, (400, 400)), [-32, -32, 232, 232])
    # capped at the largest distance to an image edge (100 here), then larger than half the image -> whole image
    np.testing.assert_allclose(tracking_region(kp, scores, (200, 150)), [0, 0, 200, 200])
    scores[[11, 12]] = 0.1  # no hip visible: the caller must re-initialise
    assert tracking_region(kp, scores, (400, 400)) is None


# ------------------------------------------------------------------------------------------------ accuracy


@pytest.mark.parametrize(("variant", "bar"), [("thunder", 0.85), ("lightning", 0.8)])
def test_gt_boxes_find_the_annotated_keypoints(variant: str, bar: float) -> None:
    est = _estimator(variant)
    oks = []
    for name in OKS_IMAGES:
        boxes, gt = _gt("person_keypoints_train2017_fullgt_subset.json", file_name=name)
        poses = est(shared_path("data", "coco", "train2017_subset", name), boxes=boxes)
        np.testing.assert_array_equal(poses.boxes, boxes)  # boxes are the input boxes
        oks += [_oks(poses.keypoints[i], gt[i], boxes[i]) for i in range(len(boxes))]
    assert np.mean(oks) > bar, np.round(oks, 2)  # measured: thunder 0.95, lightning 0.92


def test_multipose_finds_the_three_people_of_image_328() -> None:
    boxes, gt = _gt("openpose_examples_keypoints.json", image_id=328)
    poses = _estimator("multipose")(_image_328())
    assert len(poses) == 3 and poses.image_size == (640, 491)
    assert np.all(poses.box_scores >= 0.25)
    for i in range(3):
        oks = [_oks(poses.keypoints[j], gt[i], boxes[i]) for j in range(3)]
        assert max(oks) > 0.6, np.round(oks, 2)


# ------------------------------------------------------------------------------------------------ behaviour


def test_empty_inputs_give_empty_poses() -> None:
    image = _image_328()
    est = _estimator("thunder")
    for poses in (est(image, boxes=np.zeros((0, 4))),
                  MoveNetEstimator(est.runner, input_size=256, detector=FixedBoxes(np.zeros((0, 4))))(image)):
        assert len(poses) == 0 and poses.keypoints.shape == (0, 17, 2) and poses.image_size == (640, 491)
    assert len(_estimator("multipose")(np.zeros((300, 200, 3), np.uint8))) == 0


def test_n_boxes_run_one_pass_each_and_equal_single_box_runs() -> None:
    est = _estimator("thunder")
    image = _image_328()
    boxes, _ = _gt("openpose_examples_keypoints.json", image_id=328)
    together = est(image, boxes=boxes)
    for i in range(len(boxes)):
        alone = est(image, boxes=boxes[i:i + 1])
        np.testing.assert_allclose(together.keypoints[i], alone.keypoints[0], atol=1e-4)
        np.testing.assert_allclose(together.scores[i], alone.scores[0], atol=1e-6)


def test_zero_size_boxes_raise_for_the_caller_and_are_skipped_from_a_detector() -> None:
    est = _estimator("thunder")
    image = _image_328()
    boxes = np.array([[50, 60, 250, 420], [100, 100, 100, 200]], np.float32)
    with pytest.raises(ValueError, match=r"boxes\[1\] = \[100.0, 100.0, 100.0, 200.0\]"):
        est(image, boxes=boxes)
    dets = Detections(boxes, np.array([0.9, 0.8]))
    poses = MoveNetEstimator(est.runner, input_size=256, detector=FixedBoxes(boxes, [0.9, 0.8]))(image)
    assert len(poses) == 1 and poses.box_scores[0] == pytest.approx(0.9)
    assert len(est.predict_rgb(image, boxes=dets[:1])) == 1


def test_the_default_detector_is_built_only_when_needed() -> None:
    est = _estimator("thunder")
    assert type(est.detector).__name__ == "LazyDetector"
    est(_image_328(), boxes=np.array([[50, 60, 250, 420]]))
    assert est.detector._detector is None  # caller boxes never build NanoDet


def test_refusals() -> None:
    est = _estimator("thunder")
    with pytest.raises(ValueError, match="no detector"):
        MoveNetEstimator(est.runner, input_size=256)(_image_328())
    with pytest.raises(ValueError, match="batch_size must be 1"):
        MoveNetEstimator(est.runner, input_size=256, batch_size=4)
    with pytest.raises(ValueError, match="one-stage"):
        _estimator("multipose")(_image_328(), boxes=np.array([[0, 0, 10, 10]]))
    with pytest.raises(ValueError, match="multiple of 32"):
        MoveNetMultiPoseEstimator(_estimator("multipose").runner, input_size=300)


def test_multipose_converts_for_another_input_size() -> None:
    model_json("movenet-multipose")
    est = movenet_multipose(input_size=320)
    boxes, gt = _gt("openpose_examples_keypoints.json", image_id=328)
    poses = est(_image_328())
    assert est.runner.input_spec.height == 320 and len(poses) == 3
    assert all(max(_oks(poses.keypoints[j], gt[i], boxes[i]) for j in range(3)) > 0.6 for i in range(3))


@pytest.mark.parametrize("variant", [
    pytest.param("thunder", marks=pytest.mark.slow), "lightning",  # ~8 s each with the export; one by default
    pytest.param("multipose", marks=pytest.mark.slow),
])
def test_onnxruntime_agrees_with_torch(variant: str, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    image = _image_328()
    boxes, _ = _gt("openpose_examples_keypoints.json", image_id=328)
    kwargs = {} if variant == "multipose" else {"boxes": boxes}
    want = _estimator(variant)(image, **kwargs)
    build = {"thunder": movenet_thunder, "lightning": movenet_lightning, "multipose": movenet_multipose}[variant]
    options = {} if variant == "multipose" else {"detector": None}
    got = build(backend="onnxruntime", folder=tmp_path, **options)(image, **kwargs)
    assert len(got) == len(want)
    np.testing.assert_allclose(got.keypoints, want.keypoints, atol=0.01)
    np.testing.assert_allclose(got.scores, want.scores, atol=1e-4)


@pytest.mark.slow
def test_tracking_on_a_video_stays_with_per_frame_detection() -> None:
    from posekit.detect import blazepose_detector
    from posekit.io.video import read_video_frames

    if not __import__("os").environ.get("POSEKIT_MEDIAPIPE_WHEEL"):
        pytest.skip("set POSEKIT_MEDIAPIPE_WHEEL (the BlazePose person detector) to run the tracking test")
    frames = read_video_frames(shared_path("data", "videos", "squat_1.mp4"), end=12)
    detector = blazepose_detector()
    calls = []

    def counting(image):
        calls.append(1)
        return detector(image)

    counting.detect_batch = detector.detect_batch
    est = MoveNetEstimator(_estimator("thunder").runner, input_size=256, detector=counting, margin=1.1)
    tracked = list(est.track_frames(frames, redetect_every=5))
    assert len(calls) == 3  # frames 0, 5 and 10: the others are cropped from the previous keypoints
    per_frame = [est.predict_rgb(f) for f in frames]
    for a, b in zip(tracked, per_frame):
        assert len(a) == len(b) == 1
        ok = (a.scores[0] > 0.3) & (b.scores[0] > 0.3)
        assert ok.sum() >= 10
        height = b.boxes[0, 3] - b.boxes[0, 1]
        # measured on 30 frames: median 1.6 px, at most 2.5 px, for a person 470 px tall
        assert np.median(np.linalg.norm(a.keypoints[0, ok] - b.keypoints[0, ok], axis=-1)) < 0.02 * height


def test_weak_and_duplicate_persons_on_detector_boxes_are_dropped() -> None:
    from posekit.pipelines.movenet import filter_persons

    rng = np.random.default_rng(0)
    person = rng.uniform(100, 300, (17, 2)).astype(np.float32)
    keypoints = np.stack([person, person + 1.0, person + 400.0, person + 800.0])  # 1 is a near copy of 0
    scores = np.array([[0.9] * 17, [0.8] * 17, [0.6] * 17, [0.3] * 17], np.float32)
    box_scores = np.array([0.9, 0.8, 0.5, 0.2], np.float32)  # rescored: 0.81, 0.64, 0.30, 0.06
    assert filter_persons(keypoints, scores, box_scores, min_score=0.1, oks=0.5).tolist() == [0, 2]
    assert filter_persons(keypoints, scores, box_scores, min_score=0.1, oks=None).tolist() == [0, 1, 2]
    assert filter_persons(keypoints, scores, box_scores, min_score=0.0, oks=None).tolist() == [0, 1, 2, 3]
    assert filter_persons(keypoints[:0], scores[:0], box_scores[:0], min_score=0.1, oks=0.5).tolist() == []
