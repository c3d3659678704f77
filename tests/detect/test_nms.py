"""Greedy NMS (:mod:`posekit.detect.nms`) against a brute-force reference written with Python floats."""

from __future__ import annotations

import time

import numpy as np
import pytest

from posekit.detect.nms import batched_nms, nms


def _iou(a: list[float], b: list[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    area = lambda r: max(r[2] - r[0], 0.0) * max(r[3] - r[1], 0.0)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def _reference(boxes: np.ndarray, scores: np.ndarray, thr: float, labels: np.ndarray | None = None) -> list[int]:
    """Textbook greedy NMS: visit by decreasing score (ties: lower index), keep unless a kept box of the same label
    overlaps by IoU > thr."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    kept: list[int] = []
    for i in order:
        same = [k for k in kept if labels is None or labels[k] == labels[i]]
        if all(_iou(boxes[i].tolist(), boxes[k].tolist()) <= thr for k in same):
            kept.append(i)
    return kept


def _random_boxes(rng: np.random.Generator, n: int, extent: float = 100.0) -> np.ndarray:
    xy = rng.uniform(-extent / 2, extent, (n, 2))
    wh = rng.uniform(1.0, extent / 3, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.7])
def test_nms_equals_brute_force(seed: int, thr: float) -> None:
    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, 150)
    scores = rng.random(150).astype(np.float32)
    got = nms(boxes, scores, thr)
    assert got.dtype == np.int64
    assert got.tolist() == _reference(boxes, scores, thr)
    assert 0 < len(got) <= 150


@pytest.mark.parametrize("seed", range(5))
def test_batched_nms_equals_brute_force_per_label(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    boxes = _random_boxes(rng, 200)
    scores = rng.random(200)
    labels = rng.integers(-2, 4, 200)  # any integers, negative included
    got = batched_nms(boxes, scores, labels, 0.45)
    assert got.tolist() == _reference(boxes, scores, 0.45, labels)
    # same as running nms on each label separately, merged by score
    per = np.concatenate([np.flatnonzero(labels == c)[nms(boxes[labels == c], scores[labels == c], 0.45)]
                          for c in np.unique(labels)])
    assert sorted(per.tolist()) == sorted(got.tolist())


def test_hand_cases() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    # IoU(0, 1) = 90 / 110 = 0.818: suppressed at 0.5, kept at 0.85
    assert nms(boxes[:3], [0.9, 0.8, 0.7], 0.5).tolist() == [0, 2]
    assert nms(boxes[:3], [0.9, 0.8, 0.7], 0.85).tolist() == [0, 1, 2]
    # ties: the lower index wins, identical boxes suppress each other
    assert nms(boxes, [0.5, 0.5, 0.5, 0.5], 0.5).tolist() == [0, 2]
    assert nms(boxes, [0.5, 0.5, 0.5, 0.6], 0.5).tolist() == [3, 2]
    # threshold 1 keeps everything, sorted by score
    assert nms(boxes, [0.1, 0.4, 0.3, 0.2], 1.0).tolist() == [1, 2, 3, 0]
    # different labels never suppress each other, even for identical boxes
    assert batched_nms(boxes, [0.9, 0.8, 0.7, 0.6], [0, 1, 0, 2], 0.5).tolist() == [0, 1, 2, 3]
    assert batched_nms(boxes, [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], 0.5).tolist() == [0, 2]
    # an empty box (zero width) overlaps nothing: kept, and suppresses nothing
    empty = np.array([[5, 5, 5, 9], [0, 0, 10, 10]], float)
    assert nms(empty, [0.9, 0.8], 0.0).tolist() == [0, 1]


def test_empty_input() -> None:
    for out in (nms(np.zeros((0, 4)), np.zeros(0), 0.5),
                batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), 0.5)):
        assert out.shape == (0,) and out.dtype == np.int64


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(7)
    boxes, scores, labels = _random_boxes(rng, 50).astype(np.float32), rng.random(50), rng.integers(0, 3, 50)
    copies = boxes.copy(), scores.copy(), labels.copy()
    batched_nms(boxes, scores, labels, 0.5)
    for a, b in zip((boxes, scores, labels), copies):
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_raise_clear_errors() -> None:
    boxes = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], float)
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\).*\(2, 3\)"):
        nms(boxes[:, :3], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        nms(boxes, [0.1], 0.5)
    with pytest.raises(ValueError, match=r"boxes\[1\].*not finite"):
        nms(np.array([[0, 0, 1, 1], [0, np.nan, 2, 2]]), [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match=r"scores\[0\] is NaN"):
        nms(boxes, [np.nan, 0.2], 0.5)
    with pytest.raises(ValueError, match="iou_threshold must lie in"):
        nms(boxes, [0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        batched_nms(boxes, [0.1, 0.2], [0], 0.5)
    with pytest.raises(TypeError, match="labels must be integers"):
        batched_nms(boxes, [0.1, 0.2], [0.5, 1.5], 0.5)


def test_thousands_of_boxes_take_milliseconds() -> None:
    rng = np.random.default_rng(3)
    # detector-like: 3000 jittered candidates around 20 objects
    centre, size = rng.uniform(0, 1000, (20, 2)), rng.uniform(50, 300, (20, 2))
    obj = rng.integers(0, 20, 3000)
    xy = centre[obj] + rng.normal(0, 8, (3000, 2))
    boxes = np.concatenate([xy, xy + size[obj] * rng.uniform(0.85, 1.15, (3000, 2))], axis=1)
    scores, labels = rng.random(3000), rng.integers(0, 3, 3000)
    nms(boxes, scores, 0.5)  # warm-up
    start = time.perf_counter()
    kept = nms(boxes, scores, 0.5)
    batched_nms(boxes, scores, labels, 0.5)
    elapsed = time.perf_counter() - start
    assert 20 <= len(kept) < 200
    assert elapsed < 0.1, f"NMS of 3000 detector-like boxes took {elapsed * 1e3:.1f} ms"
    # worst case: scattered boxes, most of them kept (O(N * kept))
    start = time.perf_counter()
    assert len(nms(_random_boxes(rng, 3000, extent=1000.0), rng.random(3000), 0.5)) > 1000
    assert time.perf_counter() - start < 2.0
