"""posekit.metrics.wholebody: MMPose CocoWholeBodyMetric parity per part (fixtures/wholebody_metric), AP-10K with
CocoMetric through posekit.metrics.coco, per-part GT ignore and detection area by hand, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.metrics.coco import (
    STAT_NAMES,
    KeypointPredictions,
    coco_keypoint_eval,
    coco_keypoint_results,
)
from posekit.metrics.wholebody import (
    WHOLEBODY_FIELDS,
    WHOLEBODY_PARTS,
    coco_wholebody_eval,
    coco_wholebody_metric,
    coco_wholebody_results,
)
from posekit.skeletons import ap10k17, coco_wholebody133
from tests.conftest import shared_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wholebody_metric"
METRICS = json.loads((FIXTURES / "metrics.json").read_text())
MMPOSE_PART = {"left_hand": "lefthand", "right_hand": "righthand"}  # MMPose's iouType names
SCORE_TOL = 1e-6  # MMPose under NumPy 1.26 sums bbox_keypoint scores in float64, posekit (= NumPy 2) in float32


def _data(*parts):
    return shared_path("data", "mmpose_testdata", "tests", "data", *parts)


def _predictions(case: str) -> KeypointPredictions:
    z = np.load(FIXTURES / f"{case}.npz")
    return KeypointPredictions(
        image_ids=z["img_ids"], keypoints=z["keypoints"], keypoint_scores=z["keypoint_scores"],
        bbox_scores=z["bbox_scores"], areas=np.prod(z["bbox_scales"], axis=1), instance_ids=z["ids"],
    )


def _expected_parts(case: str) -> dict[str, dict[str, float]]:
    parts = METRICS["wholebody"][case]["parts"]
    return {part: parts[MMPOSE_PART.get(part, part)] for part in WHOLEBODY_PARTS}


def _assert_same_results(ours: list[dict], theirs: list[dict]) -> None:
    """Same instances in the same order, keypoints bit for bit, scores within SCORE_TOL."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert set(a) == set(b)
        assert {k: v for k, v in a.items() if k != "score"} == {k: v for k, v in b.items() if k != "score"}
        assert a["score"] == pytest.approx(b["score"], abs=SCORE_TOL)


# ------------------------------------------------------------------------------------------- MMPose parity


@pytest.mark.parametrize("case", list(METRICS["wholebody"]))
def test_wholebody_eval_parity_on_mmpose_results_file(case):
    """The results file MMPose's CocoWholeBodyMetric wrote, scored per part: the six xtcocotools runs' stats."""
    use_area = METRICS["wholebody"][case]["kwargs"].get("use_area", True)
    stats = coco_wholebody_eval(_data("coco", "test_coco_wholebody.json"),
                                FIXTURES / f"wholebody_{case}.keypoints.json", use_area=use_area)
    assert list(stats) == list(WHOLEBODY_PARTS)
    assert all(list(s) == list(STAT_NAMES) for s in stats.values())
    assert stats == _expected_parts(case)  # observed difference 0 for every part and stat
    returned = METRICS["wholebody"][case]["returned"]  # what the metric itself returned: the wholebody run
    assert {f"coco-wholebody/{k}": v for k, v in stats["wholebody"].items()} == returned


@pytest.mark.parametrize("case", list(METRICS["wholebody"]))
def test_wholebody_metric_parity_end_to_end(case, tmp_path):
    kwargs = METRICS["wholebody"][case]["kwargs"]
    predictions = _predictions(f"wholebody_{case}")
    expected_results = json.loads((FIXTURES / f"wholebody_{case}.keypoints.json").read_text())
    results = coco_wholebody_results(predictions, **{k: v for k, v in kwargs.items() if k != "use_area"})
    _assert_same_results(results, expected_results)

    out = tmp_path / "out" / "wholebody.keypoints.json"
    stats = coco_wholebody_metric(_data("coco", "test_coco_wholebody.json"), predictions, **kwargs, results_file=out)
    assert json.loads(out.read_text()) == results
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # atomic write: no temporary file left
    assert stats == _expected_parts(case)
    assert coco_wholebody_eval(_data("coco", "test_coco_wholebody.json"), out,
                               use_area=kwargs.get("use_area", True)) == stats


def test_flat_133_results_equal_split_results():
    split = json.loads((FIXTURES / "wholebody_noisy.keypoints.json").read_text())
    flat = [{"image_id": r["image_id"], "category_id": 1, "score": r["score"],
             "keypoints": [v for _, field, *_ in WHOLEBODY_FIELDS for v in r[field]]} for r in split]
    assert len(flat[0]["keypoints"]) == 3 * 133
    gt = _data("coco", "test_coco_wholebody.json")
    before = copy.deepcopy(flat)
    assert coco_wholebody_eval(gt, flat) == _expected_parts("noisy")
    assert flat == before  # inputs not modified


def test_parts_match_the_skeleton():
    names = coco_wholebody133.keypoints
    assert [names[a] for _, _, a, _ in WHOLEBODY_FIELDS] == ["nose", names[17], names[23], names[91], names[112]]
    assert [b for *_, b in WHOLEBODY_FIELDS] == [17, 23, 91, 112, 133]
    assert names[91].startswith("left_hand") and names[112].startswith("right_hand")


@pytest.mark.parametrize("case", list(METRICS["ap10k"]))
def test_ap10k_parity_through_coco_keypoint_eval(case):
    """AP-10K is COCO keypoint evaluation with AP-10K's sigmas and per-result categories: CocoMetric's numbers."""
    entry = METRICS["ap10k"][case]
    results_file = FIXTURES / f"ap10k_{case}.keypoints.json"
    gt = _data("ap10k", "test_ap10k.json")
    stats = coco_keypoint_eval(gt, results_file, sigmas=ap10k17.sigmas_array())
    assert stats == entry["stats"]
    assert {f"coco/{k}": v for k, v in stats.items()} == entry["returned"]
    # the pipeline in front of it (rescoring, OKS-NMS with AP-10K sigmas, order, values): MMPose's results file
    # except category_id, which KeypointPredictions does not carry (AP-10K has one category per species)
    kwargs = entry["kwargs"]
    ours = coco_keypoint_results(_predictions(f"ap10k_{case}"), sigmas=ap10k17.sigmas_array(), **kwargs)
    theirs = json.loads(results_file.read_text())
    _assert_same_results([dict(r, category_id=0) for r in ours], [dict(r, category_id=0) for r in theirs])


# ------------------------------------------------------------------------------------- semantics by hand


def _one_person_gt(area: float = 5000.0) -> dict:
    """One GT person (medium area) with every part visible except the left hand."""
    rng = np.random.default_rng(0)
    kpts = np.concatenate([rng.uniform(100, 170, (133, 2)), np.full((133, 1), 2.0)], axis=1)
    kpts[91:112] = 0.0  # no labelled left hand
    ann = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [100.0, 100.0, 70.0, 70.0],
           "area": area}
    for _, field, a, b in WHOLEBODY_FIELDS:
        ann[field] = kpts[a:b].reshape(-1).tolist()
    return {"images": [{"id": 1, "width": 640, "height": 480}], "annotations": [ann],
            "categories": [{"id": 1, "name": "person", "keypoints": list(coco_wholebody133.keypoints[:17])}]}


def _result_from_gt(gt: dict, score: float, shift: float = 0.0) -> dict:
    ann = gt["annotations"][0]
    kpts = np.concatenate([np.asarray(ann[f], float).reshape(-1, 3) for _, f, *_ in WHOLEBODY_FIELDS])
    kpts[:, :2] += shift
    kpts[:, 2] = 0.9
    return {"image_id": 1, "category_id": 1, "keypoints": kpts.reshape(-1).tolist(), "score": score}


def test_part_without_visible_gt_is_ignored_in_that_part_only():
    gt = _one_person_gt()
    stats = coco_wholebody_eval(gt, [_result_from_gt(gt, 0.9)])
    assert stats["left_hand"]["AP"] == -1.0 and stats["left_hand"]["AR"] == -1.0  # the only GT is ignored there
    for part in ("body", "foot", "face", "right_hand", "wholebody"):
        assert stats[part]["AP"] == pytest.approx(1.0) and stats[part]["AP (M)"] == pytest.approx(1.0)
        assert stats[part]["AP (L)"] == -1.0


def test_no_results_and_gt_dict_not_modified():
    gt = _one_person_gt()
    before = copy.deepcopy(gt)
    stats = coco_wholebody_eval(gt, [])
    assert gt == before
    assert stats["left_hand"]["AP"] == -1.0
    assert all(stats[part]["AP"] == 0.0 and stats[part]["AR"] == 0.0 for part in WHOLEBODY_PARTS if part != "left_hand")


def test_unmatched_detection_area_is_the_body_extent_for_every_part():
    """A higher-scored false positive far away: its right hand spans < 32^2 px^2, but xtcocotools takes the area of
    its body keypoints (medium), so it is a false positive in the medium range too: AP (M) = 0.5, not 1."""
    gt = _one_person_gt()
    fp = _result_from_gt(gt, 0.95, shift=300.0)
    hand = np.asarray(fp["keypoints"], float).reshape(133, 3)[112:133]
    hand[:, :2] = hand[:1, :2] + np.random.default_rng(1).uniform(0, 20, (21, 2))  # a 20 x 20 px hand
    fp["keypoints"] = np.concatenate([np.asarray(fp["keypoints"]).reshape(133, 3)[:112], hand]).reshape(-1).tolist()
    stats = coco_wholebody_eval(gt, [fp, _result_from_gt(gt, 0.9)])
    assert stats["right_hand"]["AP"] == pytest.approx(0.5)
    assert stats["right_hand"]["AP (M)"] == pytest.approx(0.5)


def test_detection_without_positive_part_score_is_dropped_for_that_part():
    gt = _one_person_gt()
    fp = _result_from_gt(gt, 0.95, shift=300.0)
    kpts = np.asarray(fp["keypoints"]).reshape(133, 3)
    kpts[17:23, 2] = 0.0  # no foot scores: not a foot detection, still a false positive elsewhere
    fp["keypoints"] = kpts.reshape(-1).tolist()
    stats = coco_wholebody_eval(gt, [fp, _result_from_gt(gt, 0.9)])
    assert stats["foot"]["AP"] == pytest.approx(1.0)
    assert stats["body"]["AP"] == pytest.approx(0.5)


def test_nan_result_keypoints_are_missing_keypoints():
    gt = _one_person_gt()
    res = _result_from_gt(gt, 0.9)
    kpts = np.asarray(res["keypoints"]).reshape(133, 3)
    kpts[[3, 50, 120]] = 0.0
    with_nan = np.asarray(res["keypoints"]).reshape(133, 3)
    with_nan[[3, 50, 120]] = np.nan
    zeros = dict(res, keypoints=kpts.reshape(-1).tolist())
    nans = dict(res, keypoints=with_nan.reshape(-1).tolist())
    assert coco_wholebody_eval(gt, [nans]) == coco_wholebody_eval(gt, [zeros])


# ------------------------------------------------------------------------------------------------ bad input


def test_gt_without_wholebody_fields():
    with pytest.raises(ValueError, match=r"annotations\[0\] lacks \['foot_kpts', 'face_kpts', 'lefthand_kpts', "
                                         r"'righthand_kpts'\].*COCO-WholeBody"):
        coco_wholebody_eval(_data("coco", "test_coco.json"), [])


def test_gt_with_bad_part_length_or_nan():
    gt = _one_person_gt()
    gt["annotations"][0]["face_kpts"] = gt["annotations"][0]["face_kpts"][:-3]
    with pytest.raises(ValueError, match=r"gt: annotations\[0\]\['face_kpts'\] must have 3 x 68 = 204 values, got 201"):
        coco_wholebody_eval(gt, [])
    gt = _one_person_gt()
    gt["annotations"][0]["foot_kpts"][4] = float("nan")
    with pytest.raises(ValueError, match=r"annotations\[0\]\['foot_kpts'\] holds NaN"):
        coco_wholebody_eval(gt, [])


def test_results_with_wrong_keypoint_count():
    gt = _one_person_gt()
    res = _result_from_gt(gt, 0.9)
    with pytest.raises(ValueError, match=r"results\[0\]\['keypoints'\] must have 3 x 133 = 399 values .*got 51"):
        coco_wholebody_eval(gt, [dict(res, keypoints=res["keypoints"][:51])])
    split = {"image_id": 1, "score": 0.9, "keypoints": res["keypoints"][:51], "foot_kpts": res["keypoints"][51:69],
             "face_kpts": res["keypoints"][69:273], "lefthand_kpts": res["keypoints"][273:336],
             "righthand_kpts": res["keypoints"][336:396]}
    with pytest.raises(ValueError, match=r"results\[0\]\['righthand_kpts'\] must have 3 x 21 = 63 values, got 60"):
        coco_wholebody_eval(gt, [split])
    del split["face_kpts"]
    with pytest.raises(ValueError, match=r"results\[0\] has .* but not \['face_kpts'\]"):
        coco_wholebody_eval(gt, [split])
    predictions = KeypointPredictions(image_ids=[1], keypoints=np.zeros((1, 17, 2)), keypoint_scores=np.ones((1, 17)))
    with pytest.raises(ValueError, match="need 133 keypoints per instance .*got 17"):
        coco_wholebody_metric(gt, predictions)


def test_results_with_non_finite_values():
    gt = _one_person_gt()
    res = _result_from_gt(gt, 0.9)
    bad = list(res["keypoints"])
    bad[3 * 40] = float("inf")
    with pytest.raises(ValueError, match=r"results\[0\]\['keypoints'\] holds infinite values \(keypoint 40\)"):
        coco_wholebody_eval(gt, [dict(res, keypoints=bad)])
    scores = np.full((2, 133), 0.9, np.float32)
    scores[1, 7] = np.nan
    predictions = KeypointPredictions(image_ids=[1, 1], keypoints=np.zeros((2, 133, 2)), keypoint_scores=scores)
    with pytest.raises(ValueError, match=r"predictions.keypoint_scores holds NaN or infinite values \(instance 1\)"):
        coco_wholebody_metric(gt, predictions)


def test_results_for_unknown_image(tmp_path):
    gt = _one_person_gt()
    with pytest.raises(ValueError, match=r"results\[0\]\['image_id'\] = 7 is not an image of the GT file"):
        coco_wholebody_eval(gt, [dict(_result_from_gt(gt, 0.9), image_id=7)])
    path = tmp_path / "res.json"
    path.write_text(json.dumps([dict(_result_from_gt(gt, 0.9), image_id=7)]))
    with pytest.raises(ValueError, match=r"results file .*res.json.*: record\[0\]\['image_id'\] = 7"):
        coco_wholebody_eval(gt, path)
    with pytest.raises(FileNotFoundError):
        coco_wholebody_eval(gt, tmp_path / "absent.json")


def test_bad_sigmas():
    with pytest.raises(ValueError, match=r"sigmas must have shape \(133,\)"):
        coco_wholebody_eval(_one_person_gt(), [], sigmas=ap10k17.sigmas_array())
