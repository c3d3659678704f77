"""Person recall: how many ground-truth people a set of predicted poses finds, and how many predictions are left.

A summary that AP hides: AP rewards a good pose for each person found and hardly penalises a person never found.
Here a GT person (with at least ``min_keypoints`` labelled keypoints) is *found* when a prediction has COCO OKS
above ``threshold`` with it (GT box area as the scale; greedy in GT order, one prediction per person); the
predictions that find nobody are *unmatched*: wrong skeletons, but also real people that the GT does not annotate
or that have a poor pose, so look at them before calling them false positives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.postprocess import oks_iou

__all__ = ["PersonRecall", "person_recall"]


@dataclass(frozen=True)
class PersonRecall:
    """Counts of one image (or, summed with ``+``, of a set).

    Attributes:
        people: GT persons with at least ``min_keypoints`` labelled keypoints.
        found: how many of them a prediction finds.
        unmatched: predictions that find nobody.
    """

    people: int = 0
    found: int = 0
    unmatched: int = 0

    def __add__(self, other: PersonRecall) -> PersonRecall:
        return PersonRecall(self.people + other.people, self.found + other.found, self.unmatched + other.unmatched)


def person_recall(keypoints: np.ndarray, annotations: Sequence[dict], sigmas: Sequence[float], *,
                  threshold: float = 0.5, min_keypoints: int = 5) -> PersonRecall:
    """Match predicted poses of one image to its COCO annotations.

    Args:
        keypoints: (N, K, 2) predicted keypoints, image pixels, in the annotations' skeleton (e.g. mapped to
            ``coco17``); a NaN keypoint counts as infinitely far from its GT keypoint.
        annotations: COCO annotation dicts of the image (``keypoints`` as K x 3 flat list, ``bbox``,
            ``num_keypoints``).
        sigmas: (K,) COCO OKS sigmas of the skeleton.
        threshold: a prediction finds a person when its OKS is above this.
        min_keypoints: GT persons with fewer labelled keypoints are not counted (and match nothing).

    Returns:
        :class:`PersonRecall` of this image.
    """
    kp = np.asarray(keypoints, np.float64)
    sig = np.asarray(sigmas, np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (len(sig), 2):
        raise ValueError(f"keypoints must have shape (N, {len(sig)}, 2) to match the sigmas, got {kp.shape}")
    kp = np.nan_to_num(kp, nan=-1e9)  # missing prediction: far away, so the OKS term is 0 (not left out)
    people = [a for a in annotations if a.get("num_keypoints", 0) >= min_keypoints]
    used: set[int] = set()
    for a in people:
        gt = np.asarray(a["keypoints"], np.float64).reshape(len(sig), 3)
        ref = np.where(gt[:, 2:3] > 0, gt[:, :2], np.nan)  # only the labelled GT keypoints count
        area = float(a["bbox"][2] * a["bbox"][3])
        free = [i for i in range(len(kp)) if i not in used]
        if not free:
            break
        sim = oks_iou(ref, kp[free], area, np.full(len(free), area), sig)
        if sim.max() > threshold:
            used.add(free[int(np.argmax(sim))])
    return PersonRecall(len(people), len(used), len(kp) - len(used))
