"""PoseNet end to end: the converted TensorFlow.js graph at other input sizes, the whole-image pipeline on a real
COCO image against its annotations, and torch vs ONNX Runtime."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from posekit.io.image import load_image
from posekit.metrics.recall import person_recall
from posekit.skeletons import coco17
from tests.conftest import shared_path
from tests.models.tfjs._files import model_json

pn = pytest.importorskip("posekit.pipelines.posenet")


@functools.cache
def _module(size: int) -> torch.nn.Module:
    return pn.posenet_module(size)


@pytest.fixture()
def module385() -> torch.nn.Module:
    model_json("posenet")  # skips without the npm package
    return _module(385)


def _coco328() -> tuple[np.ndarray, list[dict]]:
    image = load_image(shared_path("data", "coco", "openpose_examples", "COCO_val2014_000000000328.jpg"))
    data = json.loads(shared_path("data", "coco", "openpose_examples_keypoints.json").read_text())
    return image, [a for a in data["annotations"] if a["image_id"] == 328]


def test_module_at_the_signature_size_matches_tensorflow_js(module385: torch.nn.Module) -> None:
    ref = np.load(shared_path("fixtures", "tfjs", "posenet", "coco328.npz"))
    with torch.inference_mode():
        outs = module385(torch.from_numpy(ref["input"]).permute(0, 3, 1, 2))
    for name, y in zip(module385.output_names, outs):
        want = ref[f"out:{name}"]
        assert np.abs(y.numpy() - want).max() <= 1e-4 * np.abs(want).max(), name


def test_module_runs_at_other_16k_plus_1_sizes_and_refuses_others(module385: torch.nn.Module) -> None:
    small = _module(257)
    with torch.inference_mode():
        outs = small(torch.zeros(1, 3, 257, 257))
    assert [tuple(o.shape) for o in outs] == [(1, 17, 17, 32), (1, 17, 17, 17), (1, 17, 17, 32), (1, 17, 17, 34)]
    with pytest.raises(ValueError, match="16 k \\+ 1"):
        pn.posenet_module(256)


def test_pipeline_finds_the_three_people_on_the_bench(module385: torch.nn.Module) -> None:
    image, anns = _coco328()
    est = pn.PoseNetEstimator(module385, input_size=385)
    poses = est(image)
    assert poses.skeleton is coco17 and poses.image_size == (640, 491)
    recall = person_recall(poses.keypoints, anns, coco17.sigmas, threshold=0.75)
    assert (recall.people, recall.found) == (3, 3)
    strong = poses.box_scores >= 0.3
    assert strong.sum() == 3
    # boxes: extent of the confident keypoints, inside the image (up to a few pixels)
    assert np.all(poses.boxes[:, :2] >= -5) and np.all(poses.boxes[:, 2] <= 645) and np.all(poses.boxes[:, 3] <= 496)
    batch = est.predict_batch([image, image[:, ::-1].copy()])
    np.testing.assert_allclose(batch[0].keypoints, poses.keypoints, atol=1e-3)
    assert len(batch[1]) >= 3


def test_caller_boxes_and_bad_options_are_refused(module385: torch.nn.Module) -> None:
    est = pn.PoseNetEstimator(module385, input_size=385)
    image = np.zeros((64, 80, 3), np.uint8)
    with pytest.raises(ValueError, match="bottom-up"):
        est(image, boxes=np.array([[0, 0, 10, 10]], np.float32))
    assert len(est(image)) == 0
    with pytest.raises(ValueError, match="resize"):
        pn.PoseNetEstimator(module385, input_size=385, resize="crop")
    with pytest.raises(ValueError, match="input_size"):
        pn.PoseNetEstimator(module385, input_size=384)
    with pytest.raises(ValueError, match=r"posenet_module\(513\)"):
        pn.PoseNetEstimator(module385, input_size=513)


def test_stretch_maps_back_to_the_same_people(module385: torch.nn.Module) -> None:
    image, anns = _coco328()
    poses = pn.PoseNetEstimator(module385, input_size=385, resize="stretch")(image)
    recall = person_recall(poses.keypoints, anns, coco17.sigmas, threshold=0.75)
    assert recall.found == 3


def test_torch_and_onnxruntime_agree(module385: torch.nn.Module, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    image, _ = _coco328()
    a = pn.PoseNetEstimator(module385, input_size=385)(image)
    b = pn.PoseNetEstimator(module385, input_size=385, backend="onnxruntime", folder=tmp_path)(image)
    assert len(a) == len(b)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.05)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


def test_builder_defaults_find_the_three_people(module385: torch.nn.Module) -> None:
    image, anns = _coco328()
    est = pn.posenet()
    assert (est.input_size, est.resize, est.min_pose_score) == (513, "letterbox", 0.15)
    poses = est(image)
    recall = person_recall(poses.keypoints, anns, coco17.sigmas, threshold=0.75)
    assert (recall.found, recall.unmatched) == (3, len(poses) - 3)
