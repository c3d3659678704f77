"""``posekit eval`` on COCO-WholeBody (133 keypoints, per-part AP/AR) and AP-10K (animals, one category per species)
with MMPose's test annotations and images.

Scoring: predictions made from the loaded GT go through :func:`posekit.eval.score_predictions` (the function the
runner uses) and are checked against :mod:`posekit.metrics` called directly on the written results file. End to
end: the CLI with the real networks on seeded random weights saved as official checkpoints (accuracy is not the
point, the pipeline is).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import posekit
from posekit.eval import load_eval_set, score_predictions, skeleton_mapping
from posekit.metrics.coco import STAT_NAMES, coco_keypoint_eval
from posekit.metrics.wholebody import (
    WHOLEBODY_FIELDS,
    WHOLEBODY_PARTS,
    coco_wholebody_eval,
)
from posekit.skeletons import (
    ap10k17,
    blazepose33,
    coco17,
    coco_wholebody133,
    hand21,
    lsp14,
)
from tests.conftest import shared_path

TESTDATA = ("data", "mmpose_testdata", "tests", "data")
SPLIT_FIELDS = [field for _, field, *_ in WHOLEBODY_FIELDS]


def _set(name: str, ann: str):
    folder = shared_path(*TESTDATA, name)
    return load_eval_set("coco", ann=folder / ann, images=folder)


@pytest.fixture(scope="module")
def wholebody():
    return _set("coco", "test_coco_wholebody.json")


@pytest.fixture(scope="module")
def ap10k():
    return _set("ap10k", "test_ap10k.json")


def _records(eval_set, *, project=None, gt_boxes: bool = True, noise: float = 0.0) -> list[dict]:
    """Prediction-file records (as ``read_predictions`` returns them) holding each loaded GT instance: labelled joints
    at their GT position (+ seeded noise, px) with score 1, the others missing with score 0; ``project`` maps the
    (K, 2) GT to the model's skeleton. ``gt_boxes=False``: no owner (detector / file boxes)."""
    rng = np.random.default_rng(0)
    out = []
    for path, ix in eval_set.images:
        insts = []
        for i in ix:
            s = eval_set.samples[i]
            kp = s.keypoints + rng.normal(0, noise, s.keypoints.shape) if noise else s.keypoints
            sc = np.isfinite(s.keypoints).all(axis=1).astype(float)
            if project is not None:
                kp, sc = project(kp, sc)
            insts.append({"sample": i if gt_boxes else None, "box": s.box.tolist(), "box_score": 1.0,
                          "keypoints": kp.tolist(), "scores": sc.tolist()})
        out.append({"image": str(path), "instances": insts})
    return out


def _inverse(m):
    """``m``'s pairs reversed: (K_dataset, 2) GT -> the model skeleton's (K_model, 2), unmapped joints missing."""
    def project(kp, sc):
        out, scores = np.full((m.source.num_keypoints, 2), np.nan), np.zeros(m.source.num_keypoints)
        for s, d in m.pairs:
            out[s], scores[s] = kp[d], sc[d]
        return out, scores
    return project


# --------------------------------------------------------------------------------------------- scoring


def test_wholebody_perfect_predictions_score_one_per_part_and_equal_the_metric(wholebody, tmp_path):
    assert wholebody.skeleton == coco_wholebody133
    results_file = tmp_path / "results.json"
    scored = score_predictions(wholebody, _records(wholebody), model_skeleton=coco_wholebody133,
                               results_file=results_file)
    wb = scored["metrics"]["coco_wholebody"]
    assert list(wb["parts"]) == list(WHOLEBODY_PARTS) and wb["not_predicted"] == {}
    for part, stats in wb["parts"].items():
        assert list(stats) == list(STAT_NAMES)
        assert stats["AP"] == 1.0 and stats["AR"] == 1.0, part
    coco = scored["metrics"]["coco"]
    assert coco["part"] == "wholebody" and coco["stats"] == wb["parts"]["wholebody"]

    # results file: MMPose's split fields; the metric on it (all evaluated images) gives the same numbers
    results = json.loads(results_file.read_text())
    assert len(results) == 12 and all(set(SPLIT_FIELDS) <= set(r) for r in results)
    assert [len(results[0][f]) for f in SPLIT_FIELDS] == [51, 18, 204, 63, 63]
    assert coco_wholebody_eval(wholebody.ann, results_file) == wb["parts"]


def test_wholebody_noisy_predictions_equal_the_metric_on_the_subset(wholebody, tmp_path):
    """--limit 2: GT of the two evaluated images only; numbers below 1 and exactly the metric's."""
    sub = load_eval_set("coco", ann=wholebody.ann, images=wholebody.ann.parent, limit=2)
    results_file = tmp_path / "results.json"
    scored = score_predictions(sub, _records(sub, noise=4.0), model_skeleton=coco_wholebody133,
                               results_file=results_file)
    parts = scored["metrics"]["coco_wholebody"]["parts"]
    data = json.loads(sub.ann.read_text())
    ids = {sub.samples[ix[0]].image_id for _, ix in sub.images}
    gt = dict(data, images=[im for im in data["images"] if im["id"] in ids],
              annotations=[a for a in data["annotations"] if a["image_id"] in ids])
    assert parts == coco_wholebody_eval(gt, results_file)
    assert parts["face"]["AP"] < 1.0  # 4 px of noise on faces with small sigmas
    assert scored["counts"]["images_evaluated"] == 2


def test_body_only_models_on_wholebody_score_the_body_and_report_the_rest(wholebody, tmp_path):
    m, route = skeleton_mapping(coco17, coco_wholebody133)
    assert route == "coco17 -> coco_wholebody133 (inverse of coco_wholebody133 -> coco17)"
    assert sorted(d for _, d in m.pairs) == list(range(17))
    results_file = tmp_path / "results.json"
    scored = score_predictions(wholebody, _records(wholebody, project=_inverse(m)), model_skeleton=coco17,
                               results_file=results_file)
    wb = scored["metrics"]["coco_wholebody"]
    assert wb["parts"]["body"]["AP"] == 1.0
    assert [p for p, s in wb["parts"].items() if s is None] == ["foot", "face", "left_hand", "right_hand",
                                                               "wholebody"]
    assert wb["not_predicted"]["face"] == "0 of 68 keypoints predicted"
    assert wb["not_predicted"]["wholebody"] == "17 of 133 keypoints predicted"
    assert scored["metrics"]["coco"]["part"] == "body"
    assert scored["metrics"]["coco"]["stats"] == wb["parts"]["body"]
    assert len(scored["skeleton"]["unmapped"]) == 116
    assert coco_wholebody_eval(wholebody.ann, results_file)["body"] == wb["parts"]["body"]

    # BlazePose: the inverse of its whole-body mapping (body, heels, eye / mouth corners, two knuckles per hand)
    m, route = skeleton_mapping(blazepose33, coco_wholebody133)
    assert route == "blazepose33 -> coco_wholebody133 (inverse of coco_wholebody133 -> blazepose33)"
    scored = score_predictions(wholebody, _records(wholebody, project=_inverse(m)), model_skeleton=blazepose33)
    wb = scored["metrics"]["coco_wholebody"]
    assert wb["parts"]["body"]["AP"] == 1.0
    assert wb["not_predicted"] == {"foot": "2 of 6 keypoints predicted", "face": "6 of 68 keypoints predicted",
                                   "left_hand": "2 of 21 keypoints predicted",
                                   "right_hand": "2 of 21 keypoints predicted",
                                   "wholebody": "29 of 133 keypoints predicted"}
    # through coco17 and an inverse; a hand model maps to no one part unambiguously
    assert skeleton_mapping(lsp14, coco_wholebody133)[1] == ("lsp14 -> coco17 -> coco_wholebody133 "
                                                             "(inverse of coco_wholebody133 -> coco17)")
    with pytest.raises(ValueError, match="no keypoint mapping from the model's skeleton 'hand21'"):
        skeleton_mapping(hand21, coco_wholebody133)
    with pytest.raises(ValueError, match="ambiguous: use one of posekit.skeletons.COCO_WHOLEBODY133_TO_HAND21_LEFT"):
        skeleton_mapping(coco_wholebody133, hand21)  # a whole-body model on a hand set: which hand is the caller's


def test_ap10k_uses_ap10k_sigmas_and_the_gt_categories(ap10k, tmp_path):
    assert ap10k.skeleton == ap10k17
    results_file = tmp_path / "results.json"
    perfect = score_predictions(ap10k, _records(ap10k), model_skeleton=ap10k17, results_file=results_file)
    assert perfect["metrics"]["coco"]["stats"]["AP"] == pytest.approx(1.0)
    cats = {r["image_id"]: r["category_id"] for r in json.loads(results_file.read_text())}
    data = json.loads(ap10k.ann.read_text())
    assert cats == {a["image_id"]: a["category_id"] for a in data["annotations"]}  # 26 and 1, as MMPose writes

    # noisy (40 px: AP-10K sigmas are COCO's in another order): pycocotools with AP-10K's, not COCO's
    noisy = score_predictions(ap10k, _records(ap10k, noise=40.0), model_skeleton=ap10k17,
                              results_file=results_file)["metrics"]["coco"]["stats"]
    assert noisy == coco_keypoint_eval(ap10k.ann, results_file, sigmas=ap10k17.sigmas_array())
    assert noisy != coco_keypoint_eval(ap10k.ann, results_file, sigmas=coco17.sigmas_array())

    # detector / file boxes carry no category: the two species are scored as one
    agnostic = score_predictions(ap10k, _records(ap10k, gt_boxes=False), model_skeleton=ap10k17)["metrics"]["coco"]
    assert agnostic["stats"]["AP"] == pytest.approx(1.0) and "class-agnostic" in agnostic["note"]


# ------------------------------------------------------------------------------------------------- CLI


def _checkpoint(folder: Path, name: str) -> Path:
    torch.manual_seed(0)
    path = folder / f"{name}.pth"
    torch.save({"meta": {}, "state_dict": posekit.create_model(name).state_dict()}, path)
    return path


def _eval(tmp_path: Path, dataset: str, ann: str, model: str) -> tuple[str, dict]:
    from posekit.cli import app

    folder = shared_path(*TESTDATA, dataset)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "eval", "--dataset", "coco", "--ann", str(folder / ann), "--images", str(folder), "--model", model,
        "--weights", str(_checkpoint(tmp_path, model)), "--boxes", "gt", "--limit", "2", "--no-flip",
        "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "report.json").read_text())


def test_cli_wholebody_dwpose_reports_every_part(tmp_path):
    output, report = _eval(tmp_path, "coco", "test_coco_wholebody.json", "dwpose_m_wholebody_256x192")
    assert report["skeleton"]["mapping"] == "coco_wholebody133 -> coco_wholebody133"
    assert report["counts"]["images_evaluated"] == 2 and report["counts"]["samples_evaluated"] == 3
    parts = report["metrics"]["coco_wholebody"]["parts"]
    assert list(parts) == list(WHOLEBODY_PARTS)
    assert all(list(stats) == list(STAT_NAMES) for stats in parts.values())
    assert report["metrics"]["coco"]["part"] == "wholebody"
    for part in ("body", "foot", "face", "left_hand", "right_hand", "wholebody"):
        assert f"COCO-WholeBody {part}" in output
    results = json.loads(Path(report["files"]["results"]).read_text())
    assert len(results) == 3 and all(set(SPLIT_FIELDS) <= set(r) for r in results)


def test_cli_ap10k_rtmpose(tmp_path):
    output, report = _eval(tmp_path, "ap10k", "test_ap10k.json", "rtmpose_m_ap10k_256x256")
    assert report["skeleton"]["mapping"] == "ap10k17 -> ap10k17"
    assert report["counts"]["images_evaluated"] == 2
    stats = report["metrics"]["coco"]["stats"]
    assert list(stats) == list(STAT_NAMES) and "COCO keypoints (pycocotools): AP" in output
    results = Path(report["files"]["results"])
    assert stats == coco_keypoint_eval(shared_path(*TESTDATA, "ap10k", "test_ap10k.json"), results,
                                       sigmas=ap10k17.sigmas_array())
