"""posekit.metrics.coco: MMPose CocoMetric parity (fixtures/mmpose/eval), OKS/AP by hand, GT without area, errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from posekit.metrics.coco import (
    GT_AREA_FACTOR, STAT_NAMES, KeypointPredictions, coco_keypoint_eval, coco_keypoint_results, coco_metric,
)
from posekit.postprocess import rescore_instances
from posekit.skeletons import Skeleton, coco17
from posekit.types import Poses
from tests.conftest import shared_path

VARIANTS = {
    "default": {},
    "nms_none": {"nms_mode": "none"},
    "score_keypoint_softnms": {"score_mode": "keypoint", "nms_mode": "soft_oks_nms"},
}


def _gt_path():
    return shared_path("data", "mmpose_testdata", "tests", "data", "coco", "test_coco.json")


def _eval_fixture(name):
    return shared_path("fixtures", "mmpose", "eval", name)


@pytest.fixture(scope="module")
def records():
    return json.loads(_eval_fixture("predictions_input.json").read_text())


@pytest.fixture(scope="module")
def reference_metrics():
    return json.loads(_eval_fixture("metrics.json").read_text())


# ------------------------------------------------------------------------------------------- MMPose parity


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cocometric_parity(variant, records, reference_metrics, tmp_path):
    predictions = KeypointPredictions.from_records(records)
    expected_results = json.loads(_eval_fixture(f"results_{variant}.keypoints.json").read_text())
    results = coco_keypoint_results(predictions, **VARIANTS[variant])
    assert results == expected_results  # same instances, order, float32 coordinates and scores, bit for bit

    out = tmp_path / "out" / "results.keypoints.json"
    stats = coco_metric(_gt_path(), predictions, **VARIANTS[variant], results_file=out)
    assert json.loads(out.read_text()) == expected_results
    assert [p.name for p in out.parent.iterdir()] == ["results.keypoints.json"]  # atomic: no temp file left
    expected = reference_metrics[variant]["cocometric"]
    assert list(stats) == list(STAT_NAMES)
    assert stats == expected  # observed difference 0 for every stat


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_eval_of_mmpose_results_file_matches_pycocotools_entry(variant, reference_metrics):
    stats = coco_keypoint_eval(_gt_path(), _eval_fixture(f"results_{variant}.keypoints.json"),
                               sigmas=coco17.sigmas_array())
    assert stats == reference_metrics[variant]["pycocotools"]


def test_areas_from_bbox_scales_are_cocometric_float32_products(records):
    predictions = KeypointPredictions.from_records(records)
    np.testing.assert_array_equal(predictions.areas, np.array([r["area_used"] for r in records], np.float32))
    np.testing.assert_array_equal(predictions.instance_ids, [r["id"] for r in records])


def _mmpose_bbox_keypoint_loop(keypoint_scores, bbox_score, thr):
    """CocoMetric's Python loop over float32 scalars, written out."""
    total, valid = 0, 0
    for s in keypoint_scores:
        if s > thr:
            total += s
            valid += 1
    if valid:
        total /= valid
    return bbox_score * total


def test_rescoring_matches_cocometric_loops(records):
    kps = np.array([r["keypoint_scores"] for r in records], np.float32)
    box = np.array([r["bbox_score"] for r in records], np.float32)
    kps[3] = 0.1  # no keypoint above the threshold -> 0
    got = rescore_instances(kps, box)
    want = [_mmpose_bbox_keypoint_loop(k, b, 0.2) for k, b in zip(kps, box)]
    assert got.dtype == np.float32 and got[3] == 0
    np.testing.assert_array_equal(got, np.array(want, np.float32))
    np.testing.assert_array_equal(rescore_instances(kps, box, score_mode="keypoint"),
                                  np.array([np.mean(k) for k in kps], np.float32))
    np.testing.assert_array_equal(rescore_instances(kps, box, score_mode="bbox"), box)
    # posekit.Poses implements the same rule (pairwise instead of sequential float32 sum)
    poses = Poses(np.zeros((len(kps), 17, 2)), kps, np.zeros((len(kps), 4)), coco17, box_scores=box)
    np.testing.assert_allclose(poses.instance_scores(), got, rtol=1e-6)


def test_duplicate_ids_keep_the_first_and_input_is_not_modified(records):
    kept = copy.deepcopy(records)
    dup = copy.deepcopy(records[0])
    dup["keypoints"] = (np.array(dup["keypoints"]) + 50).tolist()  # a different pose under the same id
    base = coco_keypoint_results(KeypointPredictions.from_records(records), nms_mode="none")
    with_dup = coco_keypoint_results(KeypointPredictions.from_records(records + [dup]), nms_mode="none")
    assert with_dup == base
    assert records == kept


def test_from_poses_areas_are_box_areas():
    kpts = np.random.default_rng(0).uniform(0, 100, (2, 17, 2))
    boxes = np.array([[0, 0, 10, 20], [5, 5, 45, 25]], np.float32)
    poses = Poses(kpts, np.full((2, 17), 0.5), boxes, coco17, box_scores=[0.9, 0.8])
    pred = KeypointPredictions.from_poses([(7, poses), (9, poses[1])])
    np.testing.assert_array_equal(pred.image_ids, [7, 7, 9])
    np.testing.assert_allclose(pred.areas, [200, 800, 800])
    np.testing.assert_allclose(pred.bbox_scores, [0.9, 0.8, 0.8])


# ------------------------------------------------------------------------------- OKS and AP worked by hand


SIGMAS3 = np.array([0.05, 0.08, 0.1])


def _toy_gt(*, with_area):
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10.0, 20.0, 60.0, 80.0],
           "keypoints": [20.0, 30.0, 2, 40.0, 50.0, 2, 60.0, 90.0, 1]}
    if with_area:
        ann["area"] = 3000.0
    return {"images": [{"id": 1, "width": 100, "height": 120}], "annotations": [ann],
            "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b", "c"], "skeleton": []}]}


def _toy_result(offsets):
    gt = np.array([[20.0, 30.0], [40.0, 50.0], [60.0, 90.0]])
    kpts = np.concatenate([gt + offsets, np.full((3, 1), 0.9)], axis=1)
    return [{"image_id": 1, "category_id": 1, "keypoints": kpts.reshape(-1).tolist(), "score": 0.8}]


def _expected_ap(offsets, area):
    d2 = (np.asarray(offsets) ** 2).sum(axis=1)
    oks = np.mean(np.exp(-d2 / (2 * SIGMAS3) ** 2 / (area + np.spacing(1)) / 2))
    thresholds = np.linspace(0.5, 0.95, 10)
    return float(np.mean(oks >= thresholds)), oks


@pytest.mark.parametrize("with_area,use_area", [(False, True), (True, True), (True, False)])
def test_single_match_ap_from_hand_computed_oks(with_area, use_area):
    offsets = np.array([[3.75, -2.5], [5.0, 6.25], [-7.5, 2.5]])
    area = 3000.0 if (with_area and use_area) else GT_AREA_FACTOR * 60 * 80  # 2544: the 0.53 * w * h fallback
    ap, oks = _expected_ap(offsets, area)
    assert 0.6 < oks < 0.9 and not np.any(np.isclose(oks, np.linspace(0.5, 0.95, 10), atol=1e-3))
    gt = _toy_gt(with_area=with_area)
    before = copy.deepcopy(gt)
    stats = coco_keypoint_eval(gt, _toy_result(offsets), sigmas=SIGMAS3, use_area=use_area)
    assert gt == before  # not modified
    assert stats["AP"] == pytest.approx(ap) and stats["AR"] == pytest.approx(ap)
    assert ap == (0.5 if area == 3000.0 else 0.4)  # OKS 0.714 with the GT area, 0.673 with 0.53 * w * h
    assert stats["AP .5"] == pytest.approx(1.0) and stats["AP .75"] == 0.0
    assert stats["AP (M)"] == pytest.approx(ap) and stats["AP (L)"] == -1  # 2544 or 3000 px^2: medium range


def test_reconstructed_val2017_without_area_scores_gt_as_perfect():
    path = shared_path("data", "coco", "person_keypoints_val2017_reconstructed.json")
    data = json.loads(path.read_text())
    assert not any("area" in a for a in data["annotations"])
    images = {img["id"] for img in data["images"][:60]}
    data["images"] = [img for img in data["images"] if img["id"] in images]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in images]
    results = []
    for a in data["annotations"]:
        k = np.array(a["keypoints"], float).reshape(17, 3)
        k[:, 2] = k[:, 2] > 0
        results.append({"image_id": a["image_id"], "category_id": 1, "keypoints": k.reshape(-1).tolist(),
                        "score": 1.0})
    stats = coco_keypoint_eval(data, results)
    assert stats["AP"] == 1.0 and stats["AR"] == 1.0 and stats["AP .5"] == 1.0


def test_results_handling_matches_xtcocotools(records, reference_metrics):
    results = json.loads(_eval_fixture("results_default.keypoints.json").read_text())
    extra = copy.deepcopy(results)
    for r in extra:
        r["bbox"] = [0.0, 0.0, 1.0, 1.0]  # ignored: the detection area is the keypoints' extent
    zero = copy.deepcopy(results[0])
    zero["keypoints"][2::3] = [0.0] * 17  # no positive keypoint score: dropped, as xtcocotools does
    zero["score"] = 1.0
    stats = coco_keypoint_eval(_gt_path(), extra + [zero])
    assert stats == reference_metrics["default"]["cocometric"]


def test_no_results_gives_zero():
    stats = coco_keypoint_eval(_gt_path(), [])
    assert stats["AP"] == 0.0 and stats["AR"] == 0.0


# ------------------------------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors(records):
    good = _toy_result(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"sigmas must have shape \(3,\)"):
        coco_keypoint_eval(_toy_gt(with_area=True), good)  # COCO's 17 sigmas for a 3-keypoint GT
    with pytest.raises(ValueError, match=r"results\[0\]\['image_id'\] = 5 is not an image"):
        coco_keypoint_eval(_toy_gt(with_area=True), [dict(good[0], image_id=5)], sigmas=SIGMAS3)
    with pytest.raises(ValueError, match=r"must have 3 x 3 = 9 values, got 6"):
        coco_keypoint_eval(_toy_gt(with_area=True), [dict(good[0], keypoints=[1.0] * 6)], sigmas=SIGMAS3)
    no_box = _toy_gt(with_area=True)
    del no_box["annotations"][0]["bbox"]
    with pytest.raises(ValueError, match=r"annotations\[0\] needs a 'bbox'"):
        coco_keypoint_eval(no_box, good, sigmas=SIGMAS3)
    predictions = KeypointPredictions.from_records(records)
    with pytest.raises(ValueError, match="score_mode must be one of"):
        coco_keypoint_results(predictions, score_mode="mean")
    with pytest.raises(ValueError, match="nms_mode must be one of"):
        coco_keypoint_results(predictions, nms_mode="nms")
    with pytest.raises(ValueError, match=r"keypoint_scores must have shape \(2, 17\), got \(2, 16\)"):
        KeypointPredictions(image_ids=[1, 2], keypoints=np.zeros((2, 17, 2)), keypoint_scores=np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"keypoints must have shape \(N, K, 2\), got \(3, 17\)"):
        KeypointPredictions(image_ids=[1, 2, 3], keypoints=np.zeros((3, 17)), keypoint_scores=np.zeros((3, 17)))


def test_any_skeleton_with_its_sigmas():
    skeleton = Skeleton("tri", ("a", "b", "c"), ((0, 1), (1, 2)), sigmas=tuple(SIGMAS3))
    offsets = np.array([[3.75, -2.5], [5.0, 6.25], [-7.5, 2.5]])
    keypoints = np.array([[20.0, 30.0], [40.0, 50.0], [60.0, 90.0]]) + offsets
    predictions = KeypointPredictions(image_ids=[1], keypoints=[keypoints], keypoint_scores=[[0.9, 0.9, 0.9]])
    stats = coco_metric(_toy_gt(with_area=True), predictions, sigmas=skeleton.sigmas_array())
    assert stats["AP"] == pytest.approx(_expected_ap(offsets, 3000.0)[0]) == pytest.approx(0.5)
