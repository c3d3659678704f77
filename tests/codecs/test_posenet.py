"""PoseNet multi-person decoding: TensorFlow.js's raw PoseNet outputs against COCO annotations, and synthetic
fields whose poses are known exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.codecs.posenet import POSENET_EDGES, PoseNetDecoder
from posekit.metrics.recall import person_recall
from posekit.skeletons import coco17
from tests.conftest import shared_path

STRIDE = 16
GRID = 17  # a 257 x 257 input


def _fixture_outputs(case: str) -> tuple[np.ndarray, ...]:
    ref = np.load(shared_path("fixtures", "tfjs", "posenet", f"{case}.npz"))
    out = {k.split("/")[1]: ref[k][0] for k in ref.files if k.startswith("out:")}
    return out["heatmap_2"], out["offset_2"], out["displacement_fwd_2"], out["displacement_bwd_2"]


def test_tfjs_outputs_of_three_people_on_a_bench_decode_to_the_annotated_people() -> None:
    decoded = PoseNetDecoder().decode(*_fixture_outputs("coco328"))
    # the fixture input is the 640 x 491 image padded right/bottom to 640 x 640 and resized to 385 x 385
    keypoints = (decoded.keypoints + 0.5) * (640 / 385)
    data = json.loads(shared_path("data", "coco", "openpose_examples_keypoints.json").read_text())
    anns = [a for a in data["annotations"] if a["image_id"] == 328]
    strong = decoded.pose_scores >= 0.25  # TF.js's default minPoseConfidence
    assert strong.sum() == 3 == len(anns)
    recall = person_recall(keypoints[strong], anns, coco17.sigmas, threshold=0.75)
    assert (recall.people, recall.found, recall.unmatched) == (3, 3, 0)
    # the weaker poses are re-decodings of the same people from other roots: their instance score is low
    assert decoded.pose_scores[~strong].max() < 0.15
    assert decoded.keypoints.shape == (10, 17, 2) and decoded.scores.shape == (10, 17)
    assert np.all((decoded.scores >= 0) & (decoded.scores <= 1))


def test_torch_tensors_and_a_batch_axis_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    outs = _fixture_outputs("astronaut")
    a = PoseNetDecoder().decode(*outs)
    b = PoseNetDecoder().decode(*(torch.from_numpy(o[None]) for o in outs))
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert len(a) >= 1


# ------------------------------------------------------------------------------------------------ synthetic


def _fields(people: np.ndarray, peak_logit: float = 4.0) -> tuple[np.ndarray, ...]:
    """Exact PoseNet fields for (P, 17, 2) ``(x, y)`` keypoints: a heatmap peak at each keypoint's nearest cell,
    offsets and displacements that point at the keypoints of the person owning each cell (the nearest person's
    same part)."""
    cells = np.stack(np.meshgrid(np.arange(GRID), np.arange(GRID), indexing="xy"), -1) * float(STRIDE)  # (H, W, 2) x, y
    heat = np.full((GRID, GRID, 17), -8.0, np.float32)
    offsets = np.zeros((GRID, GRID, 34), np.float32)
    fwd = np.zeros((GRID, GRID, 32), np.float32)
    bwd = np.zeros((GRID, GRID, 32), np.float32)
    for k in range(17):
        d = np.linalg.norm(cells[:, :, None] - people[None, None, :, k], axis=-1)  # (H, W, P)
        target = people[d.argmin(-1), k] - cells
        offsets[..., k], offsets[..., 17 + k] = target[..., 1], target[..., 0]
        for p in people[:, k]:
            j, i = np.floor(p / STRIDE + 0.5).astype(int)
            heat[i, j, k] = peak_logit + 0.01 * k  # distinct scores: a deterministic root order
    for e, (parent, child) in enumerate(POSENET_EDGES):
        for field, src, dst in ((fwd, parent, child), (bwd, child, parent)):
            owner = np.linalg.norm(cells[:, :, None] - people[None, None, :, src], axis=-1).argmin(-1)
            disp = people[owner, dst] - people[owner, src]
            field[..., e], field[..., 16 + e] = disp[..., 1], disp[..., 0]
    return heat, offsets, fwd, bwd


def _two_people() -> np.ndarray:
    rng = np.random.default_rng(0)
    left = rng.uniform([8, 8], [100, 248], size=(17, 2))
    right = rng.uniform([156, 8], [248, 248], size=(17, 2))
    return np.stack([left, right]).astype(np.float32)


def test_synthetic_two_people_decode_exactly() -> None:
    people = _two_people()
    heat, offsets, fwd, bwd = _fields(people)
    decoded = PoseNetDecoder(nms_radius=20.0).decode(heat, offsets, fwd, bwd)
    assert len(decoded) == 2
    order = np.argsort(decoded.keypoints[:, 0, 0])  # left person first
    np.testing.assert_allclose(decoded.keypoints[order], people, atol=1e-4)
    expected = 1 / (1 + np.exp(-(4.0 + 0.01 * np.arange(17))))
    np.testing.assert_allclose(decoded.scores, np.broadcast_to(expected, (2, 17)), rtol=1e-6)
    # nothing of the second pose lies within the radius of the first: both keep their full mean score
    np.testing.assert_allclose(decoded.pose_scores, expected.mean(), rtol=1e-6)


def test_nms_radius_suppresses_a_duplicate_root() -> None:
    people = _two_people()[:1]
    heat, offsets, fwd, bwd = _fields(people)
    # a second, stronger peak of the right ankle (16) three cells away whose offset points 10 px from the ankle
    j, i = np.floor(people[0, 16] / STRIDE + 0.5).astype(int)
    i2 = i + 3 if i + 3 < GRID else i - 3
    heat[i2, j, 16] = 6.0
    offsets[i2, j, 16] = people[0, 16, 1] + 10.0 - i2 * STRIDE
    offsets[i2, j, 33] = people[0, 16, 0] - j * STRIDE
    suppressed = PoseNetDecoder(nms_radius=20.0).decode(heat, offsets, fwd, bwd)
    assert len(suppressed) == 1  # the duplicate decodes first; the person's own peaks are then all within 20 px
    kept = PoseNetDecoder(nms_radius=5.0).decode(heat, offsets, fwd, bwd)
    assert len(kept) == 2
    # the second pose shares every keypoint but the ankle with the first: only the ankle's score counts
    assert kept.pose_scores[1] == pytest.approx(kept.scores[1, 16] / 17, rel=1e-6)
    assert kept.pose_scores[0] > 0.9


def test_flat_low_heatmaps_give_no_poses_and_max_poses_caps_the_count() -> None:
    heat = np.full((GRID, GRID, 17), -3.0, np.float32)
    zeros = (np.zeros((GRID, GRID, 34), np.float32), np.zeros((GRID, GRID, 32), np.float32),
             np.zeros((GRID, GRID, 32), np.float32))
    empty = PoseNetDecoder().decode(heat, *zeros)
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2) and empty.pose_scores.shape == (0,)
    flat_high = PoseNetDecoder(max_poses=4, nms_radius=0.0).decode(np.full_like(heat, 2.0), *zeros)
    assert len(flat_high) == 4


@pytest.mark.parametrize("which, shape, match", [
    (0, (GRID, GRID, 16), r"heatmaps must have shape \(H, W, 17\)"),
    (1, (GRID, GRID, 17), r"offsets must have shape \(H, W, 34\)"),
    (2, (GRID, 9, 32), r"displacements_fwd has grid \(17, 9\) but heatmaps have \(17, 17\)"),
    (3, (2, GRID, GRID, 32), r"displacements_bwd must have shape"),
])
def test_wrong_output_shapes_are_refused_by_name(which: int, shape: tuple[int, ...], match: str) -> None:
    arrays = [np.zeros((GRID, GRID, c), np.float32) for c in (17, 34, 32, 32)]
    arrays[which] = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=match):
        PoseNetDecoder().decode(*arrays)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="score_threshold"):
        PoseNetDecoder(score_threshold=1.5)
    with pytest.raises(ValueError, match="heatmap_activation"):
        PoseNetDecoder(heatmap_activation="softmax")
