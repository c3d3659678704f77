"""SSD anchors, decoding and weighted NMS against MediaPipe's numbers and hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.detect.mediapipe import (
    FACE_DETECTION_SHORT_RANGE_CONFIG, PALM_DETECTION_FULL_CONFIG, PALM_DETECTION_LITE_CONFIG, POSE_DETECTION_CONFIG,
)
from posekit.detect.ssd import AnchorOptions, DecodeOptions, decode_ssd, ssd_anchors, weighted_nms
from tests.conftest import shared_path

FIX = ("fixtures", "blazepose")


def test_pose_anchors_equal_fixture_exactly():
    expected = np.load(shared_path(*FIX, "pose_detection_anchors_2254x4.npy"))
    anchors = ssd_anchors(POSE_DETECTION_CONFIG.anchors)
    assert anchors.dtype == np.float32
    np.testing.assert_array_equal(anchors, expected)


@pytest.mark.parametrize("config, count", [
    # num_boxes in pose_detection_cpu.pbtxt, palm_detection_cpu.pbtxt, face_detection_short_range.pbtxt
    (POSE_DETECTION_CONFIG, 2254), (PALM_DETECTION_FULL_CONFIG, 2016), (PALM_DETECTION_LITE_CONFIG, 2016),
    (FACE_DETECTION_SHORT_RANGE_CONFIG, 896),
])
def test_anchor_counts_match_mediapipe_graphs(config, count):
    anchors = ssd_anchors(config.anchors)
    assert anchors.shape == (count, 4) == (config.num_anchors, 4)
    assert (anchors[:, 2:] == 1).all()
    assert (anchors[:, :2] > 0).all() and (anchors[:, :2] < 1).all()


def test_face_anchor_layout():
    a = ssd_anchors(FACE_DETECTION_SHORT_RANGE_CONFIG.anchors)
    # layer 0: 16x16 cells x 2 anchors; layers 1-3 (stride 16) merged: 8x8 cells x 6 anchors
    np.testing.assert_allclose(a[0, :2], [0.5 / 16, 0.5 / 16])
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_allclose(a[2, :2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[512:518, :2], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(a[-1, :2], [7.5 / 8, 7.5 / 8])


def test_anchor_sizes_when_not_fixed():
    opts = AnchorOptions((64, 32), (16, 32), 0.2, 0.8, aspect_ratios=(1.0, 4.0))
    a = ssd_anchors(opts)
    # layer 0: 4x2 cells x 3 anchors (ratios 1, 4, interpolated); layer 1: 2x1 cells x 3
    assert a.shape == (4 * 2 * 3 + 2 * 1 * 3, 4)
    np.testing.assert_allclose(a[:3, 2:], [[0.2, 0.2], [0.4, 0.1], [np.sqrt(0.2 * 0.8)] * 2], rtol=1e-6)
    np.testing.assert_allclose(a[-3:, 2:], [[0.8, 0.8], [1.6, 0.4], [np.sqrt(0.8)] * 2], rtol=1e-6)
    np.testing.assert_allclose(a[3, :2], [1.5 / 4, 0.5 / 2])
    reduced = ssd_anchors(AnchorOptions((64, 32), (16, 32), 0.2, 0.8, reduce_boxes_in_lowest_layer=True))
    np.testing.assert_allclose(reduced[:3, 2:], [[0.1, 0.1], [0.2 * np.sqrt(2), 0.2 / np.sqrt(2)],
                                                 [0.2 / np.sqrt(2), 0.2 * np.sqrt(2)]], rtol=1e-6)


def test_decode_fixture_outputs_gives_meta_keypoints():
    raw_boxes = np.load(shared_path(*FIX, "pose_detection_out_boxes_1x2254x12_ref.npy"))
    raw_scores = np.load(shared_path(*FIX, "pose_detection_out_scores_1x2254x1_ref.npy"))
    meta = json.loads(shared_path(*FIX, "meta.json").read_text())
    dec = decode_ssd(raw_boxes, raw_scores, ssd_anchors(POSE_DETECTION_CONFIG.anchors), POSE_DETECTION_CONFIG.decode)
    assert dec.boxes.shape == (1, 2254, 4) and dec.keypoints.shape == (1, 2254, 4, 2)
    keep = dec.scores[0] >= 0.5
    boxes, scores, kpts, seeds = weighted_nms(dec.boxes[0, keep], dec.scores[0, keep], keypoints=dec.keypoints[0, keep],
                                              iou_threshold=0.3)
    assert len(scores) == 1
    assert abs(scores[0] - meta["detection_score"]) < 1e-6
    np.testing.assert_allclose(kpts[0], meta["detection_keypoints"], atol=1e-5)


def test_decode_formulas_by_hand():
    anchors = np.array([[0.25, 0.5, 1.0, 1.0], [0.5, 0.5, 2.0, 0.5]], np.float32)
    raw = np.array([[10, -20, 40, 20, 4, 8], [0, 0, 10, 10, -10, 10]], np.float32)  # x, y, w, h, kx, ky
    scores = np.array([[0.0], [200.0]], np.float32)
    dec = decode_ssd(raw, scores, anchors, DecodeOptions(1, (100.0, 100.0, 100.0, 100.0)))
    np.testing.assert_allclose(dec.boxes[0, 0], [0.35 - 0.2, 0.3 - 0.1, 0.35 + 0.2, 0.3 + 0.1], atol=1e-7)
    np.testing.assert_allclose(dec.keypoints[0, 0, 0], [0.29, 0.58], atol=1e-7)
    np.testing.assert_allclose(dec.boxes[0, 1], [0.4, 0.475, 0.6, 0.525], atol=1e-7)  # w = 0.1 * 2, h = 0.1 * 0.5
    np.testing.assert_allclose(dec.keypoints[0, 1, 0], [0.3, 0.55], atol=1e-7)
    np.testing.assert_allclose(dec.scores[0], [0.5, 1 / (1 + np.exp(-100.0))])  # clipped to 100
    yx = decode_ssd(raw[:, [1, 0, 3, 2, 5, 4]], scores, anchors,
                    DecodeOptions(1, (100.0,) * 4, box_format="yxhw"))
    np.testing.assert_allclose(yx.boxes, dec.boxes, atol=1e-7)
    np.testing.assert_allclose(yx.keypoints, dec.keypoints, atol=1e-7)
    ex = decode_ssd(raw, scores, anchors, DecodeOptions(1, (100.0,) * 4, apply_exponential_on_box_size=True))
    np.testing.assert_allclose(ex.boxes[0, 0, 2] - ex.boxes[0, 0, 0], np.exp(0.4), rtol=1e-6)


def test_decode_multiclass_and_shape_errors():
    anchors = np.array([[0.5, 0.5, 1, 1]] * 2, np.float32)
    logits = np.array([[[0.0, 2.0, 1.0], [3.0, -1.0, 3.0]]], np.float32)
    dec = decode_ssd(np.zeros((1, 2, 4)), logits, anchors, DecodeOptions(0, (1.0,) * 4))
    np.testing.assert_array_equal(dec.labels[0], [1, 0])  # ties: first class, as MediaPipe's strict '<'
    with pytest.raises(ValueError, match=r"raw_boxes must have shape \(B, 2, 4\)"):
        decode_ssd(np.zeros((1, 2, 6)), logits, anchors, DecodeOptions(0, (1.0,) * 4))
    with pytest.raises(ValueError, match="raw_scores"):
        decode_ssd(np.zeros((1, 2, 4)), np.zeros((1, 3, 1)), anchors, DecodeOptions(0, (1.0,) * 4))


def test_weighted_nms_averages_clusters_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 12]], np.float32)
    scores = np.array([0.9, 0.6, 0.8, 0.3], np.float32)
    kpts = np.array([[[1, 1]], [[2, 4]], [[25, 25]], [[0, 0]]], np.float32)
    out_boxes, out_scores, out_kpts, seeds = weighted_nms(boxes, scores, keypoints=kpts, iou_threshold=0.3)
    np.testing.assert_array_equal(seeds, [0, 2])
    np.testing.assert_allclose(out_scores, [0.9, 0.8])  # the seed's score, not the mean
    w = np.array([0.9, 0.6, 0.3])
    np.testing.assert_allclose(out_boxes[0], (boxes[[0, 1, 3]] * w[:, None]).sum(0) / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(out_kpts[0, 0], (kpts[[0, 1, 3], 0] * w[:, None]).sum(0) / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(out_boxes[1], boxes[2])
    np.testing.assert_allclose(out_kpts[1], kpts[2])


def test_weighted_nms_threshold_is_strict_and_order_by_score():
    boxes = np.array([[0, 0, 4, 4], [2, 0, 6, 4], [10, 0, 14, 4]], np.float32)  # IoU(0, 1) = 1/3
    scores = np.array([0.5, 0.7, 0.6], np.float32)
    _, s, kp, seeds = weighted_nms(boxes, scores, iou_threshold=1 / 3 + 1e-4)
    assert kp is None
    np.testing.assert_array_equal(seeds, [1, 2, 0])
    np.testing.assert_allclose(s, [0.7, 0.6, 0.5])
    _, _, _, seeds = weighted_nms(boxes, scores, iou_threshold=0.3)
    np.testing.assert_array_equal(seeds, [1, 2])


def test_weighted_nms_edge_cases():
    out = weighted_nms(np.zeros((0, 4)), np.zeros(0), keypoints=np.zeros((0, 3, 2)), iou_threshold=0.3)
    assert out[0].shape == (0, 4) and out[1].shape == (0,) and out[2].shape == (0, 3, 2) and out[3].shape == (0,)
    # MediaPipe quirk: an empty seed box removes nothing, which ends the loop
    boxes = np.array([[1, 1, 1, 1], [0, 0, 2, 2]], np.float32)
    b, s, _, seeds = weighted_nms(boxes, np.array([0.9, 0.8]), iou_threshold=0.3)
    np.testing.assert_array_equal(seeds, [0])
    with pytest.raises(ValueError, match="iou_threshold"):
        weighted_nms(boxes, np.array([0.9, 0.8]), iou_threshold=1.0)
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        weighted_nms(boxes, np.array([0.9]), iou_threshold=0.3)
    with pytest.raises(ValueError, match="keypoints"):
        weighted_nms(boxes, np.array([0.9, 0.8]), keypoints=np.zeros((2, 2)), iou_threshold=0.3)
