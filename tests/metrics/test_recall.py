"""Person recall: GT people found by OKS, one prediction each, on the COCO annotations of the OpenPose examples
(the GT poses themselves, moved, as predictions)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.metrics.recall import PersonRecall, person_recall
from posekit.skeletons import coco17
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def image_241():
    """The 5 annotations of COCO image 241 (3 people with >= 5 labelled keypoints first, then 2 with 2-3)."""
    data = json.loads(shared_path("data", "coco", "openpose_examples_keypoints.json").read_text())
    (image,) = [im for im in data["images"] if im["file_name"].endswith("000000000241.jpg")]
    anns = sorted((a for a in data["annotations"] if a["image_id"] == image["id"]), key=lambda a: -a["num_keypoints"])
    assert [a["num_keypoints"] >= 5 for a in anns] == [True] * 3 + [False] * 2
    return anns


def _poses(anns, shift=0.0):
    """(N, 17, 2) predictions: the GT keypoints (unlabelled ones at 0, as COCO stores them), shifted."""
    return np.stack([np.asarray(a["keypoints"], float).reshape(17, 3)[:, :2] + shift for a in anns])


def test_the_ground_truth_finds_every_person_once(image_241):
    people = image_241[:3]
    assert person_recall(_poses(people), image_241, coco17.sigmas) == PersonRecall(3, 3, 0)
    twice = np.concatenate([_poses(people), _poses(people)])  # each person predicted twice
    assert person_recall(twice, image_241, coco17.sigmas) == PersonRecall(3, 3, 3)
    # the two people with 2-3 labelled keypoints are not counted, and a prediction on them stays unmatched
    assert person_recall(_poses(image_241), image_241, coco17.sigmas) == PersonRecall(3, 3, 2)


def test_a_far_or_missing_prediction_finds_nobody(image_241):
    far = _poses(image_241[:1], shift=500.0)
    assert person_recall(far, image_241, coco17.sigmas) == PersonRecall(3, 0, 1)
    nan = np.full((1, 17, 2), np.nan)  # NaN keypoints count as far away, not as left out
    assert person_recall(nan, image_241, coco17.sigmas) == PersonRecall(3, 0, 1)
    assert person_recall(np.zeros((0, 17, 2)), image_241, coco17.sigmas) == PersonRecall(3, 0, 0)


def test_threshold_min_keypoints_and_sums(image_241):
    near = _poses(image_241[:3], shift=4.0)  # a few pixels off: OKS between 0.5 and 1
    strict = person_recall(near, image_241, coco17.sigmas, threshold=0.999)
    assert strict.found < 3 and strict.found + strict.unmatched == 3
    assert person_recall(near, image_241, coco17.sigmas, min_keypoints=18) == PersonRecall(0, 0, 3)
    assert PersonRecall(3, 2, 1) + PersonRecall(1, 1, 0) == PersonRecall(4, 3, 1)
    with pytest.raises(ValueError, match=r"keypoints must have shape \(N, 17, 2\)"):
        person_recall(np.zeros((1, 5, 2)), image_241, coco17.sigmas)
