"""``load_eval_set("posetrack18")`` on MMPose's real PoseTrack18 test frames (3 frames of 3 videos, 14 persons)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.eval import EVAL_DATASETS, load_eval_set
from tests.conftest import shared_path

ROOT = ("data", "mmpose_testdata", "tests", "data", "posetrack18")


def _counts(eval_set) -> dict[str, int]:
    return {p.parent.name: len(ix) for p, ix in eval_set.images}


@pytest.mark.parametrize("ann", [("annotations", "test_posetrack18_val.json"), ("annotations", "val")])
def test_posetrack18_loads_every_person_and_frame(ann):
    root = shared_path(*ROOT)
    raw = json.loads((root / "annotations" / "test_posetrack18_val.json").read_text())
    es = load_eval_set("posetrack18", ann=root.joinpath(*ann))  # images: the root above annotations/ by default
    assert "posetrack18" in EVAL_DATASETS and es.dataset == "posetrack18"
    assert len(es.samples) == len(raw["annotations"]) == 14 and es.report.num_loaded == 14
    assert len(es.images) == len(raw["images"]) == 3
    assert _counts(es) == {"012834_mpii_test": 11, "009473_mpii_test": 2, "003418_mpii_test": 1}
    assert all(p.is_file() and p.is_relative_to(root / "images" / "val") for p, _ in es.images)
    assert es.skeleton.name == "posetrack18" and es.skeleton.keypoints[:3] == ("nose", "head_bottom", "head_top")
    # keypoints as annotated: the first person of video 012834 (nose at (401, 530); ears unlabelled -> NaN)
    first = next(s for s in es.samples if s.meta["video_id"] == "012834" and s.meta["track_id"] == 0)
    np.testing.assert_allclose(first.keypoints[0], [401, 530])
    assert np.isnan(first.keypoints[3]).all() and np.isnan(first.keypoints[4]).all()
    np.testing.assert_allclose(first.box, [322.3, 488.60029, 322.3 + 166.4, 488.60029 + 186.408368], atol=1e-3)


def test_posetrack18_images_and_limit():
    root = shared_path(*ROOT)
    ann = root / "annotations" / "test_posetrack18_val.json"
    same = load_eval_set("posetrack18", ann=ann, images=root)
    assert [p for p, _ in same.images] == [p for p, _ in load_eval_set("posetrack18", ann=ann).images]
    one = load_eval_set("posetrack18", ann=ann, limit=1)
    assert len(one.images) == 1 and len(one.samples) == 14  # limit cuts images, not the loaded annotations


def test_posetrack18_root_not_found_is_a_clear_error(tmp_path: Path):
    root = shared_path(*ROOT)
    copy = tmp_path / "pt.json"
    copy.write_text((root / "annotations" / "test_posetrack18_val.json").read_text())
    with pytest.raises(ValueError, match="not under an 'annotations' folder"):
        load_eval_set("posetrack18", ann=copy)
    wrong = load_eval_set("posetrack18", ann=copy, images=tmp_path)  # a wrong root: every record's image missing
    assert not wrong.images and {s.reason for s in wrong.report.skipped} == {"missing_image"}


@pytest.mark.skipif(not hasattr(sk, "posetrack18"), reason="needs the posetrack18 skeleton table and its COCO-17 "
                                                           "mapping in posekit.skeletons")
def test_posekit_eval_posetrack18_through_the_runner(tmp_path: Path):
    """``posekit eval --dataset posetrack18`` end to end: COCO-style AP over the joints the model maps to."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from posekit.eval import run_evaluation

    root = shared_path(*ROOT)
    ann = root / "annotations" / "test_posetrack18_val.json"
    report = run_evaluation(model="movenet_lightning", dataset="posetrack18", ann=ann, images=None, out=tmp_path,
                            boxes="gt", progress=False)
    assert report["counts"]["images_evaluated"] == 3 and report["counts"]["samples_evaluated"] == 14
    assert report["skeleton"]["unmapped"] == ["head_bottom", "head_top"]
    ap = report["metrics"]["coco"]["stats"]["AP"]
    # independent AP: pycocotools on the written results, GT head_bottom/head_top unlabelled (no model predicts them)
    gt = json.loads(ann.read_text())
    for a in gt["annotations"]:
        a["keypoints"][3:9] = [0] * 6
        a["num_keypoints"] = sum(v > 0 for v in a["keypoints"][2::3])
        a["area"] = 0.53 * a["bbox"][2] * a["bbox"][3]  # PoseTrack has no area: posekit.metrics.coco's rule
    coco = COCO()
    coco.dataset = gt
    coco.createIndex()
    results = json.loads(Path(report["files"]["results"]).read_text())
    ev = COCOeval(coco, coco.loadRes(results), "keypoints")
    ev.params.kpt_oks_sigmas = np.asarray(sk.posetrack18.sigmas)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert 0.0 < ap <= 1.0
    assert ap == pytest.approx(ev.stats[0], abs=1e-9)  # results.json holds the rescored, OKS-NMS'd results
