"""posekit.postprocess: flip-test fusion and OKS-NMS against MMPose 1.3.2 fixtures."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.postprocess import (
    flip_heatmaps,
    flip_keypoints,
    flip_simcc,
    fuse_flip_heatmaps,
    fuse_flip_keypoints,
    fuse_flip_simcc,
    oks_iou,
    oks_nms,
    soft_oks_nms,
)
from tests.conftest import shared_path

COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# MMPose _base_/datasets/coco.py sigmas, float32 as parse_pose_metainfo stores them.
COCO_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087,
     0.089, 0.089], dtype=np.float32,
)
# README §2: MSRA-heatmap configs (res50, HRNet) flip-test with shift_heatmap=True, ViTPose with False.
HEATMAP_MODELS = {
    "simplebaseline_res50_tiny": True,
    "hrnet_tiny": True,
    "vitpose_tiny_classic": False,
    "vitpose_tiny_simple": False,
}


# ------------------------------------------------------------------------------------ flip test fixtures


@pytest.mark.parametrize("name", sorted(HEATMAP_MODELS))
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fused_heatmaps_match_mmpose(name: str, backend: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", name)
    out, out_flip = np.load(folder / "out_heatmaps.npy"), np.load(folder / "out_flip_heatmaps.npy")
    expected = np.load(folder / "fused_heatmaps.npy")
    keep = out_flip.copy()
    if backend == "torch":
        fused = fuse_flip_heatmaps(torch.from_numpy(out), torch.from_numpy(out_flip), COCO_FLIP,
                                   shift=HEATMAP_MODELS[name])
        assert isinstance(fused, torch.Tensor)
        fused = fused.numpy()
    else:
        fused = fuse_flip_heatmaps(out, out_flip, COCO_FLIP, shift=HEATMAP_MODELS[name])
    assert fused.dtype == np.float32
    np.testing.assert_allclose(fused, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(out_flip, keep)  # input untouched


def test_fused_heatmaps_shift_matters() -> None:
    folder = shared_path("fixtures", "mmpose", "parity", "hrnet_tiny")
    out, out_flip = np.load(folder / "out_heatmaps.npy"), np.load(folder / "out_flip_heatmaps.npy")
    wrong = fuse_flip_heatmaps(out, out_flip, COCO_FLIP, shift=False)
    assert np.abs(wrong - np.load(folder / "fused_heatmaps.npy")).max() > 1e-2


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_fused_simcc_match_mmpose(backend: str) -> None:
    folder = shared_path("fixtures", "mmpose", "parity", "rtmpose_t")
    names = ("out_simcc_x", "out_simcc_y", "out_flip_simcc_x", "out_flip_simcc_y")
    arrays = [np.load(folder / f"{name}.npy") for name in names]
    if backend == "torch":
        x, y = fuse_flip_simcc(*[torch.from_numpy(a) for a in arrays], COCO_FLIP)
        x, y = x.numpy(), y.numpy()
    else:
        x, y = fuse_flip_simcc(*arrays, COCO_FLIP)
    np.testing.assert_allclose(x, np.load(folder / "fused_simcc_x.npy"), rtol=0, atol=1e-6)
    np.testing.assert_allclose(y, np.load(folder / "fused_simcc_y.npy"), rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------ flip properties


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 12), w=st.integers(1, 12))
def test_flip_heatmaps_moves_peaks_like_flip_keypoints(seed: int, h: int, w: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 2, len(COCO_FLIP)
    heat = rng.uniform(0, 0.5, (n, k, h, w)).astype(np.float32)
    peaks = np.stack([rng.integers(0, w, (n, k)), rng.integers(0, h, (n, k))], axis=-1)
    heat[np.arange(n)[:, None], np.arange(k), peaks[..., 1], peaks[..., 0]] = 1.0
    flipped = flip_heatmaps(heat, COCO_FLIP)
    flat = flipped.reshape(n, k, -1).argmax(-1)
    found = np.stack([flat % w, flat // w], axis=-1).astype(np.float64)
    np.testing.assert_array_equal(found, flip_keypoints(peaks.astype(np.float64), COCO_FLIP, width=w))
    np.testing.assert_array_equal(flip_heatmaps(flipped, COCO_FLIP), heat)  # an involution without shift
    shifted = flip_heatmaps(heat, COCO_FLIP, shift=True)
    np.testing.assert_array_equal(shifted[..., 1:], flipped[..., :-1])
    np.testing.assert_array_equal(shifted[..., 0], flipped[..., 0])


def test_flip_simcc_and_keypoints_semantics() -> None:
    x = np.arange(2 * 17 * 6, dtype=np.float32).reshape(2, 17, 6)
    y = -np.arange(2 * 17 * 4, dtype=np.float32).reshape(2, 17, 4)
    fx, fy = flip_simcc(x, y, COCO_FLIP)
    np.testing.assert_array_equal(fx[:, 1], x[:, 2, ::-1])
    np.testing.assert_array_equal(fy[:, 1], y[:, 2])
    kpts = np.array([[[10.0, 3.0]] * 17]) + np.arange(17)[None, :, None]
    flipped = flip_keypoints(kpts, COCO_FLIP, width=192)
    np.testing.assert_array_equal(flipped[0, 1], [191 - kpts[0, 2, 0], kpts[0, 2, 1]])
    np.testing.assert_array_equal(flip_keypoints(kpts, COCO_FLIP, width=192, shift=False)[0, 0], [182.0, 3.0])
    fused = fuse_flip_keypoints(kpts, flip_keypoints(kpts, COCO_FLIP, width=192), COCO_FLIP, width=192)
    np.testing.assert_allclose(fused, kpts)
    kt = flip_keypoints(torch.from_numpy(kpts), COCO_FLIP, width=192)
    np.testing.assert_array_equal(kt.numpy(), flipped)


def test_flip_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(N, K, H, W\)"):
        flip_heatmaps(np.zeros((17, 8, 8)), COCO_FLIP)
    with pytest.raises(ValueError, match="flip_indices must be 17 integers"):
        flip_heatmaps(np.zeros((1, 17, 8, 8)), COCO_FLIP[:-1])
    with pytest.raises(ValueError, match="permutation"):
        flip_heatmaps(np.zeros((1, 17, 8, 8)), [0] * 17)
    with pytest.raises(ValueError, match="same array type and shape"):
        fuse_flip_heatmaps(np.zeros((1, 17, 8, 8)), np.zeros((1, 17, 8, 7)), COCO_FLIP)
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        flip_simcc([[0.0]], [[0.0]], COCO_FLIP)
    with pytest.raises(ValueError, match="width must be a positive"):
        flip_keypoints(np.zeros((1, 17, 2)), COCO_FLIP, width=0)


# ------------------------------------------------------------------------------------ OKS-NMS: MMPose CocoMetric


def _cocometric_instances() -> dict[int, list[dict]]:
    """predictions_input.json grouped by image and sorted by id, as CocoMetric does (float32 arrays)."""
    preds = json.loads(shared_path("fixtures", "mmpose", "eval", "predictions_input.json").read_text())
    by_image: dict[int, list[dict]] = defaultdict(list)
    for p in preds:
        by_image[p["img_id"]].append(p)
    return {img: sorted(items, key=lambda p: p["id"]) for img, items in by_image.items()}


def _rescore(p: dict, mode: str) -> float:
    """CocoMetric's instance score: 'bbox_keypoint' (bbox x mean of keypoint scores > 0.2) or 'keypoint' (mean)."""
    kpt_scores = np.asarray(p["keypoint_scores"], dtype=np.float32)
    if mode == "keypoint":
        return float(np.mean(kpt_scores))
    mean, valid = 0, 0
    for s in kpt_scores:  # float32 running sum, in MMPose's order
        if s > 0.2:
            mean += s
            valid += 1
    if valid:
        mean /= valid
    return float(np.float32(p["bbox_score"]) * mean)


def _run_cocometric(mode: str, nms: str) -> list[dict]:
    results = []
    for img, items in _cocometric_instances().items():
        kpts = np.array([p["keypoints"] for p in items], dtype=np.float32)
        kpt_scores = np.array([p["keypoint_scores"] for p in items], dtype=np.float32)
        areas = np.prod(np.array([p["bbox_scales"] for p in items], dtype=np.float32), axis=1)
        np.testing.assert_array_equal(areas, np.array([p["area_used"] for p in items], dtype=np.float32))
        scores = np.array([_rescore(p, mode) for p in items])
        if nms == "oks_nms":
            keep = oks_nms(kpts, scores, areas, COCO_SIGMAS, threshold=0.9)
        else:
            keep, new_scores = soft_oks_nms(kpts, scores, areas, COCO_SIGMAS, threshold=0.9)
            assert np.all(np.diff(new_scores) <= 0) and np.all(new_scores <= scores[keep] + 1e-12)
        for i in keep:
            flat = np.concatenate([kpts[i], kpt_scores[i][:, None]], axis=1).ravel()
            results.append(
                {"image_id": img, "keypoints": flat.tolist(), "score": float(scores[i]), "id": items[i]["id"]}
            )
    return results


@pytest.mark.parametrize(
    ("variant", "mode", "nms", "dropped"),
    [
        ("default", "bbox_keypoint", "oks_nms", {460541, 437295}),  # the near-duplicates 900000 / 900001 win
        ("score_keypoint_softnms", "keypoint", "soft_oks_nms", set()),
    ],
)
def test_nms_reproduces_cocometric_results(variant: str, mode: str, nms: str, dropped: set[int]) -> None:
    expected = json.loads(
        shared_path("fixtures", "mmpose", "eval", f"results_{variant}.keypoints.json").read_text()
    )
    ours = _run_cocometric(mode, nms)
    all_ids = {p["id"] for items in _cocometric_instances().values() for p in items}
    assert all_ids - {r["id"] for r in ours} == dropped
    assert len(ours) == len(expected)
    for got, ref in zip(ours, expected):  # same kept set, in the same order (by decreasing score per image)
        assert got["image_id"] == ref["image_id"]
        assert got["score"] == ref["score"]
        assert got["keypoints"] == ref["keypoints"]


# ------------------------------------------------------------------------------------ OKS-NMS: reference port


def _mmpose_oks_iou(g, d, a_g, a_d, sigmas, vis_thr=None):
    """MMPose 1.3.2 ``oks_iou`` transcribed (one pose vs N, (K*3)-flattened with scores, float32 output)."""
    var = (sigmas * 2) ** 2
    xg, yg, vg = g[0::3], g[1::3], g[2::3]
    ious = np.zeros(len(d), dtype=np.float32)
    for n in range(len(d)):
        xd, yd, vd = d[n, 0::3], d[n, 1::3], d[n, 2::3]
        e = ((xd - xg) ** 2 + (yd - yg) ** 2) / var / ((a_g + a_d[n]) / 2 + np.spacing(1)) / 2
        if vis_thr is not None:
            e = e[(vg > vis_thr) & (vd > vis_thr)]
        ious[n] = np.sum(np.exp(-e)) / len(e) if len(e) != 0 else 0.0
    return ious


def _mmpose_nms(kpts, scores, areas, sigmas, thr, vis_thr=None, soft=False, max_dets=20):
    """MMPose 1.3.2 ``oks_nms`` / ``soft_oks_nms`` transcribed; returns keep (and, for soft, decayed scores)."""
    order = scores.argsort(kind="stable")[::-1]
    if soft:
        sc = scores[order]
        keep, kept_scores = [], []
        while len(order) > 0 and len(keep) < max_dets:
            i = order[0]
            ovr = _mmpose_oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas, vis_thr)
            keep.append(i)
            kept_scores.append(sc[0])
            order, sc = order[1:], sc[1:] * np.exp(-(ovr**2) / thr)
            tmp = sc.argsort(kind="stable")[::-1]
            order, sc = order[tmp], sc[tmp]
        return np.array(keep), np.array(kept_scores)
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(i)
        ovr = _mmpose_oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas, vis_thr)
        order = order[np.where(ovr <= thr)[0] + 1]
    return np.array(keep)


def _clustered_poses(rng: np.random.Generator, n: int, k: int = 17):
    base = rng.uniform(0, 400, (3, k, 2))
    kpts = base[rng.integers(0, 3, n)] + rng.normal(0, rng.uniform(0.5, 15, (n, 1, 1)), (n, k, 2))
    return kpts, rng.uniform(0.1, 1.0, n), rng.uniform(2000, 40000, n), rng.uniform(0, 1, (n, k))


@pytest.mark.parametrize("vis_thr", [None, 0.2, 0.6])
@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_mmpose_reference(vis_thr, seed) -> None:
    rng = np.random.default_rng(seed)
    kpts, scores, areas, vis = _clustered_poses(rng, 30)
    flat = np.concatenate([kpts, vis[..., None]], axis=2).reshape(len(kpts), -1)
    sig = COCO_SIGMAS.astype(np.float64)
    for thr in (0.5, 0.9):
        ref = _mmpose_nms(flat, scores, areas, sig, thr, vis_thr)
        got = oks_nms(kpts, scores, areas, sig, threshold=thr, keypoint_scores=vis, score_threshold=vis_thr)
        np.testing.assert_array_equal(got, ref)
    ref_keep, ref_scores = _mmpose_nms(flat, scores, areas, sig, 0.9, vis_thr, soft=True)
    keep, new_scores = soft_oks_nms(kpts, scores, areas, sig, threshold=0.9, keypoint_scores=vis,
                                    score_threshold=vis_thr)
    np.testing.assert_array_equal(keep, ref_keep)
    np.testing.assert_allclose(new_scores, ref_scores, rtol=1e-6)  # MMPose's OKS is float32
    ious = oks_iou(kpts[0], kpts[1:], areas[0], areas[1:], sig, keypoint_scores=vis[0],
                   other_keypoint_scores=vis[1:], score_threshold=vis_thr)
    np.testing.assert_allclose(ious, _mmpose_oks_iou(flat[0], flat[1:], areas[0], areas[1:], sig, vis_thr),
                               rtol=1e-6, atol=1e-7)


def test_soft_nms_max_dets_and_linear() -> None:
    kpts, scores, areas, _ = _clustered_poses(np.random.default_rng(7), 25)
    keep, new_scores = soft_oks_nms(kpts, scores, areas, COCO_SIGMAS, max_dets=5)
    assert keep.shape == (5,) and new_scores.shape == (5,) and keep[0] == np.argmax(scores)
    keep_lin, scores_lin = soft_oks_nms(kpts, scores, areas, COCO_SIGMAS, threshold=0.3, method="linear")
    assert len(keep_lin) == 20 and np.all(np.diff(scores_lin) <= 0)


def test_nms_identical_poses_and_empty() -> None:
    kpts = np.tile(np.random.default_rng(1).uniform(0, 100, (1, 17, 2)), (3, 1, 1))
    np.testing.assert_array_equal(oks_nms(kpts, np.array([0.2, 0.9, 0.5]), np.full(3, 1e4), COCO_SIGMAS), [1])
    assert oks_nms(np.zeros((0, 17, 2)), np.zeros(0), np.zeros(0), COCO_SIGMAS).shape == (0,)
    keep, sc = soft_oks_nms(np.zeros((0, 17, 2)), np.zeros(0), np.zeros(0), COCO_SIGMAS)
    assert keep.shape == (0,) and sc.shape == (0,)


def test_nms_ignores_nan_keypoints() -> None:
    rng = np.random.default_rng(3)
    kpts = np.tile(rng.uniform(0, 100, (1, 17, 2)), (4, 1, 1))
    kpts[1, :5] = np.nan  # a duplicate with some missing keypoints: still suppressed by the rest
    kpts[2] = np.nan  # no usable keypoint: OKS 0, kept
    kpts[3] += 300  # far away: kept
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    ious = oks_iou(kpts[0], kpts[1:], 1e4, np.full(3, 1e4), COCO_SIGMAS)
    np.testing.assert_allclose(ious[:2], [1.0, 0.0])
    np.testing.assert_array_equal(oks_nms(kpts, scores, np.full(4, 1e4), COCO_SIGMAS), [0, 2, 3])
    keep, new_scores = soft_oks_nms(kpts, scores, np.full(4, 1e4), COCO_SIGMAS)
    assert sorted(keep.tolist()) == [0, 1, 2, 3] and np.all(np.isfinite(new_scores))


def test_nms_bad_inputs() -> None:
    kpts, scores, areas = np.zeros((3, 17, 2)), np.ones(3), np.ones(3)
    with pytest.raises(ValueError, match=r"keypoints must have shape \(N, K, 2\)"):
        oks_nms(np.zeros((3, 17)), scores, areas, COCO_SIGMAS)
    with pytest.raises(ValueError, match=r"scores must have shape \(3,\)"):
        oks_nms(kpts, np.ones(2), areas, COCO_SIGMAS)
    with pytest.raises(ValueError, match=r"sigmas must have shape \(17,\)"):
        oks_nms(kpts, scores, areas, COCO_SIGMAS[:5])
    with pytest.raises(ValueError, match="scores must be finite"):
        oks_nms(kpts, np.array([1.0, np.nan, 0.5]), areas, COCO_SIGMAS)
    with pytest.raises(ValueError, match="areas must be finite and non-negative"):
        oks_nms(kpts, scores, np.array([1.0, -1.0, 1.0]), COCO_SIGMAS)
    with pytest.raises(ValueError, match="score_threshold needs keypoint_scores"):
        oks_nms(kpts, scores, areas, COCO_SIGMAS, score_threshold=0.2)
    with pytest.raises(ValueError, match="method must be"):
        soft_oks_nms(kpts, scores, areas, COCO_SIGMAS, method="box")
